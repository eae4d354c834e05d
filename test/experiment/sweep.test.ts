import { expect } from 'chai';
import { markOutput } from '../../src/core/output-guard.js';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { runSweep, type SweepOptions } from '../../src/experiment/runner.js';
import { acquireSweepLock } from '../../src/experiment/lock.js';
import { executeRun } from '../../src/experiment/run-one.js';
import { readMetricsLog } from '../../src/sinks/index.js';
import { rewardRegistry, defineReward, registerBuiltinRewards } from '../../rewards/index.js';
import { evalRun } from '../../src/commands/eval.js';
import { predictImages } from '../../src/commands/predict.js';
import { scoreFolders } from '../../src/commands/score.js';
import { parseSeeds } from '../../src/commands/run.js';
import { readLabelPng, writeSyntheticFolder } from '../../src/data/index.js';
import { bands, pattern, writeJpg, writeLabel } from '../data/helpers.js';
import { FprlError } from '../../src/core/errors.js';
import type { RunResult } from '../../src/report/types.js';
import type { Summary } from '../../src/report/summary.js';
import { tinySweepConfig } from '../helpers/tiny-sweep.js';


describe('experiment sweeps', function () {
  this.timeout(60_000);
  let tmp: string;
  let file: string;
  const quiet: Partial<SweepOptions> = { progress: 'none', backend: 'cpu' };

  before(async () => {
    await useBackend('cpu');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-sweep-'));
    file = path.join(tmp, 'tiny.json');
    fs.writeFileSync(file, JSON.stringify(tinySweepConfig()));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const read = <T>(...p: string[]): T => JSON.parse(fs.readFileSync(path.join(...p), 'utf8')) as T;

  describe('a tiny sweep in-process', () => {
    let out: string;
    let lines: string[];
    let tensorsBefore: number;

    before(async () => {
      out = path.join(tmp, 'sweep');
      lines = [];
      tensorsBefore = tf.memory().numTensors;
      await runSweep({ ...quiet, experiment: file, out, print: (l) => lines.push(l) });
    });

    it('writes the documented layout for every run and for the sweep', () => {
      for (const f of ['config.json', 'environment.json', 'summary.json', 'report.md', 'report.html']) {
        expect(fs.existsSync(path.join(out, f)), f).to.equal(true);
      }
      expect(fs.existsSync(path.join(out, '.lock'))).to.equal(false);
      for (const run of ['ce/seed-0', 'ce/seed-1', 'rl/seed-0', 'rl/seed-1']) {
        const dir = path.join(out, run);
        for (const f of ['metrics.jsonl', 'predictions.png', 'result.json', 'checkpoints/checkpoint.json']) {
          expect(fs.existsSync(path.join(dir, f)), `${run}/${f}`).to.equal(true);
        }
        expect(
          fs.readdirSync(dir).some((f) => f.startsWith('events.out.tfevents.')),
          `${run} events`,
        ).to.equal(true);
      }
    });

    it('produces summary.json with mean and confidence interval per agent over both seeds', () => {
      const s = read<Summary>(out, 'summary.json');
      expect(s.version).to.equal(1);
      expect(s.experiment).to.equal('tiny');
      expect(s.mainMetrics).to.deep.equal(['meanF1', 'mIoU', 'pixelAccuracy']);
      expect(s.agents.map((a) => a.agent)).to.deep.equal(['ce', 'rl']);
      for (const a of s.agents) {
        expect(a.seeds).to.deep.equal([0, 1]);
        expect(a.failedSeeds).to.deep.equal([]);
        const f1 = a.metrics.meanF1;
        expect(f1.n).to.equal(2);
        expect(f1.mean).to.be.within(0, 1);
        expect(f1.ci![0]).to.be.at.most(f1.mean);
        expect(f1.ci![1]).to.be.at.least(f1.mean);
        expect(Object.keys(a.perClassF1)).to.include('skin');
        expect(a.curves.meanF1.map((p) => p.step)).to.deep.equal([2, 4]);
      }
      expect(s.comparisons.some((c) => c.metric === 'meanF1' && c.a === 'ce' && c.b === 'rl')).to.equal(true);
      expect(s.failed).to.deep.equal([]);
      // Synthetic labels are rendered at the model's size: native, with no model-size block.
      expect(s.resolution).to.equal('native');
      expect(s.agents.every((a) => a.modelSize === undefined)).to.equal(true);
      const final = read<RunResult>(out, 'ce', 'seed-0', 'result.json').final!;
      expect(final.resolution).to.equal('native');
      expect(final.modelSize).to.equal(undefined);
      expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).to.match(/at each label's own resolution/);
    });

    it('records result.json as a finished run with final test scores and learning curves', () => {
      const r = read<RunResult>(out, 'rl', 'seed-1', 'result.json');
      expect(r).to.include({ agent: 'rl', seed: 1, status: 'ok' });
      expect(r.final!.metrics.meanF1).to.be.a('number');
      expect(r.final!.perClass.hair.support).to.be.greaterThan(0);
      expect(r.curve.map((p) => p.step)).to.deep.equal([2, 4]);
      expect(r.train!.length).to.equal(4);
    });

    it('stores the resolved config and the environment with backend and seeds', () => {
      const config = read<{ seeds: number[]; training: { batchSize: number } }>(out, 'config.json');
      expect(config.seeds).to.deep.equal([0, 1]);
      expect(config.training.batchSize).to.equal(4);
      const env = read<{ backend: { name: string }; seeds: number[]; node: string; tfjs: string }>(
        out,
        'environment.json',
      );
      expect(env.backend.name).to.equal('cpu');
      expect(env.seeds).to.deep.equal([0, 1]);
      expect(env.node).to.equal(process.version);
    });

    it("starts the fine-tune from the source run's final weights, so it differs from training from scratch", async () => {
      const scratch = path.join(tmp, 'scratch');
      const exp = tinySweepConfig();
      (exp.agents as Record<string, unknown>[])[1].initFrom = undefined;
      delete (exp.agents as Record<string, unknown>[])[1].initFrom;
      fs.writeFileSync(path.join(tmp, 'scratch.json'), JSON.stringify({ ...exp, seeds: [0] }));
      await runSweep({ ...quiet, experiment: path.join(tmp, 'scratch.json'), out: scratch });
      const fine = read<RunResult>(out, 'rl', 'seed-0', 'result.json').final!.metrics;
      const fresh = read<RunResult>(scratch, 'rl', 'seed-0', 'result.json').final!.metrics;
      expect(fine.pixelAccuracy).to.not.equal(fresh.pixelAccuracy);
    });

    it('prints the backend, the comparison table and the report path, and leaks no tensors', () => {
      expect(lines[0]).to.match(/^backend: cpu/);
      const text = lines.join('\n');
      expect(text).to.match(/agent\s+seeds\s+mean F1\s+mIoU\s+pixel acc/);
      expect(text).to.match(/\nce\s+2\/2/);
      expect(text).to.contain(`report: ${path.join(out, 'report.html')}`);
      expect(tf.memory().numTensors).to.equal(tensorsBefore);
    });

    it('resumes: runs with a result.json are kept, a missing one is run again', async () => {
      const resultFile = path.join(out, 'ce', 'seed-1', 'result.json');
      const kept = fs.statSync(path.join(out, 'rl', 'seed-0', 'result.json')).mtimeMs;
      const before = read<RunResult>(resultFile);
      fs.rmSync(resultFile);
      const o = await runSweep({ ...quiet, experiment: file, out });
      expect(o.ran).to.deep.equal(['ce/seed-1']);
      expect(o.kept).to.have.members(['ce/seed-0', 'rl/seed-0', 'rl/seed-1']);
      expect(fs.statSync(path.join(out, 'rl', 'seed-0', 'result.json')).mtimeMs).to.equal(kept);
      // Its final checkpoint was there: nothing is retrained and the scores are the same.
      expect(read<RunResult>(resultFile).final).to.deep.equal(before.final);
      const again = await runSweep({ ...quiet, resume: out });
      expect(again.ran).to.deep.equal([]);
    });

    it('refuses to resume a folder with a different config', async () => {
      try {
        await runSweep({ ...quiet, experiment: file, out, steps: 3 });
        expect.fail('should refuse');
      } catch (e) {
        expect(e).to.be.instanceOf(FprlError);
        expect((e as FprlError).message).to.contain('/training/steps');
      }
    });

    it('refuses a concurrent sweep on the same folder (lock file)', async () => {
      const lock = acquireSweepLock(out);
      try {
        await runSweep({ ...quiet, experiment: file, out });
        expect.fail('should refuse');
      } catch (e) {
        expect(e).to.be.instanceOf(FprlError);
        expect((e as FprlError).message).to.contain('another sweep is writing to this folder');
      } finally {
        lock.release();
      }
    });

    it('evaluates a run from its checkpoint with the same scores as the sweep', async () => {
      const report = await evalRun({ run: path.join(out, 'rl', 'seed-1') });
      const result = read<RunResult>(out, 'rl', 'seed-1', 'result.json');
      expect(report.meanF1).to.equal(result.final!.metrics.meanF1);
      expect(report.images).to.equal(8);
      expect(report.run).to.include({ agent: 'rl', seed: 1, step: 4 });
    });

    it('predicts label PNGs that fprl score reads, agreeing with fprl eval on the same folder', async () => {
      const data = path.join(tmp, 'faces');
      await writeSyntheticFolder({ out: data, counts: { train: 0, val: 0, test: 5 }, size: 16, seed: 3 });
      const pred = path.join(tmp, 'pred');
      const run = path.join(out, 'ce', 'seed-0');
      const r = await predictImages({ run, images: [path.join(data, 'test', 'images')], out: pred });
      expect(r.files).to.have.length(5);
      expect(fs.existsSync(path.join(pred, 'overlays', '0.png'))).to.equal(true);
      const scored = await scoreFolders({ pred, gt: path.join(data, 'test', 'labels') });
      const evaluated = await evalRun({ run, data, split: 'test' });
      expect(scored.meanF1).to.be.closeTo(evaluated.meanF1, 1e-12);
      expect(scored.pixelAccuracy).to.be.closeTo(evaluated.pixelAccuracy, 1e-12);
    });

    it('evaluates and predicts non-square photos at their own size (LaPa protocol), model-size scores labelled', async () => {
      // 30 x 40 photos (not square, not the model's 16 px): the model sees them resized, the score uses the originals.
      const data = path.join(tmp, 'lapa-native');
      for (let i = 0; i < 4; i++) {
        await writeJpg(path.join(data, 'test', 'images', `${i}.jpg`), pattern(30, 40, i), 30, 40);
        await writeLabel(path.join(data, 'test', 'labels', `${i}.png`), bands(30, 40), 30, 40);
      }
      const run = path.join(out, 'ce', 'seed-0');
      const evaluated = await evalRun({ run, data, split: 'test' });
      expect(evaluated.resolution).to.equal('native');
      expect(evaluated.pixels).to.equal(4 * 30 * 40);
      expect(evaluated.modelSize).to.include({ height: 16, width: 16, pixels: 4 * 16 * 16 });
      const pred = path.join(tmp, 'pred-native');
      await predictImages({ run, images: [path.join(data, 'test', 'images')], out: pred });
      const label = await readLabelPng(path.join(pred, '2.png'));
      expect([label.height, label.width]).to.deep.equal([30, 40]);
      // The same bilinear rule in both: fprl score on predict's PNGs is fprl eval's native score.
      const scored = await scoreFolders({ pred, gt: path.join(data, 'test', 'labels') });
      expect(scored.meanF1).to.be.closeTo(evaluated.meanF1, 1e-12);
      expect(scored.pixelAccuracy).to.be.closeTo(evaluated.pixelAccuracy, 1e-12);
    });

    it('gives the same numbers on two worker processes as in-process', async () => {
      const inproc = path.join(tmp, 'sweep');
      const workers = path.join(tmp, 'workers');
      const o = await runSweep({ ...quiet, experiment: file, out: workers, workers: 2 });
      expect(o.ran).to.have.length(4);
      for (const run of ['ce/seed-0', 'ce/seed-1', 'rl/seed-0', 'rl/seed-1']) {
        expect(read<RunResult>(workers, run, 'result.json').final, run).to.deep.equal(
          read<RunResult>(inproc, run, 'result.json').final,
        );
      }
    });

    it('runs one job directly and returns the recorded outcome of a finished run without running it', async () => {
      const sweepDir = path.join(tmp, 'sweep');
      const outcome = await executeRun({ sweepDir, run: { id: 'ce/seed-0', agent: 'ce', seed: 0 } });
      expect(outcome.status).to.equal('ok');
    });
  });

  it('resumes a run cut mid-way from its last checkpoint', async () => {
    const out = path.join(tmp, 'cut');
    // The first session stops after 2 of 4 steps (as a killed run leaves it): checkpoint at 2, no result.
    const short = path.join(tmp, 'short');
    fs.writeFileSync(
      path.join(tmp, 'one.json'),
      JSON.stringify(tinySweepConfig({ agents: [{ name: 'ce', kind: 'supervised' }], seeds: [0] })),
    );
    await runSweep({ ...quiet, experiment: path.join(tmp, 'one.json'), out: short, steps: 2 });
    fs.mkdirSync(path.join(out, 'ce', 'seed-0'), { recursive: true });
    // The folder is a sweep's (fprl run marks the folders it makes), so it is written into.
    await markOutput(out, 'fprl run');
    fs.cpSync(
      path.join(short, 'ce', 'seed-0', 'checkpoints'),
      path.join(out, 'ce', 'seed-0', 'checkpoints'),
      { recursive: true },
    );
    // The short session's checkpoint records its 2-step config; a killed 4-step run would have
    // recorded the 4-step one, so write that in and reseal checkpoint.json (its sha256 is of its
    // JSON without the field), or the resume would rightly refuse the changed config.
    const metaFile = path.join(out, 'ce', 'seed-0', 'checkpoints', 'checkpoint.json');
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as Record<string, unknown> & {
      config: { experiment: { training: { steps: number } } };
    };
    meta.config.experiment.training.steps = 4;
    delete meta.sha256;
    meta.sha256 = createHash('sha256').update(JSON.stringify(meta)).digest('hex');
    fs.writeFileSync(metaFile, JSON.stringify(meta));
    const o = await runSweep({ ...quiet, experiment: path.join(tmp, 'one.json'), out });
    expect(o.ran).to.deep.equal(['ce/seed-0']);
    const log = await readMetricsLog(path.join(out, 'ce', 'seed-0', 'metrics.jsonl'));
    const steps = log.records.filter((r) => r.type === 'train:step').map((r) => r.step);
    expect(steps).to.deep.equal([3, 4]);
    expect(read<RunResult>(out, 'ce', 'seed-0', 'result.json').status).to.equal('ok');
  });

  it('records a failing run as failed, skips the runs that start from it, and carries on', async () => {
    registerBuiltinRewards();
    rewardRegistry.register(
      defineReward({
        name: 'test-nan',
        description: 'always NaN (a broken reward)',
        optionsSchema: { type: 'object', additionalProperties: false },
        range: [0, 1],
        compute: () => NaN,
      }),
    );
    try {
      const exp = tinySweepConfig({
        agents: [
          { name: 'ce', kind: 'supervised' },
          { name: 'bad', kind: 'reinforce', baseline: 'rloo', samples: 2, rewards: [{ plugin: 'test-nan' }] },
          {
            name: 'after-bad',
            kind: 'reinforce',
            initFrom: 'bad',
            samples: 2,
            rewards: [{ plugin: 'dice' }],
          },
        ],
        seeds: [0],
      });
      fs.writeFileSync(path.join(tmp, 'bad.json'), JSON.stringify(exp));
      const o = await runSweep({
        ...quiet,
        experiment: path.join(tmp, 'bad.json'),
        out: path.join(tmp, 'bad'),
      });
      const byAgent = Object.fromEntries(o.results.map((r) => [r.agent, r]));
      expect(byAgent.ce.status).to.equal('ok');
      expect(byAgent.bad.status).to.equal('failed');
      expect(byAgent.bad.error).to.contain('test-nan');
      expect(byAgent['after-bad'].error).to.match(/not run: its initFrom source bad\/seed-0 failed/);
      expect(o.summary.failed.map((f) => f.agent)).to.deep.equal(['bad', 'after-bad']);
      expect(o.table).to.match(/\nce\s+1\/1/);
    } finally {
      rewardRegistry.unregister('test-nan');
    }
  });

  it('parses --seeds lists and ranges, and refuses anything else', () => {
    expect(parseSeeds('0,1,2')).to.deep.equal([0, 1, 2]);
    expect(parseSeeds('3-5,1')).to.deep.equal([3, 4, 5, 1]);
    expect(() => parseSeeds('0,x')).to.throw(FprlError, /not a list of seeds/);
  });
});
