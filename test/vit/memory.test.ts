/**
 * The memory estimate behind the config-load resource check (agents/vit/memory.ts) against what
 * tfjs really holds at the peak of a cross-entropy training step (`tf.profile().peakBytes`, cpu
 * backend), plus the two Adam moments the profiled step has no optimiser for. The estimate must
 * not be far below the truth (a config that cannot fit would pass) nor far above it (a config
 * that fits would be refused).
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { buildPolicyNet } from '../../agents/nets/registry.js';
import { resolveModelPreset } from '../../agents/vit/presets.js';
import { estimateMemory, trainingStepBytes } from '../../agents/vit/memory.js';
import { Rng } from '../../src/core/rng.js';
import { useBackend } from '../helpers/backend.js';

async function measuredPeak(
  preset: Record<string, unknown>,
  batch: number,
): Promise<{ bytes: number; params: number }> {
  const m = resolveModelPreset(preset as never);
  // tf.profile's peak counts every live tensor: leave out what earlier tests left alive.
  const base = tf.memory().numBytes;
  const net = buildPolicyNet({ kind: m.kind, config: m.config }, new Rng(0));
  const s = m.imageSize;
  const x = tf.randomUniform([batch, s, s, 3]) as tf.Tensor4D;
  const y = tf.oneHot(
    tf.randomUniform([batch * s * s], 0, m.numClasses, 'int32') as tf.Tensor1D,
    m.numClasses,
  );
  try {
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => {
        const { logits, pooled } = net.apply(x, { training: true, rng: new Rng(1) });
        pooled.dispose();
        return tf.losses.softmaxCrossEntropy(y, tf.reshape(logits, [-1, m.numClasses])) as tf.Scalar;
      });
      tf.dispose([value, ...Object.values(grads)]);
    });
    const params = net.trainableVariables.reduce((n, v) => n + v.size, 0);
    return { bytes: info.peakBytes - base + 2 * params * 4, params };
  } finally {
    net.dispose();
    tf.dispose([x, y]);
  }
}

describe('memory estimate of a training step (agents/vit/memory.ts)', function () {
  this.timeout(120_000);
  before(() => useBackend('cpu'));

  const cases: [string, Record<string, unknown>, number][] = [
    ['tiny-64 (attention small, pixels dominate)', { preset: 'tiny-64' }, 4],
    ['tiny-64 in 4 px patches (256 tokens: attention dominates)', { preset: 'tiny-64', patchSize: 4 }, 2],
    [
      'a narrow hybrid at 32 px (conv maps)',
      {
        preset: 'hybrid-128',
        imageSize: 32,
        stemChannels: [8, 16, 32],
        dim: 32,
        depth: 1,
        heads: 2,
        mlpDim: 64,
        decoderChannels: [32, 16, 8, 8],
      },
      2,
    ],
  ];
  for (const [name, preset, batch] of cases) {
    it(`is 0.8-1.6x the measured peak: ${name}, batch ${batch}`, async () => {
      const { bytes, params } = await measuredPeak(preset, batch);
      const m = resolveModelPreset(preset as never);
      const e = estimateMemory({ kind: m.kind, config: m.config })!;
      expect(e.params).to.equal(params);
      const ratio = trainingStepBytes(e, batch) / bytes;
      expect(ratio, `estimate / measured = ${ratio.toFixed(2)}`).to.be.within(0.8, 1.6);
      if (process.env.FPRL_VERBOSE) console.log(`    estimate / measured = ${ratio.toFixed(2)}`);
    });
  }

  it('grows with the tokens squared through attention, linearly with the batch', () => {
    const at = (patchSize: number) => {
      const m = resolveModelPreset({ preset: 'ti16-256', patchSize });
      return estimateMemory({ kind: m.kind, config: m.config })!;
    };
    const coarse = at(16);
    const fine = at(8);
    expect(fine.tokens).to.equal(4 * coarse.tokens);
    expect(fine.attentionBytes).to.equal(16 * coarse.attentionBytes);
    expect(trainingStepBytes(coarse, 8) - trainingStepBytes(coarse, 4)).to.equal(
      4 * coarse.trainBytesPerImage,
    );
    expect(trainingStepBytes(coarse, 4, 4)).to.be.greaterThan(trainingStepBytes(coarse, 4, 1));
    expect(estimateMemory({ kind: 'linear', config: {} })).to.equal(undefined);
  });
});
