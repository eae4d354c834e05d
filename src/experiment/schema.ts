/**
 * The experiment config: one JSON file naming a dataset, a model, the training loop, a list
 * of agents (each with its rewards, optionally fine-tuning another agent's final checkpoint),
 * seeds and the evaluation. This ajv schema is the single source of truth: defaults live here
 * (an agent entry's kind fields: in its kind's definition, agents/kind-*.ts or `agentModules`),
 * `additionalProperties: false` everywhere (a typo is an error, not an ignored key), and
 * experiments/schema.json is generated from it for editors (`npm run schema`).
 * Rules a schema cannot say (reward plugins and their options, initFrom links, patch sizes)
 * are checked by `loadExperiment` with the same path-and-allowed-values messages.
 */
import type { AgentDefinition } from '../../agents/define.js';
import { BUILTIN_AGENT_KINDS } from '../../agents/builtin-kinds.js';
import { MODEL_PRESET_NAMES } from '../../agents/vit/presets.js';
import { DEFAULT_AUGMENT as AUG } from '../data/index.js';
import { trainingConfigSchema, type TrainingConfig } from '../optim/config.js';

/** Names that become folder names: letters, digits, `.`, `_`, `-`; not starting with a dot. */
const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

/** A copy of a schema without its `default`s: the shape of a partial override. */
export function withoutDefaults<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(withoutDefaults) as T;
  if (schema && typeof schema === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema)) if (k !== 'default') out[k] = withoutDefaults(v);
    return out as T;
  }
  return schema;
}

/**
 * Most seeds in one sweep (`seeds` in a config, `--seeds` on the command line): one run per
 * agent and seed, so a typo like `--seeds 0-9999999` is refused before anything is planned.
 */
export const MAX_SEEDS = 1000;

/** JSON pointers of the fields where `${ENV_VAR}` is expanded (`*`: any one key or index). */
export const PATH_FIELDS = [
  '/dataset/root',
  '/dataset/cache',
  '/rewardModules/*',
  '/agentModules/*',
  '/agents/*/initWeights',
] as const;

/** A list of seeds (the experiment's, or an agent's own): one run per agent and seed. */
const SEED_LIST = {
  type: 'array',
  items: { type: 'integer', minimum: 0 },
  minItems: 1,
  maxItems: MAX_SEEDS,
  uniqueItems: true,
} as const;

/**
 * Training augmentation (src/data/augment.ts): false (the default), true (the defaults below),
 * or options; a field left out of the object takes its default (as `true` has them all), so
 * `{ rotate: 0 }` is every default but rotation. The defaults are DEFAULT_AUGMENT's, so the
 * library (makeEnv, BatchSampler) and experiment files agree.
 */
export const augmentSchema = {
  type: ['boolean', 'object'],
  additionalProperties: false,
  default: false,
  description:
    'Augmentation of training batches (never of evaluation), seeded per sample and epoch: false, ' +
    `true for the defaults (flip ${AUG.flip}, scale [${AUG.scale.join(', ')}], rotate ${AUG.rotate}, ` +
    `shift ${AUG.shift}, colour jitter ${AUG.brightness}, hue ${AUG.hue}), or options overriding them.`,
  properties: {
    flip: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: AUG.flip,
      description: 'Probability of a horizontal flip (left/right brows and eyes swap); 0 turns it off.',
    },
    scale: {
      type: 'array',
      items: { type: 'number', exclusiveMinimum: 0 },
      minItems: 2,
      maxItems: 2,
      default: [...AUG.scale],
      description: 'Zoom range [min, max] about the centre, 0 < min <= max; [1, 1] turns it off.',
    },
    rotate: {
      type: 'number',
      minimum: 0,
      maximum: 180,
      default: AUG.rotate,
      description: 'Largest rotation in degrees (uniform in +-rotate); 0 turns it off.',
    },
    shift: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: AUG.shift,
      description:
        'Largest shift per axis as a fraction of the side (with scale: a random crop); 0 turns it off.',
    },
    colorJitter: {
      type: ['boolean', 'object'],
      additionalProperties: false,
      default: {},
      description:
        'Colour jitter on the normalised image, clamped to [-1, 1]; false turns it off. Strengths: ' +
        'brightness (added, as a fraction of the 0..255 range), contrast and saturation (factors in 1 +- value), ' +
        'hue (a turn about the grey axis by up to +-hue of a full turn).',
      properties: {
        brightness: { type: 'number', minimum: 0, maximum: 1, default: AUG.brightness },
        contrast: { type: 'number', minimum: 0, maximum: 1, default: AUG.contrast },
        saturation: { type: 'number', minimum: 0, maximum: 1, default: AUG.saturation },
        hue: { type: 'number', minimum: 0, maximum: 0.5, default: AUG.hue },
      },
    },
    outOfFrame: {
      type: 'string',
      enum: ['ignore', 'background'],
      default: 'ignore',
      description:
        "Label of pixels the warp brings in from outside the image: 'ignore' (255: not scored) or " +
        "'background' (0). Their image value is 0, mid grey.",
    },
  },
} as const;

