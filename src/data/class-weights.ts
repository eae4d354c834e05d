/**
 * Class weights for a weighted cross-entropy from a split's pixel shares (`fprl data check
 * --class-weights`): `inverse` gives w_c = 1 / share_c, `inverse-sqrt` w_c = 1 / sqrt(share_c),
 * the milder one that keeps background and skin from vanishing. Weights are scaled to a mean of 1
 * over the classes that occur (the supervised loss divides by the total weight, so only the
 * ratios matter); a class with no pixels gets 0, since no target pixel ever uses its weight.
 */
import { FprlError } from '../core/errors.js';

export const CLASS_WEIGHTINGS = ['inverse', 'inverse-sqrt'] as const;
export type ClassWeighting = (typeof CLASS_WEIGHTINGS)[number];

/** Weights [C] from pixel shares [C] (any scale: counts work too). */
export function classWeightsFromShares(shares: readonly number[], kind: ClassWeighting): number[] {
  if (!CLASS_WEIGHTINGS.includes(kind)) {
    throw new FprlError(`unknown class weighting '${kind as string}'`, {
      where: '--class-weights',
      hint: `use one of: ${CLASS_WEIGHTINGS.join(', ')}`,
    });
  }
  const power = kind === 'inverse' ? 1 : 0.5;
  const raw = shares.map((s) => (s > 0 ? s ** -power : 0));
  const present = raw.filter((w) => w > 0);
  if (!present.length) {
    throw new FprlError('no class has any pixels: cannot derive class weights', {
      where: '--class-weights',
      hint: 'check that the split has readable label maps (fprl data check without --class-weights)',
    });
  }
  const mean = present.reduce((a, b) => a + b, 0) / present.length;
  return raw.map((w) => w / mean);
}
