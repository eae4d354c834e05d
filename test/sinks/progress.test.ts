import { expect } from 'chai';
import { Writable } from 'node:stream';
import { EventBus } from '../../src/core/bus.js';
import { ProgressSink } from '../../src/sinks/progress.js';
import { formatDuration, headline } from '../../src/sinks/progress-format.js';

/** A writable that records what is written; `isTTY` decides bars vs lines. */
function capture(isTTY: boolean): Writable & { text: () => string; isTTY: boolean; columns: number } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { text: () => string; isTTY: boolean; columns: number };
  w.isTTY = isTTY;
  w.columns = 160;
  w.text = () => chunks.join('');
  return w;
}

describe('ProgressSink', () => {
  it('prints occasional plain lines with step/total, loss, eval F1 and ETA on a non-TTY stream', async () => {
    let t = 0;
    const stream = capture(false);
    const bus = new EventBus();
    const sink = new ProgressSink({ stream, now: () => t, totalRuns: 2, lineIntervalMs: 10_000 });
    sink.attach(bus);
    bus.emit('run:start', { runId: 'a', agent: 'ce', seed: 0, totalSteps: 100 });
    for (let step = 1; step <= 100; step++) {
      t = step * 1000; // one step per second
      bus.emit('train:step', {
        runId: 'a',
        step,
        scalars: { 'losses/ce': 1 / step, 'perf/images_per_s': 16 },
      });
      if (step === 50) bus.emit('eval:end', { runId: 'a', step, split: 'val', metrics: { meanF1: 0.5 } });
    }
    bus.emit('run:end', { runId: 'a', status: 'ok', wallSeconds: 100 });
    await sink.close();
    const lines = stream.text().trimEnd().split('\n');
    expect(lines[0]).to.equal('ce/seed-0: start, 100 steps');
    // At most one progress line per 10 s of a 100 s run, plus the eval line.
    const progress = lines.filter((l) => l.includes('step '));
    expect(progress.length).to.be.within(9, 12);
    expect(lines).to.include(
      'ce/seed-0: step 50/100 (50%) | loss 0.020 | eval val mean F1 0.500 | 16 img/s | ETA 50s',
    );
    expect(lines).to.include('ce/seed-0: done in 1m40s, mean F1 0.500');
    // Half of the sweep's steps are done after 100 s: another 100 s to go.
    expect(lines.at(-1)).to.equal('sweep: runs 1/2, 50% of steps, elapsed 1m40s, ETA 1m40s');
  });

  it('reports a failed run with its error', async () => {
    const stream = capture(false);
    const bus = new EventBus();
    const sink = new ProgressSink({ stream, now: () => 0 });
    sink.attach(bus);
    bus.emit('run:start', { runId: 'a', agent: 'rl', seed: 1, totalSteps: 10 });
    bus.emit('run:end', { runId: 'a', status: 'failed', error: 'reward f1 returned NaN', wallSeconds: 1 });
    await sink.close();
    expect(stream.text()).to.contain('rl/seed-1: FAILED: reward f1 returned NaN');
    expect(stream.text()).to.contain('runs 1/1 (1 failed)');
  });

  it('draws a bar per run and one for the sweep on a terminal', async () => {
    const stream = capture(true);
    const bus = new EventBus();
    const sink = new ProgressSink({ stream, mode: 'bars', totalRuns: 3 });
    sink.attach(bus);
    bus.emit('run:start', { runId: 'a', agent: 'reinforce', seed: 2, totalSteps: 40 });
    bus.emit('train:step', { runId: 'a', step: 10, scalars: { 'rewards/mean': 0.25, 'losses/policy': 3 } });
    bus.emit('eval:end', { runId: 'a', step: 10, split: 'val', metrics: { meanF1: 0.125 } });
    sink.log('a message between bars');
    await sink.close();
    const text = stream.text();
    expect(text).to.match(/reinforce\/seed-2 \|[^|]+\| 10\/40/);
    expect(text).to.contain('reward 0.250 | F1 0.125');
    expect(text).to.match(/sweep\s+\|/);
    expect(text).to.contain('runs 0/3');
    expect(text).to.contain('a message between bars');
  });

  it('formats durations and picks a reward before a loss for the headline', () => {
    expect([5, 65, 3600 + 120, undefined, NaN].map(formatDuration)).to.deep.equal([
      '5s',
      '1m05s',
      '1h02m',
      '?',
      '?',
    ]);
    expect(headline({ 'losses/policy': 1, 'rewards/mean': 0.5 })).to.equal('reward 0.500');
    expect(headline({ 'losses/ce': 1.25 })).to.equal('loss 1.250');
    expect(headline({ entropy: 1 })).to.equal('');
  });
});
