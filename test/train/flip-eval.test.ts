import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { SyntheticFaces } from '../../src/data/index.js';
import { evaluate, flipAveragedLogits, logitAdjustmentOf } from '../../src/train/evaluate.js';
import { FLIP_PERMUTATION } from '../../src/core/classes.js';
import { FprlError } from '../../src/core/errors.js';
import type { Agent, Observation } from '../../src/core/types.js';
import { logitsAgent } from '../helpers/logits-agent.js';
import { useBackend } from '../helpers/backend.js';

const C = 11;
const S = 16;

/**
 * An agent whose logits depend on the image and on the column: class c scores
 * (c + 1) * red - c * green / 3 + (c % 3 - 1) * x / S, which its mirror does not give, so flip
 * changes it; `equivariant` gives one that flip leaves alone.
 */
function imageAgent(equivariant = false): Agent {
  const logits = async (obs: Observation): Promise<tf.Tensor4D> => {
    const [B, H, W] = obs.images.shape;
    const img = obs.images.dataSync() as Float32Array;
    const out = new Float32Array(B * H * W * C);
    for (let p = 0; p < B * H * W; p++) {
      const x = p % W;
      const red = img[p * 3];
      const green = img[p * 3 + 1];
      for (let c = 0; c < C; c++) {
        if (equivariant) {
          // Left and right classes score alike, by the distance from the centre column: the mirror
          // of the mirrored image's logits with the classes swapped are these logits exactly.
          const k = Math.min(c, FLIP_PERMUTATION[c]);
          out[p * C + c] = (k + 1) * red - (k * green) / 3 + Math.abs(x - (W - 1) / 2) / S;
        } else out[p * C + c] = (c + 1) * red - (c * green) / 3 + ((c % 3) - 1) * (x / S);
      }
    }
    return tf.tensor4d(out, [B, H, W, C]);
  };
  return logitsAgent('image-agent', logits);
}

describe('flip test-time augmentation (evaluation.flip, --flip)', () => {
  before(() => useBackend('cpu'));

  it("averages an image's logits with its mirror's, mirrored back with left and right swapped", async () => {
    const agent = imageAgent();
    const faces = new SyntheticFaces({ size: S, count: 2, seed: 3, split: 'test' });
    const samples = [await faces.get(0), await faces.get(1)];
    const pixels = new Float32Array(2 * S * S * 3);
    samples.forEach((s, b) => pixels.set(s.image, b * S * S * 3));
    const images = tf.tensor4d(pixels, [2, S, S, 3]);
    const mirror = new Float32Array(pixels.length);
    for (let b = 0; b < 2; b++)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++)
          for (let k = 0; k < 3; k++)
            mirror[((b * S + y) * S + x) * 3 + k] = pixels[((b * S + y) * S + (S - 1 - x)) * 3 + k];
    const mirrored = tf.tensor4d(mirror, [2, S, S, 3]);
    const own = (await agent.logits!({ images, ids: ['a', 'b'] })).dataSync();
    const theirs = (await agent.logits!({ images: mirrored, ids: ['a', 'b'] })).dataSync();
    const before = tf.memory().numTensors;
    const got = await flipAveragedLogits(agent, { images, ids: ['a', 'b'] });
    const values = got.dataSync();
    got.dispose();
    expect(tf.memory().numTensors).to.equal(before);
    let worst = 0;
    for (let b = 0; b < 2; b++)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++)
          for (let c = 0; c < C; c++) {
            const at = ((b * S + y) * S + x) * C;
            const back = ((b * S + y) * S + (S - 1 - x)) * C;
            const want = 0.5 * (own[at + c] + theirs[back + FLIP_PERMUTATION[c]]);
            worst = Math.max(worst, Math.abs(values[at + c] - want));
          }
    expect(worst).to.be.below(1e-5);
    tf.dispose([images, mirrored]);
  });

  it('is recorded with the scores, changes a lopsided agent, and leaves a mirror-symmetric one alone', async () => {
    const faces = new SyntheticFaces({ size: S, count: 6, seed: 1, split: 'test' });
    const plain = await evaluate(imageAgent(), faces, { batchSize: 4 });
    const flipped = await evaluate(imageAgent(), faces, { batchSize: 4, flip: true });
    expect(plain.flip).to.equal(false);
    expect(flipped.flip).to.equal(true);
    expect(flipped.images).to.equal(6);
    expect(flipped.scores.pixelAccuracy).to.not.equal(plain.scores.pixelAccuracy);
    // A mirror-symmetric agent: the average is its own logits, so the scores cannot move.
    const sym = await evaluate(imageAgent(true), faces, { batchSize: 4 });
    const symFlip = await evaluate(imageAgent(true), faces, { batchSize: 4, flip: true });
    expect(symFlip.scores).to.deep.equal(sym.scores);
  });

  it('refuses an agent without logits, naming the option', async () => {
    const faces = new SyntheticFaces({ size: S, count: 2, seed: 1, split: 'test' });
    const { logits: _dropped, ...rest } = imageAgent();
    const err = await evaluate(rest as Agent, faces, { flip: true }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(FprlError);
    expect((err as FprlError).message).to.match(/needs an agent that gives logits; agent 'image-agent' does not/);
    expect((err as FprlError).where).to.equal('evaluation.flip');
  });
});

describe('logit adjustment (evaluation.logitAdjustment, --logit-adjustment)', () => {
  before(() => useBackend('cpu'));

  it('is -log of the class weights, absent without them, and refuses a zero weight naming where', () => {
    expect(logitAdjustmentOf(undefined, 'x')).to.equal(undefined);
    const b = logitAdjustmentOf([1, 4, 0.25], 'x')!;
    expect(b[0]).to.equal(-0);
    expect(b[1]).to.be.closeTo(-Math.log(4), 1e-12);
    expect(b[2]).to.be.closeTo(Math.log(4), 1e-12);
    expect(() => logitAdjustmentOf([1, 0], '/agents/0/classWeights')).to.throw(FprlError, /class weight 1 is 0/);
  });

  it('decides on the logits plus the bias, says so, and needs logits', async () => {
    const faces = new SyntheticFaces({ size: S, count: 5, seed: 2, split: 'test' });
    const bias = Array.from({ length: C }, (_, c) => (c % 2 ? 0.7 : -0.4));
    const plain = await evaluate(imageAgent(), faces, { batchSize: 2 });
    const adjusted = await evaluate(imageAgent(), faces, { batchSize: 2, logitBias: bias });
    expect(plain.logitAdjusted).to.equal(false);
    expect(adjusted.logitAdjusted).to.equal(true);
    // The same as an agent whose logits carry the bias themselves.
    const inner = imageAgent();
    const shifted = logitsAgent('shifted', async (obs) => {
      const l = await inner.logits!(obs);
      const out = tf.add(l, tf.tensor1d(bias)) as tf.Tensor4D;
      l.dispose();
      return out;
    });
    const want = await evaluate(shifted, faces, { batchSize: 2 });
    expect(adjusted.scores).to.deep.equal(want.scores);
    expect(adjusted.scores.pixelAccuracy).to.not.equal(plain.scores.pixelAccuracy);
    const { logits: _dropped, ...rest } = imageAgent();
    const err = await evaluate(rest as Agent, faces, { logitBias: bias }).catch((e: unknown) => e);
    expect((err as FprlError).where).to.equal('evaluation.logitAdjustment');
  });
});
