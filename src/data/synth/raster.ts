/**
 * A tiny scanline rasteriser over typed arrays. Shapes are implicit functions evaluated at
 * pixel centres inside their bounding boxes, painted back to front (painter's algorithm):
 * the label of a pixel is the class of the last shape covering its centre, and its colour
 * comes from the same test, so labels are exact by construction at any resolution.
 */
import { type Affine, apply, invert } from './affine.js';

/** Texture kinds of a {@link Paint}. */
export const TEX_NONE = 0;
export const TEX_STRIPES = 1;
export const TEX_CHECKER = 2;

/** How one region of a shape is coloured and labelled. */
export interface Paint {
  label: number;
  /** Base colour, linear 0..1. */
  r: number;
  g: number;
  b: number;
  /** Relative brightness change per local unit along x and y (shading). */
  gx: number;
  gy: number;
  tex: number;
  /** Relative brightness amplitude of the texture. */
  texAmp: number;
  /** Texture cycles per local unit. */
  texFreq: number;
  /** Direction of stripes in local coordinates (unit vector). */
  texDx: number;
  texDy: number;
}

export function paint(
  label: number,
  rgb: readonly [number, number, number],
  opts: Partial<Omit<Paint, 'label' | 'r' | 'g' | 'b'>> = {},
): Paint {
  return {
    label,
    r: rgb[0],
    g: rgb[1],
    b: rgb[2],
    gx: opts.gx ?? 0,
    gy: opts.gy ?? 0,
    tex: opts.tex ?? TEX_NONE,
    texAmp: opts.texAmp ?? 0,
    texFreq: opts.texFreq ?? 1,
    texDx: opts.texDx ?? 1,
    texDy: opts.texDy ?? 0,
  };
}

/** Shape kinds; parameters `p` are documented at each case of {@link regionOf}. */
export const K_ELLIPSE = 0;
export const K_RECT = 1;
export const K_FACE = 2;
export const K_EYE = 3;
export const K_BROW = 4;
export const K_NOSE = 5;
export const K_MOUTH = 6;
export const K_HAIR_TOP = 7;
export const K_HAIR_BACK = 8;

export interface Shape {
  kind: number;
  /** Integer pixel coordinates -> the shape's local frame. */
  toLocal: Affine;
  /** Local bounding box [xmin, xmax, ymin, ymax] that contains the whole shape. */
  extent: readonly [number, number, number, number];
  p: Float64Array;
  /** One paint per region index returned by {@link regionOf}. */
  paints: Paint[];
}

/** Triangle wave in [0,1] with period 1 (cheap stand-in for |sin|). */
function tri(v: number): number {
  const f = v - Math.floor(v);
  return f < 0.5 ? 2 * f : 2 - 2 * f;
}

