import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { useBackend } from '../helpers/backend.js';
import { initBackend } from '../../src/backend/backend.js';
import { EventBus } from '../../src/core/bus.js';
import { Rng } from '../../src/core/rng.js';
import { CLASS_NAMES } from '../../src/core/classes.js';
import { SyntheticFaces } from '../../src/data/index.js';
import { FaceTransformer, resolveViTConfig } from '../../agents/vit/index.js';
import { createAgent } from '../../agents/index.js';
import { FaceParsingEnv } from '../../envs/index.js';
import { registerBuiltinRewards } from '../../rewards/index.js';
import { resolveTrainingConfig } from '../../src/optim/config.js';
import { train } from '../../src/train/trainer.js';
import { evaluate } from '../../src/train/evaluate.js';
import { readCheckpointMeta } from '../../src/train/checkpoint.js';
import type { Dataset, Sample } from '../../src/core/types.js';
import type { RunResult } from '../../src/report/types.js';
import {
  expectCleanFailure,
  filesUnder,
  runCli,
  snapshot,
  tempDir,
  tinyExperiment,
  writeJson,
} from './fixtures.js';

const SIZE = 16;
const VIT = resolveViTConfig({
  imageSize: SIZE,
  patchSize: 4,
  dim: 16,
  depth: 1,
  heads: 2,
  mlpDim: 32,
  dropout: 0.1,
});

/**
 * A long generated evaluation set that watches how it is read: how many `get()` calls are
 * pending at once, and (by weak references, after a full garbage collection) how many of the
 * images it handed out are still held by someone.
 */
class WatchedDataset implements Dataset {
  readonly name = 'watched';
  readonly height = SIZE;
  readonly width = SIZE;
  readonly classNames = CLASS_NAMES;
  pending = 0;
  maxPending = 0;
  maxAlive = 0;
  /** The pixel arrays handed out (the memory a sample costs). */
  private handedOut: WeakRef<Float32Array>[] = [];

  constructor(
    readonly length: number,
    private readonly collect: () => void,
    private readonly checkEvery: number,
  ) {}

  async get(index: number): Promise<Sample> {
    this.pending++;
    this.maxPending = Math.max(this.maxPending, this.pending);
    if (index > 0 && index % this.checkEvery === 0) {
      this.collect();
      this.handedOut = this.handedOut.filter((r) => r.deref() !== undefined);
      this.maxAlive = Math.max(this.maxAlive, this.handedOut.length);
    }
    await new Promise<void>((resolve) => setImmediate(resolve)); // as a file read would
    const image = new Float32Array(SIZE * SIZE * 3);
    const label = new Uint8Array(SIZE * SIZE);
    for (let i = 0; i < label.length; i++) {
      label[i] = (i + index) % 11;
      image[3 * i] = label[i] / 5 - 1;
    }
    const sample: Sample = { id: String(index), image, label, height: SIZE, width: SIZE };
    this.handedOut.push(new WeakRef(image));
    this.pending--;
    return sample;
  }
}

