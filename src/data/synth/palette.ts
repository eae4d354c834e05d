/**
 * Colour sampling for synthetic faces. Nuisance colours vary widely (skin tones from pale to
 * dark, natural and dyed hair, any background), while each face part keeps a cue a model can
 * learn: brows darker than the skin, lips redder, sclera white, inner mouth dark.
 */
import type { Rng } from '../../core/rng.js';

export type RGB = readonly [number, number, number];

const SKIN_ANCHORS: RGB[] = [
  [0.98, 0.85, 0.76],
  [0.94, 0.76, 0.64],
  [0.83, 0.61, 0.47],
  [0.66, 0.45, 0.32],
  [0.47, 0.3, 0.2],
  [0.3, 0.19, 0.13],
];

const HAIR: { rgb: RGB; weight: number }[] = [
  { rgb: [0.07, 0.06, 0.06], weight: 4 },
  { rgb: [0.2, 0.13, 0.08], weight: 4 },
  { rgb: [0.38, 0.25, 0.15], weight: 3 },
  { rgb: [0.78, 0.64, 0.4], weight: 2 },
  { rgb: [0.55, 0.22, 0.1], weight: 1 },
  { rgb: [0.62, 0.62, 0.62], weight: 1 },
];

const IRIS: RGB[] = [
  [0.3, 0.18, 0.08],
  [0.18, 0.1, 0.05],
  [0.25, 0.42, 0.62],
  [0.3, 0.45, 0.3],
  [0.45, 0.35, 0.2],
];

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

export function mix(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function scale(c: RGB, k: number): RGB {
  return [clamp01(c[0] * k), clamp01(c[1] * k), clamp01(c[2] * k)];
}

export function jitter(rng: Rng, c: RGB, amount: number): RGB {
  return [
    clamp01(c[0] + rng.uniform(-amount, amount)),
    clamp01(c[1] + rng.uniform(-amount, amount)),
    clamp01(c[2] + rng.uniform(-amount, amount)),
  ];
}

export function luminance(c: RGB): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

/** HSV (all 0..1) to RGB. */
export function hsv(h: number, s: number, v: number): RGB {
  const i = Math.floor(h * 6) % 6;
  const f = h * 6 - Math.floor(h * 6);
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  switch (i) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

export function skinTone(rng: Rng): RGB {
  const u = rng.uniform(0, SKIN_ANCHORS.length - 1);
  const i = Math.min(SKIN_ANCHORS.length - 2, Math.floor(u));
  return jitter(rng, mix(SKIN_ANCHORS[i], SKIN_ANCHORS[i + 1], u - i), 0.03);
}

export function hairColour(rng: Rng): RGB {
  if (rng.bernoulli(0.05)) return hsv(rng.next(), rng.uniform(0.5, 0.9), rng.uniform(0.35, 0.8)); // dyed
  const total = HAIR.reduce((s, h) => s + h.weight, 0);
  let u = rng.uniform(0, total);
  for (const h of HAIR) {
    u -= h.weight;
    if (u <= 0) return jitter(rng, h.rgb, 0.04);
  }
  return HAIR[0].rgb;
}

/** Brows follow the hair colour but are always clearly darker than the skin. */
export function browColour(rng: Rng, hair: RGB, skin: RGB): RGB {
  let c = mix(hair, [0.05, 0.04, 0.03], rng.uniform(0.2, 0.5));
  const limit = 0.6 * luminance(skin);
  const l = luminance(c);
  if (l > limit) c = scale(c, limit / Math.max(l, 1e-3));
  return c;
}

export function lipColour(rng: Rng, skin: RGB): RGB {
  const red: RGB = rng.bernoulli(0.2)
    ? hsv(rng.uniform(0.9, 1.0), rng.uniform(0.55, 0.85), rng.uniform(0.45, 0.8)) // lipstick
    : [rng.uniform(0.7, 0.85), rng.uniform(0.25, 0.38), rng.uniform(0.27, 0.4)];
  return mix(skin, scale(red, 0.6 + 0.5 * luminance(skin)), rng.uniform(0.55, 0.8));
}

export function irisColour(rng: Rng): RGB {
  return jitter(rng, rng.pick(IRIS), 0.04);
}

export function randomColour(rng: Rng): RGB {
  return hsv(rng.next(), rng.uniform(0.05, 0.9), rng.uniform(0.15, 0.95));
}
