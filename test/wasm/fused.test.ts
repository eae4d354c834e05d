import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { nativeMatMul, setNativeMatMul } from '../../src/native/index.js';
import { canFuse, FUSED, fusedKernelsOn, setFusedKernels } from '../../src/native/fused.js';
import { setFastWasmKernels } from '../../src/wasm/kernels.js';
import { dense, dropout, gelu, geluOps, layerNorm, layerNormEps, softmax } from '../../agents/vit/ops.js';
import { fusedPolicyTerms, policyTerms } from '../../src/parallel/loss.js';
import { upsample2x } from '../../agents/vit/conv-ops.js';

/** Standard-normal values times `scale` from a seeded stream. */
function normal(n: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** `fn` run with the fused kernels on and off: arrays it returns, per route. */
function bothRoutes(fn: () => Float32Array[]): { fused: Float32Array[]; ops: Float32Array[] } {
  const run = (on: boolean) => {
    const was = setFusedKernels(on);
    try {
      return tf.tidy(fn);
    } finally {
      setFusedKernels(was);
    }
  };
  return { fused: run(true), ops: run(false) };
}

/** Value and gradients of sum(dy * f(inputs)) w.r.t. every input, as arrays. */
function valueAndGrads(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  dy: tf.Tensor,
): Float32Array[] {
  const y = f(...inputs).dataSync() as Float32Array;
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), dy)))(inputs);
  return [Float32Array.from(y), ...grads.map((g) => Float32Array.from(g.dataSync() as Float32Array))];
}

const HAS_FUSED = nativeMatMul()?.pixelLossGrad !== undefined;

