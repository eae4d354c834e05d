/** The Face Transformer (ViT segmenter) and its hybrid (conv stem + skip decoder). See agents/vit/README.md. */
export {
  PRESETS,
  ARCH_FIELDS,
  numTokens,
  resolveViTConfig,
  validateViTConfig,
  type ViTConfig,
  type ViTPresetName,
} from './config.js';
export { FaceTransformer, type ApplyOptions, type PredictOptions } from './model.js';
export { paramSpecs, type NamedVariable, type ParamSpec } from './params.js';
export { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, MODEL_JSON, WEIGHTS_BIN } from './checkpoint.js';
export { patchify, unpatchify } from './ops.js';
export {
  HYBRID_PRESETS,
  HYBRID_ARCH_FIELDS,
  decoderStages,
  hybridFlops,
  hybridStride,
  isHybridPreset,
  resolveHybridConfig,
  validateHybridConfig,
  type HybridConfig,
  type HybridPresetName,
} from './hybrid-config.js';
export { HybridFaceTransformer, HYBRID_KIND, hybridParamSpecs } from './hybrid.js';
export { vitFlops } from './flops.js';
export { MODEL_PRESET_NAMES, resolveModelPreset, type ModelPreset } from './presets.js';
