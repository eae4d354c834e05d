/**
 * The Face Transformer's variables: one table of documented names, shapes and initialisers
 * (agents/vit/README.md lists it), used by the model, its checkpoints and its tests.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../src/core/rng.js';
import { numTokens, type ViTConfig } from './config.js';
import { BulkRandom } from './random.js';

/**
 * How a variable starts. Like PyTorch/timm: `conv` = PyTorch's Conv2d default
 * U(+-1/sqrt(fanIn)); `xavier` = U(+-sqrt(6/(fanIn+fanOut))) (PyTorch's MHA in_proj, big_vision's
 * dense layers); `trunc` = truncated normal with std 0.02 (timm's pos_embed and head); zeros, ones.
 */
export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'conv'; fanIn: number }
  | { kind: 'xavier'; fanIn: number; fanOut: number }
  | { kind: 'trunc'; std: number };

export interface ParamSpec {
  /** Documented checkpoint name, e.g. `blocks/0/attn/qkv/kernel`. */
  name: string;
  shape: number[];
  init: Init;
}

/** Names of one encoder block's variables (index i). */
export function blockParamNames(i: number) {
  const p = `blocks/${i}`;
  return {
    norm1Gamma: `${p}/norm1/gamma`,
    norm1Beta: `${p}/norm1/beta`,
    qkvKernel: `${p}/attn/qkv/kernel`,
    qkvBias: `${p}/attn/qkv/bias`,
    outKernel: `${p}/attn/out/kernel`,
    outBias: `${p}/attn/out/bias`,
    norm2Gamma: `${p}/norm2/gamma`,
    norm2Beta: `${p}/norm2/beta`,
    fc1Kernel: `${p}/mlp/fc1/kernel`,
    fc1Bias: `${p}/mlp/fc1/bias`,
    fc2Kernel: `${p}/mlp/fc2/kernel`,
    fc2Bias: `${p}/mlp/fc2/bias`,
  };
}

/**
 * The variables of encoder block `i` (width D, MLP width M), in their fixed order. `vit` (the ViT
 * presets): xavier-uniform kernels, zero biases. `pytorch`: nn.TransformerEncoderLayer's
 * defaults: the attention's input projection xavier-uniform with a zero bias, its output
 * projection's kernel uniform +-1/sqrt(D) with a zero bias, both MLP layers uniform
 * +-1/sqrt(fan_in) for kernel and bias (nn.Linear).
 */
export function blockParamSpecs(i: number, D: number, M: number, style: 'vit' | 'pytorch' = 'vit'): ParamSpec[] {
  const zeros: Init = { kind: 'zeros' };
  const ones: Init = { kind: 'ones' };
  const n = blockParamNames(i);
  const torch = style === 'pytorch';
  const linear = (fanIn: number, fanOut: number): Init =>
    torch ? { kind: 'conv', fanIn } : { kind: 'xavier', fanIn, fanOut };
  const bias = (fanIn: number): Init => (torch ? { kind: 'conv', fanIn } : zeros);
  return [
    { name: n.norm1Gamma, shape: [D], init: ones },
    { name: n.norm1Beta, shape: [D], init: zeros },
    { name: n.qkvKernel, shape: [D, 3 * D], init: { kind: 'xavier', fanIn: D, fanOut: 3 * D } },
    { name: n.qkvBias, shape: [3 * D], init: zeros },
    { name: n.outKernel, shape: [D, D], init: linear(D, D) },
    { name: n.outBias, shape: [D], init: zeros },
    { name: n.norm2Gamma, shape: [D], init: ones },
    { name: n.norm2Beta, shape: [D], init: zeros },
    { name: n.fc1Kernel, shape: [D, M], init: linear(D, M) },
    { name: n.fc1Bias, shape: [M], init: bias(D) },
    { name: n.fc2Kernel, shape: [M, D], init: linear(M, D) },
    { name: n.fc2Bias, shape: [D], init: bias(M) },
  ];
}

/** Every variable of a config, in a fixed order (the order of `trainableVariables` and of weights.bin). */
export function paramSpecs(c: ViTConfig): ParamSpec[] {
  const { patchSize: P, dim: D, mlpDim: M, numClasses: C } = c;
  const zeros: Init = { kind: 'zeros' };
  const ones: Init = { kind: 'ones' };
  const specs: ParamSpec[] = [
    { name: 'patch_embed/kernel', shape: [P, P, 3, D], init: { kind: 'conv', fanIn: P * P * 3 } },
    { name: 'patch_embed/bias', shape: [D], init: zeros },
  ];
  if (c.posEmbedding)
    specs.push({ name: 'pos_embed', shape: [numTokens(c), D], init: { kind: 'trunc', std: 0.02 } });
  for (let i = 0; i < c.depth; i++) specs.push(...blockParamSpecs(i, D, M));
  specs.push(
    { name: 'norm/gamma', shape: [D], init: ones },
    { name: 'norm/beta', shape: [D], init: zeros },
    { name: 'proj/kernel', shape: [D, D], init: { kind: 'xavier', fanIn: D, fanOut: D } },
    { name: 'proj/bias', shape: [D], init: zeros },
    // Small head init (timm): near-uniform initial policy, which REINFORCE's exploration wants.
    { name: 'head/kernel', shape: [D, P, P, C], init: { kind: 'trunc', std: 0.02 } },
    { name: 'head/bias', shape: [C], init: zeros },
  );
  return specs;
}

/** Number of scalars in a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Initial values of one variable. Each variable draws from its own stream, forked by name. */
export function initialValues(spec: ParamSpec, rng: Rng): Float32Array {
  const out = new Float32Array(sizeOf(spec.shape));
  const init = spec.init;
  switch (init.kind) {
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'conv': {
      const bound = 1 / Math.sqrt(init.fanIn);
      return new BulkRandom(rng.fork(spec.name)).fillUniform(out, -bound, bound);
    }
    case 'xavier': {
      const bound = Math.sqrt(6 / (init.fanIn + init.fanOut));
      return new BulkRandom(rng.fork(spec.name)).fillUniform(out, -bound, bound);
    }
    case 'trunc':
      return new BulkRandom(rng.fork(spec.name)).fillTruncatedNormal(out, init.std);
  }
}

/** A created variable with its documented name. */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

let instances = 0;

/**
 * Create the variables. tfjs variable names are global, so each model's variables get a unique
 * prefix (`vit3/blocks/0/...`); the documented name (without it) is what checkpoints use.
 * `values(spec)` supplies initial values (e.g. from a checkpoint); otherwise they are drawn from `rng`.
 */
export function createVariables(
  specs: readonly ParamSpec[],
  source: { rng: Rng } | { values: (spec: ParamSpec) => tf.Tensor },
): NamedVariable[] {
  const prefix = `vit${instances++}`;
  const out: NamedVariable[] = [];
  try {
    for (const spec of specs) {
      const init =
        'rng' in source
          ? tf.tensor(initialValues(spec, source.rng), spec.shape, 'float32')
          : source.values(spec);
      // tf.variable copies the tensor's data, so the temporary can go.
      const variable = tf.variable(init, true, `${prefix}/${spec.name}`, 'float32');
      if ('rng' in source) init.dispose();
      out.push({ name: spec.name, variable });
    }
  } catch (e) {
    for (const v of out) v.variable.dispose();
    throw e;
  }
  return out;
}
