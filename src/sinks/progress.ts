import cliProgress from 'cli-progress';
import { merge, type Subscription } from 'rxjs';
import type { BusEvent, EventBus } from '../core/bus.js';
import { formatDuration, formatNumber, headline } from './progress-format.js';
import type { Sink } from './sink.js';

export interface ProgressSinkOptions {
  /** Where to draw (default: process.stderr, so stdout stays clean for `--json`). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** `bars` on a terminal, `lines` (plain, occasional) in CI logs; `auto` picks by TTY and `CI`. */
  mode?: 'auto' | 'bars' | 'lines';
  /** Runs in the sweep (for the sweep bar and its ETA); default: the runs seen so far. */
  totalRuns?: number;
  /** Training steps in the whole sweep; default: totalRuns x the mean steps of the runs seen. */
  totalSteps?: number;
  /** In `lines` mode, at most one progress line per run this often (default 30 s). */
  lineIntervalMs?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

interface RunState {
  name: string;
  total: number;
  step: number;
  /** First step and time seen, to measure this run's rate (a resumed run starts mid-way). */
  firstStep: number;
  firstTime: number;
  lastLine: number;
  headline: string;
  /** Throughput, when the trainer reports `perf/images_per_s`. */
  speed?: string;
  f1?: number;
  bar?: cliProgress.SingleBar;
  done: boolean;
}

/**
 * Progress with ETA per run and for the whole sweep: `cli-progress` bars on a terminal, and
 * on a non-TTY stream (CI logs) a plain line now and then, at each evaluation and at each
 * run's end. Shows step/total, the latest reward (or loss), and the last eval mean F1.
 */
export class ProgressSink implements Sink {
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly bars: boolean;
  private readonly now: () => number;
  private readonly runs = new Map<string, RunState>();
  private readonly startTime: number;
  private multibar: cliProgress.MultiBar | undefined;
  private sweepBar: cliProgress.SingleBar | undefined;
  private subscription: Subscription | undefined;
  private finished = 0;
  /** Names are padded to the longest so that the bars line up. */
  private nameWidth = 'sweep'.length;
  private failed = 0;

  constructor(private readonly opts: ProgressSinkOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    const mode = opts.mode ?? 'auto';
    this.bars = mode === 'bars' || (mode === 'auto' && this.stream.isTTY === true && !process.env.CI);
    this.now = opts.now ?? Date.now;
    this.startTime = this.now();
  }

  attach(bus: EventBus): Subscription {
    if (this.subscription) throw new Error('ProgressSink is already attached');
    this.subscription = merge(
      bus.on('run:start'),
      bus.on('train:step'),
      bus.on('eval:end'),
      bus.on('run:end'),
    ).subscribe((e) => this.handle(e));
    return this.subscription;
  }

  /** Print a line without breaking the bars (use this instead of console.log while attached). */
  log(line: string): void {
    if (this.multibar) this.multibar.log(`${line}\n`);
    else this.stream.write(`${line}\n`);
  }

  async close(): Promise<void> {
    this.subscription?.unsubscribe();
    // One last redraw flushes lines logged since the previous frame; stop() leaves the bars.
    this.multibar?.update();
    this.multibar?.stop();
    this.multibar = undefined;
  }

  private handle(e: BusEvent<'run:start' | 'train:step' | 'eval:end' | 'run:end'>): void {
    if (e.type === 'run:start') return this.start(e);
    const run = this.runs.get(e.runId);
    if (!run) return;
    const t = this.now();
    if (e.type === 'train:step') {
      run.step = e.step;
      const h = headline(e.scalars);
      if (h) run.headline = h;
      const speed = e.scalars['perf/images_per_s'];
      if (speed !== undefined && Number.isFinite(speed))
        run.speed = `${speed.toFixed(speed < 10 ? 1 : 0)} img/s`;
      if (this.bars) this.redraw(run);
      else if (t - run.lastLine >= (this.opts.lineIntervalMs ?? 30_000)) this.line(run, t);
    } else if (e.type === 'eval:end') {
      if (e.metrics.meanF1 !== undefined) run.f1 = e.metrics.meanF1;
      if (this.bars) this.redraw(run);
      else this.line(run, t, `eval ${e.split} mean F1 ${formatNumber(e.metrics.meanF1 ?? NaN)}`);
    } else {
      run.done = true;
      this.finished++;
      if (e.status === 'failed') this.failed++;
      const what =
        e.status === 'ok'
          ? `done in ${formatDuration(e.wallSeconds)}`
          : `FAILED: ${e.error ?? 'unknown error'}`;
      const f1 = run.f1 !== undefined ? `, mean F1 ${formatNumber(run.f1)}` : '';
      if (run.bar && this.multibar) {
        this.multibar.remove(run.bar);
        run.bar = undefined;
      }
      this.log(`${run.name}: ${what}${f1}`);
      if (this.bars) this.redrawSweep();
      else this.log(this.sweepLine(t));
    }
  }

