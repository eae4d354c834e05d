import type { Subscription } from 'rxjs';
import type { EventBus } from '../core/bus.js';

/**
 * A sink listens to an {@link EventBus} and is the only kind of object that writes files or
 * the terminal. `attach` subscribes (once); `close` unsubscribes, flushes and reports any
 * write error. Completing the bus (`bus.close()`) also ends the subscription, but only
 * `close()` tells you that everything reached the disk.
 */
export interface Sink {
  attach(bus: EventBus): Subscription;
  close(): Promise<void>;
}
