import type { RewardPlugin } from '../src/core/types.js';
import {
  CLASS_OPTION_PROPERTIES,
  emptyScore,
  ignoreOf,
  scoredClasses,
  type ClassOptions,
} from './options.js';

export type BoundaryF1Options = ClassOptions & { tolerance: number };

/**
 * Boundary F1 (the BF score of Csurka et al. 2013, per class): how well the predicted region
 * outlines match the true ones, forgiving offsets up to `tolerance` pixels.
 *
 * A boundary pixel of class c is a pixel labelled c with a 4-neighbour labelled otherwise
 * (the image edge is not a boundary). Pixels whose target is ignored are not boundary pixels
 * of the prediction; in the truth an ignored neighbour does make a boundary. A predicted
 * boundary pixel matches when a true boundary pixel of the same class lies within
 * `tolerance` in Chebyshev distance (a (2t+1)^2 square), and vice versa:
 * precision = matched predicted / predicted, recall = matched true / true, BF = 2PR / (P + R).
 * A class with no boundary pixels in either is absent (see `absent`); averaging as in options.ts,
 * with `weighted` by true boundary pixels.
 */
export const boundaryF1Reward = (): RewardPlugin<BoundaryF1Options> => ({
  name: 'boundary-f1',
  description: 'F1 of class boundaries matched within a tolerance in pixels',
  optionsSchema: {
    type: 'object',
    properties: {
      ...CLASS_OPTION_PROPERTIES,
      tolerance: {
        type: 'integer',
        minimum: 0,
        maximum: 64,
        default: 2,
        description: 'pixels (Chebyshev distance) a boundary may be off and still match',
      },
    },
    additionalProperties: false,
  },
  range: [0, 1],
  compute(pred, target, ctx, opts) {
    const { height: H, width: W } = ctx;
    const ignore = ignoreOf(opts, ctx);
    const classes = scoredClasses(opts, ctx, 'boundary-f1');
    const predEdge = edges(pred, H, W);
    const trueEdge = edges(target, H, W);
    for (let i = 0; i < predEdge.length; i++) if (target[i] === ignore) predEdge[i] = 0;
    for (let i = 0; i < trueEdge.length; i++) if (target[i] === ignore) trueEdge[i] = 0;

    const predMask = new Uint8Array(H * W);
    const trueMask = new Uint8Array(H * W);
    const scratch = new Uint8Array(H * W);
    let sumP = 0, sumG = 0, sumMP = 0, sumMG = 0; // prettier-ignore
    let macro = 0;
    let n = 0;
    let weighted = 0;
    for (const c of classes) {
      let P = 0;
      let G = 0;
      for (let i = 0; i < predMask.length; i++) {
        predMask[i] = predEdge[i] && pred[i] === c ? 1 : 0;
        trueMask[i] = trueEdge[i] && target[i] === c ? 1 : 0;
        P += predMask[i];
        G += trueMask[i];
      }
      if (P + G === 0) {
        if (opts.absent !== 'skip') {
          macro += opts.absent === 'one' ? 1 : 0;
          n++;
        }
        continue;
      }
      const matchedP = P && G ? countWithin(predMask, dilate(trueMask, H, W, opts.tolerance, scratch)) : 0;
      const matchedG = P && G ? countWithin(trueMask, dilate(predMask, H, W, opts.tolerance, scratch)) : 0;
      const bf = bfScore(matchedP, P, matchedG, G);
      macro += bf;
      n++;
      weighted += G * bf;
      sumP += P;
      sumG += G;
      sumMP += matchedP;
      sumMG += matchedG;
    }
    if (opts.average === 'micro')
      return sumP + sumG === 0 ? emptyScore(opts.absent) : bfScore(sumMP, sumP, sumMG, sumG);
    if (opts.average === 'weighted')
      return sumG === 0 ? (sumP === 0 ? emptyScore(opts.absent) : 0) : weighted / sumG;
    return n === 0 ? emptyScore(opts.absent) : macro / n;
  },
});

function bfScore(matchedP: number, P: number, matchedG: number, G: number): number {
  const precision = P ? matchedP / P : 0;
  const recall = G ? matchedG / G : 0;
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

/** 1 where a pixel differs from a 4-neighbour inside the image. [H*W] */
function edges(labels: ArrayLike<number>, H: number, W: number): Uint8Array {
  const out = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let x = 0; x < W; x++) {
      const i = row + x;
      const v = labels[i];
      if ((x > 0 && labels[i - 1] !== v) || (x < W - 1 && labels[i + 1] !== v)) out[i] = 1;
      else if ((y > 0 && labels[i - W] !== v) || (y < H - 1 && labels[i + W] !== v)) out[i] = 1;
    }
  }
  return out;
}

/** Pixels of `mask` that are set in `region`. */
function countWithin(mask: Uint8Array, region: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i] & region[i];
  return n;
}

/**
 * Dilation by a (2r+1)^2 square, separable: a running count along rows, then along columns,
 * O(H*W) whatever r. Returns a new mask; `tmp` is scratch of the same size.
 */
function dilate(mask: Uint8Array, H: number, W: number, r: number, tmp: Uint8Array): Uint8Array {
  if (r === 0) return mask;
  const out = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) slide(mask, tmp, y * W, 1, W, r);
  for (let x = 0; x < W; x++) slide(tmp, out, x, W, H, r);
  return out;
}

/** out[k] = 1 if any of src[k-r..k+r] along one line (start, stride, length) is set. */
function slide(
  src: Uint8Array,
  out: Uint8Array,
  start: number,
  stride: number,
  len: number,
  r: number,
): void {
  let count = 0;
  for (let k = 0; k < Math.min(r, len); k++) count += src[start + k * stride];
  for (let k = 0; k < len; k++) {
    if (k + r < len) count += src[start + (k + r) * stride];
    if (k - r - 1 >= 0) count -= src[start + (k - r - 1) * stride];
    out[start + k * stride] = count > 0 ? 1 : 0;
  }
}
