import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import { resolveViTConfig } from '../../agents/vit/index.js';
import {
  benchMatMulKernels,
  benchReinforce,
  benchViT,
  defaultPeerScript,
  formatReinforceBench,
  formatKernelReport,
  formatViTBench,
  matMulFlops,
  peerRatio,
  runPeerBench,
  vitStepMatMuls,
  type ViTBenchResult,
} from '../../src/bench/index.js';
import { benchCommand, summariseRounds, type RoundsSummary } from '../../src/commands/bench.js';
import { cpuTicks, stealPercent } from '../../src/bench/timing.js';

const PY = '/usr/bin/python3';

/** A reference's JSON line for tiny-64 at batch 1 (as ours: 132,747 parameters), with the given speeds. */
const fakePeerLine = (x: {
  threads: number;
  trainImagesPerSecond: number;
  inferImagesPerSecond: number;
}) => ({
  peer: 'fake',
  preset: 'tiny-64',
  batch: 1,
  threads: x.threads,
  params: 132747,
  trainMsPerStep: 1,
  trainImagesPerSecond: x.trainImagesPerSecond,
  inferImagesPerSecond: x.inferImagesPerSecond,
});

describe('fprl bench', () => {
  before(async () => {
    await useBackend('wasm');
  });

  it('counts the flops of a matMul with transposes and batches', () => {
    expect(
      matMulFlops({ name: '', a: [4, 5], b: [5, 6], transposeA: false, transposeB: false, perStep: 1 }),
    ).to.equal(240);
    expect(
      matMulFlops({ name: '', a: [5, 4], b: [6, 5], transposeA: true, transposeB: true, perStep: 1 }),
    ).to.equal(240);
    expect(
      matMulFlops({ name: '', a: [3, 4, 5], b: [5, 6], transposeA: false, transposeB: false, perStep: 1 }),
    ).to.equal(720);
  });

  it("lists a training step's matMuls: forward flops equal the Face Transformer's, backward twice that less the patch input gradient", () => {
    const c = resolveViTConfig('tiny-64'); // 64 px, patch 8, dim 64, depth 2, heads 4, mlp 128
    const B = 2;
    const T = 64;
    const N = B * T;
    const perBlock = 2 * N * (64 * 192 + 64 * 64 + 64 * 128 + 128 * 64) + 2 * 2 * B * 4 * T * T * 16;
    const forward = 2 * N * 192 * 64 + 2 * perBlock + 2 * N * 64 * 64 + 2 * N * 64 * 704;
    const shapes = vitStepMatMuls(c, B);
    const total = (pick: (name: string) => boolean) =>
      shapes.filter((s) => pick(s.name)).reduce((t, s) => t + s.perStep * matMulFlops(s), 0);
    const isForward = (n: string) => n.endsWith('forward') || n === 'scores q k^T' || n === 'context p v';
    expect(total(isForward)).to.equal(forward);
    expect(total((n) => !isForward(n))).to.equal(2 * forward - 2 * N * 192 * 64);
  });

  it('times the stock and the fast kernel on the same inputs and gets the same numbers', async () => {
    const shapes = vitStepMatMuls(resolveViTConfig('tiny-64'), 1).slice(0, 4);
    const report = await benchMatMulKernels(shapes, { budgetMs: 5 });
    expect(report.rows).to.have.length(4);
    for (const r of report.rows) {
      expect(r.stockGflops).to.be.above(0);
      expect(r.fastGflops).to.be.above(0);
      expect(r.maxAbsDiff).to.be.below(1e-3);
    }
    expect(report.stepMatMulMs.fast).to.be.above(0);
    const text = formatKernelReport(report, 'title');
    expect(text).to.contain('patch embed forward').and.contain('matMul time of one training step');
  });

  it('measures tiny-64 training and inference without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const r = await benchViT({ preset: 'tiny-64', batch: 1, steps: 1, warmup: 1 });
    expect(tf.memory().numTensors).to.equal(before);
    expect(r).to.include({
      backend: 'wasm',
      preset: 'tiny-64',
      batch: 1,
      params: 132747,
      tensorsLeakedPerStep: 0,
    });
    for (const k of ['trainMsPerStep', 'trainImagesPerSecond', 'inferImagesPerSecond'] as const)
      expect(r[k]).to.be.above(0);
    expect(r.phases.forwardMs).to.be.above(0);
    expect(r).not.to.have.property('parallel');
  });

  it('records the share of CPU time stolen by the hypervisor, and flags a disturbed run', async () => {
    expect(stealPercent({ total: 1000, steal: 10 }, { total: 2000, steal: 60 })).to.equal(5);
    expect(stealPercent({ total: 1000, steal: 10 }, { total: 1000, steal: 10 })).to.equal(0);
    expect(stealPercent(undefined, { total: 1, steal: 0 })).to.equal(undefined);
    const ticks = cpuTicks();
    if (process.platform === 'linux') expect(ticks!.total).to.be.above(ticks!.steal);
    const r = await benchViT({ preset: 'tiny-64', batch: 1, steps: 1, warmup: 0 });
    if (ticks) expect(r.trainStealPercent).to.be.within(0, 100);
    const quiet = formatViTBench({ ...r, trainStealPercent: 0.4 });
    expect(quiet).to.match(/load average [\d.]+ on \d+ cores; steal 0\.4%/);
    expect(quiet).not.to.match(/disturbed/);
    expect(formatViTBench({ ...r, trainStealPercent: 7.5 })).to.match(
      /note {3}the hypervisor ran other machines on these cores for up to 7\.5% of the time \(steal\): the timings above, and ratios between them, are disturbed/,
    );
  });

  it('measures a hybrid preset built through the registry, with its FLOPs, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const r = await benchViT({ preset: 'hybrid-128', batch: 1, steps: 1, warmup: 1 });
    expect(tf.memory().numTensors).to.equal(before);
    expect(r).to.include({
      preset: 'hybrid-128',
      kind: 'hybrid',
      params: 3_386_411,
      forwardGflopsPerImage: 1.266,
      tensorsLeakedPerStep: 0,
    });
    expect(r.trainGflopsPerSecond).to.be.above(0);
    expect(formatViTBench(r)).to.match(/model {2}hybrid, 1\.266 GFLOPs per image forward/);
    expect(defaultPeerScript('hybrid-128')).to.match(/torch_hybrid_bench\.py$/);
    expect(existsSync(defaultPeerScript('hybrid-128'))).to.equal(true);
    expect(defaultPeerScript('ti16-256')).to.match(/torch_vit_bench\.py$/);
  });

  it('also times data-parallel training and inference on 2 threads, with speed-ups over one thread', async () => {
    const before = tf.memory().numTensors;
    const r = await benchViT({ preset: 'tiny-64', batch: 2, steps: 1, warmup: 1, threads: 2 });
    expect(tf.memory().numTensors).to.equal(before);
    const q = r.parallel!;
    expect(q.threads).to.equal(2);
    for (const k of ['trainImagesPerSecond', 'inferImagesPerSecond', 'trainSpeedup', 'inferSpeedup'] as const)
      expect(q[k]).to.be.above(0);
    expect(q.phases.gradientsMs).to.be.above(0);
    expect(formatViTBench(r)).to.match(
      /2 threads \(data-parallel, 1 worker thread \+ main\):\ntrain {2}[\d.]+ img\/s/,
    );
    expect(
      peerRatio(r, { trainImagesPerSecond: q.trainImagesPerSecond / 2, inferImagesPerSecond: 1 } as never)
        .train,
    ).to.equal(2);
  });

  it('shows the thread count fprl run would default to, with busy processes competing (--compete)', async () => {
    const out = await benchCommand({
      preset: 'tiny-64',
      batch: 2,
      steps: 1,
      warmup: 1,
      threads: 2,
      compete: 1,
      adaptSteps: 8,
    });
    if (out.kind !== 'model') throw new Error('expected a model benchmark');
    const json = out.json as {
      defaultThreads: { threads: number; competitors: number; free: number; cores: number };
      parallel: {
        adaptive: { steps: number; start: number; trainImagesPerSecond: number; threadsPerStep: number[] };
      };
    };
    const choice = json.defaultThreads;
    expect(choice.competitors).to.equal(1);
    // One core spins for the competitor: the default may not count it.
    expect(choice.threads).to.be.at.most(Math.max(1, choice.cores - 1));
    expect(out.text).to.match(
      /default fprl run threads with 1 busy process \(--compete\): starts with \d thread/,
    );
    // Then the adaptive default pool: it starts where the free cores say and may move every 6 steps.
    const ad = json.parallel.adaptive;
    expect(ad.steps).to.equal(8);
    expect(ad.start).to.equal(choice.threads);
    expect(ad.threadsPerStep).to.have.length(8);
    expect(ad.threadsPerStep[0]).to.equal(choice.threads);
    expect(ad.threadsPerStep.every((t) => t === 1 || t === 2)).to.equal(true);
    expect(ad.trainImagesPerSecond).to.be.above(0);
    expect(out.text).to.match(
      /default pool, adaptive \(2 shards, starting with \d computing, probing every 6 steps\): train [\d.]+ img\/s over 8 steps/,
    );
  });

  describe('the PyTorch reference', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fprl-peer-'));
    const fake = (name: string, body: string) => {
      const file = path.join(dir, name);
      writeFileSync(file, body);
      return file;
    };
    const ours = { trainImagesPerSecond: 3, inferImagesPerSecond: 10 } as ViTBenchResult;

    it('is reported unavailable, with the reason, when python or the script is missing', async () => {
      const noPython = await runPeerBench({
        preset: 'tiny-64',
        batch: 1,
        steps: 1,
        python: path.join(dir, 'nope'),
      });
      expect(noPython).to.deep.equal({ ok: false, reason: `${path.join(dir, 'nope')} not found` });
      const noScript = await runPeerBench({
        preset: 'tiny-64',
        batch: 1,
        steps: 1,
        script: path.join(dir, 'missing.py'),
      });
      expect(noScript.ok).to.equal(false);
    });

    it('says how to install torch when python has none', async function () {
      if (!existsSync(PY)) this.skip();
      const script = fake(
        'notorch.py',
        'import sys\nsys.stderr.write("ModuleNotFoundError: No module named \'torch\'\\n")\nsys.exit(1)\n',
      );
      const r = await runPeerBench({ preset: 'tiny-64', batch: 1, steps: 1, script });
      expect(r).to.deep.equal({
        ok: false,
        reason: `${PY} has no torch (install: apt-get install -y python3-torch)`,
      });
    });

    it("parses the reference's JSON line, and the command prints ours, the reference's and the ratio", async function () {
      if (!existsSync(PY)) this.skip();
      const line = fakePeerLine({ threads: 2, trainImagesPerSecond: 1.5, inferImagesPerSecond: 20 });
      const script = fake(
        'peer.py',
        `import json, sys\nprint("warming up")\nprint(json.dumps(${JSON.stringify(line)}))\n`,
      );
      const r = await runPeerBench({ preset: 'tiny-64', batch: 1, steps: 1, script });
      expect(r).to.deep.equal({ ok: true, result: line });
      expect(peerRatio(ours, line)).to.deep.equal({ train: 2, infer: 0.5 });
      const out = await benchCommand({
        preset: 'tiny-64',
        batch: 1,
        steps: 1,
        warmup: 1,
        threads: 1,
        peer: script,
      });
      if (out.kind !== 'model') throw new Error('expected a model benchmark');
      // The command adds the steal measured around the reference's run (Linux).
      const { stealPercent: peerSteal, ...asPrinted } = (
        out.json as { peer: typeof line & { stealPercent?: number } }
      ).peer;
      expect(asPrinted).to.deep.equal(line);
      if (cpuTicks()) expect(peerSteal).to.be.within(0, 100);
      expect(out.json).to.have.nested.property('ratio.train');
      expect(out.text)
        .to.match(/peer {3}fake \(2 threads, 132,747 parameters, as ours\)/)
        .and.match(/ratio {2}ours\/peer \(2 threads\): train/);
    });

    it('measures --repeat rounds of ours and the reference in turn and prints every ratio with the medians', async function () {
      if (!existsSync(PY)) this.skip();
      const line = fakePeerLine({ threads: 1, trainImagesPerSecond: 2, inferImagesPerSecond: 4 });
      const script = fake('peer-rounds.py', `import json\nprint(json.dumps(${JSON.stringify(line)}))\n`);
      const out = await benchCommand({
        preset: 'tiny-64',
        batch: 1,
        steps: 1,
        warmup: 1,
        threads: 1,
        peer: script,
        peerThreads: 1,
        repeat: 3,
      });
      if (out.kind !== 'model') throw new Error('expected a model benchmark');
      const rounds = (out.json as { rounds: RoundsSummary }).rounds;
      expect(rounds.train).to.have.length(3);
      expect(rounds.trainRatio).to.deep.equal(rounds.train.map((x) => Math.round((x / 2) * 100) / 100));
      const sorted = [...rounds.trainRatio!].sort((a, b) => a - b);
      expect(rounds.median.trainRatio).to.equal(sorted[1]);
      expect(out.text)
        .to.match(
          /rounds 3 \(ours, then the reference, in turn\): ours train [\d.]+, [\d.]+, [\d.]+ img\/s, median/,
        )
        .and.match(/rounds ratio to the reference's best per round: train median [\d.]+x/)
        .and.match(/rounds highest steal per round: /);
      expect(summariseRounds([{ result: out.result }]).trainRatio).to.equal(undefined);
    });

    it('runs the reference at 1 and 2 threads, compares with its best and gives the share of peak FLOP/s', async function () {
      if (!existsSync(PY)) this.skip();
      // The fake reference reports its thread count back, faster on 1 thread (as PyTorch was here).
      const script = fake(
        'peer-threads.py',
        'import json, sys\nt = int(sys.argv[sys.argv.index("--threads") + 1])\n' +
          'print(json.dumps({"peer": "fake", "preset": "tiny-64", "batch": 1, "threads": t, "params": 1, ' +
          '"trainMsPerStep": 1, "trainImagesPerSecond": 4 / t, "inferImagesPerSecond": 10 * t}))\n',
      );
      const out = await benchCommand({
        preset: 'tiny-64',
        batch: 1,
        steps: 1,
        warmup: 1,
        threads: 1,
        peer: script,
      });
      if (out.kind !== 'model') throw new Error('expected a model benchmark');
      expect(out.peers?.map((p) => p.ok && p.result.threads)).to.deep.equal([1, 2]);
      const json = out.json as { peer: { threads: number }; ratios: Record<string, unknown>; peak: object };
      expect(json.peer.threads).to.equal(1);
      expect(Object.keys(json.ratios)).to.deep.equal(['1', '2']);
      expect(out.text)
        .to.match(/ratio {2}ours\/peer \(1 thread\): train/)
        .and.match(
          /ratio {2}ours\/peer's best: train [\d.]+x \(its 1-thread run\), infer [\d.]+x \(its 2-thread run\)/,
        )
        .and.match(/^peak {3}/m);
    });
  });
});

