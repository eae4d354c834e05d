import { expect } from 'chai';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import { releaseSplits } from '../../src/experiment/datasets.js';
import {
  expectCleanFailure,
  expectNoStack,
  filesUnder,
  runCli,
  runCliProcess,
  snapshot,
  tempDir,
  tinyExperiment,
  TINY_MODEL,
  writeJson,
  type CliResult,
} from './fixtures.js';
import { FAULTS, SIZE, writeCleanLapa } from './lapa-faults.js';

/*
 * The bad-input corpus, end to end through the CLI: for every case `fprl` exits non-zero with
 * one message naming the file, JSON path or flag and saying what to do, prints no stack trace
 * (unless --verbose), and leaves what is already on disk as it was.
 */
describe('reliability: bad input gives one clear error and damages nothing', function () {
  this.timeout(30_000);
  let tmp: string;
  /** A finished tiny sweep that every case aims at, to show it stays byte-identical. */
  let sweep: string;
  let sweepBefore: Map<string, string>;

  before(async () => {
    await useBackend('cpu');
    tmp = tempDir('bad-input');
    sweep = path.join(tmp, 'sweep');
    const ok = await runCli([
      'run',
      writeJson(tmp, 'good.json', tinyExperiment()),
      '--out',
      sweep,
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(ok.code, ok.stderr).to.equal(0);
    sweepBefore = snapshot(sweep);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const run = (...args: string[]) => runCli(['run', ...args, '--backend', 'cpu', '--quiet']);

  describe('experiment configs', () => {
    /** Run a broken variant of the tiny experiment against the finished sweep's folder. */
    async function badConfig(
      name: string,
      edit: (e: Record<string, any>) => void, // eslint-disable-line @typescript-eslint/no-explicit-any
      env: Record<string, string | undefined> = {},
    ): Promise<{ r: CliResult; file: string }> {
      const exp = structuredClone(tinyExperiment()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      edit(exp);
      const file = writeJson(tmp, `${name}.json`, exp);
      const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
      try {
        const r = await run(file, '--out', sweep);
        expect(snapshot(sweep), 'the existing sweep folder changed').to.deep.equal(sweepBefore);
        return { r, file };
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    }

    it('an unknown key names its JSON path and lists the allowed keys', async () => {
      const { r, file } = await badConfig('unknown-key', (e) => (e.training.stpes = 10));
      expectCleanFailure(r, {
        where: file,
        message: "/training/stpes: unknown key 'stpes'; allowed keys: ",
        hint: 'experiments/schema.json',
      });
      expect(r.stderr).to.contain('steps');
    });

    it('a value of the wrong type names its path, the expected type and the value', async () => {
      const { r, file } = await badConfig('wrong-type', (e) => (e.training.steps = 'ten'));
      expectCleanFailure(r, { where: file, message: "/training/steps: must be integer (got 'ten')" });
    });

    it('a negative batch size names its path and the bound', async () => {
      const { r, file } = await badConfig('negative-batch', (e) => (e.training.batchSize = -4));
      expectCleanFailure(r, { where: file, message: '/training/batchSize: must be >= 1 (got -4)' });
    });

    it('an unknown agent kind lists the kinds there are', async () => {
      const { r, file } = await badConfig('unknown-kind', (e) => (e.agents[0].kind = 'ppo'));
      expectCleanFailure(r, {
        where: file,
        message: "/agents/0/kind: must be one of 'supervised', 'reinforce', 'random', 'majority' (got 'ppo')",
      });
    });

    it('an unknown reward lists the registered rewards and how to add one', async () => {
      const { r, file } = await badConfig('unknown-reward', (e) =>
        e.agents.push({ name: 'rl', kind: 'reinforce', rewards: [{ plugin: 'dicee' }] }),
      );
      expectCleanFailure(r, {
        where: file,
        message:
          /\/agents\/1\/rewards\/0\/plugin: unknown reward 'dicee'; registered rewards: .*dice.*rewardModules/,
      });
    });

    it("reward options failing the plugin's schema name the option, the plugin and the allowed values", async () => {
      const { r, file } = await badConfig('reward-options', (e) =>
        e.agents.push({
          name: 'rl',
          kind: 'reinforce',
          rewards: [{ plugin: 'dice', options: { average: 'median' } }],
        }),
      );
      expectCleanFailure(r, {
        where: file,
        message:
          "/agents/1/rewards/0/options/average: must be one of 'macro', 'micro', 'weighted' (got 'median') (options of reward plugin 'dice')",
      });
    });

    it('initFrom naming a missing agent lists the agents there are', async () => {
      const { r, file } = await badConfig('init-missing', (e) =>
        e.agents.push({
          name: 'rl',
          kind: 'reinforce',
          initFrom: 'cross-entropy',
          rewards: [{ plugin: 'dice' }],
        }),
      );
      expectCleanFailure(r, {
        where: file,
        message: "/agents/1/initFrom: names no agent of this experiment ('cross-entropy'); agents: ce, rl",
      });
    });

    it('an initFrom cycle shows the cycle', async () => {
      const { r, file } = await badConfig('init-cycle', (e) => {
        e.agents = [
          { name: 'a', kind: 'supervised', initFrom: 'b' },
          { name: 'b', kind: 'reinforce', initFrom: 'a', rewards: [{ plugin: 'dice' }] },
        ];
      });
      expectCleanFailure(r, { where: file, message: 'initFrom forms a cycle: a -> b -> a' });
    });

    it("a fine-tune whose source does not run its seed names the field and the source's seeds", async () => {
      const { r, file } = await badConfig('init-seed', (e) => {
        e.seeds = [0, 1];
        e.agents = [
          { name: 'ce', kind: 'supervised', seeds: [0] },
          { name: 'rl', kind: 'reinforce', initFrom: 'ce', rewards: [{ plugin: 'dice' }] },
          { name: 'rl2', kind: 'reinforce', initFrom: 'ce', initSeed: 4, rewards: [{ plugin: 'dice' }] },
          { name: 'lone', kind: 'supervised', initSeed: 0 },
        ];
      });
      expectCleanFailure(r, {
        where: file,
        message: "/agents/1/initFrom: starts from ce's run with seed 1, which is not run (ce runs seeds 0)",
      });
      expect(r.stderr).to.contain("/agents/2/initSeed: starts from ce's run with seed 4");
      expect(r.stderr).to.contain(
        '/agents/3/initSeed: initSeed picks the seed of the initFrom run; give initFrom too',
      );
    });

    it('a missing environment variable in a path names the variable, the path and how to set it', async () => {
      const { r, file } = await badConfig(
        'env-var',
        (e) => (e.dataset = { kind: 'lapa', root: '${FPRL_RELIABILITY_DATA}/lapa', size: SIZE }),
        { FPRL_RELIABILITY_DATA: undefined },
      );
      expectCleanFailure(r, {
        where: file,
        message: '/dataset/root: environment variable FPRL_RELIABILITY_DATA is not set',
        hint: 'export FPRL_RELIABILITY_DATA=',
      });
    });

    it('a JSON syntax error gives the line and column', async () => {
      const file = path.join(tmp, 'syntax.json');
      fs.writeFileSync(file, '{\n  "name": "tiny",\n  "seeds": [0,]\n}\n');
      const r = await run(file, '--out', sweep);
      expectCleanFailure(r, {
        where: file,
        message: 'not valid JSON at line 3, column',
        hint: 'trailing comma',
      });
      expect(snapshot(sweep)).to.deep.equal(sweepBefore);
    });

    it('a patch size that does not tile the image says which sizes clash', async () => {
      const { r, file } = await badConfig('patch', (e) => (e.model = { ...TINY_MODEL, patchSize: 5 }));
      expectCleanFailure(r, {
        where: file,
        message: '/model/patchSize: 5 does not divide the image size 16',
      });
    });

    it('a reward module that does not exist names the config entry', async () => {
      const { r, file } = await badConfig('reward-module', (e) => (e.rewardModules = ['./my-reward.ts']));
      expectCleanFailure(r, {
        where: `${file}: /rewardModules/0`,
        message: 'cannot import reward module',
        hint: 'exports defineReward',
      });
    });
  });

  describe('data folders', () => {
    let clean: string;
    before(async () => {
      clean = path.join(tmp, 'lapa-clean');
      await writeCleanLapa(clean);
    });

    /** `fprl run` on a copy of the clean folder with one fault; checks the data and output are untouched. */
    async function runOn(
      name: string,
      damage: (root: string) => Promise<string>,
      dataset: Record<string, unknown> = {},
    ): Promise<{ r: CliResult; bad: string; out: string; root: string }> {
      const root = path.join(tmp, `lapa-${name}`);
      fs.cpSync(clean, root, { recursive: true });
      const bad = await damage(root);
      const before = snapshot(root);
      const exp = tinyExperiment({
        dataset: { kind: 'lapa', root, size: SIZE, ...dataset },
        agents: [{ name: 'majority', kind: 'majority' }],
      });
      const out = path.join(tmp, `out-${name}`);
      const r = await run(writeJson(tmp, `${name}.json`, exp), '--out', out);
      expect(snapshot(root), 'the data folder changed').to.deep.equal(before);
      return { r, bad, out, root };
    }

    it('a missing folder is named with its JSON path', async () => {
      const root = path.join(tmp, 'no-such-lapa');
      const file = writeJson(
        tmp,
        'missing.json',
        tinyExperiment({ dataset: { kind: 'lapa', root, size: SIZE } }),
      );
      const r = await run(file, '--out', path.join(tmp, 'out-missing'));
      expectCleanFailure(r, { where: file, message: `/dataset/root: folder ${root} does not exist` });
      expect(fs.existsSync(path.join(tmp, 'out-missing'))).to.equal(false);
    });

    for (const [name, fault] of Object.entries(FAULTS)) {
      it(`${name} fails the sweep before any run, naming the file`, async () => {
        const slug = name.replace(/\W+/g, '-');
        const { r, bad, out } = await runOn(slug, (root) => fault.apply(root));
        expectCleanFailure(r, { where: bad, message: fault.message, hint: fault.hint });
        expect(filesUnder(out), 'nothing is written to the output folder').to.deep.equal([]);
      });
    }

    it('a bad file found while rebuilding the cache leaves the previous cache intact', async () => {
      const cache = path.join(tmp, 'cache');
      const root = path.join(tmp, 'lapa-cached');
      fs.cpSync(clean, root, { recursive: true });
      const exp = writeJson(
        tmp,
        'cached.json',
        tinyExperiment({
          dataset: { kind: 'lapa', root, size: SIZE, cache },
          agents: [{ name: 'majority', kind: 'majority' }],
        }),
      );
      const ok = await run(exp, '--out', path.join(tmp, 'out-cached-ok'));
      expect(ok.code, ok.stderr).to.equal(0);
      const cached = snapshot(cache);
      expect(cached.size).to.be.greaterThan(0);
      const bad = await FAULTS['a truncated JPEG'].apply(root);
      releaseSplits(); // as a new process would: this one keeps the folder it opened
      const r = await run(exp, '--out', path.join(tmp, 'out-cached-bad'));
      expectCleanFailure(r, { where: bad, message: 'truncated or corrupt' });
      expect(snapshot(cache), 'cache files').to.deep.equal(cached);
    });

    it('with skipBad the bad sample is skipped with a warning naming it, and the sweep runs', async () => {
      const { r, bad } = await runOn('skip-bad', (root) => FAULTS['a truncated JPEG'].apply(root), {
        skipBad: true,
      });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain(`warning: skipped ${bad}: cannot decode image`);
    });

    it('a stray non-image file is ignored with a warning, not an error', async () => {
      const { r } = await runOn('stray', async (root) => {
        const f = path.join(root, 'train', 'images', 'notes.txt');
        fs.writeFileSync(f, 'todo: relabel 3\n');
        return f;
      });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/warning: .*notes\.txt: not an image file \(\.txt\); ignored/);
    });

    it('fprl data check lists every problem, not only the first, and exits non-zero', async () => {
      const root = path.join(tmp, 'lapa-check');
      fs.cpSync(clean, root, { recursive: true });
      const a = await FAULTS['a zero-byte image file'].apply(root);
      const b = await FAULTS['an RGB label'].apply(root);
      const r = await runCli(['data', 'check', root]);
      expectCleanFailure(r, { where: root, message: '2 errors found', hint: '--skip-bad' });
      expect(r.stdout).to.contain(`error: ${a}: empty file`);
      expect(r.stdout).to.contain(`error: ${b}: label has 3 channels`);
    });
  });

  describe('runs, checkpoints and backends', () => {
    const ckpt = () => path.join(sweep, 'ce', 'seed-0', 'checkpoints');
    /** A copy of the finished sweep to damage. */
    const copySweep = (name: string): string => {
      const dir = path.join(tmp, name);
      fs.cpSync(sweep, dir, { recursive: true });
      return dir;
    };

    it('a checkpoint of another model size is refused naming the first variable that differs', async () => {
      const other = JSON.stringify({ imageSize: SIZE, patchSize: 4, dim: 8, depth: 1, heads: 2, mlpDim: 16 });
      const r = await runCli([
        'diagnose',
        '--agent',
        '{"kind":"reinforce"}',
        '--checkpoint',
        ckpt(),
        '--preset',
        other,
        '--batches',
        '1',
        '--batch-size',
        '2',
        '--backend',
        'cpu',
      ]);
      expectCleanFailure(r, {
        where: path.join(ckpt(), 'agent', 'policy'),
        message:
          /has shape \[4,4,3,16\] in the checkpoint but \[4,4,3,8\] in this model.*different model size/,
        hint: 'use the same model configuration',
      });
      expect(snapshot(sweep)).to.deep.equal(sweepBefore);
    });

    it('weights copied in from a run of another model size are refused by fprl eval', async () => {
      const small = path.join(tmp, 'small');
      const exp = tinyExperiment({ model: { ...TINY_MODEL, dim: 8, mlpDim: 16 } });
      const ok = await run(writeJson(tmp, 'small.json', exp), '--out', small);
      expect(ok.code, ok.stderr).to.equal(0);
      const dir = copySweep('mixed');
      const policy = path.join(dir, 'ce', 'seed-0', 'checkpoints', 'agent', 'policy');
      fs.cpSync(path.join(small, 'ce', 'seed-0', 'checkpoints', 'agent', 'policy'), policy, {
        recursive: true,
      });
      // As a checkpoint written before checksums (integrity.test.ts): else the checksums refuse the copy first.
      const metaFile = path.join(dir, 'ce', 'seed-0', 'checkpoints', 'checkpoint.json');
      const {
        files: _f,
        sha256: _s,
        ...meta
      } = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(metaFile, JSON.stringify(meta));
      const r = await runCli(['eval', '--run', path.join(dir, 'ce', 'seed-0'), '--backend', 'cpu']);
      expectCleanFailure(r, { where: policy, message: 'different model size' });
    });

    it('a corrupted weights file is caught by its checksum', async () => {
      const dir = copySweep('flipped');
      const weights = path.join(dir, 'ce', 'seed-0', 'checkpoints', 'agent', 'policy', 'weights.bin');
      const bytes = fs.readFileSync(weights);
      bytes[17] ^= 0xff;
      fs.writeFileSync(weights, bytes);
      const r = await runCli(['eval', '--run', path.join(dir, 'ce', 'seed-0'), '--backend', 'cpu']);
      expectCleanFailure(r, { where: weights, message: 'does not match the checksum' });
    });

    it('a torn checkpoint.json is named, with what to do', async () => {
      const dir = copySweep('torn');
      const meta = path.join(dir, 'ce', 'seed-0', 'checkpoints', 'checkpoint.json');
      fs.writeFileSync(meta, fs.readFileSync(meta).subarray(0, 40));
      const r = await runCli(['eval', '--run', path.join(dir, 'ce', 'seed-0'), '--backend', 'cpu']);
      expectCleanFailure(r, {
        where: meta,
        message: 'the checkpoint is unreadable',
        hint: 'delete the folder',
      });
    });

    it('resuming a run whose checkpoint is corrupt fails that run, names the file and keeps the file for inspection', async () => {
      const dir = copySweep('resume-corrupt');
      const runDir = path.join(dir, 'ce', 'seed-0');
      fs.rmSync(path.join(runDir, 'result.json')); // unfinished: it resumes from its checkpoint
      const weights = path.join(runDir, 'checkpoints', 'agent', 'policy', 'weights.bin');
      const bytes = fs.readFileSync(weights);
      bytes[5] ^= 0x01;
      fs.writeFileSync(weights, bytes);
      const checkpoints = snapshot(path.join(runDir, 'checkpoints'));
      const r = await run('--resume', dir);
      expectCleanFailure(r, { where: dir, message: '1 of 1 runs failed', hint: '--retry-failed' });
      expect(r.stdout).to.contain(`failed: ce/seed-0: ${weights}: weights.bin does not match the checksum`);
      expect(snapshot(path.join(runDir, 'checkpoints'))).to.deep.equal(checkpoints);
    });

    it('a damaged result.json is named, with what to do, before anything is written', async () => {
      const dir = copySweep('bad-result');
      const result = path.join(dir, 'ce', 'seed-0', 'result.json');
      fs.writeFileSync(result, '{"agent": "ce", "seed"');
      const before = snapshot(dir);
      const r = await run('--resume', dir);
      expectCleanFailure(r, { where: result, message: 'not valid JSON', hint: 'delete it' });
      expect(snapshot(dir)).to.deep.equal(before);
    });

    it('a changed config on an existing sweep folder names the first difference', async () => {
      const file = writeJson(tmp, 'changed.json', tinyExperiment({ training: { steps: 3, batchSize: 2 } }));
      const r = await run(file, '--out', sweep);
      expectCleanFailure(r, {
        where: sweep,
        message: 'this folder holds a sweep of another config (they differ at /training/steps)',
        hint: 'choose a new --out',
      });
      expect(snapshot(sweep)).to.deep.equal(sweepBefore);
    });

    it('--resume of a folder without a sweep says how to start one', async () => {
      const r = await run('--resume', tmp);
      expectCleanFailure(r, {
        where: tmp,
        message: 'no sweep to resume here',
        hint: 'fprl run EXPERIMENT.json',
      });
    });

    it('--backend tensorflow-gpu when it is not installed is refused before the output folder is made', async function () {
      try {
        createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
        this.skip(); // installed here: the choice is valid
      } catch {
        // not installed: the case under test
      }
      const out = path.join(tmp, 'out-gpu');
      const r = await runCli([
        'run',
        writeJson(tmp, 'gpu.json', tinyExperiment()),
        '--out',
        out,
        '--backend',
        'tensorflow-gpu',
        '--quiet',
      ]);
      expectCleanFailure(r, {
        where: '--backend',
        message: "backend 'tensorflow-gpu' is not available here",
        hint: /tfjs-node-gpu not installed .*--backend auto/,
      });
      expect(fs.existsSync(out)).to.equal(false);
    });

    it('an unknown --backend lists the choices', async () => {
      const r = await runCli(['eval', '--run', path.join(sweep, 'ce', 'seed-0'), '--backend', 'cuda']);
      expectCleanFailure(r, {
        where: '--backend',
        message: "unknown backend 'cuda'",
        hint: 'auto, tensorflow-gpu',
      });
    });

    it('a usage error in a subcommand returns non-zero instead of ending the process', async () => {
      const r = await runCli(['diagnose', '--batches', '1']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain("error: required option '--agent <config>' not specified");
      expectNoStack(r.stderr);
    });
  });

  describe('as a real process', () => {
    let results: Record<string, CliResult>;
    let badConfig: string;
    let badImage: string;

    before(async function () {
      this.timeout(60_000);
      badConfig = writeJson(tmp, 'proc-unknown-key.json', { ...tinyExperiment(), seed: 3 });
      const root = path.join(tmp, 'lapa-proc');
      await writeCleanLapa(root);
      badImage = await FAULTS['a truncated JPEG'].apply(root);
      const dataExp = writeJson(
        tmp,
        'proc-data.json',
        tinyExperiment({
          dataset: { kind: 'lapa', root, size: SIZE },
          agents: [{ name: 'm', kind: 'majority' }],
        }),
      );
      const out = (n: string) => ['--out', path.join(tmp, `proc-${n}`), '--quiet'];
      // Started together: each pays the process start (tsx) once, in parallel.
      const [config, verbose, backend, data] = await Promise.all([
        runCliProcess(['run', badConfig, ...out('config')]),
        runCliProcess(['--verbose', 'run', badConfig, ...out('verbose')]),
        runCliProcess([
          'run',
          badConfig.replace('proc-unknown-key', 'good'),
          ...out('gpu'),
          '--backend',
          'tensorflow-gpu',
        ]),
        runCliProcess(['run', dataExp, ...out('data'), '--backend', 'cpu']),
      ]);
      results = { config, verbose, backend, data };
    });

    it('exits 1 with one message and no stack for a bad config', () => {
      expect(results.config.code).to.equal(1);
      expectCleanFailure(results.config, { where: badConfig, message: "/seed: unknown key 'seed'" });
    });

    it('prints the stack trace only with --verbose', () => {
      expect(results.verbose.code).to.equal(1);
      expect(results.verbose.stderr).to.contain("/seed: unknown key 'seed'");
      expect(results.verbose.stderr).to.match(/^\s+at .+:\d+:\d+\)?$/m);
    });

    it('exits 1 for a backend that is not available', function () {
      if (!results.backend.stderr.includes('not available')) this.skip(); // tfjs-node-gpu works here
      expectCleanFailure(results.backend, {
        where: '--backend',
        message: "backend 'tensorflow-gpu' is not available",
      });
    });

    it('exits 1 for a truncated image, naming it', () => {
      expectCleanFailure(results.data, { where: badImage, message: 'truncated or corrupt file' });
    });
  });
});
