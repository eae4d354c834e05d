import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openLapaFolder, resizeLabelNearest, SyntheticFaces } from '../../src/data/index.js';
import { ConfusionMatrix } from '../../src/metrics/index.js';
import { evaluate, evaluationMetrics } from '../../src/train/evaluate.js';
import { labelsAtSize } from '../../src/train/resize-logits.js';
import { Rng } from '../../src/core/rng.js';
import type { Agent, Dataset, NativeLabel, Observation } from '../../src/core/types.js';
import { logitsAgent } from '../helpers/logits-agent.js';
import { bands, pattern, tempDir, writeLabel, writePng } from '../data/helpers.js';
import { useBackend } from '../helpers/backend.js';

const C = 11;
const S = 8; // the model's input size

/** Fixed logits per image id [S,S,C] from a seeded stream: the same for an id whatever the batch. */
function logitsOf(id: string): Float32Array {
  const u = new Rng(0, `logits/${id}`).fill(new Float64Array(S * S * C));
  return Float32Array.from(u, (x) => 4 * x);
}

/** An agent whose greedy logits are {@link logitsOf}; `withLogits: false` hides them (reference agents). */
function fakeAgent(withLogits = true): Agent {
  const logits = async (obs: Observation): Promise<tf.Tensor4D> => {
    const B = obs.images.shape[0];
    const all = new Float32Array(B * S * S * C);
    obs.ids.forEach((id, b) => all.set(logitsOf(id), b * S * S * C));
    return tf.tensor4d(all, [B, S, S, C]);
  };
  return logitsAgent('fake', logits, withLogits);
}

/**
 * PyTorch's F.interpolate(mode='bilinear', align_corners=False) of one image [h,w,C] to
 * [H,W,C], written out: source = (dst + 0.5) * in / out - 0.5, clamped at 0; neighbours
 * floor and floor + 1 (clamped to the last row/column).
 */
function bilinearTorch(x: Float32Array, h: number, w: number, H: number, W: number): Float64Array {
  const out = new Float64Array(H * W * C);
  const src = (d: number, n: number, N: number) => {
    const s = Math.max(0, ((d + 0.5) * n) / N - 0.5);
    const i0 = Math.floor(s);
    return { i0, i1: Math.min(i0 + 1, n - 1), f: s - i0 };
  };
  for (let y = 0; y < H; y++) {
    const r = src(y, h, H);
    for (let xx = 0; xx < W; xx++) {
      const c = src(xx, w, W);
      for (let k = 0; k < C; k++) {
        const at = (yy: number, xc: number) => x[(yy * w + xc) * C + k];
        const top = at(r.i0, c.i0) * (1 - c.f) + at(r.i0, c.i1) * c.f;
        const bottom = at(r.i1, c.i0) * (1 - c.f) + at(r.i1, c.i1) * c.f;
        out[(y * W + xx) * C + k] = top * (1 - r.f) + bottom * r.f;
      }
    }
  }
  return out;
}

function argmaxRows(x: ArrayLike<number>, n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < C; k++) if (x[i * C + k] > x[i * C + best]) best = k;
    out[i] = best;
  }
  return out;
}

/** Native labels of the folder: 30 rows x 40 columns, classes in bands plus a few ignored pixels. */
function nativeLabel(i: number): Uint8Array {
  const l = bands(30, 40);
  for (let k = i; k < l.length; k += 97) l[k] = 255;
  return l;
}