describe('reliability: resource bounds', function () {
  this.timeout(60_000);
  let tmp: string;
  let previousBackend: string;
  before(() => {
    previousBackend = tf.getBackend();
    registerBuiltinRewards();
    tmp = tempDir('resources');
  });
  after(async () => {
    if (previousBackend && tf.getBackend() !== previousBackend) await initBackend(previousBackend);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('tensors over 100 training steps (on wasm, the default backend)', () => {
    before(() => useBackend('wasm'));

    const agents: Record<string, object> = {
      'cross-entropy': { kind: 'supervised' },
      'REINFORCE with a learned critic and difference credit': {
        kind: 'reinforce',
        baseline: 'critic',
        credit: 'difference',
        samples: 2,
      },
    };
    for (const [name, config] of Object.entries(agents)) {
      it(`stay flat step after step, through evaluations and checkpoints: ${name}`, async () => {
        const before = tf.memory().numTensors;
        const bus = new EventBus();
        const training = resolveTrainingConfig({
          steps: 100,
          batchSize: 2,
          logEvery: 1,
          evalEvery: 25,
          checkpointEvery: 50,
          evalBatchSize: 4,
        });
        const env = new FaceParsingEnv({
          id: 'SyntheticFaces-v0',
          dataset: new SyntheticFaces({ size: SIZE, count: 8, seed: 0 }),
          batchSize: 2,
          rng: new Rng(0, 'env'),
          bus,
          rewards: [{ name: 'dice', plugin: 'dice', weight: 1 }],
          augment: {},
        });
        const agent = createAgent(config, new FaceTransformer(VIT, new Rng(0, 'model')), {
          rng: new Rng(0, 'agent'),
          training,
        });
        const counts: number[] = [];
        bus.on('train:step').subscribe(() => counts.push(tf.memory().numTensors));
        try {
          await train({
            agent,
            env,
            bus,
            config: training,
            runId: 'r',
            seed: 0,
            evalDataset: new SyntheticFaces({ size: SIZE, count: 4, seed: 0, split: 'val' }),
            checkpointDir: path.join(tmp, name.split(' ')[0]),
          });
        } finally {
          agent.dispose();
          env.close();
        }
        expect(counts).to.have.length(100);
        // Step 1 creates the optimiser's slots; from then on nothing may accumulate.
        expect(new Set(counts.slice(1)).size, `tensor counts: ${[...new Set(counts)].join(', ')}`).to.equal(
          1,
        );
        expect(tf.memory().numTensors, 'after dispose').to.equal(before);
      });
    }
  });

  describe('a long evaluation', () => {
    before(() => useBackend('wasm'));
    it('streams: never more than one batch of samples requested or held at once', async () => {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const batchSize = 10;
      const data = new WatchedDataset(1000, gc, 250);
      const agent = createAgent({ kind: 'supervised' }, new FaceTransformer(VIT, new Rng(0, 'model')), {
        rng: new Rng(0, 'agent'),
        training: resolveTrainingConfig({}),
      });
      try {
        const r = await evaluate(agent, data, { batchSize, pictures: 0 });
        expect(r.images).to.equal(1000);
      } finally {
        agent.dispose();
      }
      expect(data.maxPending).to.equal(batchSize);
      // Held while a batch is read: that batch (and at most the one before, still on the stack).
      expect(data.maxAlive).to.be.within(1, 2 * batchSize);
    });
  });

  describe('an unwritable output folder', () => {
    it('is a clear error when --out is a file, and the file is left as it was', async () => {
      const file = path.join(tmp, 'results.txt');
      fs.writeFileSync(file, 'my notes\n');
      const r = await runCli([
        'run',
        writeJson(tmp, 'tiny.json', tinyExperiment()),
        '--out',
        file,
        '--backend',
        'cpu',
        '--quiet',
      ]);
      expectCleanFailure(r, {
        where: file,
        message: 'cannot write to the output folder',
        hint: 'choose a writable --out',
      });
      expect(fs.readFileSync(file, 'utf8')).to.equal('my notes\n');
    });

    it('is a clear error when --out is under a file', async () => {
      const file = path.join(tmp, 'results.txt');
      fs.writeFileSync(file, 'my notes\n');
      const out = path.join(file, 'sweep');
      const r = await runCli([
        'run',
        writeJson(tmp, 'tiny.json', tinyExperiment()),
        '--out',
        out,
        '--backend',
        'cpu',
        '--quiet',
      ]);
      expectCleanFailure(r, { where: out, message: /cannot write to the output folder: ENOTDIR/ });
    });
  });

  describe('a full disk', () => {
    /** Make `fs.promises.open` hand out files whose writes fail half-way with ENOSPC when `full(path)`. */
    function fillDisk(full: (file: string) => boolean): () => void {
      const open = fsp.open;
      fsp.open = (async (file: fs.PathLike, ...rest: unknown[]) => {
        const handle = await (open as (...a: unknown[]) => Promise<fs.promises.FileHandle>)(file, ...rest);
        if (full(String(file))) {
          handle.writeFile = async (data: string | Uint8Array) => {
            await fs.promises.writeFile(
              String(file),
              typeof data === 'string' ? data.slice(0, data.length >> 1) : data.subarray(0, data.length >> 1),
            );
            throw Object.assign(new Error(`ENOSPC: no space left on device, write`), {
              code: 'ENOSPC',
              errno: -28,
              syscall: 'write',
            });
          };
        }
        return handle;
      }) as typeof fsp.open;
      return () => {
        fsp.open = open;
      };
    }

    it('a checkpoint that cannot be written stops the run with the disk-full hint; the previous checkpoint is intact and the run resumes from it', async () => {
      const out = path.join(tmp, 'ckpt-full');
      const exp = writeJson(
        tmp,
        'ckpt.json',
        tinyExperiment({ training: { steps: 6, batchSize: 2, checkpointEvery: 2, logEvery: 1 } }),
      );
      let checkpoints = 0;
      const restore = fillDisk(
        (f) => /checkpoints\.tmp-\d+\/checkpoint\.json$/.test(f) && ++checkpoints === 2,
      );
      let r;
      try {
        r = await runCli(['run', exp, '--out', out, '--backend', 'cpu', '--quiet']);
      } finally {
        restore();
      }
      const dir = path.join(out, 'ce', 'seed-0', 'checkpoints');
      expectCleanFailure(r, { where: out, message: '1 of 1 runs failed' });
      const failed = JSON.parse(
        fs.readFileSync(path.join(out, 'ce', 'seed-0', 'result.json'), 'utf8'),
      ) as RunResult;
      expect(failed.error).to.contain(`${dir}: cannot write the checkpoint: ENOSPC`);
      expect(failed.error).to.contain(
        'the disk is full: free space and resume; the previous checkpoint is intact',
      );
      expect((await readCheckpointMeta(dir))?.step).to.equal(2);
      expect(fs.readdirSync(path.dirname(dir)).filter((f) => f.startsWith('checkpoints.'))).to.deep.equal([]);

      // Space freed: the retried run resumes from step 2 and finishes.
      const again = await runCli(['run', '--resume', out, '--retry-failed', '--backend', 'cpu', '--quiet']);
      expect(again.code, again.stderr).to.equal(0);
      expect((await readCheckpointMeta(dir))?.step).to.equal(6);
    });

    it('a summary that cannot be written is one error naming it, and the previous summary is kept whole', async () => {
      const out = path.join(tmp, 'summary-full');
      const exp = writeJson(tmp, 'tiny.json', tinyExperiment());
      const first = await runCli(['run', exp, '--out', out, '--backend', 'cpu', '--quiet']);
      expect(first.code, first.stderr).to.equal(0);
      const before = snapshot(out);
      const summary = path.join(out, 'summary.json');
      const restore = fillDisk((f) => f.startsWith(`${summary}.tmp-`));
      let r;
      try {
        r = await runCli(['run', '--resume', out, '--backend', 'cpu', '--quiet']);
      } finally {
        restore();
      }
      expectCleanFailure(r, { where: summary, message: 'cannot write: ENOSPC', hint: 'the disk is full' });
      expect(snapshot(out).get('summary.json')).to.equal(before.get('summary.json'));
      expect(filesUnder(out).filter((f) => f.includes('.tmp-'))).to.deep.equal([]);
    });
  });
});
