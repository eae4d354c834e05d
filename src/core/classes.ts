/** The 11 LaPa classes. "Left" is the left side of the image. */
export const CLASS_NAMES = [
  'background',
  'skin',
  'left_eyebrow',
  'right_eyebrow',
  'left_eye',
  'right_eye',
  'nose',
  'upper_lip',
  'inner_mouth',
  'lower_lip',
  'hair',
] as const;

export type ClassName = (typeof CLASS_NAMES)[number];
export const NUM_CLASSES = CLASS_NAMES.length;
/** Label value for pixels that count for nothing (e.g. eyeglasses in CelebAMask-HQ). */
export const IGNORE_INDEX = 255;
/** Label permutation of a horizontal flip: left and right brows and eyes swap. */
export const FLIP_PERMUTATION: readonly number[] = [0, 1, 3, 2, 5, 4, 6, 7, 8, 9, 10];
/** Display colours (RGB) for label maps and overlays. */
export const CLASS_COLORS: readonly (readonly [number, number, number])[] = [
  [0, 0, 0],
  [255, 204, 153],
  [0, 128, 0],
  [0, 200, 80],
  [0, 0, 255],
  [0, 128, 255],
  [255, 0, 255],
  [255, 0, 0],
  [128, 0, 64],
  [200, 60, 60],
  [128, 64, 0],
];