export const syntheticDatasetSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Synthetic faces rendered on the fly, deterministic per (seed, split, index): no download.',
  properties: {
    kind: { const: 'synthetic' },
    size: { type: 'integer', minimum: 8, maximum: 1024, default: 64, description: 'Image side in pixels.' },
    train: { type: 'integer', minimum: 1, default: 512, description: 'Training images.' },
    val: {
      type: 'integer',
      minimum: 1,
      default: 64,
      description: 'Validation images (evaluation during training).',
    },
    test: { type: 'integer', minimum: 1, default: 128, description: 'Test images (final evaluation).' },
    seed: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Seed of the rendered faces (not of training).',
    },
    difficulty: {
      type: 'string',
      enum: ['easy', 'medium', 'hard'],
      default: 'hard',
      description:
        "How much pose, clutter, lighting and noise vary: 'easy' (centred, upright, clean: quick demos), 'medium', 'hard' (the original faces).",
    },
    augment: augmentSchema,
  },
  required: ['kind'],
} as const;

function folderDatasetSchema<K extends string>(kind: K, description: string) {
  return {
    type: 'object',
    additionalProperties: false,
    description,
    properties: {
      kind: { const: kind },
      root: {
        type: 'string',
        minLength: 1,
        description:
          'Dataset folder; may use ${ENV_VAR}. Relative paths are relative to the experiment file.',
      },
      size: {
        type: 'integer',
        minimum: 8,
        maximum: 2048,
        default: 256,
        description: 'Images are resized to size x size.',
      },
      skipBad: {
        type: 'boolean',
        default: false,
        description: 'Skip unreadable or mismatched pairs with a warning instead of stopping.',
      },
      cache: {
        type: 'string',
        minLength: 1,
        description:
          'Folder for resized images, reused by later runs (omit for no cache); may use ${ENV_VAR}.',
      },
      augment: augmentSchema,
    },
    required: ['kind', 'root'],
  } as const;
}

export const lapaDatasetSchema = folderDatasetSchema(
  'lapa',
  'A LaPa folder: {train,val,test}/{images/*.jpg,labels/*.png}, 11 classes.',
);
export const celebamaskDatasetSchema = folderDatasetSchema(
  'celebamask',
  'A CelebAMask-HQ folder (19 classes mapped to the 11 LaPa classes), or one already in the LaPa layout.',
);

export const DATASET_KINDS = ['synthetic', 'lapa', 'celebamask'] as const;

export const datasetSchema = {
  type: 'object',
  description: 'Where the faces come from.',
  discriminator: { propertyName: 'kind' },
  required: ['kind'],
  oneOf: [syntheticDatasetSchema, lapaDatasetSchema, celebamaskDatasetSchema],
} as const;

/** The ViT presets and the hybrid ones (`hybrid-128`, `hybrid-256`: conv stem + skip decoder). */
export const PRESET_NAMES = [...MODEL_PRESET_NAMES];

