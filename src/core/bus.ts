import { Observable, Subject, filter } from 'rxjs';
import type { LossInfo } from './types.js';

/**
 * Payload of each event type. Extend it from outside with declaration merging:
 * `declare module 'face-parsing-rl' { interface BusEvents { 'my:event': { x: number } } }`.
 */
export interface BusEvents {
  'run:start': { runId: string; agent: string; seed: number; totalSteps: number; config?: unknown };
  /** The env asks every attached reward plugin to score these label maps. */
  'env:action': {
    requestId: number;
    envId: string;
    /** Number of images scored (K*B). */
    count: number;
    height: number;
    width: number;
    /** [count*H*W] */
    action: Int32Array;
    /** [count*H*W] ground truth, repeated per sample */
    target: Int32Array;
    ids: string[];
    pixelCredit?: 'pixel' | 'difference';
    /** Classes of the label maps (default 11) and the target's ignore value (default 255). */
    numClasses?: number;
    ignoreIndex?: number;
    /** Reward attachments bound to a channel answer only its actions (envs sharing a bus). */
    channel?: string;
  };
  /** A plugin's answer: one value per scored image, optional per-pixel credit. */
  reward: {
    requestId: number;
    component: string;
    plugin: string;
    values: Float32Array;
    pixel?: Float32Array;
  };
  'reward:error': { requestId: number; component: string; plugin: string; error: Error };
  'train:step': { runId: string; step: number; epoch?: number; scalars: LossInfo };
  'eval:end': {
    runId: string;
    step: number;
    split: string;
    /** Where the scores were counted: each label's own size, or the model's input size. */
    resolution?: 'native' | 'model';
    metrics: Record<string, number>;
    perClass?: Record<
      string,
      { precision: number; recall: number; f1: number; iou: number; support: number }
    >;
  };
  checkpoint: { runId: string; step: number; path: string };
  'run:end': { runId: string; status: 'ok' | 'failed'; error?: string; wallSeconds: number };
}

export type BusEventType = keyof BusEvents;
export type BusEvent<K extends BusEventType = BusEventType> = K extends BusEventType
  ? { type: K } & BusEvents[K]
  : never;

/** Typed event bus. The Subject is private: emit through `emit`, listen through `on`/`all`. */
export class EventBus {
  private readonly subject = new Subject<BusEvent>();

  emit<K extends BusEventType>(type: K, payload: BusEvents[K]): void {
    this.subject.next({ type, ...payload } as BusEvent);
  }

  on<K extends BusEventType>(type: K): Observable<BusEvent<K>> {
    return this.subject.pipe(filter((e): e is BusEvent<K> => e.type === type));
  }

  all(): Observable<BusEvent> {
    return this.subject.asObservable();
  }

  /** Completes every subscription (sinks flush on complete). */
  close(): void {
    this.subject.complete();
  }
}
