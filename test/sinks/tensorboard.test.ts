import { expect } from 'chai';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus } from '../../src/core/bus.js';
import { TensorBoardSink, snakeCase } from '../../src/sinks/tensorboard.js';
import { encodeVarint } from '../../src/interop/protobuf.js';
import { frameRecord } from '../../src/sinks/tfrecord.js';
import { crc32cRef, decodeEvent, decodeFields, maskRef, readRecords } from './tfevents-reader.js';

const T0 = 1_700_000_000_123;

describe('TensorBoardSink', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fprl-tb-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function readEvents(file: string) {
    return readRecords(new Uint8Array(readFileSync(file))).map(decodeEvent);
  }

  it('agrees with a reference CRC32C on the standard check value', () => {
    // CRC-32C("123456789") = 0xE3069283 (RFC 3720, appendix B.4).
    expect(crc32cRef(new TextEncoder().encode('123456789'))).to.equal(0xe3069283);
    const rec = frameRecord(new TextEncoder().encode('123456789'));
    expect(new DataView(rec.buffer).getUint32(12 + 9, true)).to.equal(maskRef(0xe3069283));
  });

  it('names its file events.out.tfevents.<secs>.<host> and starts with file_version brain.Event:2', async () => {
    const sink = new TensorBoardSink(dir, { now: () => T0 });
    await sink.close();
    expect(readdirSync(dir)).to.deep.equal([`events.out.tfevents.1700000000.${hostname()}`]);
    const events = readEvents(sink.file);
    expect(events).to.have.length(1);
    expect(events[0].fileVersion).to.equal('brain.Event:2');
    expect(events[0].wallTime).to.equal(T0 / 1000);
  });

  it('writes train and eval scalars that decode back with valid frame lengths, CRCs and tags', async () => {
    const bus = new EventBus();
    const sink = new TensorBoardSink(dir, { now: () => T0 });
    sink.attach(bus);
    bus.emit('train:step', {
      runId: 'r',
      step: 1,
      scalars: { 'losses/policy': 0.75, entropy: 2.25, 'rewards/mean': 0 },
    });
    bus.emit('train:step', { runId: 'r', step: 2, scalars: { 'losses/policy': -1.5 } });
    bus.emit('eval:end', {
      runId: 'r',
      step: 2,
      split: 'val',
      metrics: { meanF1: 0.625, mIoU: 0.5, pixelAccuracy: 0.875 },
      perClass: { skin: { precision: 1, recall: 0.5, f1: 0.6666666, iou: 0.5, support: 10 } },
    });
    bus.emit('eval:end', { runId: 'r', step: 3, split: 'test', metrics: { meanF1: 0.25 } });
    await sink.close();

    const events = readEvents(sink.file);
    expect(events.map((e) => e.step)).to.deep.equal([0, 1, 1, 2, 2, 3]);
    expect(events[1].sessionStatus, 'SessionLog START before the first step').to.equal(1);
    const scalars = events.flatMap((e) => e.values.map((v) => [e.step, v.tag, v.simpleValue]));
    expect(scalars).to.deep.equal([
      [1, 'losses/policy', 0.75],
      [1, 'train/entropy', 2.25],
      [1, 'rewards/mean', 0],
      [2, 'losses/policy', -1.5],
      [2, 'eval/mean_f1', 0.625],
      [2, 'eval/miou', 0.5],
      [2, 'eval/pixel_accuracy', 0.875],
      [2, 'per_class_f1/skin', Math.fround(0.6666666)],
      [3, 'test/mean_f1', 0.25],
    ]);
  });

  it('writes a PNG image summary with its size, RGB colourspace and the exact bytes', async () => {
    const sink = new TensorBoardSink(dir, { now: () => T0 });
    const png = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
    sink.addImage('predictions/grid', 5, png, 12, 34);
    await sink.close();
    const events = readEvents(sink.file);
    const img = events.at(-1)!.values[0];
    expect(img.tag).to.equal('predictions/grid');
    expect(events.at(-1)!.step).to.equal(5);
    expect(img.image!.height).to.equal(12);
    expect(img.image!.width).to.equal(34);
    expect(img.image!.colorspace).to.equal(3);
    expect(Buffer.from(img.image!.encoded).equals(Buffer.from(png))).to.equal(true);
  });

  it('keeps only its run when a runId filter is given', async () => {
    const bus = new EventBus();
    const sink = new TensorBoardSink(dir, { runId: 'a' });
    sink.attach(bus);
    bus.emit('train:step', { runId: 'b', step: 1, scalars: { 'losses/x': 1 } });
    bus.emit('train:step', { runId: 'a', step: 2, scalars: { 'losses/x': 2 } });
    await sink.close();
    const values = readEvents(sink.file).flatMap((e) => e.values);
    expect(values.map((v) => v.simpleValue)).to.deep.equal([2]);
  });

  it('gives two writers started in the same second different files', async () => {
    const a = new TensorBoardSink(dir, { now: () => T0 });
    const b = new TensorBoardSink(dir, { now: () => T0 });
    await Promise.all([a.close(), b.close()]);
    expect(a.file).to.not.equal(b.file);
    expect(readdirSync(dir)).to.have.length(2);
    expect(readdirSync(dir).every((f) => f.startsWith('events.out.tfevents.1700000000.'))).to.equal(true);
  });

  it('encodes large and negative int64 steps as protobuf varints', () => {
    const dec = (b: Uint8Array) => decodeFields(Uint8Array.from([0x10, ...b]))[0].varint;
    expect(dec(encodeVarint(300))).to.equal(300);
    expect(dec(encodeVarint(2 ** 40 + 5))).to.equal(2 ** 40 + 5);
    const neg = encodeVarint(-1);
    expect(neg.length).to.equal(10);
    expect([...neg]).to.deep.equal([255, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
  });

  it('snake-cases metric names for tags', () => {
    expect(['meanF1', 'mIoU', 'pixelAccuracy', 'meanDice', 'boundaryF1'].map(snakeCase)).to.deep.equal([
      'mean_f1',
      'miou',
      'pixel_accuracy',
      'mean_dice',
      'boundary_f1',
    ]);
  });
});

describe('TensorBoardSink after a resume', () => {
  /** Every (tag, step) of every event file in `dir`, read with the independent decoder. */
  function allScalars(dir: string): string[] {
    const out: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.startsWith('events.out.tfevents.')).sort()) {
      for (const rec of readRecords(new Uint8Array(readFileSync(join(dir, f))))) {
        const ev = decodeEvent(rec);
        for (const v of ev.values) out.push(`${v.tag}@${ev.step}=${v.simpleValue}`);
      }
    }
    return out;
  }

  async function logSteps(dir: string, steps: number[], value: (s: number) => number, at: number) {
    const bus = new EventBus();
    const sink = new TensorBoardSink(dir, { now: () => at });
    sink.attach(bus);
    for (const step of steps) bus.emit('train:step', { runId: 'r', step, scalars: { 'losses/policy': value(step) } });
    await sink.close();
    return sink.file;
  }

  it('holds each step once across the event files: the steps logged after the checkpoint are dropped from the old file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fprl-tb-resume-'));
    try {
      // Steps 1..5 logged, the last checkpoint was at step 3, then a resume logs 4..6.
      const first = await logSteps(dir, [1, 2, 3, 4, 5], (s) => 10 + s, T0);
      // A torn record at the end of the old file, as a kill mid-write leaves it.
      appendFileSync(first, Buffer.from([7, 0, 0, 0, 0, 0, 0, 0, 1, 2]));
      await logSteps(dir, [4, 5, 6], (s) => s, T0 + 60_000);
      const scalars = allScalars(dir);
      expect(scalars).to.deep.equal([
        'losses/policy@1=11',
        'losses/policy@2=12',
        'losses/policy@3=13',
        'losses/policy@4=4',
        'losses/policy@5=5',
        'losses/policy@6=6',
      ]);
      // The old file still opens with its file-version header and decodes cleanly (no torn tail).
      const records = readRecords(new Uint8Array(readFileSync(first)));
      expect(decodeEvent(records[0]).fileVersion).to.equal('brain.Event:2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves earlier files untouched when they hold nothing at or past the first step', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fprl-tb-resume-'));
    try {
      const first = await logSteps(dir, [1, 2], (s) => s, T0);
      const before = readFileSync(first);
      await logSteps(dir, [3, 4], (s) => s, T0 + 60_000);
      expect(readFileSync(first).equals(before)).to.equal(true);
      expect(allScalars(dir)).to.have.length(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('TensorBoardSink read by TensorBoard itself', () => {
  it('loads in TensorBoard (scalars, images, resume purge) when python3 has tensorboard installed', async function () {
    const { spawnSync } = await import('node:child_process');
    const probe = spawnSync('python3', ['-c', 'import tensorboard'], { encoding: 'utf8' });
    if (probe.status !== 0) this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'fprl-tb-py-'));
    try {
      // A run logs steps 1..3, dies, and resumes from a checkpoint at step 1.
      let bus = new EventBus();
      let sink = new TensorBoardSink(dir, { now: () => T0 });
      sink.attach(bus);
      for (const step of [1, 2, 3])
        bus.emit('train:step', { runId: 'r', step, scalars: { 'losses/policy': 10 + step } });
      await sink.close();
      bus = new EventBus();
      sink = new TensorBoardSink(dir, { now: () => T0 + 60_000 });
      sink.attach(bus);
      for (const step of [2, 3])
        bus.emit('train:step', { runId: 'r', step, scalars: { 'losses/policy': step } });
      bus.emit('eval:end', { runId: 'r', step: 3, split: 'val', metrics: { meanF1: 0.5 } });
      sink.addImage('predictions/grid', 3, new Uint8Array([137, 80, 78, 71]), 2, 3);
      await sink.close();
      const script = [
        'import sys',
        'from tensorboard.backend.event_processing.event_accumulator import EventAccumulator',
        'acc = EventAccumulator(sys.argv[1]); acc.Reload()',
        'print([(e.step, e.value) for e in acc.Scalars("losses/policy")])',
        'print([(e.step, e.value) for e in acc.Scalars("eval/mean_f1")])',
        'i = acc.Images("predictions/grid")[0]; print(i.step, i.height, i.width, list(i.encoded_image_string))',
      ].join('\n');
      const out = spawnSync('python3', ['-c', script, dir], { encoding: 'utf8' });
      expect(out.stdout.trim().split('\n'), out.stderr).to.deep.equal([
        '[(1, 11.0), (2, 2.0), (3, 3.0)]',
        '[(3, 0.5)]',
        '3 2 3 [137, 80, 78, 71]',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