export const modelSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description:
    'The Face Transformer: a preset, with any field overridden. A preset name alone may be given as a string. ' +
    'hybrid-128 and hybrid-256 are the hybrid (conv stem, ViT encoder at 1/16, skip decoder); imageSize must then be a multiple of 16. ' +
    'imageSize defaults to the dataset size.',
  properties: {
    preset: { type: 'string', enum: PRESET_NAMES, default: 'tiny-64', description: 'Starting sizes.' },
    imageSize: { type: 'integer', minimum: 1, description: 'Input side (default: the dataset size).' },
    patchSize: { type: 'integer', minimum: 1, description: 'Patch side; must divide imageSize.' },
    dim: { type: 'integer', minimum: 1, description: 'Token width; must be divisible by heads.' },
    depth: { type: 'integer', minimum: 1, description: 'Encoder blocks.' },
    heads: { type: 'integer', minimum: 1, description: 'Attention heads.' },
    mlpDim: { type: 'integer', minimum: 1, description: 'MLP hidden width.' },
    dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1, description: 'Dropout in the blocks.' },
    embDropout: {
      type: 'number',
      minimum: 0,
      exclusiveMaximum: 1,
      description: 'Dropout on the token embeddings.',
    },
    posEmbedding: { type: 'boolean', description: 'Learned positional embedding.' },
    init: {
      type: 'string',
      enum: ['pytorch', 'vit'],
      description:
        "Hybrid presets: how fresh weights are drawn, 'pytorch' (default: the PyTorch twin's module defaults) or " +
        "'vit' (xavier, zero biases, trunc-normal 0.02 positions and head: the hybrid's scheme before 2026-12-03).",
    },
    normFirst: { type: 'boolean', description: 'Pre-norm blocks (false: post-norm, as the source report).' },
    mlpActivation: {
      type: 'string',
      enum: ['relu', 'gelu'],
      description:
        "The MLP's activation (relu, as PyTorch's TransformerEncoderLayer; gelu for imported timm / Hugging Face encoders).",
    },
    layerNormEps: {
      type: 'number',
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      description: 'LayerNorm epsilon (default 1e-5; timm 1e-6, Hugging Face 1e-12).',
    },
  },
} as const;

export const rewardEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['plugin'],
  properties: {
    plugin: { type: 'string', minLength: 1, description: 'A registered reward (`fprl rewards list`).' },
    name: { type: 'string', minLength: 1, description: 'Component name in logs (default: the plugin name).' },
    weight: { type: 'number', default: 1, description: 'Weight in the combined reward.' },
    options: { type: 'object', default: {}, description: "The plugin's options (checked by its schema)." },
  },
} as const;

/** Partial training config an agent may override (deep-merged over the experiment's `training`). */
export const trainingOverrideSchema = {
  ...withoutDefaults(trainingConfigSchema),
  description: "Overrides of the experiment's training section for this agent (deep-merged).",
} as const;

/** The fields of an agent entry in a branch of its kind: name, description, kind, the kind's own fields, rewards, initFrom, training. */
function agentKindEntrySchema(def: AgentDefinition): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    description: `${def.name}: ${def.description}`,
    required: ['name', 'kind', ...(def.kind.required ?? [])],
    properties: {
      name: {
        type: 'string',
        pattern: NAME_PATTERN,
        description: 'Unique name; also the folder of its runs.',
      },
      description: { type: 'string' },
      kind: { const: def.name },
      ...def.kind.properties,
      rewards: {
        type: 'array',
        items: rewardEntrySchema,
        default: [],
        description: 'Reward components (REINFORCE learns from their weighted sum; others log them).',
      },
      initFrom: {
        type: 'string',
        description:
          "Start from the final checkpoint of this agent's run with the same seed (fine-tuning), or with initSeed.",
      },
      initSeed: {
        type: 'integer',
        minimum: 0,
        description:
          "With initFrom: start every seed of this agent from the initFrom agent's run with this seed, instead of the same seed. Several fine-tune seeds then start from one trained parser and differ only in their own draws (batches, samples, dropout).",
      },
      seeds: {
        ...SEED_LIST,
        description:
          "This agent's seeds, instead of the experiment's seeds and --seeds: e.g. [0] for a parser that several fine-tune seeds start from (initSeed).",
      },
      initWeights: {
        type: 'string',
        minLength: 1,
        description:
          "Start the policy from a folder written by `fprl import` (PyTorch weights), or from another sweep's run (its checkpoints folder or a saved agent folder), relative to this file; the model section must describe the same architecture.",
      },
      initLogitAdjustment: {
        description:
          "After initFrom or initWeights, subtract log(w_c) from the policy's per-class output bias, so that the starting weights decide by the pixels' own class probabilities instead of the class weights w they were trained with (the post-hoc logit adjustment of evaluation.logitAdjustment, baked into the weights). true: the initFrom agent's classWeights; or the weights themselves, one per class.",
        oneOf: [
          { type: 'boolean' },
          { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 1 },
        ],
      },
      training: trainingOverrideSchema,
    },
  };
}