describe('evaluation at the label’s native resolution', () => {
  let root: string;
  let ds: Dataset;
  const N = 5;
  before(async () => {
    root = await tempDir('fprl-native-');
    for (let i = 0; i < N; i++) {
      await writePng(path.join(root, 'test', 'images', `${i}.png`), pattern(30, 40, i), 30, 40);
      await writeLabel(path.join(root, 'test', 'labels', `${i}.png`), nativeLabel(i), 30, 40);
    }
    ds = await openLapaFolder(root, 'test', { size: S });
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('folder datasets give each label at its own size, read again from its file', async () => {
    const own = await ds.native!(3);
    expect([own.height, own.width, own.imageHeight, own.imageWidth]).to.deep.equal([30, 40, 30, 40]);
    expect(Buffer.from(own.label).equals(Buffer.from(nativeLabel(3)))).to.equal(true);
    expect((await ds.get(3)).label).to.have.length(S * S);
    // Opened at its own size, the stored label is the native one.
    const asIs = await openLapaFolder(root, 'test');
    expect(Buffer.from((await asIs.native!(2)).label).equals(Buffer.from(nativeLabel(2)))).to.equal(true);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`tfjs resizeBilinear(alignCorners false, halfPixelCenters true) is PyTorch’s align_corners=False rule (${backend})`, async () => {
      const previous = tf.getBackend();
      await useBackend(backend);
      try {
        const x = logitsOf('rule');
        const want = bilinearTorch(x, S, S, 30, 40);
        const t = tf.tensor4d(x, [1, S, S, C]);
        try {
          const got = tf.tidy(() => tf.image.resizeBilinear(t, [30, 40], false, true).dataSync());
          for (let i = 0; i < want.length; i++) expect(got[i]).to.be.closeTo(want[i], 1e-5);
          expect(Array.from(labelsAtSize(t, 0, 30, 40))).to.deep.equal(Array.from(argmaxRows(want, 30 * 40)));
        } finally {
          t.dispose();
        }
      } finally {
        await useBackend(previous as 'cpu' | 'wasm');
      }
    });
  }

  it('scores each image at its label’s size (hand count) and keeps the model-size scores, labelled', async () => {
    const r = await evaluate(fakeAgent(), ds, { batchSize: 2 });
    const native = new ConfusionMatrix();
    const model = new ConfusionMatrix();
    for (let i = 0; i < N; i++) {
      const small = logitsOf(String(i));
      native.add(argmaxRows(bilinearTorch(small, S, S, 30, 40), 30 * 40), nativeLabel(i));
      const resized = resizeLabelNearest({ data: nativeLabel(i), height: 30, width: 40 }, S, S).data;
      model.add(argmaxRows(small, S * S), resized);
    }
    expect(r.resolution).to.equal('native');
    expect(r.scores.perClass).to.deep.equal(native.scores().perClass);
    expect(r.scores.meanF1).to.equal(native.scores().meanF1);
    expect(r.scores.mIoU).to.equal(native.scores().mIoU);
    expect(r.modelSize).to.not.equal(undefined);
    expect([r.modelSize!.height, r.modelSize!.width]).to.deep.equal([S, S]);
    expect(r.modelSize!.scores.meanF1).to.equal(model.scores().meanF1);
    expect(r.modelSize!.scores.meanF1).to.not.equal(r.scores.meanF1);
    expect(r.perImage.meanF1.n).to.equal(N);
    // evaluationMetrics (eval:end, result.json) carry the headline, i.e. native, numbers.
    expect(evaluationMetrics(r).meanF1).to.equal(r.scores.meanF1);
  });

  it("'model' scores at the model's size only, as the trainer's learning curves do", async () => {
    const native = await evaluate(fakeAgent(), ds, { batchSize: 3 });
    const r = await evaluate(fakeAgent(), ds, { batchSize: 3, resolution: 'model' });
    expect(r.resolution).to.equal('model');
    expect(r.modelSize).to.equal(undefined);
    expect(r.scores).to.deep.equal(native.modelSize!.scores);
  });

  it('resizes the labels of an agent without logits nearest-neighbour', async () => {
    const r = await evaluate(fakeAgent(false), ds, { batchSize: 4 });
    const cm = new ConfusionMatrix();
    for (let i = 0; i < N; i++) {
      const small = { data: Uint8Array.from(argmaxRows(logitsOf(String(i)), S * S)), height: S, width: S };
      cm.add(resizeLabelNearest(small, 30, 40).data, nativeLabel(i));
    }
    expect(r.resolution).to.equal('native');
    expect(r.scores.meanF1).to.equal(cm.scores().meanF1);
    expect(r.modelSize).to.not.equal(undefined);
  });

  it('reads one native label at a time, once per image, and leaks no tensors', async () => {
    let inFlight = 0;
    let most = 0;
    const calls: number[] = [];
    const spy: Dataset = {
      name: ds.name,
      length: ds.length,
      classNames: ds.classNames,
      height: ds.height,
      width: ds.width,
      get: (i) => ds.get(i),
      native: async (i): Promise<NativeLabel> => {
        calls.push(i);
        most = Math.max(most, ++inFlight);
        try {
          return await ds.native!(i);
        } finally {
          inFlight--;
        }
      },
    };
    const agent = fakeAgent();
    await evaluate(agent, spy, { batchSize: 4 }); // warm up kernels
    const before = tf.memory().numTensors;
    calls.length = 0;
    await evaluate(agent, spy, { batchSize: 4 });
    expect(tf.memory().numTensors).to.equal(before);
    expect(most).to.equal(1);
    expect(calls).to.deep.equal([0, 1, 2, 3, 4]);
  });

  it('changes nothing for synthetic faces: their labels are native, one path, no model-size block', async () => {
    const faces = new SyntheticFaces({ size: S, count: 6, seed: 1, split: 'test' });
    expect((faces as Dataset).native).to.equal(undefined);
    const r = await evaluate(fakeAgent(), faces, { batchSize: 4 });
    const m = await evaluate(fakeAgent(), faces, { batchSize: 4, resolution: 'model' });
    expect(r.resolution).to.equal('native');
    expect(r.modelSize).to.equal(undefined);
    expect(r.scores).to.deep.equal(m.scores);
  });
});