/** Which region of the shape covers local point (x, y); -1 when none. */
export function regionOf(kind: number, p: Float64Array, x: number, y: number): number {
  switch (kind) {
    case K_ELLIPSE:
      return x * x + y * y <= 1 ? 0 : -1;
    case K_RECT:
      return x >= -1 && x <= 1 && y >= -1 && y <= 1 ? 0 : -1;
    case K_FACE: {
      // Egg: round forehead, jaw narrowed by p0 towards the chin at y = 1.
      if (y < -1 || y > 1) return -1;
      let w2 = 1 - y * y;
      if (y > 0) {
        const f = 1 - p[0] * y;
        w2 *= f * f;
      }
      return x * x <= w2 ? 0 : -1;
    }
    case K_EYE: {
      // Almond between lids y = yc - p0*t and y = yc + p1*t, t = 1 - x^2, centre line yc = p6*t.
      // Iris centre (p2, p3), squared radii iris p4 and pupil p5; lash line p7 thick under the upper lid.
      const t = 1 - x * x;
      if (t <= 0) return -1;
      const dy = y - p[6] * t;
      const top = -p[0] * t;
      if (dy < top || dy > p[1] * t) return -1;
      if (dy < top + p[7]) return 3;
      const ix = x - p[2];
      const iy = y - p[3];
      const d2 = ix * ix + iy * iy;
      return d2 < p[5] ? 2 : d2 < p[4] ? 1 : 0;
    }
    case K_BROW: {
      // Band around yc = -p0*(1 - x^2) + p2*x, half thickness p1 tapering to 45% at the outer end (sign p3).
      if (x < -1 || x > 1) return -1;
      const yc = -p[0] * (1 - x * x) + p[2] * x;
      const s = (x * p[3] + 1) * 0.5;
      const h = p[1] * (1 - 0.55 * s * s);
      const d = y - yc;
      return d >= -h && d <= h ? 0 : -1;
    }
    case K_NOSE: {
      // Bridge from y = -1 (half width p0) widening to the tip (half width p1), a round lobe,
      // two nostrils (region 1) and a highlight along the bridge at x = p3 (region 2).
      if (y < -1 || y > 1) return -1;
      const ax = x < 0 ? -x : x;
      const nx = (ax - p[1] * 0.55) / (p[1] * 0.32);
      const ny = (y - 0.8) / 0.13;
      if (nx * nx + ny * ny <= 1) return 1;
      let inside = false;
      if (y <= 0.55) {
        const q = (y + 1) / 1.55;
        inside = ax <= p[0] + (p[1] - p[0]) * q * q;
      }
      if (!inside) {
        const lx = x / (p[1] * 1.12);
        const ly = (y - 0.58) / 0.42;
        inside = lx * lx + ly * ly <= 1;
      }
      if (!inside) return -1;
      const hx = x - p[3];
      return y < 0.3 && hx < p[0] * 0.35 && hx > -p[0] * 0.35 ? 2 : 0;
    }
    case K_MOUTH: {
      // Mouth line yc = -p0*x^2 (smile), opening gap p1*t (t = 1 - x^2), lip heights p2 (upper,
      // with a cupid's-bow dip p4 in the middle) and p3 (lower). Regions: 0 upper lip,
      // 1 inner mouth, 2 lower lip, 3 teeth (inner mouth) in the top p5 of the opening.
      const t = 1 - x * x;
      if (t <= 0) return -1;
      const yc = -p[0] * x * x;
      const g = p[1] * t * 0.5;
      const ax = x < 0 ? -x : x;
      const bow = ax < 0.3 ? 1 - p[4] * (1 - ax / 0.3) : 1;
      if (y < yc - g - p[2] * t * bow) return -1;
      if (y > yc + g + p[3] * t) return -1;
      if (y < yc - g) return 0;
      if (y > yc + g) return 2;
      return y < yc - g + 2 * g * p[5] ? 3 : 1;
    }
    case K_HAIR_TOP: {
      // Inside the head ellipse (centre y p0, radii p1, p2) and above the hairline
      // y = p3 + p4*x^2 + p5*tri(p6*x) (p5 > 0 gives a ragged fringe).
      const ex = x / p[1];
      const ey = (y - p[0]) / p[2];
      if (ex * ex + ey * ey > 1) return -1;
      return y < p[3] + p[4] * x * x + p[5] * tri(p[6] * x + 0.25) ? 0 : -1;
    }
    case K_HAIR_BACK: {
      // Top half of the head ellipse (centre y p0, radii p1, p2), then straight sides flaring by
      // p4 per unit down to y = p3 (+ ragged ends p5*tri(p6*x)).
      if (y <= p[0]) {
        const ex = x / p[1];
        const ey = (y - p[0]) / p[2];
        return ex * ex + ey * ey <= 1 ? 0 : -1;
      }
      const hw = p[1] * (1 + p[4] * (y - p[0]));
      if (x < -hw || x > hw) return -1;
      return y <= p[3] + p[5] * tri(p[6] * x) ? 0 : -1;
    }
    default:
      throw new Error(`unknown shape kind ${kind}`);
  }
}

/** Float RGB canvas `[S,S,3]` (linear 0..1) and its label map `[S,S]`, reused between images. */
export class Canvas {
  readonly rgb: Float32Array;
  readonly label: Uint8Array;

  constructor(readonly size: number) {
    this.rgb = new Float32Array(size * size * 3);
    this.label = new Uint8Array(size * size);
  }
}

/**
 * Pixel interval `[lo, hi]` (real numbers) of row `py` where the shape's bound holds; empty
 * when lo > hi. Along a row, local coordinates are lx = a*t + bx, ly = d*t + by (t = pixel x).
 * The bound is the local extent box, intersected with the ellipse `ell` (cx, cy, rx, ry) when
 * given. Solving per row keeps rotated and round shapes from testing their whole bounding box.
 */
