/**
 * The Face Transformer's configuration: one record, named presets, and the single place that
 * validates it. Sizes follow the source report's ViT segmenter (and timm/big_vision naming).
 */
import { FprlError } from '../../src/core/errors.js';
import { NUM_CLASSES } from '../../src/core/classes.js';

/** PyTorch's LayerNorm epsilon, the default of `layerNormEps`. */
export const LAYER_NORM_EPS = 1e-5;

export interface ViTConfig {
  /** Input side in pixels; images are `[B, imageSize, imageSize, 3]`. */
  imageSize: number;
  /** Patch side in pixels (kernel = stride of the patch embedding and of the head). */
  patchSize: number;
  /** Token width D. */
  dim: number;
  /** Number of encoder blocks. */
  depth: number;
  /** Attention heads; `dim` must be divisible by it. */
  heads: number;
  /** Hidden width of the MLP in each block. */
  mlpDim: number;
  /** Output classes C (11 for LaPa). */
  numClasses: number;
  /** Dropout rate inside the blocks (attention weights, residual branches, MLP), as PyTorch's layer. */
  dropout: number;
  /** Dropout rate on the token embeddings (after the positional embedding). */
  embDropout: number;
  /** Learned positional embedding `[T, D]` added to the patch tokens. */
  posEmbedding: boolean;
  /** true: pre-norm blocks (PyTorch `norm_first=True`); false: post-norm (the report's model). */
  normFirst: boolean;
  /**
   * The MLP's activation: `relu` (PyTorch's TransformerEncoderLayer, the default) or `gelu` (exact,
   * erf-based: timm and Hugging Face ViTs, set by `fprl import`). Absent means relu.
   */
  mlpActivation?: 'relu' | 'gelu';
  /** LayerNorm epsilon (absent: PyTorch's default 1e-5; timm uses 1e-6, Hugging Face 1e-12). */
  layerNormEps?: number;
}

export type ViTPresetName = 'seed' | 'ti16-256' | 'tiny-64';

/** Fields that change the function a set of weights computes (everything but the dropout rates). */
export const ARCH_FIELDS = [
  'imageSize',
  'patchSize',
  'dim',
  'depth',
  'heads',
  'mlpDim',
  'numClasses',
  'posEmbedding',
  'normFirst',
  'mlpActivation',
  'layerNormEps',
] as const satisfies readonly (keyof ViTConfig)[];

/** Fields by kind, shared with the hybrid's config (hybrid-config.ts). */
export const SIZE_FIELDS = ['imageSize', 'patchSize', 'dim', 'depth', 'heads', 'mlpDim', 'numClasses'] as const;
export const RATE_FIELDS = ['dropout', 'embDropout'] as const;
export const FLAG_FIELDS = ['posEmbedding', 'normFirst'] as const;
const ALL_FIELDS: readonly string[] = [
  ...SIZE_FIELDS,
  ...RATE_FIELDS,
  ...FLAG_FIELDS,
  'mlpActivation',
  'layerNormEps',
];

/**
 * Named variants. `seed` is the report's model (post-norm, as its PyTorch TransformerEncoderLayer);
 * `ti16-256` is ViT-Ti/16 at 256 px (pre-norm, as the PyTorch reference bench); `tiny-64` is for
 * tests and the demo. Dropout 0.1 everywhere, as the PyTorch layers' default.
 */
export const PRESETS: Readonly<Record<ViTPresetName, Readonly<ViTConfig>>> = Object.freeze({
  seed: Object.freeze({
    imageSize: 256,
    patchSize: 32,
    dim: 512,
    depth: 6,
    heads: 16,
    mlpDim: 2048,
    numClasses: NUM_CLASSES,
    dropout: 0.1,
    embDropout: 0.1,
    posEmbedding: true,
    normFirst: false,
  }),
  'ti16-256': Object.freeze({
    imageSize: 256,
    patchSize: 16,
    dim: 192,
    depth: 6,
    heads: 3,
    mlpDim: 768,
    numClasses: NUM_CLASSES,
    dropout: 0.1,
    embDropout: 0,
    posEmbedding: true,
    normFirst: true,
  }),
  'tiny-64': Object.freeze({
    imageSize: 64,
    patchSize: 8,
    dim: 64,
    depth: 2,
    heads: 4,
    mlpDim: 128,
    numClasses: NUM_CLASSES,
    dropout: 0.1,
    embDropout: 0,
    posEmbedding: true,
    normFirst: true,
  }),
});

/** Defaults for fields a config without a preset may leave out (sizes have none, except mlpDim = 4 dim). */
const DEFAULTS = {
  numClasses: NUM_CLASSES,
  dropout: 0.1,
  embDropout: 0,
  posEmbedding: true,
  normFirst: true,
} as const;

const WHERE = 'vit config';

function presetNames(): string {
  return Object.keys(PRESETS).join(', ');
}

function getPreset(name: string, where: string): ViTConfig {
  if (!Object.hasOwn(PRESETS, name)) {
    throw new FprlError(`unknown ViT preset '${name}'`, { where, hint: `choose one of: ${presetNames()}` });
  }
  return { ...PRESETS[name as ViTPresetName] };
}

/**
 * Resolve a preset name, or a partial config with an optional `preset` whose fields it overrides,
 * into a full, validated config. Without a preset every size must be given (`mlpDim` defaults to
 * 4 * dim); rates and flags default to dropout 0.1, embDropout 0, posEmbedding and normFirst true.
 */
