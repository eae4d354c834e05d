/** The Face Transformer (ViT segmenter) policy network. See agents/vit/README.md. */
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
