/**
 * # FaceParsingEnv
 *
 * ## Description
 * Face parsing as a per-pixel contextual bandit. Each reset draws a batch of B face images
 * (the contexts) from a dataset; the agent labels every pixel with one of the 11 LaPa
 * classes; reward plugins score the labelling against the ground truth. One step per
 * episode. A labelled dataset becomes a bandit by keeping the label map as the optimal action
 * (`optimalAction()`), as in TF-Agents' classification environment.
 *
 * ## Action Space
 * `LabelMap([B,H,W], 11)`: int32 classes 0..10 (background, skin, left/right eyebrow,
 * left/right eye, nose, upper lip, inner mouth, lower lip, hair), flat row-major. `step`
 * takes K >= 1 label maps per context, sample-major (length K*B*H*W): REINFORCE with a
 * leave-one-out baseline scores K samples per image in one step.
 *
 * ## Observation Space
 * `Box([B,H,W,3], -1, 1)`: float32 RGB normalised by `normalizeImage` (src/data), as a
 * tf.Tensor4D the env owns until the next reset or close, plus the sample ids.
 *
 * ## Rewards
 * The weighted sum of the configured components (default: `f1`, the LaPa metric: macro F1 over
 * the 10 foreground classes, per image), in `rewardRange`. `components` holds each component's
 * unweighted values; with `step(action, { pixelCredit: 'pixel' | 'difference' })` the
 * weighted per-pixel credit comes back as `pixelReward` [K*B*H*W]. Rewards travel over the
 * bus (`env:action` -> `reward` | `reward:error`), so they may be asynchronous; a failing,
 * NaN, out-of-range or silent (rewardTimeoutMs) component rejects the step, naming it.
 *
 * ## Episode End
 * Every step terminates the episode (`terminated: true`, `truncated: false`). The contexts
 * may still be scored again (e.g. the greedy labelling for a self-critical baseline) until
 * the next reset.
 *
 * ## Arguments
 * `new FaceParsingEnv({ id, dataset, batchSize, rng, bus?, rewards?, augment?, rewardTimeoutMs? })`,
 * or `makeEnv('SyntheticFaces-v0' | 'FaceParsing-v0' | 'CelebAMask-v0', opts)`. `reset({ seed })`
 * restarts sampling and augmentation from the seed: the same seed gives the same contexts.
 * `getState()` / `setState(state)` save and restore the position in the data order (plain
 * JSON, stored in checkpoints by the trainer): a restored env draws exactly the contexts the
 * original would have drawn next.
 *
 * ## Version History
 * - v0: initial version (synthetic faces, LaPa folder, CelebAMask-HQ folder); getState/setState
 *   for exact resume.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchSampler, type AugmentOptions, type SamplerState } from '../src/data/index.js';
import { FprlError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import type { Dataset } from '../src/core/types.js';
import { BanditEnv, type BanditEnvOptions, type Contexts } from './bandit-env.js';

export interface FaceParsingEnvOptions extends Omit<BanditEnvOptions, 'height' | 'width'> {
  /** Registry id, e.g. 'SyntheticFaces-v0'. */
  id: string;
  dataset: Dataset;
  /** Seeds sampling order and augmentation until a reset({ seed }) replaces it. */
  rng: Rng;
  /**
   * Training augmentation (flip with the left/right label swap, scale, rotation, shift, colour
   * jitter; src/data/augment.ts); default none. `{}` is DEFAULT_AUGMENT.
   */
  augment?: AugmentOptions | false;
}

/**
 * Where an env is in its data order: plain JSON (checkpoints store it). The sampler's state
 * is the whole random state of the env: the env's own stream only seeds the sampler, and a
 * reset({ seed }) replaces the sampler (its new seed is in the state).
 */
export interface FaceParsingEnvState {
  version: 1;
  /** Registry id of the env that wrote it (checked on restore). */
  id: string;
  /** Dataset name, for messages only (a moved folder keeps its data). */
  dataset: string;
  sampler: SamplerState;
}

export class FaceParsingEnv extends BanditEnv {
  readonly dataset: Dataset;
  private sampler: BatchSampler;
  private readonly augment: AugmentOptions | false;

  constructor(opts: FaceParsingEnvOptions) {
    const { dataset, batchSize } = opts;
    if (dataset.length < batchSize) {
      throw new FprlError(`the dataset has ${dataset.length} images, fewer than batchSize ${batchSize}`, {
        where: `env '${opts.id}'`,
        hint: 'lower batchSize or use a larger dataset',
      });
    }
    if (dataset.classNames.length !== (opts.numClasses ?? dataset.classNames.length)) {
      throw new FprlError(
        `numClasses ${opts.numClasses} differs from the dataset's ${dataset.classNames.length} classes`,
        {
          where: `env '${opts.id}'`,
        },
      );
    }
    super(opts.id, {
      ...opts,
      height: dataset.height,
      width: dataset.width,
      numClasses: dataset.classNames.length,
    });
    this.dataset = dataset;
    this.augment = opts.augment ?? false;
    this.sampler = this.makeSampler(opts.rng);
  }

  /** The position in the data order (seed, epoch, position), as JSON. */
  getState(): FaceParsingEnvState {
    return { version: 1, id: this.id, dataset: this.dataset.name, sampler: this.sampler.getState() };
  }

  /**
   * Continue the data order from `state` (from {@link getState}, possibly through JSON): the
   * next reset() draws the contexts the env that wrote it would have drawn next. Throws an
   * FprlError when the state is malformed or from another env id, dataset size or batch size.
   */
  setState(state: unknown): void {
    const where = `env '${this.id}'.setState`;
    const s = state as Partial<FaceParsingEnvState> | null;
    const sampler = s?.sampler as Partial<SamplerState> | undefined;
    const numeric = ['seed', 'epoch', 'position', 'datasetLength', 'batchSize'] as const;
    if (
      typeof s !== 'object' ||
      s === null ||
      s.version !== 1 ||
      typeof sampler !== 'object' ||
      sampler === null ||
      sampler.version !== 1 ||
      numeric.some((k) => typeof sampler[k] !== 'number')
    ) {
      throw new FprlError(
        'not a FaceParsingEnv state (expected { version: 1, id, sampler: { version: 1, ... } })',
        {
          where,
          hint: 'pass the value getState() returned (a checkpoint written by another kind of env cannot be resumed here)',
        },
      );
    }
    if (s.id !== this.id) {
      throw new FprlError(`the state is from env '${s.id}', this env is '${this.id}'`, {
        where,
        hint: 'resume with the same env id (dataset kind) as the run that wrote the checkpoint',
      });
    }
    this.sampler.setState(sampler as SamplerState);
  }

  protected seed(seed: number): void {
    this.sampler = this.makeSampler(new Rng(seed, `env/${this.id}`));
  }

  protected async observe(): Promise<Contexts> {
    // Arrays, not tensors: the labels stay on the JS side (the rewards read them there).
    const b = await this.sampler.nextArrays();
    return {
      images: tf.tensor4d(b.images, [b.batchSize, b.height, b.width, 3], 'float32'),
      target: b.labels,
      ids: b.ids,
    };
  }

  private makeSampler(rng: Rng): BatchSampler {
    // dropLast keeps every observation at exactly B images, the shape of the spaces.
    return new BatchSampler(this.dataset, {
      batchSize: this.batchSize,
      rng: rng.fork('sampler'),
      shuffle: true,
      augment: this.augment,
      dropLast: true,
    });
  }
}