/**
 * An agent entry: one branch per registered kind, chosen by `kind` (each branch holds that
 * kind's fields and defaults only).
 */
export function agentEntrySchema(
  kinds: readonly AgentDefinition[] = BUILTIN_AGENT_KINDS,
): Record<string, unknown> {
  return {
    type: 'object',
    required: ['kind'],
    discriminator: { propertyName: 'kind' },
    oneOf: kinds.map(agentKindEntrySchema),
  };
}

export const EVAL_METRICS = ['meanF1', 'mIoU', 'pixelAccuracy', 'meanDice'] as const;

export const evaluationSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    split: {
      type: 'string',
      enum: ['val', 'test'],
      default: 'test',
      description: 'Split of the final evaluation (LaPa protocol: one confusion matrix over the split).',
    },
    metrics: {
      type: 'array',
      items: { type: 'string', enum: EVAL_METRICS },
      minItems: 1,
      uniqueItems: true,
      default: ['meanF1', 'mIoU', 'pixelAccuracy'],
      description: 'Columns of the comparison table.',
    },
    pictures: {
      type: 'integer',
      minimum: 0,
      maximum: 64,
      default: 8,
      description: "Test faces in each run's ground truth | prediction | error grid.",
    },
    batchSize: { type: 'integer', minimum: 1, default: 16, description: 'Images per evaluation batch.' },
    limit: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Evaluate at most this many images (0 = all).',
    },
    flip: {
      type: 'boolean',
      default: false,
      description:
        "Flip test-time augmentation in the final evaluation: each image's logits averaged with its mirror's " +
        '(mirrored back, left and right classes swapped). Off by default; reports say when it was on.',
    },
    logitAdjustment: {
      type: 'boolean',
      default: false,
      description:
        'For agents trained with classWeights: subtract log(w_c) from the logits before the argmax in the final ' +
        "evaluation (the Bayes decision for the pixels' own class probabilities; weighted cross-entropy's optimum " +
        'is w_c p_c). Agents without class weights are unaffected. Off by default; reports say when it was on.',
    },
  },
} as const;

/** The experiment schema with the agent kinds `kinds` (default: the built-ins). */
export function experimentSchema(kinds: readonly AgentDefinition[] = BUILTIN_AGENT_KINDS) {
  return {
    $id: 'https://face-parsing-rl/experiment.schema.json',
    title: 'face-parsing-rl experiment',
    type: 'object',
    additionalProperties: false,
    required: ['name', 'dataset', 'agents'],
    properties: {
      $schema: { type: 'string', description: 'Path of this schema, for editors.' },
      name: {
        type: 'string',
        pattern: NAME_PATTERN,
        description: 'Names the output folder runs/<name>-<time>.',
      },
      description: { type: 'string' },
      rewardModules: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        default: [],
        description:
          'Modules exporting defineReward(...) plugins, imported before validation (relative to the experiment file; may use ${ENV_VAR}).',
      },
      agentModules: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        description:
          'Modules exporting defineAgent(...) kinds, imported before the agents are validated (relative to the experiment file; may use ${ENV_VAR}).',
      },
      dataset: datasetSchema,
      model: modelSchema,
      training: { ...trainingConfigSchema, default: {} },
      agents: { type: 'array', minItems: 1, items: agentEntrySchema(kinds) },
      seeds: {
        ...SEED_LIST,
        default: [0, 1, 2],
        description: 'One run per agent and seed; summaries give mean and 95% CI over seeds.',
      },
      evaluation: evaluationSchema,
    },
  } as const;
}

