/**
 * Model presets of every Face Transformer kind by one name: `seed`, `ti16-256`, `tiny-64` (the
 * ViT, kind `vit`) and `hybrid-128`, `hybrid-256` (kind `hybrid`). What `fprl bench --preset` and
 * an experiment's `"model": {"preset": ...}` resolve; the network itself is built by kind through
 * the policy-network registry (agents/nets/registry.ts).
 */
import { FprlError } from '../../src/core/errors.js';
import { PRESETS, resolveViTConfig, type ViTConfig } from './config.js';
import { vitFlops } from './flops.js';
import {
  HYBRID_PRESETS,
  hybridFlops,
  isHybridPreset,
  resolveHybridConfig,
  type HybridConfig,
} from './hybrid-config.js';

/** Every preset name, ViT first. */
export const MODEL_PRESET_NAMES: readonly string[] = Object.freeze([
  ...Object.keys(PRESETS),
  ...Object.keys(HYBRID_PRESETS),
]);

/** A resolved preset: the registry kind and config, and what callers need without building it. */
export type ModelPreset = ({ kind: 'vit'; config: ViTConfig } | { kind: 'hybrid'; config: HybridConfig }) & {
  imageSize: number;
  numClasses: number;
  /** Forward FLOPs per image (vitFlops / hybridFlops). */
  flopsPerImage: number;
};

/**
 * Resolve a preset name, or `{ preset, ...overrides }`, of any kind. An unknown name lists every
 * preset; a hybrid preset takes the hybrid fields, the ViT presets (and no preset) the ViT fields.
 */
export function resolveModelPreset(
  presetOrPartial: string | ({ preset?: string } & Record<string, unknown>),
): ModelPreset {
  const name = typeof presetOrPartial === 'string' ? presetOrPartial : presetOrPartial?.preset;
  if (name !== undefined && !MODEL_PRESET_NAMES.includes(name)) {
    throw new FprlError(`unknown model preset '${name}'`, {
      where: 'model.preset',
      hint: `choose one of: ${MODEL_PRESET_NAMES.join(', ')}`,
    });
  }
  if (name !== undefined && isHybridPreset(name)) {
    const config = resolveHybridConfig(presetOrPartial as Parameters<typeof resolveHybridConfig>[0]);
    return {
      kind: 'hybrid',
      config,
      imageSize: config.imageSize,
      numClasses: config.numClasses,
      flopsPerImage: hybridFlops(config),
    };
  }
  const config = resolveViTConfig(presetOrPartial as Parameters<typeof resolveViTConfig>[0]);
  return {
    kind: 'vit',
    config,
    imageSize: config.imageSize,
    numClasses: config.numClasses,
    flopsPerImage: vitFlops(config),
  };
}
