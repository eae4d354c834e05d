import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/core/rng.js';
import { BanditEnv, type BanditEnvOptions, type Contexts } from '../../envs/bandit-env.js';

/**
 * A bandit env over random in-memory contexts: what a subclass of the template needs is
 * only `observe` and `seed`. Images are uniform in [-1, 1]; targets use 4 classes with 10% ignored.
 */
export class TinyEnv extends BanditEnv {
  private rng: Rng;
  private drawn = 0;

  constructor(opts: Partial<BanditEnvOptions> & { seed?: number } = {}) {
    super('Tiny-v0', { batchSize: 2, height: 3, width: 4, numClasses: 4, ...opts });
    this.rng = new Rng(opts.seed ?? 0, 'tiny');
  }

  protected seed(seed: number): void {
    this.rng = new Rng(seed, 'tiny');
    this.drawn = 0;
  }

  protected async observe(): Promise<Contexts> {
    const { batchSize: B, height: H, width: W } = this;
    const images = new Float32Array(B * H * W * 3).map(() => this.rng.uniform(-1, 1));
    const target = new Int32Array(B * H * W).map(() =>
      this.rng.bernoulli(0.1) ? 255 : this.rng.int(0, this.numClasses),
    );
    const ids = Array.from({ length: B }, () => `tiny-${this.drawn++}`);
    return { images: tf.tensor4d(images, [B, H, W, 3]), target, ids };
  }
}
