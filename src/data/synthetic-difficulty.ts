/**
 * Difficulty levels of the synthetic faces: how much the nuisances vary. Every level draws
 * the same kinds of faces with all 11 classes, exact labels and small parts; what changes is
 * pose (scale, position, roll, yaw), background clutter (how many distractors, how many are
 * skin- or hair-coloured, how strong their texture), occluding hands, and the photographic
 * effects (exposure, lighting gradient, colour cast, noise, soft focus).
 *
 * - `hard` (the default, and the only behaviour before difficulty existed): unaligned faces
 *   (roll about +-10 degrees, up to +-26, scale 0.27-0.42, centre +-10% of the image, yaw up to
 *   +-17 degrees), 2-8 distractors of which a third are skin-coloured, hands, strong lighting
 *   and noise.
 * - `medium`: in between: roll +-6 degrees (up to +-17), scale 0.3-0.42, centre +-7.5%, 1-5
 *   distractors, fewer hands, milder lighting and noise.
 * - `easy`: roughly centred, upright faces (roll +-3.4 degrees, up to +-8.6, scale 0.34-0.42,
 *   centre +-5%, near-frontal), 0-2 faint distractors rarely skin- or hair-coloured, no hands,
 *   mild lighting, little noise: for quick demos and smoke tests, where a small model must
 *   learn every class in a minute. Position alone already tells a lot on aligned faces: the
 *   majority floor (most frequent class per pixel position) is higher than on `hard`.
 */

export type SyntheticDifficulty = 'easy' | 'medium' | 'hard';

export const SYNTHETIC_DIFFICULTIES: readonly SyntheticDifficulty[] = ['easy', 'medium', 'hard'];

/** A closed range [lo, hi] of a uniform draw. */
export type Range = readonly [number, number];

/** The nuisance ranges a scene is sampled with (face-frame units are half the face height). */
export interface SceneStyle {
  /** Half the face height as a fraction of the image side. */
  faceScale: Range;
  /** Offset of the face centre from the image centre (fractions of the image side). */
  offsetX: Range;
  offsetY: Range;
  /** Roll (radians): normal with this standard deviation, clamped to +-rollMax. */
  rollStd: number;
  rollMax: number;
  /** Yaw (radians): with probability `frontal` uniform in +-yawFrontal, else in +-yawWide. */
  frontal: number;
  yawFrontal: number;
  yawWide: number;
  /** Number of background distractors: an integer in [lo, hi). */
  clutter: Range;
  /** Shares of distractors that are skin-coloured and hair-coloured (the rest: any colour). */
  skinDistractors: number;
  hairDistractors: number;
  /** Half-axes of a distractor (fractions of the image side). */
  distractorSize: Range;
  /** Amplitude of the background's stripes or checkers. */
  backgroundTexture: Range;
  /** Probability of a skin-coloured hand over the face (background in LaPa). */
  hand: number;
  exposure: Range;
  lightStrength: Range;
  /** Per-channel colour cast: uniform in +-cast. */
  cast: number;
  /** Standard deviation of the per-pixel noise (0..1 units). */
  noise: Range;
  /** Probability of soft focus. */
  blur: number;
}

const frozen = (s: SceneStyle): Readonly<SceneStyle> => Object.freeze(s);

export const SCENE_STYLES: Readonly<Record<SyntheticDifficulty, Readonly<SceneStyle>>> = Object.freeze({
  hard: frozen({
    faceScale: [0.27, 0.42],
    offsetX: [-0.1, 0.1],
    offsetY: [-0.08, 0.1],
    rollStd: 0.18,
    rollMax: 0.45,
    frontal: 0.5,
    yawFrontal: 0.1,
    yawWide: 0.3,
    clutter: [2, 9],
    skinDistractors: 0.35,
    hairDistractors: 0.15,
    distractorSize: [0.04, 0.3],
    backgroundTexture: [0.1, 0.4],
    hand: 0.08,
    exposure: [0.75, 1.15],
    lightStrength: [0, 0.7],
    cast: 0.06,
    noise: [0.005, 0.045],
    blur: 0.35,
  }),
  medium: frozen({
    faceScale: [0.3, 0.42],
    offsetX: [-0.075, 0.075],
    offsetY: [-0.06, 0.075],
    rollStd: 0.11,
    rollMax: 0.3,
    frontal: 0.75,
    yawFrontal: 0.1,
    yawWide: 0.2,
    clutter: [1, 6],
    skinDistractors: 0.2,
    hairDistractors: 0.1,
    distractorSize: [0.04, 0.25],
    backgroundTexture: [0.08, 0.3],
    hand: 0.04,
    exposure: [0.8, 1.12],
    lightStrength: [0, 0.5],
    cast: 0.045,
    noise: [0.004, 0.03],
    blur: 0.25,
  }),
  easy: frozen({
    faceScale: [0.34, 0.42],
    offsetX: [-0.05, 0.05],
    offsetY: [-0.05, 0.05],
    rollStd: 0.06,
    rollMax: 0.15,
    frontal: 1,
    yawFrontal: 0.08,
    yawWide: 0.08,
    clutter: [0, 3],
    skinDistractors: 0.05,
    hairDistractors: 0.05,
    distractorSize: [0.04, 0.2],
    backgroundTexture: [0.05, 0.2],
    hand: 0,
    exposure: [0.9, 1.1],
    lightStrength: [0, 0.3],
    cast: 0.03,
    noise: [0.003, 0.015],
    blur: 0.15,
  }),
});
