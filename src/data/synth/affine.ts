/**
 * 2-D affine maps `[a, b, c, d, e, f]`: x' = a*x + b*y + c, y' = d*x + e*y + f.
 * The renderer composes pixel -> image -> face -> part coordinates into one map per shape,
 * so the inner loop advances local coordinates by two additions per pixel.
 */
export type Affine = readonly [number, number, number, number, number, number];

/** `outer` after `inner`. */
export function compose(outer: Affine, inner: Affine): Affine {
  const [a, b, c, d, e, f] = outer;
  const [A, B, C, D, E, F] = inner;
  return [a * A + b * D, a * B + b * E, a * C + b * F + c, d * A + e * D, d * B + e * E, d * C + e * F + f];
}

export function invert(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

export function apply(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/**
 * The map from a parent frame into a child frame whose origin is `(ox, oy)` in the parent,
 * rotated by `angle` (radians) and scaled by `(sx, sy)` parent units per child unit.
 */
export function intoFrame(ox: number, oy: number, angle: number, sx: number, sy: number): Affine {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const a = c / sx;
  const b = s / sx;
  const d = -s / sy;
  const e = c / sy;
  return [a, b, -(a * ox + b * oy), d, e, -(d * ox + e * oy)];
}

/** Integer pixel (x, y) -> normalised image coordinates of the pixel centre, in [0,1]. */
export function pixelToImage(size: number): Affine {
  return [1 / size, 0, 0.5 / size, 0, 1 / size, 0.5 / size];
}