// ---------------------------------------------------------------- types of a validated config

/** As AugmentOptions in src/data, plus `true` for the defaults. */
export type AugmentConfig =
  | boolean
  | {
      flip?: number;
      scale?: [number, number];
      rotate?: number;
      shift?: number;
      colorJitter?: boolean | { brightness?: number; contrast?: number; saturation?: number; hue?: number };
      outOfFrame?: 'ignore' | 'background';
    };

export interface SyntheticDatasetConfig {
  kind: 'synthetic';
  augment: AugmentConfig;
  difficulty: 'easy' | 'medium' | 'hard';
  size: number;
  train: number;
  val: number;
  test: number;
  seed: number;
}

export interface FolderDatasetConfig {
  kind: 'lapa' | 'celebamask';
  /** Absolute after loading. */
  root: string;
  size: number;
  skipBad: boolean;
  cache?: string;
  augment: AugmentConfig;
}

export type DatasetConfig = SyntheticDatasetConfig | FolderDatasetConfig;

export interface ModelConfig {
  preset: string;
  imageSize?: number;
  patchSize?: number;
  dim?: number;
  depth?: number;
  heads?: number;
  mlpDim?: number;
  dropout?: number;
  embDropout?: number;
  posEmbedding?: boolean;
  init?: 'pytorch' | 'vit';
  normFirst?: boolean;
  mlpActivation?: 'relu' | 'gelu';
  layerNormEps?: number;
}

export interface RewardEntry {
  plugin: string;
  name?: string;
  weight: number;
  options: Record<string, unknown>;
}

/** An agent entry: the fields every entry has, plus its kind's own fields (defaults filled in). */
export interface AgentEntry {
  name: string;
  /** A registered agent kind. */
  kind: string;
  description?: string;
  rewards: RewardEntry[];
  initFrom?: string;
  /** With initFrom: the source's seed for every seed of this agent (default: the same seed). */
  initSeed?: number;
  /** This agent's own seeds (beat the experiment's and --seeds). */
  seeds?: number[];
  /** A folder written by `fprl import`, or another sweep's checkpoints or saved agent folder (absolute after loading). */
  initWeights?: string;
  /** Bake the logit adjustment of these class weights (true: the initFrom agent's) into the starting bias. */
  initLogitAdjustment?: boolean | number[];
  training?: Partial<TrainingConfig>;
  [field: string]: unknown;
}

export type EvalMetric = (typeof EVAL_METRICS)[number];

export interface EvaluationConfig {
  split: 'val' | 'test';
  metrics: EvalMetric[];
  pictures: number;
  batchSize: number;
  limit: number;
  flip: boolean;
  logitAdjustment: boolean;
}

/** A config as it is after validation (defaults filled in). */
export interface ExperimentConfig {
  $schema?: string;
  name: string;
  description?: string;
  rewardModules: string[];
  /** Absent unless given (so configs without agent modules keep their shape). */
  agentModules?: string[];
  dataset: DatasetConfig;
  model: ModelConfig;
  training: TrainingConfig;
  agents: AgentEntry[];
  seeds: number[];
  evaluation: EvaluationConfig;
}

/**
 * The schema file for editors: the same schema, where `model` may also be a preset name
 * (the loader turns a string into `{ preset }` before validating).
 */
export function editorSchema(
  kinds: readonly AgentDefinition[] = BUILTIN_AGENT_KINDS,
): Record<string, unknown> {
  const s = structuredClone(experimentSchema(kinds)) as unknown as {
    properties: Record<string, unknown>;
    [k: string]: unknown;
  };
  s.properties.model = {
    description: modelSchema.description,
    default: 'tiny-64',
    anyOf: [
      { type: 'string', enum: PRESET_NAMES },
      { ...modelSchema, default: undefined },
    ],
  };
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...s };
}