describe('fprl bench --agent reinforce', function () {
  this.timeout(60_000);
  before(() => useBackend('wasm'));

  it('breaks a REINFORCE step into data, forward, sampling, reward and learn, next to a cross-entropy step', async () => {
    const before = tf.memory().numTensors;
    const r = await benchReinforce({ preset: 'tiny-64', batch: 2, steps: 1, warmup: 1 });
    expect(tf.memory().numTensors).to.equal(before);
    for (const k of ['data', 'forward', 'sampling', 'reward', 'learn'] as const)
      expect(r.phases[k]).to.be.above(0);
    const sum = r.phases.data + r.phases.forward + r.phases.sampling + r.phases.reward + r.phases.learn;
    expect(sum).to.be.closeTo(r.reinforceMsPerStep, 0.5);
    // The ms are rounded to 0.1, the ratio is of the unrounded times: allow the rounding's share.
    const rounding = r.ratio * (0.05 / r.crossEntropyMsPerStep + 0.05 / r.reinforceMsPerStep);
    expect(r.ratio).to.be.closeTo(r.reinforceMsPerStep / r.crossEntropyMsPerStep, 0.01 + rounding);
    const text = formatReinforceBench(r);
    expect(text)
      .to.match(/sampling \+ reward: [\d.]+% of the step/)
      .and.match(/REINFORCE \/ cross-entropy: [\d.]+x/)
      .and.match(/with learn running the forward pass again \(no kept pass\): \d+ ms, [\d.]+x/);
    expect(r.recomputeMsPerStep).to.be.above(0);
    const again = r.recomputeRatio * (0.05 / r.crossEntropyMsPerStep + 0.05 / r.recomputeMsPerStep);
    expect(r.recomputeRatio).to.be.closeTo(r.recomputeMsPerStep / r.crossEntropyMsPerStep, 0.01 + again);
  });

  it('refuses an unknown --agent with the choices', async () => {
    let err: Error | undefined;
    try {
      await benchCommand({ agent: 'ppo', preset: 'tiny-64', batch: 1, steps: 1 });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/unknown --agent 'ppo'/);
  });
});
