import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../src/backend/backend.js';
import { runSweep } from '../../src/experiment/runner.js';
import type { EnvironmentRecord } from '../../src/experiment/environment.js';
import type { RunResult } from '../../src/report/types.js';
import { checksum, ROOT, tempDir, tinyExperiment, writeJson } from './fixtures.js';

/*
 * The same config and seed give bit-identical numbers on the same backend: final metrics,
 * learning curves (every training scalar but the timings) and weights. A REINFORCE agent with
 * dropout and augmentation, so every seeded stream is used: model init, dropout masks, the
 * data order and augmentation, the sampled labellings.
 */
const TIMING = /^perf\/|^seconds$/;

function numbers(r: RunResult): unknown {
  const untimed = (m: Record<string, number> | undefined) =>
    Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => !TIMING.test(k)));
  return {
    final: r.final,
    eval: r.curve.map((p) => ({ step: p.step, metrics: untimed(p.metrics) })),
    train: r.train?.map((p) => ({ step: p.step, scalars: untimed(p.scalars) })),
  };
}

describe('reliability: same config and seed, same numbers', function () {
  this.timeout(60_000);
  let tmp: string;
  let file: string;
  let previousBackend: string;

  before(() => {
    previousBackend = tf.getBackend();
    tmp = tempDir('repro');
    file = writeJson(
      tmp,
      'repro.json',
      tinyExperiment({
        dataset: { kind: 'synthetic', size: 16, train: 8, val: 4, test: 4, seed: 0, augment: true },
        model: { preset: 'tiny-64', patchSize: 4, dim: 16, depth: 1, heads: 2, mlpDim: 32, dropout: 0.1 },
        training: { steps: 6, batchSize: 2, evalEvery: 3, logEvery: 1, evalBatchSize: 4 },
        agents: [
          { name: 'rl', kind: 'reinforce', baseline: 'rloo', samples: 2, rewards: [{ plugin: 'dice' }] },
        ],
        seeds: [0, 1],
      }),
    );
  });
  after(async () => {
    if (previousBackend && tf.getBackend() !== previousBackend) await initBackend(previousBackend);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const result = (out: string, seed: number) =>
    JSON.parse(fs.readFileSync(path.join(out, 'rl', `seed-${seed}`, 'result.json'), 'utf8')) as RunResult;
  const weights = (out: string, seed: number) =>
    checksum(path.join(out, 'rl', `seed-${seed}`, 'checkpoints', 'agent', 'policy', 'weights.bin'));

  for (const backend of ['cpu', 'wasm'] as const) {
    describe(`on the ${backend} backend`, () => {
      let a: string;
      let b: string;
      before(async () => {
        a = path.join(tmp, `${backend}-a`);
        b = path.join(tmp, `${backend}-b`);
        for (const out of [a, b]) await runSweep({ experiment: file, out, backend, progress: 'none' });
      });

      it('gives bit-identical metrics, curves and weights for the same seed', () => {
        for (const seed of [0, 1]) {
          expect(result(a, seed).status).to.equal('ok');
          expect(numbers(result(b, seed)), `seed ${seed}`).to.deep.equal(numbers(result(a, seed)));
          expect(weights(b, seed), `seed ${seed} weights`).to.equal(weights(a, seed));
        }
      });

      it('gives different numbers for different seeds', () => {
        const [s0, s1] = [result(a, 0), result(a, 1)];
        expect(s1.train?.map((p) => p.scalars['losses/total'])).to.not.deep.equal(
          s0.train?.map((p) => p.scalars['losses/total']),
        );
        expect(weights(a, 1)).to.not.equal(weights(a, 0));
      });

      it('records the versions, the backend and the seeds in environment.json', () => {
        const env = JSON.parse(
          fs.readFileSync(path.join(a, 'environment.json'), 'utf8'),
        ) as EnvironmentRecord;
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
          version: string;
        };
        expect(env.package).to.deep.equal({ name: 'face-parsing-rl', version: pkg.version });
        expect(env.node).to.equal(process.version);
        expect(env.tfjs).to.equal(tf.version.tfjs);
        expect(env.libraries['@tensorflow/tfjs-backend-wasm']).to.equal(tf.version.tfjs);
        expect(env.libraries).to.have.all.keys(
          '@tensorflow/tfjs-backend-wasm',
          'sharp',
          'libvips',
          'mozjpeg',
          'libpng',
        );
        expect(env.backend.name).to.equal(backend);
        expect(env.backend.provider).to.be.a('string').and.not.empty;
        expect(env.backend.threads).to.be.at.least(1);
        expect(env.seeds).to.deep.equal([0, 1]);
        expect(env.machine.cpus).to.be.at.least(1);
        if (fs.existsSync(path.join(ROOT, '.git'))) expect(env.git?.commit).to.match(/^[0-9a-f]{40}$/);
        // The data seed and every other setting are in config.json, resolved.
        const config = JSON.parse(fs.readFileSync(path.join(a, 'config.json'), 'utf8')) as {
          seeds: number[];
          dataset: { seed: number };
        };
        expect(config.seeds).to.deep.equal([0, 1]);
        expect(config.dataset.seed).to.equal(0);
      });
    });
  }
});
