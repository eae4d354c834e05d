import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/core/rng.js';
import { useBackend } from '../helpers/backend.js';
import { patchify, unpatchify } from '../../agents/vit/index.js';
import { dense, gelu, layerNorm, tokenMeans } from '../../agents/vit/ops.js';
import { selfAttention, encoderBlock, type BlockWeights } from '../../agents/vit/block.js';
import { BulkRandom } from '../../agents/vit/random.js';
import { images, maxAbsDiff } from './fixtures.js';

function randomTensor(shape: number[], seed: number, scale = 0.5): tf.Tensor {
  const data = new BulkRandom(new Rng(seed, 'ops-test')).fillUniform(
    new Float32Array(shape.reduce((a, b) => a * b, 1)),
    -scale,
    scale,
  );
  return tf.tensor(data, shape);
}

/** Random weights of one block in the documented layout (D=8, 2 heads, M=12). */
function blockWeights(d: number, m: number): BlockWeights {
  const r = (shape: number[], seed: number) => randomTensor(shape, seed) as never;
  return {
    norm1Gamma: r([d], 1),
    norm1Beta: r([d], 2),
    qkvKernel: r([d, 3 * d], 3),
    qkvBias: r([3 * d], 4),
    outKernel: r([d, d], 5),
    outBias: r([d], 6),
    norm2Gamma: r([d], 7),
    norm2Beta: r([d], 8),
    fc1Kernel: r([d, m], 9),
    fc1Bias: r([m], 10),
    fc2Kernel: r([m, d], 11),
    fc2Bias: r([d], 12),
  };
}

/**
 * Multi-head attention written the slow, obvious way: per head, slice PyTorch's in_proj layout
 * (q, k, v blocks of D columns; head h owns columns h*hd..(h+1)*hd of each), attend, concatenate.
 */
function referenceAttention(x: tf.Tensor2D, w: BlockWeights, batch: number, heads: number): tf.Tensor2D {
  const d = x.shape[1];
  const t = x.shape[0] / batch;
  const hd = d / heads;
  const outs: tf.Tensor2D[] = [];
  for (let b = 0; b < batch; b++) {
    const xb = tf.slice(x, [b * t, 0], [t, d]);
    const headsOut: tf.Tensor2D[] = [];
    for (let h = 0; h < heads; h++) {
      const proj = (part: number) =>
        tf.add(
          tf.matMul(xb, tf.slice(w.qkvKernel, [0, part * d + h * hd], [d, hd])),
          tf.slice(w.qkvBias, [part * d + h * hd], [hd]),
        ) as tf.Tensor2D;
      const [q, k, v] = [proj(0), proj(1), proj(2)];
      const att = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(hd)));
      headsOut.push(tf.matMul(att, v));
    }
    outs.push(tf.add(tf.matMul(tf.concat(headsOut, 1), w.outKernel), w.outBias));
  }
  return tf.concat(outs, 0);
}

function referenceLayerNorm(x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor2D {
  const mean = tf.mean(x, -1, true);
  const variance = tf.mean(tf.square(tf.sub(x, mean)), -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), gamma), beta);
}

