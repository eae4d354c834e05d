import * as tf from '@tensorflow/tfjs';
import type { Action, Agent, Observation } from '../../src/core/types.js';

/**
 * A test agent whose greedy labels are the argmax of `logits` (evaluation and predict read the
 * logits themselves); `withLogits: false` hides them, as reference agents have none. It never learns.
 */
export function logitsAgent(
  name: string,
  logits: (obs: Observation) => Promise<tf.Tensor4D>,
  withLogits = true,
): Agent {
  const agent: Agent = {
    name,
    async act(obs: Observation): Promise<Action> {
      const l = await logits(obs);
      const a = tf.argMax(l, -1);
      const labels = Int32Array.from(a.dataSync() as Int32Array);
      tf.dispose([l, a]);
      return { labels, samples: 1 };
    },
    async learn() {
      return {};
    },
    async save() {},
    async load() {},
    dispose() {},
  };
  if (withLogits) agent.logits = logits;
  return agent;
}
