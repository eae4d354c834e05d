/**
 * A tiny per-pixel policy for tests and examples: logits_p = x_p W + b_p, where x_p is the
 * pixel's RGB and b [H,W,C] a learned per-position bias (with zero images the logits are the
 * parameters themselves, which the estimator tests use). `pooled` [B,3] is the mean colour.
 */
import * as tf from '@tensorflow/tfjs';
import type { PolicyArchitecture, PolicyNet } from '../../src/core/types.js';
import type { Rng } from '../../src/core/rng.js';
import { NUM_CLASSES } from '../../src/core/classes.js';
import { readTensors, writeTensors, checkShapes } from '../../src/optim/tensor-io.js';
import { uniqueScope } from './names.js';

export interface LinearPolicyOptions {
  height: number;
  width: number;
  numClasses?: number;
  /** Initial weights ~ N(0, initStd); the bias starts at 0. */
  initStd?: number;
}

export class LinearPolicy implements PolicyNet {
  readonly numClasses: number;
  /** [3,C] */
  readonly kernel: tf.Variable;
  /** [H,W,C] */
  readonly bias: tf.Variable;

  /** `linear` with its options: a replica is `new LinearPolicy(options, rng)`. */
  architecture(): PolicyArchitecture {
    return { kind: 'linear', config: this.options };
  }

  constructor(
    readonly options: LinearPolicyOptions,
    rng: Rng,
  ) {
    const C = (this.numClasses = options.numClasses ?? NUM_CLASSES);
    const std = options.initStd ?? 0.1;
    const init = new Float32Array(3 * C).map(() => rng.normal(0, std));
    const scope = uniqueScope('linear_policy');
    this.kernel = tf.variable(tf.tensor2d(init, [3, C]), true, `${scope}/kernel`);
    this.bias = tf.variable(tf.zeros([options.height, options.width, C]), true, `${scope}/bias`);
  }

  get trainableVariables(): tf.Variable[] {
    return [this.kernel, this.bias];
  }

  apply(images: tf.Tensor4D): { logits: tf.Tensor4D; pooled: tf.Tensor2D } {
    return tf.tidy(() => {
      const [B, H, W] = images.shape;
      const logits = images
        .reshape([B * H * W, 3])
        .matMul(this.kernel)
        .reshape([B, H, W, this.numClasses])
        .add(this.bias) as tf.Tensor4D;
      const pooled = images.mean([1, 2]) as tf.Tensor2D;
      return { logits, pooled };
    });
  }

  async save(dir: string): Promise<void> {
    await writeTensors(
      dir,
      'weights',
      this.trainableVariables.map((v) => ({ name: v.name.replace(/^linear_policy_\d+\//, ''), tensor: v })),
    );
  }

  async loadWeightsFrom(dir: string): Promise<void> {
    const named = await readTensors(dir, 'weights');
    try {
      checkShapes(
        named.map((n) => ({ name: n.name, shape: n.tensor.shape })),
        this.trainableVariables,
        dir,
      );
      this.trainableVariables.forEach((v, i) => v.assign(named[i].tensor));
    } finally {
      named.forEach((n) => n.tensor.dispose());
    }
  }

  dispose(): void {
    this.kernel.dispose();
    this.bias.dispose();
  }
}
