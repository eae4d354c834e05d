/**
 * CelebAMask-HQ parts and their LaPa classes.
 *
 * Part order: the official `face_parsing/Data_preprocessing/g_mask.py` of
 * switchablenorms/CelebAMask-HQ merges per-part masks in this order (later parts overwrite
 * earlier ones) and writes part i as value i+1, background 0. That is also the index order
 * of the common merged 19-class masks. face-parsing.PyTorch (BiSeNet) uses another order,
 * selectable with `mergedOrder: 'face-parsing-pytorch'`.
 *
 * Mapping to LaPa: CelebAMask-HQ "l_" and "r_" are the subject's left and right, which is
 * the image right and left, while LaPa's left is the image left: l_eye -> right_eye (5),
 * r_eye -> left_eye (4), l_brow -> right_eyebrow (3), r_brow -> left_eyebrow (2).
 * Ears are skin; eyeglasses are ignored (255: LaPa labels what is under them);
 * hat, earring, necklace, neck and cloth are background.
 */
import { IGNORE_INDEX } from '../../core/classes.js';

export const CELEBA_PARTS_G_MASK = [
  'skin',
  'nose',
  'eye_g',
  'l_eye',
  'r_eye',
  'l_brow',
  'r_brow',
  'l_ear',
  'r_ear',
  'mouth',
  'u_lip',
  'l_lip',
  'hair',
  'hat',
  'ear_r',
  'neck_l',
  'neck',
  'cloth',
] as const;

export const CELEBA_PARTS_FACE_PARSING_PYTORCH = [
  'skin',
  'l_brow',
  'r_brow',
  'l_eye',
  'r_eye',
  'eye_g',
  'l_ear',
  'r_ear',
  'ear_r',
  'nose',
  'mouth',
  'u_lip',
  'l_lip',
  'neck',
  'neck_l',
  'cloth',
  'hair',
  'hat',
] as const;

export type CelebPart = (typeof CELEBA_PARTS_G_MASK)[number];

export const CELEBA_TO_LAPA: Readonly<Record<CelebPart, number>> = {
  skin: 1,
  nose: 6,
  eye_g: IGNORE_INDEX,
  l_eye: 5,
  r_eye: 4,
  l_brow: 3,
  r_brow: 2,
  l_ear: 1,
  r_ear: 1,
  mouth: 8,
  u_lip: 7,
  l_lip: 9,
  hair: 10,
  hat: 0,
  ear_r: 0,
  neck_l: 0,
  neck: 0,
  cloth: 0,
};

/**
 * Lookup table from a merged 19-class value to LaPa (256 entries; -1 = invalid value).
 * 255 is kept as ignore, as some preprocessed releases use it.
 */
export function mergedToLapaTable(order: 'g_mask' | 'face-parsing-pytorch'): Int16Array {
  const parts = order === 'g_mask' ? CELEBA_PARTS_G_MASK : CELEBA_PARTS_FACE_PARSING_PYTORCH;
  const lut = new Int16Array(256).fill(-1);
  lut[0] = 0;
  parts.forEach((part, i) => {
    lut[i + 1] = CELEBA_TO_LAPA[part];
  });
  lut[IGNORE_INDEX] = IGNORE_INDEX;
  return lut;
}

export function isCelebPart(name: string): name is CelebPart {
  return (CELEBA_PARTS_G_MASK as readonly string[]).includes(name);
}