describe('fused element-wise kernels (src/native/fused.cc) against their tfjs twins', function () {
  before(async function () {
    await useBackend('wasm');
    if (!HAS_FUSED) this.skip(); // no addon built: the tfjs ops are the only route (tested everywhere else)
  });

  it('are on by default on wasm with the addon, and the switches turn them off', () => {
    expect(fusedKernelsOn()).to.equal(true);
    expect(canFuse(FUSED.layerNorm)).to.equal(true);
    const was = setFusedKernels(false);
    expect(canFuse(FUSED.layerNorm)).to.equal(false);
    setFusedKernels(was);
    setNativeMatMul(false);
    expect(canFuse(FUSED.pixelLoss), 'without the addon').to.equal(false);
    setNativeMatMul(true);
    setFastWasmKernels(false);
    expect(canFuse(FUSED.softmax), 'with the stock kernels').to.equal(false);
    setFastWasmKernels(true);
  });

  // LayerNorm rows of 192 (the ti16 width, whole 8-lane blocks) and 13 (a tail): values ~1, so
  // float32 rounding of a few dozen operations bounds the difference well below 1e-5.
  for (const D of [192, 13])
    it(`computes LayerNorm and its gradients like the tfjs ops (D = ${D}, eps 1e-5 and 1e-6)`, () => {
      const rng = new Rng(1);
      const N = 37;
      const x = normal(N * D, rng, 3);
      const gamma = normal(D, rng);
      const beta = normal(D, rng);
      const dy = normal(N * D, rng);
      for (const eps of [1e-5, 1e-6]) {
        const ln = eps === 1e-5 ? layerNorm : layerNormEps(eps);
        const { fused, ops } = bothRoutes(() =>
          valueAndGrads(
            (a, g, b) => ln(a as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D),
            [tf.tensor2d(x, [N, D]), tf.tensor1d(gamma), tf.tensor1d(beta)],
            tf.tensor2d(dy, [N, D]),
          ),
        );
        const names = ['y', 'dx', 'dgamma', 'dbeta'];
        // dgamma and dbeta sum 37 rows of values ~1-3: a few float32 ulps of ~20.
        const tol = [2e-5, 2e-5, 5e-5, 5e-5];
        names.forEach((n, i) => expect(maxAbs(fused[i], ops[i]), n).to.be.below(tol[i]));
      }
    });

  it('computes GELU and its gradient like the tfjs ops, tails and large |x| included', () => {
    const rng = new Rng(2);
    const n = 1003;
    const x = normal(n, rng, 3);
    x[0] = 0;
    x[1] = -12;
    x[2] = 12;
    const dy = normal(n, rng);
    const { fused, ops } = bothRoutes(() => valueAndGrads((a) => gelu(a), [tf.tensor1d(x)], tf.tensor1d(dy)));
    // The value is the same formula; the gradient is its analytic derivative where the ops
    // differentiate the approximation term by term: both within ~1e-6 of the exact GELU'.
    expect(maxAbs(fused[0], ops[0]), 'y').to.be.below(5e-6);
    expect(maxAbs(fused[1], ops[1]), 'dx').to.be.below(1e-5);
    // And geluOps is the route taken when off.
    const direct = tf.tidy(() => geluOps(tf.tensor1d(x)).dataSync());
    expect(maxAbs(direct, ops[0])).to.equal(0);
  });

  for (const n of [256, 13])
    it(`computes the softmax over the last axis and its gradient like tf.softmax (rows of ${n})`, () => {
      const rng = new Rng(3);
      const rows = 24;
      const x = normal(rows * n, rng, 4);
      const dy = normal(rows * n, rng);
      const { fused, ops } = bothRoutes(() =>
        valueAndGrads(
          (a) => softmax(a),
          [tf.tensor3d(x, [2, rows / 2, n])],
          tf.tensor3d(dy, [2, rows / 2, n]),
        ),
      );
      expect(maxAbs(fused[0], ops[0]), 'y').to.be.below(2e-6);
      expect(maxAbs(fused[1], ops[1]), 'dx').to.be.below(2e-6);
      const sums = new Float64Array(rows);
      fused[0].forEach((v, i) => (sums[Math.floor(i / n)] += v));
      for (const s of sums) expect(s).to.be.closeTo(1, 1e-5);
    });

  // Cross-entropy weights (one-hot, normalizer = their count) and REINFORCE weights (signed
  // advantages on k = 3 sampled classes, normalizer 1), 11 classes, a pixel count that leaves a tail.
  for (const kind of ['cross-entropy', 'REINFORCE'] as const)
    it(`computes the ${kind} policy term, the entropy and their gradient like the tfjs ops`, () => {
      const rng = new Rng(4);
      const [b, H, W, C] = [2, 9, 7, 11];
      const P = b * H * W;
      const logits = normal(P * C, rng, 2);
      logits[5] = 40; // a confident pixel: exp underflows for its other classes
      const w = new Float32Array(P * C);
      let normalizer = 1;
      for (let p = 0; p < P; p++) {
        if (kind === 'cross-entropy') w[p * C + Math.floor(rng.uniform() * C)] = 1;
        else for (let k = 0; k < 3; k++) w[p * C + Math.floor(rng.uniform() * C)] += rng.normal() / (3 * P);
      }
      if (kind === 'cross-entropy') normalizer = P;
      const coef = 0.01;
      const { fused, ops } = bothRoutes(() => {
        const z = tf.tensor4d(logits, [b, H, W, C]);
        const tW = tf.tensor4d(w, [b, H, W, C]);
        const terms = (t: tf.Tensor4D) =>
          (canFuse(FUSED.pixelLoss) ? fusedPolicyTerms : policyTerms)(t, tW, normalizer);
        const { policyTerm, entropy } = terms(z);
        const grad = tf.grad((t: tf.Tensor) => {
          const r = terms(t as tf.Tensor4D);
          return tf.sub(r.policyTerm, tf.mul(r.entropy, coef));
        })(z);
        return [
          Float32Array.of(policyTerm.dataSync()[0], entropy.dataSync()[0]),
          Float32Array.from(grad.dataSync() as Float32Array),
        ];
      });
      expect(fused[0][0], 'policy term').to.be.closeTo(ops[0][0], 1e-5 * Math.abs(ops[0][0]) + 1e-7);
      expect(fused[0][1], 'entropy').to.be.closeTo(ops[0][1], 1e-5 * Math.abs(ops[0][1]));
      // Gradient entries are ~1/P: compare relative to the largest.
      const scale = Math.max(...ops[1].map(Math.abs));
      expect(maxAbs(fused[1], ops[1]) / scale, 'dlogits').to.be.below(1e-5);
    });

  // Not a twin within a tolerance: the same bits as tf.fused.matMul's gradient (dy * 1 or dy * 0,
  // the bias gradient summed in the same order), so turning it on changes no result. Widths 768
  // (whole 8-lane blocks), 13 (a tail) and 5 (the float64 path of narrow sums); negative zeros,
  // and dy = inf where y <= 0 (inf * 0 = NaN, as in tfjs).
  for (const M of [768, 13, 5])
    it(`gives a ReLU dense layer's gradients bit for bit as tf.fused.matMul (out = ${M})`, () => {
      const rng = new Rng(6);
      const [N, K] = [33, 24];
      const x = normal(N * K, rng);
      const k = normal(K * M, rng, 0.3);
      const b = normal(M, rng, 0.3);
      const dy = normal(N * M, rng);
      dy[0] = -0;
      dy[1] = Infinity;
      dy[2 * M + 1] = -Infinity;
      const { fused, ops } = bothRoutes(() =>
        valueAndGrads(
          (a, w, c) => dense(a as tf.Tensor2D, w as tf.Tensor2D, c as tf.Tensor1D, true),
          [tf.tensor2d(x, [N, K]), tf.tensor2d(k, [K, M]), tf.tensor1d(b)],
          tf.tensor2d(dy, [N, M]),
        ),
      );
      ['y', 'dx', 'dkernel', 'dbias'].forEach((n, i) => {
        expect(fused[i].length, n).to.equal(ops[i].length);
        for (let j = 0; j < ops[i].length; j++)
          if (!Object.is(fused[i][j], ops[i][j])) expect.fail(`${n}[${j}]: ${fused[i][j]} != ${ops[i][j]}`);
      });
    });

  // The same sfc32 words, the same keep/drop decision and the same product as tf.mul(x, mask):
  // bit for bit, negative zeros, infinities and NaN included (inf * 0 = NaN as in tfjs), and the
  // caller's Rng left in the same state.
  for (const rate of [0.1, 0.5])
    it(`applies dropout (rate ${rate}) and its gradient bit for bit as the float32 mask and tf.mul`, () => {
      const rng = new Rng(9);
      const n = 4099;
      const x = normal(n, rng);
      x[0] = -0;
      x[1] = Infinity;
      x[2] = NaN;
      x[3] = -Infinity;
      const dy = normal(n, rng);
      dy[4] = Infinity;
      const route = (on: boolean, r: Rng) => {
        const was = setFusedKernels(on);
        try {
          expect(canFuse(FUSED.dropout)).to.equal(on);
          return tf.tidy(() =>
            valueAndGrads((a) => dropout(a, rate, r), [tf.tensor2d(x, [1, n])], tf.tensor2d(dy, [1, n])),
          );
        } finally {
          setFusedKernels(was);
        }
      };
      const [rFused, rOps] = [new Rng('dropout'), new Rng('dropout')];
      const fused = route(true, rFused);
      const ops = route(false, rOps);
      expect(rFused.seed32()).to.equal(rOps.seed32());
      ['y', 'dx'].forEach((name, i) => {
        for (let j = 0; j < n; j++)
          if (!Object.is(fused[i][j], ops[i][j]))
            expect.fail(`${name}[${j}]: ${fused[i][j]} != ${ops[i][j]}`);
      });
      const kept = fused[0].filter((v, j) => v !== 0 && Number.isFinite(x[j])).length;
      expect(kept / n).to.be.closeTo(1 - rate, 0.05);
    });

  // A copy forward; the gradient adds each 2x2 block in the concats' gradient order: bit for bit
  // the tfjs route, odd sizes, negative zeros and infinities (inf + -inf = NaN) included.
  for (const [b, h, w, c] of [
    [2, 3, 5, 7],
    [1, 4, 4, 16],
  ])
    it(`upsamples [${b},${h},${w},${c}] x2 and back bit for bit as the two concats and their gradient`, () => {
      const rng = new Rng(10);
      const x = normal(b * h * w * c, rng);
      const dy = normal(4 * b * h * w * c, rng);
      dy[0] = -0;
      dy[c] = -0;
      dy[1] = Infinity;
      dy[c + 1] = -Infinity;
      const { fused, ops } = bothRoutes(() => {
        expect(canFuse(FUSED.upsample2x)).to.equal(fusedKernelsOn());
        return valueAndGrads(
          (a) => upsample2x(a as tf.Tensor4D),
          [tf.tensor4d(x, [b, h, w, c])],
          tf.tensor4d(dy, [b, 2 * h, 2 * w, c]),
        );
      });
      ['y', 'dx'].forEach((name, i) => {
        expect(fused[i].length, name).to.equal(ops[i].length);
        for (let j = 0; j < ops[i].length; j++)
          if (!Object.is(fused[i][j], ops[i][j]))
            expect.fail(`${name}[${j}]: ${fused[i][j]} != ${ops[i][j]}`);
      });
      expect(Number.isNaN(ops[1][1])).to.equal(true);
    });

  it('gives a pixel the same log-sum-exp and loss terms whether it sits in an 8-pixel lane group or in the tail', () => {
    // The forward takes pixels 8 at a time in vector lanes and the last P mod 8 one by one: the
    // same operations in the same order, so the same bits. 9 pixels: pixel 8 repeats pixel 0.
    const addon = nativeMatMul()!;
    const C = 11;
    const rng = new Rng(8);
    const z = normal(9 * C, rng, 3);
    const w = normal(9 * C, rng);
    z.copyWithin(8 * C, 0, C);
    w.copyWithin(8 * C, 0, C);
    const lse = new Float32Array(9);
    const all = new Float64Array(2);
    addon.pixelLoss!(z, w, lse, all, 9, C);
    expect(lse[8]).to.equal(lse[0]);
    // The first 8 alone: the tail pixel adds exactly pixel 0's terms.
    const first = new Float64Array(2);
    addon.pixelLoss!(z.subarray(0, 8 * C), w.subarray(0, 8 * C), new Float32Array(8), first, 8, C);
    const single = new Float64Array(2);
    addon.pixelLoss!(z.subarray(0, C), w.subarray(0, C), new Float32Array(1), single, 1, C);
    expect(all[0]).to.equal(first[0] + single[0]);
    expect(all[1]).to.equal(first[1] + single[1]);
  });

  it('leaks no tensors and no wasm buffers over a forward and backward pass of each op', () => {
    const rng = new Rng(5);
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor2d(normal(8 * 16, rng), [8, 16]);
        const g = tf.tensor1d(normal(16, rng));
        const z = tf.tensor4d(normal(8 * 11, rng), [1, 2, 4, 11]);
        const w = tf.tensor4d(normal(8 * 11, rng), [1, 2, 4, 11]);
        tf.grads((a, b, c, d) => {
          const s = tf.add(
            tf.sum(layerNorm(a as tf.Tensor2D, b as tf.Tensor1D, c as tf.Tensor1D)),
            tf.sum(gelu(a)),
          );
          const t = fusedPolicyTerms(d as tf.Tensor4D, w, 3);
          const kept = tf.add(tf.sum(dropout(a, 0.3, new Rng(1))), tf.sum(upsample2x(d as tf.Tensor4D)));
          return tf.add(tf.add(tf.add(s, tf.sum(softmax(a))), tf.add(t.policyTerm, t.entropy)), kept);
        })([x, g, tf.zerosLike(g), z]);
      });
    run();
    const tensors = tf.memory().numTensors;
    const ids = backend.numDataIds();
    run();
    expect(tf.memory().numTensors).to.equal(tensors);
    expect(backend.numDataIds()).to.equal(ids);
  });

  it('rejects arrays shorter than the shape they are given, with the kernel named', () => {
    const addon = nativeMatMul()!;
    const f = new Float32Array(8);
    expect(() => addon.layerNorm!(f, f, f, f, f, f, 4, 4, 1e-5)).to.throw(/layerNorm: an array is shorter/);
    expect(() => addon.softmaxGrad!(f, f, f, 3, 3)).to.throw(/softmaxGrad/);
    expect(() => addon.pixelLoss!(f, f, f, new Float64Array(2), 2, 40)).to.throw(/0 < C <= 32/);
    expect(() => addon.pixelLossGrad!(f, f, f, f, 1, 11, 1, 1)).to.throw(
      /pixelLossGrad: an array is shorter/,
    );
    expect(() => addon.dropoutApply!(new Int32Array(4), f, f, new Uint8Array(4), 0, 2)).to.throw(
      /dropoutApply: y and mask must be at least as long as x/,
    );
    expect(() => addon.dropoutGrad!(f, new Uint8Array(8), new Float32Array(4), 2)).to.throw(/dropoutGrad/);
    expect(() => addon.upsample2x!(f, f, 1, 2, 4)).to.throw(/upsample2x: an array is shorter/);
    expect(() => addon.upsample2xGrad!(f, f, 1, 2, 4)).to.throw(/upsample2xGrad: an array is shorter/);
  });
});

describe('fused ops elsewhere', () => {
  after(async () => {
    await useBackend('wasm');
  });

  it('take the tfjs ops on the cpu backend (nothing registered there)', async () => {
    await useBackend('cpu');
    expect(canFuse(FUSED.layerNorm)).to.equal(false);
    const y = tf.tidy(() =>
      layerNorm(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor1d([1, 1]), tf.tensor1d([0, 0])).dataSync(),
    );
    expect(y[0]).to.be.closeTo(-1, 1e-4);
    expect(y[1]).to.be.closeTo(1, 1e-4);
  });
});
