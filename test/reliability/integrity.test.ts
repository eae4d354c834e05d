import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import type { RunResult } from '../../src/report/types.js';
import { runCli, tempDir, tinyExperiment, writeJson } from './fixtures.js';

/*
 * Integrity of what a resume reads: a finished tiny sweep (checkpoint at its last step) whose
 * run is made unfinished again by removing its result.json, so `fprl run --resume` reads the
 * checkpoint back. Each case starts from a fresh copy of that sweep.
 */
describe('reliability: a resume trusts nothing it reads', function () {
  this.timeout(60_000);
  let tmp: string;
  let sweep: string;
  let n = 0;
  const ckpt = (dir: string) => path.join(dir, 'ce', 'seed-0', 'checkpoints');
  const result = (dir: string) =>
    JSON.parse(fs.readFileSync(path.join(dir, 'ce', 'seed-0', 'result.json'), 'utf8')) as RunResult;
  /** A copy of the finished sweep with its run unfinished. */
  const unfinished = (): string => {
    const dir = path.join(tmp, `copy-${n++}`);
    fs.cpSync(sweep, dir, { recursive: true });
    fs.rmSync(path.join(dir, 'ce', 'seed-0', 'result.json'));
    fs.rmSync(path.join(dir, 'summary.json'), { force: true });
    return dir;
  };
  const resume = (dir: string) => runCli(['run', '--resume', dir, '--backend', 'cpu']);

  before(async () => {
    await useBackend('cpu');
    tmp = tempDir('integrity');
    sweep = path.join(tmp, 'sweep');
    const exp = tinyExperiment({
      training: { steps: 2, batchSize: 2, evalBatchSize: 4, checkpointEvery: 1 },
    });
    const r = await runCli([
      'run',
      writeJson(tmp, 'tiny.json', exp),
      '--out',
      sweep,
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(r.code, r.stderr).to.equal(0);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('records a sha256 for every checkpoint file and for checkpoint.json itself', () => {
    const meta = JSON.parse(fs.readFileSync(path.join(ckpt(sweep), 'checkpoint.json'), 'utf8')) as {
      files: Record<string, string>;
      sha256: string;
    };
    expect(Object.keys(meta.files)).to.include.members(['agent/agent.json', 'agent/optimizer.bin']);
    expect(Object.keys(meta.files).some((f) => f.startsWith('agent/policy/'))).to.equal(true);
    for (const sum of [...Object.values(meta.files), meta.sha256]) expect(sum).to.match(/^[0-9a-f]{64}$/);
  });

  it('resumes an untouched checkpoint', async () => {
    const dir = unfinished();
    const r = await resume(dir);
    expect(r.code, r.stderr).to.equal(0);
    expect(result(dir).status).to.equal('ok');
  });

  it('refuses a checkpoint whose optimizer.bin has one byte flipped, naming the file', async () => {
    const dir = unfinished();
    const file = path.join(ckpt(dir), 'agent', 'optimizer.bin');
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    fs.writeFileSync(file, bytes);
    const r = await resume(dir);
    expect(r.code).to.not.equal(0);
    expect(result(dir).status).to.equal('failed');
    expect(result(dir).error)
      .to.contain(file)
      .and.to.contain('optimizer.bin does not match the checksum recorded in checkpoint.json');
  });

  it('refuses a checkpoint.json edited after it was written (its step), naming it', async () => {
    const dir = unfinished();
    const file = path.join(ckpt(dir), 'checkpoint.json');
    const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as { step: number };
    meta.step = 1;
    fs.writeFileSync(file, JSON.stringify(meta, null, 1));
    const r = await resume(dir);
    expect(r.code).to.not.equal(0);
    expect(result(dir).error).to.contain(file).and.to.contain('does not match its own checksum');
  });

  it("refuses to resume after the sweep's config.json was edited, listing the changed field", async () => {
    const dir = unfinished();
    const file = path.join(dir, 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8')) as { training: Record<string, unknown> };
    config.training.batchSize = 4;
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    const r = await resume(dir);
    expect(r.code).to.not.equal(0);
    const error = result(dir).error ?? '';
    expect(error).to.contain(path.join(ckpt(dir), 'checkpoint.json'));
    expect(error).to.match(/will not resume the run \(step 2\) under a changed config; 1 field\(s\) differ/);
    expect(error).to.contain('/experiment/training/batchSize: 2 in the checkpoint, 4 now');
  });

  it('loads a checkpoint written before checksums, saying it is unverified', async () => {
    const dir = unfinished();
    const file = path.join(ckpt(dir), 'checkpoint.json');
    const {
      files: _f,
      sha256: _s,
      ...old
    } = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(file, JSON.stringify(old, null, 1));
    const r = await resume(dir);
    expect(r.code, r.stderr).to.equal(0);
    expect(result(dir).status).to.equal('ok');
    expect(r.stdout + r.stderr).to.contain(`${file}: written before checkpoints had checksums`);
  });
});
