/**
 * What a worker needs to build a replica of the main thread's policy: its architecture, as the
 * network describes itself (`PolicyNet.architecture()`), rebuilt through the policy-network
 * registry. Weights travel separately (the main thread broadcasts them before each use), so a
 * replica's own initialisation never matters; the seed below only makes it deterministic.
 */
import type { PolicyArchitecture, PolicyNet } from '../core/types.js';
import { Rng } from '../core/rng.js';
import { FprlError } from '../core/errors.js';
import { buildPolicyNet, policyNets, registerBuiltinPolicyNets } from '../../agents/nets/registry.js';

export type PolicySpec = PolicyArchitecture;

/** The architecture of `policy`, or an error naming what cannot be replicated. */
export function policySpecOf(policy: PolicyNet): PolicySpec {
  const arch = policy.architecture?.();
  registerBuiltinPolicyNets();
  if (!arch || !policyNets.has(arch.kind)) {
    throw new FprlError(
      `data-parallel training cannot replicate a ${arch ? `'${arch.kind}'` : policy.constructor.name} policy`,
      {
        where: 'training.threads',
        hint: `a policy network is replicated when it has architecture() and its kind is registered (${policyNets.names().join(', ')}); use threads 1 for other policies`,
      },
    );
  }
  return arch;
}

/** A fresh policy of the given architecture (weights are overwritten by the first broadcast). */
export function buildPolicy(spec: PolicySpec): PolicyNet {
  return buildPolicyNet(spec, new Rng(0, 'parallel-replica'));
}
