/**
 * SyntheticFaces: the embedded default dataset. A procedural renderer draws face-like images
 * with exact LaPa labels, so experiments run anywhere without downloading data.
 *
 * Each sample is a pure function of (seed, split, index): its parameters come from the
 * stream `new Rng(seed, 'synthetic/<split>/<index>')`, and geometry lives in normalised
 * coordinates, so the same face renders at any size and splits never share faces.
 *
 * What varies (nuisance): pose (roll, yaw, scale, position), face shape, skin, hair and
 * background colours, hair style (none, short, long, fringe hiding the brows), open or
 * closed eyes and mouth (inner mouth only when open), cluttered backgrounds with skin- and
 * hair-coloured distractors, a skin-coloured neck and occasional hand (background in
 * LaPa), lighting gradients, soft focus and noise. What stays learnable: brows are darker
 * than skin, eyes have white sclera and a dark iris or lash line, lips are redder than
 * skin, the inner mouth is dark (with teeth), hair is textured.
 *
 * `difficulty` ('easy' | 'medium' | 'hard', default 'hard') sets how much the nuisances vary
 * (src/data/synthetic-difficulty.ts): 'easy' faces are roughly centred and upright with few,
 * faint distractors and little noise, for quick demos; 'hard' is the original behaviour. A
 * face is a pure function of (seed, split, index, difficulty).
 */
import { CLASS_NAMES } from '../core/classes.js';
import { FprlError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Dataset, Sample } from '../core/types.js';
import { normalizeImage } from './normalize.js';
import { SCENE_STYLES, SYNTHETIC_DIFFICULTIES, type SyntheticDifficulty } from './synthetic-difficulty.js';
import { Renderer } from './synth/render.js';
import { type Scene, sampleScene } from './synth/scene.js';

export interface SyntheticFacesOptions {
  /** Side of the square images in pixels (>= 8). */
  size: number;
  /** Number of faces. */
  count: number;
  /** Seed of the whole set. */
  seed: number;
  /** Split name; different splits give disjoint faces. Default 'train'. */
  split?: string;
  /**
   * How much pose, clutter, lighting and noise vary: 'easy' (centred, upright, clean: quick
   * demos), 'medium', or 'hard' (unaligned, cluttered; the default and original behaviour).
   */
  difficulty?: SyntheticDifficulty;
}

/** Rendered bytes of one synthetic face. */
export interface RenderedFace {
  /** [S,S,3] RGB bytes */
  rgb: Uint8Array;
  /** [S,S] LaPa class ids */
  label: Uint8Array;
}

export class SyntheticFaces implements Dataset {
  readonly name: string;
  readonly length: number;
  readonly classNames = CLASS_NAMES;
  readonly height: number;
  readonly width: number;
  readonly seed: number;
  readonly split: string;
  readonly difficulty: SyntheticDifficulty;
  /** The levels `difficulty` accepts. */
  static readonly difficulties = SYNTHETIC_DIFFICULTIES;
  private renderer?: Renderer;

  constructor(opts: SyntheticFacesOptions) {
    const { size, count, seed } = opts;
    if (!Number.isInteger(size) || size < 8) {
      throw new FprlError(`size must be an integer >= 8, got ${size}`, { where: 'SyntheticFaces.size' });
    }
    if (!Number.isInteger(count) || count < 0) {
      throw new FprlError(`count must be a non-negative integer, got ${count}`, {
        where: 'SyntheticFaces.count',
      });
    }
    if (!Number.isFinite(seed))
      throw new FprlError(`seed must be a number, got ${seed}`, { where: 'SyntheticFaces.seed' });
    const difficulty = opts.difficulty ?? 'hard';
    if (!SYNTHETIC_DIFFICULTIES.includes(difficulty)) {
      throw new FprlError(
        `difficulty must be one of ${SYNTHETIC_DIFFICULTIES.join(', ')}, got '${difficulty}'`,
        {
          where: 'SyntheticFaces.difficulty',
          hint: "use 'easy' for quick demos, 'hard' (the default) for the full nuisance range",
        },
      );
    }
    this.difficulty = difficulty;
    this.split = opts.split ?? 'train';
    this.seed = seed;
    this.length = count;
    this.height = size;
    this.width = size;
    this.name = `synthetic-${this.split}`;
  }

  /** The scene parameters of face `index` (resolution independent). */
  scene(index: number): Scene {
    this.checkIndex(index);
    return sampleScene(new Rng(this.seed, `synthetic/${this.split}/${index}`), SCENE_STYLES[this.difficulty]);
  }

  /** Render face `index` as bytes, synchronously (used by the writer and the benchmark). */
  render(index: number, out?: RenderedFace): RenderedFace {
    const S = this.height;
    const dst = out ?? { rgb: new Uint8Array(S * S * 3), label: new Uint8Array(S * S) };
    this.renderer ??= new Renderer(S);
    this.renderer.render(this.scene(index), dst.rgb, dst.label);
    return dst;
  }

  id(index: number): string {
    return `${this.split}-${index}`;
  }

  async get(index: number): Promise<Sample> {
    const { rgb, label } = this.render(index);
    return { id: this.id(index), image: normalizeImage(rgb), label, height: this.height, width: this.width };
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new FprlError(`index ${index} is out of range (0..${this.length - 1})`, { where: this.name });
    }
  }
}
