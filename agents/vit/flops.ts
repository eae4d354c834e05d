/** Forward FLOPs per image of the plain Face Transformer (the hybrid's are in hybrid-config.ts). */
import { numTokens, type ViTConfig } from './config.js';
import { encoderBlockMacs } from './hybrid-config.js';

/**
 * 2 per multiply-add of the patch embedding, every block (qkv, QK^T, AV, out, MLP), the 1x1
 * projection and the transposed-conv head; norms, softmax and activations are not counted.
 */
export function vitFlops(c: ViTConfig): number {
  const t = numTokens(c);
  const p2 = c.patchSize * c.patchSize;
  const macs =
    t * p2 * 3 * c.dim +
    c.depth * encoderBlockMacs(t, c.dim, c.mlpDim) +
    t * c.dim * c.dim +
    t * c.dim * p2 * c.numClasses;
  return 2 * macs;
}
