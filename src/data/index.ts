/**
 * The face data layer: one normalisation, the synthetic default set, LaPa and CelebAMask-HQ
 * folder readers, seeded augmentation, the batch sampler and image IO helpers.
 */
export { normalizeImage, denormalizeImage, IMAGE_RANGE } from './normalize.js';
export { SyntheticFaces, type SyntheticFacesOptions, type RenderedFace } from './synthetic.js';
export { openLapaFolder, scanLapa, SPLITS, type Split } from './folder/lapa.js';
export {
  openCelebAMask,
  scanCelebAMask,
  readCelebSplits,
  type CelebAMaskOptions,
  type CelebLayout,
} from './folder/celebamask.js';
export { FolderDataset, type FolderOptions } from './folder/open.js';
export {
  CELEBA_PARTS_G_MASK,
  CELEBA_PARTS_FACE_PARSING_PYTORCH,
  CELEBA_TO_LAPA,
  mergedToLapaTable,
} from './folder/celeb-classes.js';
export type { Problem } from './folder/problems.js';
export { BatchSampler, type BatchSamplerOptions, type SamplerState, type ArrayBatch } from './sampler.js';
export {
  type AugmentOptions,
  type ResolvedAugment,
  DEFAULT_AUGMENT,
  resolveAugment,
  augmentSample,
  flipSample,
  warpSample,
  type WarpParams,
} from './augment.js';
export {
  readLabelPng,
  writeLabelPng,
  readImageFile,
  readImageSize,
  writeImageFile,
  encodeImage,
  encodeLabelPng,
  resizeLabelNearest,
  type RawImage,
  type LabelImage,
  type SizeSpec,
} from './image-io.js';
export { writeSyntheticFolder, type SynthFolderOptions, type SynthFolderResult } from './synth-folder.js';
export { addLabel, degenerateProblems, newTally, tallyDataset, type LabelTally } from './degenerate.js';
export { checkDataFolder, type CheckOptions, type CheckReport, type SplitReport } from './check.js';
export { benchSynthetic } from './bench.js';
