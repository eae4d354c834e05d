/**
 * Sampling one synthetic face scene. Everything is placed in normalised image coordinates
 * ([0,1] x [0,1], y down), so the same (seed, split, index) renders the same face at any
 * resolution; only the rasterisation grid changes.
 *
 * Face frame: origin at the centre of the face oval, unit = half the face height, y down,
 * "left" = image left. Parts are placed in the face frame, then the whole face is rotated,
 * scaled and shifted in the image.
 */
import type { Rng } from '../../core/rng.js';
import { SCENE_STYLES, type SceneStyle } from '../synthetic-difficulty.js';
import { type Affine, compose, intoFrame } from './affine.js';
import {
  K_BROW,
  K_ELLIPSE,
  K_EYE,
  K_FACE,
  K_HAIR_BACK,
  K_HAIR_TOP,
  K_MOUTH,
  K_NOSE,
  K_RECT,
  TEX_CHECKER,
  TEX_STRIPES,
  type Paint,
  paint,
} from './raster.js';
import {
  type RGB,
  browColour,
  hairColour,
  irisColour,
  jitter,
  lipColour,
  mix,
  randomColour,
  scale,
  skinTone,
} from './palette.js';

/** A shape placed in the image: `frame` maps normalised image coordinates to its local frame. */
export interface ShapeSpec {
  kind: number;
  frame: Affine;
  extent: readonly [number, number, number, number];
  p: Float64Array;
  paints: Paint[];
}

/** Image-wide effects applied after the shapes are painted. */
export interface PostParams {
  /** Overall exposure. */
  exposure: number;
  /** Linear lighting gradient: strength and direction (radians). */
  lightStrength: number;
  lightAngle: number;
  /** Per-channel colour cast (added). */
  cast: RGB;
  /** Standard deviation of per-pixel noise, in 0..1 units. */
  noise: number;
  /** Apply a [1,2,1] blur (soft focus). */
  blur: boolean;
  /** Seed of the counter-based per-pixel noise. */
  noiseSeed: number;
}

export type HairStyle = 'none' | 'short' | 'long' | 'fringe';

export interface Scene {
  shapes: ShapeSpec[];
  post: PostParams;
  /** What was drawn, for tests and for `fprl data synth`'s manifest. */
  meta: { hairStyle: HairStyle; eyesOpen: [boolean, boolean]; mouthOpen: boolean; faceScale: number };
}

const L_BG = 0;
const L_SKIN = 1;
const L_LEFT_BROW = 2;
const L_RIGHT_BROW = 3;
const L_LEFT_EYE = 4;
const L_RIGHT_EYE = 5;
const L_NOSE = 6;
const L_UPPER_LIP = 7;
const L_INNER_MOUTH = 8;
const L_LOWER_LIP = 9;
const L_HAIR = 10;

const UNIT: readonly [number, number, number, number] = [-1, 1, -1, 1];

function params(...v: number[]): Float64Array {
  return Float64Array.from(v);
}

/** Background and clutter in the image frame. */
function background(rng: Rng, skin: RGB, hair: RGB, style: SceneStyle, shapes: ShapeSpec[]): void {
  const base = randomColour(rng);
  const texRoll = rng.next();
  const angle = rng.uniform(0, Math.PI);
  shapes.push({
    kind: K_RECT,
    frame: intoFrame(0.5, 0.5, 0, 0.5, 0.5),
    extent: UNIT,
    p: params(),
    paints: [
      paint(L_BG, base, {
        gx: rng.uniform(-0.35, 0.35),
        gy: rng.uniform(-0.35, 0.35),
        tex: texRoll < 0.5 ? 0 : texRoll < 0.8 ? TEX_STRIPES : TEX_CHECKER,
        texAmp: rng.uniform(...style.backgroundTexture),
        texFreq: rng.uniform(2, 10),
        texDx: Math.cos(angle),
        texDy: Math.sin(angle),
      }),
    ],
  });
  const clutter = rng.int(...style.clutter);
  const skinShare = style.skinDistractors;
  const hairShare = skinShare + style.hairDistractors;
  for (let i = 0; i < clutter; i++) {
    const roll = rng.next();
    // Skin- and hair-coloured distractors make colour alone an unreliable cue.
    const colour =
      roll < skinShare
        ? jitter(rng, scale(skin, rng.uniform(0.85, 1.12)), 0.03)
        : roll < hairShare
          ? jitter(rng, hair, 0.05)
          : randomColour(rng);
    const a = rng.uniform(0, Math.PI);
    shapes.push({
      kind: rng.bernoulli(0.5) ? K_ELLIPSE : K_RECT,
      frame: intoFrame(
        rng.uniform(-0.1, 1.1),
        rng.uniform(-0.1, 1.1),
        a,
        rng.uniform(...style.distractorSize),
        rng.uniform(...style.distractorSize),
      ),
      extent: UNIT,
      p: params(),
      paints: [
        paint(L_BG, colour, {
          gx: rng.uniform(-0.3, 0.3),
          gy: rng.uniform(-0.3, 0.3),
          tex: rng.bernoulli(0.25) ? TEX_STRIPES : 0,
          texAmp: rng.uniform(0.1, 0.35),
          texFreq: rng.uniform(1.5, 5),
          texDx: 1,
          texDy: 0,
        }),
      ],
    });
  }
}