describe('vit ops', () => {
  before(() => useBackend('cpu'));

  it('patchify then matMul equals tf.conv2d with kernel = stride = patch', () => {
    tf.tidy(() => {
      const p = 4;
      const x = images(2, 12, 5);
      const kernel = randomTensor([p, p, 3, 7], 21) as tf.Tensor4D;
      const bias = randomTensor([7], 22) as tf.Tensor1D;
      const conv = tf.add(tf.conv2d(x, kernel, p, 'valid'), bias); // [2,3,3,7]
      const mm = tf.add(tf.matMul(patchify(x, p), tf.reshape(kernel, [p * p * 3, 7])), bias);
      expect(maxAbsDiff(tf.reshape(mm, [2, 3, 3, 7]), conv)).to.be.below(1e-5);
    });
  });

  it('matMul then unpatchify equals tf.conv2dTranspose with kernel = stride = patch', () => {
    tf.tidy(() => {
      const [b, g, p, d, c] = [2, 3, 4, 6, 5];
      const grid = randomTensor([b, g, g, d], 31) as tf.Tensor4D;
      const headKernel = randomTensor([d, p, p, c], 32); // stored layout [D,P,P,C]
      const filter = tf.transpose(headKernel, [1, 2, 3, 0]) as tf.Tensor4D; // tfjs [P,P,C,D]
      const deconv = tf.conv2dTranspose(grid, filter, [b, g * p, g * p, c], p, 'valid');
      const tokens = tf.reshape(grid, [b * g * g, d]) as tf.Tensor2D;
      const mm = unpatchify(tf.matMul(tokens, tf.reshape(headKernel, [d, p * p * c])), b, g, p);
      expect(mm.shape).to.deep.equal([b, g * p, g * p, c]);
      expect(maxAbsDiff(mm, deconv)).to.be.below(1e-5);
    });
  });

  it('unpatchify inverts patchify exactly', () => {
    tf.tidy(() => {
      const x = images(3, 8, 6);
      expect(maxAbsDiff(unpatchify(patchify(x, 2), 3, 4, 2), x)).to.equal(0);
    });
  });

  it('self-attention equals a per-head reference over the PyTorch in_proj layout', () => {
    tf.tidy(() => {
      const [b, t, d, heads] = [2, 5, 8, 2];
      const w = blockWeights(d, 12);
      const x = randomTensor([b * t, d], 40, 1) as tf.Tensor2D;
      const shape = { batch: b, tokens: t, heads, normFirst: true, dropout: 0 };
      expect(
        maxAbsDiff(selfAttention(x, w, shape, undefined), referenceAttention(x, w, b, heads)),
      ).to.be.below(1e-5);
    });
  });

  for (const normFirst of [true, false]) {
    it(`an encoder block matches PyTorch's ${normFirst ? 'pre' : 'post'}-norm TransformerEncoderLayer formula`, () => {
      tf.tidy(() => {
        const [b, t, d, m, heads] = [2, 5, 8, 12, 2];
        const w = blockWeights(d, m);
        const x = randomTensor([b * t, d], 41, 1) as tf.Tensor2D;
        const ln1 = (y: tf.Tensor2D) => referenceLayerNorm(y, w.norm1Gamma, w.norm1Beta);
        const ln2 = (y: tf.Tensor2D) => referenceLayerNorm(y, w.norm2Gamma, w.norm2Beta);
        const sa = (y: tf.Tensor2D) => referenceAttention(y, w, b, heads);
        const ff = (y: tf.Tensor2D) =>
          tf.add(
            tf.matMul(tf.relu(tf.add(tf.matMul(y, w.fc1Kernel), w.fc1Bias)), w.fc2Kernel),
            w.fc2Bias,
          ) as tf.Tensor2D;
        let want: tf.Tensor2D;
        if (normFirst) {
          const a = tf.add(x, sa(ln1(x))) as tf.Tensor2D;
          want = tf.add(a, ff(ln2(a)));
        } else {
          const a = ln1(tf.add(x, sa(x)));
          want = ln2(tf.add(a, ff(a)));
        }
        const got = encoderBlock(x, w, { batch: b, tokens: t, heads, normFirst, dropout: 0.5 }, undefined);
        expect(maxAbsDiff(got, want)).to.be.below(1e-5);
      });
    });
  }

  it('gelu is exact (erf) GELU within 2e-6 on [-6, 6], as PyTorch nn.GELU()', () => {
    // x * Phi(x) for x in [-6, 6], Phi from erf by its Taylor series (exact enough at |x| <= 6 in float64).
    const erf = (z: number) => {
      let sum = 0;
      let term = z;
      for (let n = 0; n < 200; n++) {
        sum += term / (2 * n + 1);
        term *= (-z * z) / (n + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    const xs = Array.from({ length: 121 }, (_, i) => -6 + i * 0.1);
    const got = tf.tidy(() => gelu(tf.tensor1d(xs)).dataSync());
    const worst = Math.max(...xs.map((x, i) => Math.abs(got[i] - 0.5 * x * (1 + erf(x / Math.SQRT2)))));
    expect(worst).to.be.below(3e-7 * 6);
  });

  it('draws dropout masks at the asked rate, scaled to keep the expectation', () => {
    const mask = new BulkRandom(new Rng(9)).dropoutMask(200_000, 0.1);
    const zeros = mask.filter((v) => v === 0).length / mask.length;
    expect(zeros).to.be.closeTo(0.1, 0.005);
    expect(new Set(mask)).to.deep.equal(new Set([0, Math.fround(1 / 0.9)]));
  });

  it('draws truncated normals within two standard deviations with about the right spread', () => {
    const z = new BulkRandom(new Rng(10)).fillTruncatedNormal(new Float32Array(100_000), 0.02);
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
    expect(Math.max(...z.map(Math.abs))).to.be.at.most(0.04 + 1e-7);
    expect(mean).to.be.closeTo(0, 3e-4);
    // A normal truncated at +-2 sd keeps 0.88 of its standard deviation.
    expect(sd).to.be.closeTo(0.02 * 0.8796, 4e-4);
  });
});

/** Gradients of sum(f(inputs) * w) for every input, with a fixed random weighting w. */
function gradsOf(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): tf.Tensor[] {
  return tf.grads((...xs: tf.Tensor[]) => {
    const y = f(...xs);
    return tf.sum(tf.mul(y, randomTensor(y.shape, 99, 1)));
  })(inputs);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`vit layers and their gradients on ${backend}`, () => {
    before(() => useBackend(backend));

    const cases: [
      string,
      (...xs: tf.Tensor[]) => tf.Tensor,
      (...xs: tf.Tensor[]) => tf.Tensor,
      number[][],
    ][] = [
      [
        'dense',
        (x, k, b) => dense(x as tf.Tensor2D, k as tf.Tensor2D, b as tf.Tensor1D),
        (x, k, b) => tf.add(tf.matMul(x as tf.Tensor2D, k as tf.Tensor2D), b),
        [[12, 5], [5, 7], [7]],
      ],
      [
        'dense with ReLU',
        (x, k, b) => dense(x as tf.Tensor2D, k as tf.Tensor2D, b as tf.Tensor1D, true),
        (x, k, b) => tf.relu(tf.add(tf.matMul(x as tf.Tensor2D, k as tf.Tensor2D), b)),
        [[12, 5], [5, 7], [7]],
      ],
      [
        'layerNorm',
        (x, g, b) => layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D),
        (x, g, b) => referenceLayerNorm(x as tf.Tensor2D, g, b),
        [[9, 6], [6], [6]],
      ],
      [
        'tokenMeans',
        (x) => tokenMeans(x as tf.Tensor2D, 3),
        (x) => tf.mean(tf.reshape(x, [3, 4, 5]), 1),
        [[12, 5]],
      ],
    ];
    for (const [name, custom, reference, shapes] of cases) {
      it(`${name} has the value and gradients of its plain-ops formula`, () => {
        tf.tidy(() => {
          const inputs = shapes.map((shape, i) => randomTensor(shape, 50 + i, 1));
          expect(maxAbsDiff(custom(...inputs), reference(...inputs))).to.be.below(1e-5);
          const got = gradsOf(custom, inputs);
          const want = gradsOf(reference, inputs);
          got.forEach((g, i) => expect(maxAbsDiff(g, want[i]), `gradient of input ${i}`).to.be.below(1e-4));
        });
      });
    }
  });
}
