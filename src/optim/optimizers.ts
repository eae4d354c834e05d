/**
 * Optimisers over tf.Variables, written here (rather than tf.train.*) so that their state is
 * plain named tensors we save and load exactly: a resumed run takes the identical next step.
 * Weight decay touches only variables of rank >= 2 (matrices, embeddings), not biases or norms.
 */
import * as tf from '@tensorflow/tfjs';
import { FprlError } from '../core/errors.js';
import type { OptimizerConfig } from './config.js';
import { checkShapes } from './tensor-io.js';
import { fusedAdam } from '../wasm/adam-kernel.js';

/** Saved optimiser state: update count and slot tensors in variable order. */
export interface OptimizerState {
  iterations: number;
  /** Slot tensors, e.g. `m/<var>` and `v/<var>` per variable for Adam. */
  slots: { name: string; tensor: tf.Tensor }[];
}

export interface Optimizer {
  readonly config: OptimizerConfig;
  /** Updates applied so far. */
  readonly iterations: number;
  /** Names of the per-variable slots, e.g. ['m', 'v'] for Adam. */
  readonly slotNames: readonly string[];
  /** One update: `vars[i]` moves along `-grads[i]` at learning rate `lr`. Grads stay owned by the caller. */
  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void;
  /** State of `vars` (slots created as zeros if missing). Tensors stay owned by the optimiser. */
  getState(vars: readonly tf.Variable[]): OptimizerState;
  /** Restore state written by getState for the same variables; takes ownership of the tensors. */
  setState(vars: readonly tf.Variable[], state: OptimizerState, where?: string): void;
  dispose(): void;
}

abstract class SlotOptimizer implements Optimizer {
  iterations = 0;
  abstract readonly slotNames: readonly string[];
  protected readonly slots = new Map<tf.Variable, tf.Tensor[]>();

  constructor(readonly config: OptimizerConfig) {}

  protected slotsOf(v: tf.Variable): tf.Tensor[] {
    let s = this.slots.get(v);
    if (!s) {
      s = this.slotNames.map(() => tf.keep(tf.zerosLike(v)));
      this.slots.set(v, s);
    }
    return s;
  }

  /** Replace the slots of `v` (disposing the old ones). */
  protected setSlots(v: tf.Variable, next: tf.Tensor[]): void {
    const old = this.slots.get(v);
    this.slots.set(
      v,
      next.map((t) => tf.keep(t)),
    );
    old?.forEach((t) => t.dispose());
  }

  protected decays(v: tf.Variable): boolean {
    return this.config.weightDecay > 0 && v.rank >= 2;
  }

  abstract apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void;

  protected checkArgs(vars: readonly tf.Variable[], grads: readonly tf.Tensor[]): void {
    if (vars.length !== grads.length) {
      throw new Error(`optimizer: ${vars.length} variables but ${grads.length} gradients`);
    }
  }

  getState(vars: readonly tf.Variable[]): OptimizerState {
    const slots: OptimizerState['slots'] = [];
    for (const v of vars) {
      const s = this.slotsOf(v);
      this.slotNames.forEach((n, j) => slots.push({ name: `${n}/${v.name}`, tensor: s[j] }));
    }
    return { iterations: this.iterations, slots };
  }

  setState(vars: readonly tf.Variable[], state: OptimizerState, where = 'optimizer state'): void {
    const k = this.slotNames.length;
    if (state.slots.length !== vars.length * k) {
      throw new FprlError(
        `the checkpoint's optimiser has ${state.slots.length} slot tensors, ${this.config.name} needs ${vars.length * k} for this model`,
        {
          where,
          hint: 'resume with the same optimiser and model configuration as the run that wrote the checkpoint',
        },
      );
    }
    const specs = state.slots
      .filter((_, i) => i % k === 0)
      .map((s) => ({ name: s.name, shape: s.tensor.shape }));
    checkShapes(specs, vars as tf.Variable[], where, 'optimiser');
    vars.forEach((v, i) =>
      this.setSlots(
        v,
        state.slots.slice(i * k, i * k + k).map((s) => s.tensor),
      ),
    );
    this.iterations = state.iterations;
  }

  dispose(): void {
    for (const s of this.slots.values()) s.forEach((t) => t.dispose());
    this.slots.clear();
  }
}

/** Adam (Kingma & Ba) with bias correction; `adam` adds L2 decay to the gradient, `adamw` decouples it. */
export class Adam extends SlotOptimizer {
  readonly slotNames = ['m', 'v'] as const;

  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void {
    this.checkArgs(vars, grads);
    this.iterations++;
    const [b1, b2] = this.config.betas;
    const { eps, weightDecay: wd } = this.config;
    const bc1 = 1 - b1 ** this.iterations;
    const bc2 = 1 - b2 ** this.iterations;
    const decoupled = this.config.name === 'adamw';
    vars.forEach((w, i) => {
      const [m0, v0] = this.slotsOf(w);
      // On wasm with the native addon: the same float32 ops in one fused pass (src/wasm/adam-kernel.ts).
      const decays = this.decays(w);
      const fused = fusedAdam(
        { w, g: grads[i], m: m0, v: v0 },
        { b1, b2, bc1, bc2, eps, lr, wd, l2: decays && !decoupled, decoupled: decays && decoupled },
      );
      if (fused) {
        const [wNext, m, v] = fused;
        w.assign(wNext);
        wNext.dispose();
        this.setSlots(w, [m, v]);
        return;
      }
      const next = tf.tidy(() => {
        let g = grads[i];
        if (this.decays(w) && !decoupled) g = g.add(w.mul(wd));
        const m = m0.mul(b1).add(g.mul(1 - b1));
        const v = v0.mul(b2).add(g.square().mul(1 - b2));
        let step = m.div(bc1).div(v.div(bc2).sqrt().add(eps));
        if (this.decays(w) && decoupled) step = step.add(w.mul(wd));
        w.assign(w.sub(step.mul(lr)));
        return [m, v];
      });
      this.setSlots(w, next);
    });
  }
}

/** SGD with (optionally Nesterov) momentum, PyTorch's convention: buf = mu * buf + g. */
export class Sgd extends SlotOptimizer {
  get slotNames(): readonly string[] {
    return this.config.momentum > 0 ? ['momentum'] : [];
  }

  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void {
    this.checkArgs(vars, grads);
    this.iterations++;
    const { momentum: mu, weightDecay: wd, nesterov } = this.config;
    vars.forEach((w, i) => {
      const next = tf.tidy(() => {
        let g = grads[i];
        if (this.decays(w)) g = g.add(w.mul(wd));
        if (mu === 0) {
          w.assign(w.sub(g.mul(lr)));
          return [];
        }
        const buf = this.slotsOf(w)[0].mul(mu).add(g);
        const step = nesterov ? g.add(buf.mul(mu)) : buf;
        w.assign(w.sub(step.mul(lr)));
        return [buf];
      });
      if (next.length) this.setSlots(w, next);
    });
  }
}

export function createOptimizer(config: OptimizerConfig): Optimizer {
  return config.name === 'sgd' ? new Sgd(config) : new Adam(config);
}
