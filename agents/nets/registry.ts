/**
 * `policyNets`: policy-network kind -> factory `(config, rng) => PolicyNet`. A network says what
 * it is (`PolicyNet.architecture()`), and this registry builds another of the same kind: the
 * data-parallel workers rebuild the main thread's policy this way, so nothing above this floor
 * tests a network's class. Built-ins are added by an explicit `registerBuiltinPolicyNets()`.
 */
import type { PolicyArchitecture, PolicyNet } from '../../src/core/types.js';
import { Registry } from '../../src/core/registry.js';
import type { Rng } from '../../src/core/rng.js';
import { FaceTransformer } from '../vit/model.js';
import type { ViTConfig } from '../vit/config.js';
import { HybridFaceTransformer, HYBRID_KIND } from '../vit/hybrid.js';
import type { HybridConfig } from '../vit/hybrid-config.js';
import { LinearPolicy, type LinearPolicyOptions } from './linear.js';

export const policyNets = new Registry<PolicyNet, [config: unknown, rng: Rng]>('policy network');

/**
 * Register the Face Transformer (`vit`), the hybrid Face Transformer (`hybrid`) and the per-pixel
 * linear policy (`linear`). Idempotent.
 */
export function registerBuiltinPolicyNets(): void {
  const entries = [
    {
      name: 'vit',
      description: 'the Face Transformer (agents/vit)',
      create: (config: unknown, rng: Rng) => new FaceTransformer(config as ViTConfig, rng),
    },
    {
      name: HYBRID_KIND,
      description: 'the hybrid Face Transformer: conv stem, ViT encoder, skip decoder (agents/vit/hybrid.ts)',
      create: (config: unknown, rng: Rng) => new HybridFaceTransformer(config as HybridConfig, rng),
    },
    {
      name: 'linear',
      description: 'a per-pixel linear policy (tests and diagnostics)',
      create: (config: unknown, rng: Rng) => new LinearPolicy(config as LinearPolicyOptions, rng),
    },
  ];
  for (const e of entries) if (!policyNets.has(e.name)) policyNets.register(e);
}

/** A fresh network of `arch`'s kind and config (built-ins registered first). */
export function buildPolicyNet(arch: PolicyArchitecture, rng: Rng): PolicyNet {
  registerBuiltinPolicyNets();
  return policyNets.create(arch.kind, arch.config, rng);
}