/**
 * Sample a whole scene: background, body, face parts, hair, lighting. `style` sets the
 * nuisance ranges (default: the `hard` difficulty, the original behaviour).
 */
export function sampleScene(rng: Rng, style: SceneStyle = SCENE_STYLES.hard): Scene {
  const shapes: ShapeSpec[] = [];
  const skin = skinTone(rng);
  const hair = hairColour(rng);
  background(rng, skin, hair, style, shapes);

  // ---- pose
  const faceScale = rng.uniform(...style.faceScale);
  const cx = 0.5 + rng.uniform(...style.offsetX);
  const cy = 0.5 + rng.uniform(...style.offsetY);
  const roll = Math.max(-style.rollMax, Math.min(style.rollMax, rng.normal(0, style.rollStd)));
  const yaw = rng.bernoulli(style.frontal)
    ? rng.uniform(-style.yawFrontal, style.yawFrontal)
    : rng.uniform(-style.yawWide, style.yawWide);
  const face = intoFrame(cx, cy, roll, faceScale, faceScale);
  /** A part frame inside the face frame. */
  const part = (ox: number, oy: number, angle: number, sx: number, sy = sx): Affine =>
    compose(intoFrame(ox, oy, angle, sx, sy), face);

  const fw = rng.uniform(0.68, 0.84);
  const jaw = rng.uniform(0.12, 0.42);
  const shift = yaw * 0.18 * fw;
  const hairStyle = rng.pick<HairStyle>(['none', 'short', 'short', 'long', 'long', 'fringe', 'fringe']);
  const fringeLong = hairStyle === 'fringe' && rng.bernoulli(0.5);
  const longHair = hairStyle === 'long' || fringeLong;

  // ---- body: clothes and neck are background in LaPa (the neck is skin-coloured: a hard distractor)
  const clothes = randomColour(rng);
  shapes.push({
    kind: K_ELLIPSE,
    frame: part(
      rng.uniform(-0.2, 0.2),
      rng.uniform(1.9, 2.2),
      0,
      fw * rng.uniform(1.8, 2.6),
      rng.uniform(0.55, 0.85),
    ),
    extent: UNIT,
    p: params(),
    paints: [
      paint(L_BG, clothes, {
        gy: rng.uniform(-0.2, 0.2),
        tex: rng.bernoulli(0.3) ? TEX_STRIPES : 0,
        texAmp: 0.3,
        texFreq: rng.uniform(2, 6),
        texDx: 1,
        texDy: 0,
      }),
    ],
  });
  shapes.push({
    kind: K_RECT,
    frame: part(shift * 0.5, 1.15, 0, fw * rng.uniform(0.5, 0.62), 0.6),
    extent: UNIT,
    p: params(),
    paints: [paint(L_BG, scale(skin, rng.uniform(0.78, 0.92)), { gy: rng.uniform(-0.2, 0.05) })],
  });

  // ---- hair behind the head
  const headCy = rng.uniform(-0.12, -0.02);
  const headRx = fw * rng.uniform(1.08, 1.22);
  const headRy = rng.uniform(1.0, 1.12);
  const strandAngle = rng.uniform(-0.25, 0.25);
  const hairPaint = paint(L_HAIR, hair, {
    gx: rng.uniform(-0.15, 0.15),
    gy: rng.uniform(-0.15, 0.1),
    tex: TEX_STRIPES,
    texAmp: rng.uniform(0.1, 0.35),
    texFreq: rng.uniform(8, 20),
    texDx: Math.cos(strandAngle),
    texDy: Math.sin(strandAngle),
  });

  // ---- ears (skin in LaPa), hidden behind long hair
  const earY = rng.uniform(-0.05, 0.1);
  for (const side of [-1, 1]) {
    if (side * yaw > 0.2) continue; // far ear turned away
    shapes.push({
      kind: K_ELLIPSE,
      frame: part(side * fw * 0.97 + shift * 0.3, earY, side * 0.15, 0.13, 0.24),
      extent: UNIT,
      p: params(),
      paints: [paint(L_SKIN, scale(skin, rng.uniform(0.88, 0.97)), { gx: -side * 0.25 })],
    });
  }
  if (hairStyle !== 'none') {
    const bottom = longHair ? rng.uniform(1.0, 2.2) : rng.uniform(-0.35, 0.05);
    shapes.push({
      kind: K_HAIR_BACK,
      frame: part(0, 0, 0, 1),
      extent: [-headRx * 1.9, headRx * 1.9, headCy - headRy, Math.max(bottom, headCy) + 0.2],
      p: params(
        headCy,
        headRx,
        headRy,
        bottom,
        longHair ? rng.uniform(0, 0.3) : 0,
        rng.uniform(0, 0.12),
        rng.uniform(3, 8),
      ),
      paints: [hairPaint],
    });
  }

  // ---- face oval
  shapes.push({
    kind: K_FACE,
    frame: part(0, 0, 0, fw, 1),
    extent: UNIT,
    p: params(jaw),
    paints: [paint(L_SKIN, skin, { gx: rng.uniform(-0.15, 0.15) - yaw * 0.3, gy: rng.uniform(-0.1, 0.1) })],
  });

  // ---- nose
  const noseY = rng.uniform(0.08, 0.16);
  const noseLen = rng.uniform(0.24, 0.32);
  const noseTip = rng.uniform(0.6, 0.8);
  const noseSkin = scale(skin, rng.uniform(0.86, 0.96));
  shapes.push({
    kind: K_NOSE,
    frame: part(shift * 1.4, noseY, 0, noseLen),
    extent: [-noseTip * 1.2, noseTip * 1.2, -1, 1],
    p: params(rng.uniform(0.2, 0.3), noseTip, 0, -yaw * 0.3),
    paints: [
      paint(L_NOSE, noseSkin, { gx: yaw * 0.6 + rng.uniform(-0.1, 0.1), gy: 0.06 }),
      paint(L_NOSE, scale(skin, rng.uniform(0.3, 0.45))),
      paint(L_NOSE, scale(skin, rng.uniform(1.06, 1.15))),
    ],
  });

  // ---- eyes
  const eyeY = rng.uniform(-0.2, -0.06);
  const eyeX = fw * rng.uniform(0.4, 0.48);
  const eyeW = fw * rng.uniform(0.18, 0.23);
  const tilt = rng.uniform(-0.08, 0.15);
  const blink = rng.next();
  const eyesOpen: [boolean, boolean] =
    blink < 0.15
      ? [false, false]
      : blink < 0.18
        ? [false, true]
        : blink < 0.21
          ? [true, false]
          : [true, true];
  const iris = irisColour(rng);
  const brow = browColour(rng, hair, skin);
  const lash = mix(brow, [0.03, 0.03, 0.03], 0.5);
  const sclera = scale([0.93, 0.92, 0.9], rng.uniform(0.82, 1));
  const gazeX = rng.uniform(-0.3, 0.3) + yaw * 0.3;
  const gazeY = rng.uniform(-0.08, 0.05);
  const upper = rng.uniform(0.38, 0.6);
  const lower = rng.uniform(0.28, 0.45);
  const irisR = rng.uniform(0.42, 0.55);
  const browGap = rng.uniform(0.13, 0.2);
  const browW = rng.uniform(1.05, 1.3);
  const arch = rng.uniform(0.05, 0.3);
  const browThick = rng.uniform(0.26, 0.4);
  const browSlope = rng.uniform(-0.1, 0.1);
  const browAngle = rng.uniform(0, Math.PI);
  for (const [i, side] of [
    [0, -1],
    [1, 1],
  ] as const) {
    const far = side * yaw; // > 0: this side is turned away and looks narrower
    const w = eyeW * (1 - 0.35 * Math.max(0, far) + 0.15 * Math.max(0, -far));
    const x = shift + side * eyeX * (1 - 0.3 * far);
    const angle = -side * tilt;
    const open = eyesOpen[i];
    shapes.push({
      kind: K_EYE,
      frame: part(x, eyeY, angle, w),
      extent: [-1, 1, -1, 1],
      p: open
        ? params(upper, lower, gazeX, gazeY, irisR * irisR, (irisR * 0.45) ** 2, 0, rng.uniform(0.06, 0.14))
        : params(rng.uniform(0.14, 0.22), rng.uniform(0.14, 0.22), 0, 0, -1, -1, rng.uniform(0.1, 0.25), 10),
      paints: [
        paint(i === 0 ? L_LEFT_EYE : L_RIGHT_EYE, sclera, { gx: side * 0.1 }),
        paint(i === 0 ? L_LEFT_EYE : L_RIGHT_EYE, iris),
        paint(i === 0 ? L_LEFT_EYE : L_RIGHT_EYE, [0.03, 0.03, 0.03]),
        paint(i === 0 ? L_LEFT_EYE : L_RIGHT_EYE, lash),
      ],
    });
    shapes.push({
      kind: K_BROW,
      frame: part(x + side * eyeW * 0.1, eyeY - browGap, angle * 0.5, w * browW),
      extent: [-1, 1, -1, 1],
      p: params(arch, browThick, browSlope * side, side),
      paints: [
        paint(i === 0 ? L_LEFT_BROW : L_RIGHT_BROW, brow, {
          tex: TEX_STRIPES,
          texAmp: 0.25,
          texFreq: 6,
          texDx: Math.cos(browAngle),
          texDy: Math.sin(browAngle),
        }),
      ],
    });
  }

  // ---- mouth: upper lip, inner mouth (only when open), lower lip
  const mouthY = Math.min(0.72, noseY + noseLen + rng.uniform(0.1, 0.18));
  const mouthW = fw * rng.uniform(0.32, 0.44);
  const mouthOpen = rng.bernoulli(0.45);
  const lips = lipColour(rng, skin);
  shapes.push({
    kind: K_MOUTH,
    frame: part(shift * 1.1, mouthY, rng.uniform(-0.06, 0.06), mouthW),
    extent: [-1, 1, -1, 1],
    p: params(
      rng.uniform(-0.08, 0.22),
      mouthOpen ? rng.uniform(0.12, 0.55) : 0,
      rng.uniform(0.22, 0.34),
      rng.uniform(0.3, 0.46),
      rng.uniform(0.2, 0.6),
      rng.bernoulli(0.6) ? rng.uniform(0.3, 0.6) : 0,
    ),
    paints: [
      paint(L_UPPER_LIP, scale(lips, 0.92), { gy: 0.2 }),
      paint(L_INNER_MOUTH, [rng.uniform(0.15, 0.3), 0.04, 0.06], { gy: 0.2 }),
      paint(L_LOWER_LIP, lips, { gy: -0.25 }),
      paint(L_INNER_MOUTH, scale([0.93, 0.91, 0.85], rng.uniform(0.8, 1))),
    ],
  });

  // ---- hair over the forehead (a fringe may hide the brows: their labels are then hair)
  if (hairStyle !== 'none') {
    const fringe = hairStyle === 'fringe';
    shapes.push({
      kind: K_HAIR_TOP,
      frame: part(0, 0, 0, 1),
      extent: [-headRx, headRx, headCy - headRy, 0.4],
      p: params(
        headCy,
        headRx,
        headRy,
        fringe ? rng.uniform(-0.45, -0.2) : rng.uniform(-0.82, -0.6),
        fringe ? rng.uniform(0, 0.25) : rng.uniform(0.1, 0.5),
        fringe ? rng.uniform(0.04, 0.12) : rng.uniform(0, 0.05),
        fringe ? rng.uniform(6, 14) : rng.uniform(2, 6),
      ),
      paints: [hairPaint],
    });
  }

  // ---- occasional skin-coloured occluder (a hand): background in LaPa
  if (rng.bernoulli(style.hand)) {
    shapes.push({
      kind: K_ELLIPSE,
      frame: part(
        rng.uniform(-0.9, 0.9),
        rng.uniform(0.3, 1.2),
        rng.uniform(0, Math.PI),
        rng.uniform(0.2, 0.35),
        rng.uniform(0.35, 0.6),
      ),
      extent: UNIT,
      p: params(),
      paints: [paint(L_BG, jitter(rng, scale(skin, rng.uniform(0.9, 1.08)), 0.03), { gx: 0.15 })],
    });
  }

  const post: PostParams = {
    exposure: rng.uniform(...style.exposure),
    lightStrength: rng.uniform(...style.lightStrength),
    lightAngle: rng.uniform(0, 2 * Math.PI),
    cast: [
      rng.uniform(-style.cast, style.cast),
      rng.uniform(-style.cast, style.cast),
      rng.uniform(-style.cast, style.cast),
    ],
    noise: rng.uniform(...style.noise),
    blur: rng.bernoulli(style.blur),
    noiseSeed: rng.seed32(),
  };
  return { shapes, post, meta: { hairStyle, eyesOpen, mouthOpen, faceScale } };
}
