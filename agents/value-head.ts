/**
 * The critic: a linear value head V(x) = pooled . w + b on the encoder's pooled tokens
 * `pooled [B,D]`. Trained by mean squared error on the reward inside the agent's loss, or
 * fitted in closed form (ridge regression) at fixed encoder weights by the diagnostics.
 */
import * as tf from '@tensorflow/tfjs';
import { uniqueScope } from './nets/names.js';

export class ValueHead {
  /** [D,1] */
  readonly kernel: tf.Variable;
  /** [1] */
  readonly bias: tf.Variable;

  constructor(readonly dim: number) {
    const scope = uniqueScope('value_head');
    // Zero init: the untrained critic predicts 0, i.e. starts as no baseline rather than a random one.
    // tidy frees the initial zeros (a variable holds its own reference; tidy never frees variables).
    this.kernel = tf.tidy(() => tf.variable(tf.zeros([dim, 1]), true, `${scope}/kernel`));
    this.bias = tf.tidy(() => tf.variable(tf.zeros([1]), true, `${scope}/bias`));
  }

  get variables(): tf.Variable[] {
    return [this.kernel, this.bias];
  }

  /** pooled [B,D] -> values [B] */
  apply(pooled: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => pooled.matMul(this.kernel).reshape([-1]).add(this.bias) as tf.Tensor1D);
  }

  /**
   * Least squares with a small ridge: w, b minimising sum (pooled_i . w + b - y_i)^2 + ridge |w|^2.
   * `pooled` is [n*D] row-major, `targets` [n]. Solved by Cholesky in float64.
   */
  fit(pooled: Float32Array, targets: Float32Array, ridge = 1e-3): void {
    const D = this.dim;
    const n = targets.length;
    const m = D + 1; // features plus a constant column for the bias
    const A = new Float64Array(m * m);
    const r = new Float64Array(m);
    const row = new Float64Array(m);
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < D; d++) row[d] = pooled[i * D + d];
      row[D] = 1;
      for (let a = 0; a < m; a++) {
        r[a] += row[a] * targets[i];
        for (let b = 0; b <= a; b++) A[a * m + b] += row[a] * row[b];
      }
    }
    for (let a = 0; a < D; a++) A[a * m + a] += ridge * n;
    A[D * m + D] += 1e-9 * n;
    const x = choleskySolve(A, r, m);
    tf.tidy(() => {
      this.kernel.assign(tf.tensor2d(Float32Array.from(x.subarray(0, D)), [D, 1]));
      this.bias.assign(tf.tensor1d([x[D]]));
    });
  }

  dispose(): void {
    this.kernel.dispose();
    this.bias.dispose();
  }
}

/** Solve A x = r for symmetric positive definite A (lower triangle used), [m*m] row-major. */
function choleskySolve(A: Float64Array, r: Float64Array, m: number): Float64Array {
  const L = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * m + j];
      for (let k = 0; k < j; k++) s -= L[i * m + k] * L[j * m + k];
      L[i * m + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / L[j * m + j];
    }
  }
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = r[i];
    for (let k = 0; k < i; k++) s -= L[i * m + k] * y[k];
    y[i] = s / L[i * m + i];
  }
  const x = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < m; k++) s -= L[k * m + i] * x[k];
    x[i] = s / L[i * m + i];
  }
  return x;
}