export function resolveViTConfig(
  presetOrPartial: string | (Partial<ViTConfig> & { preset?: string }),
): ViTConfig {
  if (typeof presetOrPartial === 'string')
    return validateViTConfig(getPreset(presetOrPartial, `${WHERE}.preset`));
  if (presetOrPartial === null || typeof presetOrPartial !== 'object') {
    throw new FprlError('a ViT config must be a preset name or an object', {
      where: WHERE,
      hint: `pass e.g. 'tiny-64' or { preset: 'tiny-64', depth: 4 }; presets: ${presetNames()}`,
    });
  }
  const { preset, ...fields } = presetOrPartial;
  for (const key of Object.keys(fields)) {
    if (!ALL_FIELDS.includes(key)) {
      throw new FprlError(`unknown field '${key}'`, {
        where: `${WHERE}.${key}`,
        hint: `ViT config fields are: preset, ${ALL_FIELDS.join(', ')}`,
      });
    }
  }
  const defined = Object.fromEntries(
    Object.entries(fields).filter(([, v]) => v !== undefined),
  ) as Partial<ViTConfig>;
  let merged: Partial<ViTConfig>;
  if (preset !== undefined) {
    merged = { ...getPreset(preset, `${WHERE}.preset`), ...defined };
  } else {
    merged = { ...DEFAULTS, ...defined };
    if (merged.mlpDim === undefined && typeof merged.dim === 'number') merged.mlpDim = 4 * merged.dim;
    const missing = SIZE_FIELDS.filter((k) => merged[k] === undefined);
    if (missing.length) {
      throw new FprlError(`missing ${missing.join(', ')}`, {
        where: `${WHERE}.${missing[0]}`,
        hint: `give every size, or start from a preset with { preset: '...' } (${presetNames()})`,
      });
    }
  }
  return validateViTConfig(merged as ViTConfig);
}

/** The kinds of config field the Face Transformers' validators check, by name. */
export interface FieldKinds {
  /** Positive integers. */
  sizes?: readonly string[];
  /** Non-empty lists of positive integers. */
  lists?: readonly string[];
  /** Rates in [0, 1). */
  rates?: readonly string[];
  /** Booleans. */
  flags?: readonly string[];
}

/** Throw an FprlError naming the first field of `config` that is not of its kind. */
export function checkFields(config: object, where: string, kinds: FieldKinds): void {
  const c = config as Record<string, unknown>;
  const fail = (k: string, what: string) => {
    throw new FprlError(`${k} must be ${what}, got ${JSON.stringify(c[k])}`, { where: `${where}.${k}` });
  };
  const positive = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;
  for (const k of kinds.sizes ?? []) if (!positive(c[k])) fail(k, 'a positive integer');
  for (const k of kinds.lists ?? []) {
    const v = c[k];
    if (!Array.isArray(v) || v.length === 0 || !v.every(positive)) fail(k, 'a non-empty list of positive integers');
  }
  for (const k of kinds.rates ?? []) {
    const v = c[k];
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) fail(k, 'a rate in [0, 1)');
  }
  for (const k of kinds.flags ?? []) if (typeof c[k] !== 'boolean') fail(k, 'true or false');
}

/** Check a full config; throws an FprlError naming the first bad field. Returns a frozen copy. */
export function validateViTConfig(config: ViTConfig, where = WHERE): ViTConfig {
  checkFields(config, where, { sizes: SIZE_FIELDS, rates: RATE_FIELDS, flags: FLAG_FIELDS });
  if (config.imageSize % config.patchSize !== 0) {
    throw new FprlError(`imageSize ${config.imageSize} is not divisible by patchSize ${config.patchSize}`, {
      where: `${where}.imageSize`,
      hint: 'choose a patch size that tiles the image exactly (e.g. 256 with 8, 16 or 32)',
    });
  }
  if (config.dim % config.heads !== 0) {
    throw new FprlError(`dim ${config.dim} is not divisible by heads ${config.heads}`, {
      where: `${where}.heads`,
      hint: 'each head gets dim / heads channels: pick heads dividing dim',
    });
  }
  if (
    config.mlpActivation !== undefined &&
    config.mlpActivation !== 'relu' &&
    config.mlpActivation !== 'gelu'
  ) {
    throw new FprlError(
      `mlpActivation must be 'relu' or 'gelu', got ${JSON.stringify(config.mlpActivation)}`,
      {
        where: `${where}.mlpActivation`,
      },
    );
  }
  const eps = config.layerNormEps;
  if (eps !== undefined && !(typeof eps === 'number' && eps > 0 && eps < 1)) {
    throw new FprlError(`layerNormEps must be a number in (0, 1), got ${JSON.stringify(eps)}`, {
      where: `${where}.layerNormEps`,
    });
  }
  const out: ViTConfig = {
    imageSize: config.imageSize,
    patchSize: config.patchSize,
    dim: config.dim,
    depth: config.depth,
    heads: config.heads,
    mlpDim: config.mlpDim,
    numClasses: config.numClasses,
    dropout: config.dropout,
    embDropout: config.embDropout,
    posEmbedding: config.posEmbedding,
    normFirst: config.normFirst,
    // Written only when not the default, so configs and checkpoints from before read the same.
    ...(config.mlpActivation === 'gelu' ? { mlpActivation: 'gelu' as const } : {}),
    ...(eps !== undefined && eps !== LAYER_NORM_EPS ? { layerNormEps: eps } : {}),
  };
  return Object.freeze(out);
}

/** Tokens per image: (imageSize / patchSize)^2. */
export function numTokens(c: ViTConfig): number {
  return (c.imageSize / c.patchSize) ** 2;
}
