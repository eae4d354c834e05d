import { merge, type Subscription } from 'rxjs';
import type { BusEvent, BusEventType, EventBus } from '../core/bus.js';
import { FileAppender } from './appender.js';
import type { Sink } from './sink.js';

/** The events a metrics log keeps (the high-rate `env:action` / `reward` traffic is left out). */
export const JSONL_EVENTS = [
  'run:start',
  'train:step',
  'eval:end',
  'checkpoint',
  'run:end',
] as const satisfies readonly BusEventType[];

/**
 * One line of `metrics.jsonl`: the bus event's fields plus `time` (unix seconds). Typed
 * arrays are left out; non-finite numbers (a NaN loss) are written as the strings "NaN",
 * "Infinity", "-Infinity", because JSON has no literal for them and `null` would hide them.
 */
export type JsonlRecord = { type: (typeof JSONL_EVENTS)[number]; time: number } & Record<string, unknown>;

export interface JsonlSinkOptions {
  /** Keep only events of this run (a shared bus may carry several). */
  runId?: string;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

/** Appends one JSON line per run/train/eval/checkpoint event to `path`. */
export class JsonlSink implements Sink {
  private readonly file: FileAppender;
  private subscription: Subscription | undefined;

  constructor(
    readonly path: string,
    private readonly opts: JsonlSinkOptions = {},
  ) {
    this.file = new FileAppender(path);
  }

  attach(bus: EventBus): Subscription {
    if (this.subscription) throw new Error(`JsonlSink(${this.path}) is already attached`);
    const events = merge(...JSONL_EVENTS.map((t) => bus.on(t)));
    this.subscription = events.subscribe((e) => this.write(e));
    return this.subscription;
  }

  /** Write one event directly (also what the bus subscription does). */
  write(e: BusEvent): void {
    if (this.opts.runId !== undefined && 'runId' in e && e.runId !== this.opts.runId) return;
    const time = Math.round((this.opts.now ?? Date.now)()) / 1000;
    this.file.write(`${JSON.stringify({ ...e, time }, replacer)}\n`);
  }

  async close(): Promise<void> {
    this.subscription?.unsubscribe();
    await this.file.close();
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return undefined;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (value instanceof Error) return value.message;
  return value;
}
