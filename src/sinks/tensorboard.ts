import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { merge, type Subscription } from 'rxjs';
import type { BusEvent, EventBus } from '../core/bus.js';
import { FileAppender } from './appender.js';
import type { Sink } from './sink.js';
import { COLORSPACE, encodeEvent, FILE_VERSION, type EventBody, type SummaryValue } from './tfevent.js';
import { frameRecord } from './tfrecord.js';
import { trimEarlierEventFiles } from './tfevent-trim.js';

export interface TensorBoardSinkOptions {
  /** Keep only events of this run (a shared bus may carry several). */
  runId?: string;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

/**
 * Writes TensorBoard event files in pure TypeScript (no tfjs-node): TFRecord-framed `Event`
 * protos in `<logdir>/events.out.tfevents.<unix secs>.<hostname>`.
 *
 * - `train:step` scalars become scalars under their own namespaced tag (`losses/policy`);
 *   an un-namespaced key goes under `train/`.
 * - `eval:end` metrics become `eval/<snake_name>` (`eval/mean_f1`; another split than `val`
 *   uses its name, `test/mean_f1`), per-class F1 `per_class_f1/<class>`.
 * - Pictures (PNG bytes) are added with {@link TensorBoardSink.addImage}.
 *
 * The first event with a step is preceded by a `SessionLog START` at that step: TensorBoard
 * then drops events with a step >= it from earlier files, so a run resumed from a checkpoint
 * does not show the orphaned steps written after that checkpoint before the crash. The earlier
 * files of the folder are also rewritten without those steps (sinks/tfevent-trim.ts), so every
 * reader of the files, not only TensorBoard, sees each step once.
 */
export class TensorBoardSink implements Sink {
  readonly file: string;
  private readonly out: FileAppender;
  private subscription: Subscription | undefined;
  private started = false;

  constructor(
    readonly logdir: string,
    private readonly opts: TensorBoardSinkOptions = {},
  ) {
    const now = this.now();
    const base = join(logdir, `events.out.tfevents.${Math.floor(now)}.${hostname()}`);
    // Two writers started in the same second in one folder must not share a file.
    let file = base;
    for (let i = 1; existsSync(file); i++) file = `${base}.${process.pid}.${i}`;
    this.file = file;
    this.out = new FileAppender(file, { exclusive: true });
    this.record(0, { fileVersion: FILE_VERSION }, now);
  }

  attach(bus: EventBus): Subscription {
    if (this.subscription) throw new Error(`TensorBoardSink(${this.logdir}) is already attached`);
    this.subscription = merge(bus.on('train:step'), bus.on('eval:end')).subscribe((e) => this.handle(e));
    return this.subscription;
  }

  /** Log scalars `{tag: value}` at `step` (what bus events turn into). */
  addScalars(step: number, values: Record<string, number>): void {
    const summary: SummaryValue[] = Object.entries(values).map(([tag, simpleValue]) => ({
      tag,
      simpleValue,
    }));
    if (summary.length > 0) this.write(step, { summary });
  }

  /**
   * Log a PNG picture (e.g. a ground truth | prediction grid from `renderPredictionGrid`).
   * @param height, width the PNG's size in pixels; it must be RGB.
   */
  addImage(tag: string, step: number, png: Uint8Array, height: number, width: number): void {
    this.write(step, {
      summary: [{ tag, image: { height, width, colorspace: COLORSPACE.rgb, encoded: png } }],
    });
  }

  async close(): Promise<void> {
    this.subscription?.unsubscribe();
    await this.out.close();
  }

  private handle(e: BusEvent<'train:step'> | BusEvent<'eval:end'>): void {
    if (this.opts.runId !== undefined && e.runId !== this.opts.runId) return;
    if (e.type === 'train:step') {
      const values: Record<string, number> = {};
      for (const [k, v] of Object.entries(e.scalars)) values[k.includes('/') ? k : `train/${k}`] = v;
      this.addScalars(e.step, values);
    } else {
      const ns = e.split === 'val' ? 'eval' : e.split;
      const values: Record<string, number> = {};
      for (const [k, v] of Object.entries(e.metrics)) values[`${ns}/${snakeCase(k)}`] = v;
      const pc = e.split === 'val' ? 'per_class_f1' : `${e.split}_per_class_f1`;
      for (const [cls, s] of Object.entries(e.perClass ?? {})) values[`${pc}/${cls}`] = s.f1;
      this.addScalars(e.step, values);
    }
  }

  private write(step: number, body: EventBody): void {
    const wallTime = this.now();
    if (!this.started) {
      this.started = true;
      trimEarlierEventFiles(this.logdir, this.file, step);
      this.record(step, { sessionStart: true }, wallTime);
    }
    this.record(step, body, wallTime);
  }

  private record(step: number, body: EventBody, wallTime: number): void {
    this.out.write(frameRecord(encodeEvent(wallTime, step, body)));
  }

  /** Unix seconds. */
  private now(): number {
    return (this.opts.now ?? Date.now)() / 1000;
  }
}

const KNOWN_NAMES: Record<string, string> = { mIoU: 'miou', meanF1: 'mean_f1', meanDice: 'mean_dice' };

/** `pixelAccuracy` -> `pixel_accuracy` (tags in the CleanRL style, `eval/mean_f1`). */
export function snakeCase(name: string): string {
  return (
    KNOWN_NAMES[name] ??
    name
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .replace(/[^A-Za-z0-9_/.-]+/g, '_')
      .toLowerCase()
  );
}