  private start(e: BusEvent<'run:start'>): void {
    const t = this.now();
    const run: RunState = {
      name: `${e.agent}/seed-${e.seed}`,
      total: e.totalSteps,
      step: 0,
      firstStep: -1,
      firstTime: t,
      lastLine: t,
      headline: '',
      done: false,
    };
    this.runs.set(e.runId, run);
    this.nameWidth = Math.max(this.nameWidth, run.name.length);
    if (this.bars) {
      this.multibar ??= this.createMultibar();
      run.bar = this.multibar.create(Math.max(1, run.total), 0, this.payload(run));
      this.redrawSweep();
    } else {
      this.log(`${run.name}: start, ${run.total} steps`);
    }
  }

  private createMultibar(): cliProgress.MultiBar {
    const mb = new cliProgress.MultiBar(
      {
        stream: this.stream as NodeJS.WritableStream,
        format: '{name} |{bar}| {value}/{total} {percentage}% ETA {eta_formatted} {info}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        autopadding: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.sweepBar = mb.create(1, 0, { name: 'sweep', info: '' });
    return mb;
  }

  private redraw(run: RunState): void {
    if (run.firstStep < 0) {
      run.firstStep = run.step;
      // A resumed run starts mid-way: start its bar there so the ETA uses this session's rate.
      run.bar?.start(Math.max(1, run.total), run.step, this.payload(run));
    }
    run.bar?.update(run.step, this.payload(run));
    this.redrawSweep();
  }

  private redrawSweep(): void {
    const { done, total } = this.sweepSteps();
    this.sweepBar?.setTotal(Math.max(1, total));
    this.sweepBar?.update(done, { name: 'sweep'.padEnd(this.nameWidth), info: this.runsInfo() });
  }

  private payload(run: RunState): { name: string; info: string } {
    const f1 = run.f1 !== undefined ? `F1 ${formatNumber(run.f1)}` : '';
    return {
      name: run.name.padEnd(this.nameWidth),
      info: [run.headline, f1, run.speed].filter(Boolean).join(' | '),
    };
  }

  private line(run: RunState, t: number, extra?: string): void {
    if (run.firstStep < 0) {
      run.firstStep = run.step;
      run.firstTime = t;
    }
    run.lastLine = t;
    const pct = run.total > 0 ? Math.round((100 * run.step) / run.total) : 0;
    const rate = (run.step - run.firstStep) / Math.max(1e-9, (t - run.firstTime) / 1000);
    const eta = rate > 0 ? (run.total - run.step) / rate : undefined;
    const parts = [
      `${run.name}: step ${run.step}/${run.total} (${pct}%)`,
      run.headline,
      extra,
      run.speed,
      `ETA ${formatDuration(eta)}`,
    ];
    this.log(parts.filter(Boolean).join(' | '));
  }

  private sweepLine(t: number): string {
    const { done, total } = this.sweepSteps();
    const elapsed = (t - this.startTime) / 1000;
    const eta = done > 0 ? ((total - done) * elapsed) / done : undefined;
    return `sweep: ${this.runsInfo()}, ${Math.round((100 * done) / Math.max(1, total))}% of steps, elapsed ${formatDuration(elapsed)}, ETA ${formatDuration(eta)}`;
  }

  private runsInfo(): string {
    const total = Math.max(this.opts.totalRuns ?? 0, this.runs.size);
    return `runs ${this.finished}/${total}${this.failed ? ` (${this.failed} failed)` : ''}`;
  }

  /** Steps done and planned over the sweep; runs not started yet count as the mean run seen. */
  private sweepSteps(): { done: number; total: number } {
    let done = 0;
    let known = 0;
    let sized = 0;
    for (const r of this.runs.values()) {
      done += r.done ? r.total : Math.min(r.step, r.total);
      known += r.total;
      if (r.total > 0) sized++;
    }
    const nRuns = Math.max(this.opts.totalRuns ?? 0, this.runs.size);
    // Runs skipped without training announce 0 steps: they do not say how long a run takes.
    const mean = sized > 0 ? known / sized : 0;
    return { done, total: this.opts.totalSteps ?? known + mean * (nRuns - this.runs.size) };
  }
}
