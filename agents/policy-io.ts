/**
 * Saving and loading a policy's weights inside an agent folder. A policy with its own
 * format (`save(dir)` / `loadWeightsFrom(dir)`, like the Face Transformer's model.json +
 * weights.bin) uses it; any other PolicyNet gets its trainable variables written in order.
 * Next to them, `variables.json` lists every variable's name and shape, so loading weights
 * from a model of another size fails with a clear message before anything is assigned.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { PolicyNet } from '../src/core/types.js';
import { FprlError } from '../src/core/errors.js';
import { writeFileAtomic } from '../src/core/atomic.js';
import { checkShapes, readTensors, writeTensors, type TensorSpec } from '../src/optim/tensor-io.js';

interface PersistentPolicy extends PolicyNet {
  save(dir: string): Promise<void>;
  loadWeightsFrom(dir: string): Promise<void>;
}

function isPersistent(p: PolicyNet): p is PersistentPolicy {
  const q = p as Partial<PersistentPolicy>;
  return typeof q.save === 'function' && typeof q.loadWeightsFrom === 'function';
}

/**
 * Name, shape and dtype of each trainable variable, in order. A policy that documents its
 * variable names (the Face Transformer's `namedVariables`, e.g. `blocks/0/attn/qkv/kernel`)
 * is listed by those names; tfjs's own names carry a per-process scope and are a fallback.
 */
export function variableSpecs(policy: PolicyNet): TensorSpec[] {
  const named = (policy as { namedVariables?: readonly { name: string; variable: { name: string } }[] })
    .namedVariables;
  const docName = new Map(named?.map((n) => [n.variable.name, n.name]) ?? []);
  return policy.trainableVariables.map((v) => ({
    name: docName.get(v.name) ?? v.name,
    shape: [...v.shape],
    dtype: v.dtype,
  }));
}

export async function savePolicyWeights(policy: PolicyNet, dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  if (isPersistent(policy)) await policy.save(dir);
  else {
    await writeTensors(
      dir,
      'variables-data',
      policy.trainableVariables.map((v) => ({ name: v.name, tensor: v })),
    );
  }
  await writeFileAtomic(path.join(dir, 'variables.json'), `${JSON.stringify(variableSpecs(policy), null, 1)}\n`);
}

/** Load weights saved by {@link savePolicyWeights} into `policy`; same architecture and sizes required. */
export async function loadPolicyWeights(policy: PolicyNet, dir: string): Promise<void> {
  let specs: TensorSpec[];
  try {
    specs = JSON.parse(await fs.readFile(path.join(dir, 'variables.json'), 'utf8')) as TensorSpec[];
  } catch (e) {
    throw new FprlError(`no readable policy weights here (${(e as Error).message.split('\n')[0]})`, {
      where: dir,
      hint: 'point at a checkpoint folder written by fprl (it holds agent/policy/variables.json)',
    });
  }
  checkShapes(specs, policy.trainableVariables, dir);
  if (isPersistent(policy)) {
    await policy.loadWeightsFrom(dir);
    return;
  }
  const named = await readTensors(dir, 'variables-data');
  try {
    policy.trainableVariables.forEach((v, i) => v.assign(named[i].tensor));
  } finally {
    named.forEach((n) => n.tensor.dispose());
  }
}