function rowSpan(
  a: number,
  bx: number,
  d: number,
  by: number,
  ext: readonly [number, number, number, number],
  ell: readonly [number, number, number, number] | undefined,
  out: Float64Array,
): void {
  let lo = -Infinity;
  let hi = Infinity;
  if (a > 1e-12 || a < -1e-12) {
    const t0 = (ext[0] - bx) / a;
    const t1 = (ext[1] - bx) / a;
    lo = Math.max(lo, Math.min(t0, t1));
    hi = Math.min(hi, Math.max(t0, t1));
  } else if (bx < ext[0] || bx > ext[1]) hi = -Infinity;
  if (d > 1e-12 || d < -1e-12) {
    const t0 = (ext[2] - by) / d;
    const t1 = (ext[3] - by) / d;
    lo = Math.max(lo, Math.min(t0, t1));
    hi = Math.min(hi, Math.max(t0, t1));
  } else if (by < ext[2] || by > ext[3]) hi = -Infinity;
  if (ell && lo <= hi) {
    const au = a / ell[2];
    const u = (bx - ell[0]) / ell[2];
    const dv = d / ell[3];
    const v = (by - ell[1]) / ell[3];
    const A = au * au + dv * dv;
    const B = au * u + dv * v;
    const C = u * u + v * v - 1;
    const disc = B * B - A * C;
    if (disc < 0 || A === 0) {
      if (C > 0) hi = -Infinity;
    } else {
      const r = Math.sqrt(disc);
      lo = Math.max(lo, (-B - r) / A);
      hi = Math.min(hi, (-B + r) / A);
    }
  }
  out[0] = lo;
  out[1] = hi;
}

/** Kinds whose bound is exactly the shape (no per-pixel test) and their bounding ellipse. */
const UNIT_ELLIPSE: readonly [number, number, number, number] = [0, 0, 1, 1];

function boundOf(shape: Shape): { ell?: readonly [number, number, number, number]; exact: boolean } {
  switch (shape.kind) {
    case K_ELLIPSE:
      return { ell: UNIT_ELLIPSE, exact: true };
    case K_RECT:
      return { exact: true };
    case K_FACE:
      return { ell: UNIT_ELLIPSE, exact: false };
    case K_HAIR_TOP:
      return { ell: [0, shape.p[0], shape.p[1], shape.p[2]], exact: false };
    default:
      return { exact: false };
  }
}

const span = new Float64Array(2);

/** Paint one shape into the canvas (labels and colours of the pixels whose centres it covers). */
export function drawShape(canvas: Canvas, shape: Shape): void {
  const S = canvas.size;
  const [a, b, c, d, e, f] = shape.toLocal;
  const { kind, p, paints, extent } = shape;
  const { ell, exact } = boundOf(shape);
  const rgb = canvas.rgb;
  const lab = canvas.label;
  const p0 = paints[0];
  // Rows the extent box can touch.
  const inv = invert(shape.toLocal);
  let minY = Infinity;
  let maxY = -Infinity;
  for (let k = 0; k < 4; k++) {
    const y = apply(inv, extent[k & 1], extent[2 + (k >> 1)])[1];
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const yEnd = Math.min(S - 1, Math.floor(maxY));
  for (let py = Math.max(0, Math.ceil(minY)); py <= yEnd; py++) {
    const bx = b * py + c;
    const by = e * py + f;
    rowSpan(a, bx, d, by, extent, ell, span);
    const x0 = Math.max(0, Math.ceil(span[0]));
    const x1 = Math.min(S - 1, Math.floor(span[1]));
    if (x0 > x1) continue;
    let lx = a * x0 + bx;
    let ly = d * x0 + by;
    let idx = py * S + x0;
    if (exact && p0.tex === TEX_NONE) {
      // Fast path: one region, linear shading only.
      let m = 1 + p0.gx * lx + p0.gy * ly;
      const dm = p0.gx * a + p0.gy * d;
      const { r, g, b: bl, label } = p0;
      for (let px = x0; px <= x1; px++, idx++, m += dm) {
        const o = idx * 3;
        rgb[o] = r * m;
        rgb[o + 1] = g * m;
        rgb[o + 2] = bl * m;
        lab[idx] = label;
      }
      continue;
    }
    for (let px = x0; px <= x1; px++, idx++, lx += a, ly += d) {
      const reg = exact ? 0 : regionOf(kind, p, lx, ly);
      if (reg < 0) continue;
      const pt = paints[reg];
      let m = 1 + pt.gx * lx + pt.gy * ly;
      if (pt.tex === TEX_STRIPES) {
        m += pt.texAmp * (tri(pt.texFreq * (pt.texDx * lx + pt.texDy * ly)) - 0.5);
      } else if (pt.tex === TEX_CHECKER) {
        m += ((Math.floor(pt.texFreq * lx) + Math.floor(pt.texFreq * ly)) & 1) === 0 ? pt.texAmp : -pt.texAmp;
      }
      const o = idx * 3;
      rgb[o] = pt.r * m;
      rgb[o + 1] = pt.g * m;
      rgb[o + 2] = pt.b * m;
      lab[idx] = pt.label;
    }
  }
}
