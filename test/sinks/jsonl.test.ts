import { expect } from 'chai';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus } from '../../src/core/bus.js';
import { FprlError } from '../../src/core/errors.js';
import { JsonlSink } from '../../src/sinks/jsonl.js';
import { curvesFromLog, readMetricsLog } from '../../src/sinks/jsonl-read.js';

describe('JsonlSink', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fprl-jsonl-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function emitRun(bus: EventBus, runId = 'r1'): void {
    bus.emit('run:start', { runId, agent: 'ce', seed: 0, totalSteps: 2 });
    bus.emit('env:action', {
      requestId: 1,
      envId: 'e',
      count: 1,
      height: 1,
      width: 2,
      action: new Int32Array(2),
      target: new Int32Array(2),
      ids: ['a'],
    });
    bus.emit('train:step', { runId, step: 1, scalars: { 'losses/ce': 2.5 } });
    bus.emit('train:step', { runId, step: 2, scalars: { 'losses/ce': NaN, 'grad/norm': Infinity } });
    bus.emit('eval:end', { runId, step: 2, split: 'val', metrics: { meanF1: 0.5 } });
    bus.emit('checkpoint', { runId, step: 2, path: '/x/ckpt-2' });
    bus.emit('run:end', { runId, status: 'ok', wallSeconds: 1.5 });
  }

  it('writes one parseable JSON line per run/train/eval/checkpoint event and nothing for env traffic', async () => {
    const bus = new EventBus();
    const path = join(dir, 'run', 'metrics.jsonl');
    const sink = new JsonlSink(path, { now: () => 1_700_000_000_500 });
    sink.attach(bus);
    emitRun(bus);
    await sink.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    const recs = lines.map((l) => JSON.parse(l));
    expect(recs.map((r) => r.type)).to.deep.equal([
      'run:start',
      'train:step',
      'train:step',
      'eval:end',
      'checkpoint',
      'run:end',
    ]);
    expect(recs[1]).to.deep.equal({
      type: 'train:step',
      runId: 'r1',
      step: 1,
      scalars: { 'losses/ce': 2.5 },
      time: 1700000000.5,
    });
    expect(recs[2].scalars).to.deep.equal({ 'losses/ce': 'NaN', 'grad/norm': 'Infinity' });
  });

  it('leaves typed arrays out of a record', async () => {
    const sink = new JsonlSink(join(dir, 'm.jsonl'));
    sink.write({
      type: 'train:step',
      runId: 'r',
      step: 1,
      scalars: { x: 1 },
      extra: new Float32Array(3),
    } as never);
    await sink.close();
    expect(JSON.parse(readFileSync(join(dir, 'm.jsonl'), 'utf8'))).to.not.have.property('extra');
  });

  it('appends to an existing log and starts a fresh line after a torn last line', async () => {
    const path = join(dir, 'metrics.jsonl');
    appendFileSync(
      path,
      '{"type":"train:step","runId":"r1","step":1,"scalars":{"losses/ce":9}}\n{"type":"train:st',
    );
    const bus = new EventBus();
    const sink = new JsonlSink(path);
    sink.attach(bus);
    emitRun(bus);
    await sink.close();
    const log = await readMetricsLog(path);
    expect(log.skippedLines).to.equal(1);
    expect(log.records).to.have.length(7);
    expect(log.records[3].scalars).to.deep.equal({ 'losses/ce': NaN, 'grad/norm': Infinity });
    const { train, curve } = curvesFromLog(log.records, { runId: 'r1' });
    expect(train.map((t) => [t.step, t.scalars['losses/ce']])).to.deep.equal([
      [1, 2.5],
      [2, NaN],
    ]);
    expect(curve).to.deep.equal([{ step: 2, metrics: { meanF1: 0.5 } }]);
  });

  it('keeps only its run when a runId filter is given', async () => {
    const bus = new EventBus();
    const path = join(dir, 'm.jsonl');
    const sink = new JsonlSink(path, { runId: 'r2' });
    sink.attach(bus);
    emitRun(bus, 'r1');
    emitRun(bus, 'r2');
    await sink.close();
    const log = await readMetricsLog(path);
    expect(log.records.every((r) => r.runId === 'r2')).to.equal(true);
    expect(log.records).to.have.length(6);
  });

  it('names the file when it cannot be created', () => {
    const blocker = join(dir, 'not-a-folder');
    appendFileSync(blocker, 'x');
    expect(() => new JsonlSink(join(blocker, 'm.jsonl')))
      .to.throw(FprlError)
      .with.property('where', join(blocker, 'm.jsonl'));
  });
});

describe('FileAppender on a full disk', () => {
  it('reports ENOSPC on close, naming the file and saying the disk is full', async function () {
    const { existsSync } = await import('node:fs');
    if (!existsSync('/dev/full')) this.skip();
    const sink = new JsonlSink('/dev/full');
    sink.write({ type: 'run:end', runId: 'r', status: 'ok', wallSeconds: 1 });
    let err: unknown;
    await sink.close().catch((e) => (err = e));
    expect(err).to.be.instanceOf(FprlError);
    expect((err as FprlError).where).to.equal('/dev/full');
    expect((err as FprlError).hint).to.match(/disk is full/);
  });
});
