/**
 * What a worker needs to build a replica of the main thread's policy: the architecture only.
 * Weights travel separately (the main thread broadcasts them before each use), so a replica's
 * own initialisation never matters; the seed below only makes it deterministic.
 */
import type { PolicyNet } from '../types.js';
import { Rng } from '../rng.js';
import { FprlError } from '../errors.js';
import { FaceTransformer, type ViTConfig } from '../../agents/vit/index.js';
import { LinearPolicy, type LinearPolicyOptions } from '../../agents/nets/linear.js';

export type PolicySpec =
  { kind: 'vit'; config: ViTConfig } | { kind: 'linear'; options: LinearPolicyOptions };

/** The architecture of `policy`, or an error naming what cannot be replicated. */
export function policySpecOf(policy: PolicyNet): PolicySpec {
  if (policy instanceof FaceTransformer) return { kind: 'vit', config: policy.config };
  if (policy instanceof LinearPolicy) return { kind: 'linear', options: policy.options };
  throw new FprlError(`data-parallel training cannot replicate a ${policy.constructor.name} policy`, {
    where: 'training.threads',
    hint: 'the Face Transformer and LinearPolicy can be replicated; use threads 1 for other policies',
  });
}

/** A fresh policy of the given architecture (weights are overwritten by the first broadcast). */
export function buildPolicy(spec: PolicySpec): PolicyNet {
  const rng = new Rng(0, 'parallel-replica');
  return spec.kind === 'vit' ? new FaceTransformer(spec.config, rng) : new LinearPolicy(spec.options, rng);
}
