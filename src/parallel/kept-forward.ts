/**
 * A forward pass whose tape is kept, so that its backward pass can run later with a cotangent
 * that was not known when it ran. REINFORCE needs exactly that: it samples from the logits, the
 * env scores the samples (asynchronously, through the reward plugins), and only then are the
 * advantages, hence d loss / d logits, known. Without this the learning step repeats the forward
 * pass it sampled from (dropout is off in both, so it is the same pass, op for op).
 *
 * Written by hand because tfjs only differentiates inside `engine.gradients(f)`, which runs the
 * backward synchronously right after `f`, and its tape helpers (tfjs-core `tape.ts`) are not part
 * of the public bundle. This file uses the engine's tape the way `engine.gradients` does:
 * `startTape`/`endTape` around the forward (kernels then save what their gradients need, kept
 * until the backward disposes them), then the same pruning of the tape to the nodes from the
 * variables to the outputs and the same backward walk, in the same order, with the same
 * accumulation (`add` of each new contribution to the one before). So the gradients are bit for
 * bit those of differentiating forward and loss in one `tf.variableGrads` call: the loss's
 * gradient with respect to the outputs (computed by `engine.gradients` on the loss alone) is
 * what that call's walk reaches the outputs with, and the walk through the forward is the same.
 */
import * as tf from '@tensorflow/tfjs';
import { recordingGradients } from '../native/fused.js';

/** A tfjs tape node (tfjs-core `tape.ts` `TapeNode`). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

/** The engine's tape state and switches that `engine.gradients` uses (private in its typings). */
interface TapeEngine {
  state: { activeTape: TapeNode[] | null; kernelDepth: number };
  startTape(): void;
  endTape(): void;
}

const tapeEngine = (): TapeEngine => tf.engine() as unknown as TapeEngine;

/** Whether a tape can be recorded now: not inside another gradient computation (its tape would mix with ours). */
export function canKeepForward(): boolean {
  return !recordingGradients();
}

export class KeptForward<T extends tf.Tensor[]> {
  private tape: TapeNode[] | undefined;

  private constructor(
    /** The forward's outputs, kept (the caller must not dispose them; {@link dispose} does). */
    readonly outputs: T,
    tape: TapeNode[],
    private readonly watched: tf.Variable[],
    private readonly dataIds: object[],
  ) {
    this.tape = tape;
  }

  /**
   * Run `f` recording its tape (see {@link canKeepForward}); its outputs stay alive, and so do
   * the tensors its kernels saved for their gradients, until {@link backward} or {@link dispose}.
   * `watch`: the variables `f` reads; {@link current} tells whether any was assigned since.
   */
  static record<T extends tf.Tensor[]>(f: () => T, watch: tf.Variable[] = []): KeptForward<T> {
    if (!canKeepForward()) throw new Error('KeptForward.record: already inside a gradient computation');
    const engine = tapeEngine();
    let outputs: T;
    engine.startTape();
    try {
      outputs = tf.tidy(f);
      outputs.forEach((t) => tf.keep(t));
    } catch (e) {
      disposeSaved(engine.state.activeTape ?? []);
      throw e;
    } finally {
      engine.endTape();
    }
    const tape = engine.state.activeTape ?? [];
    // As engine.gradients does once its walk is done: the next tape starts empty.
    engine.state.activeTape = null;
    return new KeptForward(outputs, tape, watch, watch.map((v) => v.dataId));
  }

  /**
   * Whether the pass is still that of the watched variables' values: not used yet, and none of
   * them assigned since it ran (`Variable.assign` gives a variable new data, so a changed data
   * id means new values; callers that update weights in place must track that themselves).
   */
  get current(): boolean {
    return this.tape !== undefined && this.watched.every((v, i) => v.dataId === this.dataIds[i]);
  }

  /**
   * Gradients of `xs` given the gradients `dys` of the outputs (null: an output the loss does not
   * use), in `xs` order (null where an x does not lead to a used output). Frees the tape: a kept
   * forward is differentiated once. The caller disposes the gradients; `dys` stay the caller's.
   */
  backward(dys: (tf.Tensor | null)[], xs: tf.Tensor[]): (tf.Tensor | null)[] {
    const tape = this.tape;
    if (!tape) throw new Error('KeptForward.backward: the tape was already used or disposed');
    if (dys.length !== this.outputs.length) {
      throw new Error(`KeptForward.backward: ${dys.length} output gradients for ${this.outputs.length} outputs`);
    }
    this.tape = undefined;
    try {
      const ys = this.outputs.filter((_, i) => dys[i] !== null);
      const filtered = filterTape(tape, xs, ys);
      let grads: (tf.Tensor | null)[] = [];
      tf.tidy(() => {
        const acc = new Map<number, tf.Tensor>();
        // Clones, so that the walk may dispose the running sums without touching the caller's dys.
        this.outputs.forEach((y, i) => {
          if (dys[i]) acc.set(y.id, tf.clone(dys[i]!));
        });
        backprop(acc, filtered);
        grads = xs.map((x) => {
          const g = acc.get(x.id);
          return g ? tf.keep(g) : null;
        });
      });
      return grads;
    } finally {
      disposeSaved(tape);
      tf.dispose(this.outputs);
    }
  }

  /** Free the tape and the outputs without differentiating (idempotent). */
  dispose(): void {
    if (!this.tape) return;
    disposeSaved(this.tape);
    this.tape = undefined;
    tf.dispose(this.outputs);
  }
}

function disposeSaved(tape: TapeNode[]): void {
  for (const node of tape) for (const t of node.saved ?? []) t.dispose();
}

/**
 * The nodes on a path from `xs` to any of `ys`, in tape order, with the inputs that do not
 * depend on `xs` pruned: tfjs-core `getFilteredNodesXToY` with several outputs.
 */
function filterTape(tape: TapeNode[], xs: tf.Tensor[], ys: tf.Tensor[]): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name].id)) {
        node.outputs.forEach((o) => fromX.add(o.id));
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const toY = new Set<number>(ys.map((y) => y.id));
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const name in node.inputs) toY.add(node.inputs[name].id);
      nodesToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const name in node.inputs) if (fromX.has(node.inputs[name].id)) inputs[name] = node.inputs[name];
    out.push({ ...node, inputs });
  }
  return out;
}

/** tfjs-core `backpropagateGradients`: walk the tape backwards, accumulating each input's gradient in order. */
function backprop(acc: Map<number, tf.Tensor>, tape: TapeNode[]): void {
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
    if (!node.gradient) throw new Error(`KeptForward: no gradient for ${node.kernelName}`);
    const grads = node.gradient(dys);
    for (const name in node.inputs) {
      if (!(name in grads)) throw new Error(`KeptForward: ${node.kernelName} has no gradient for input ${name}`);
      const dx = tf.tidy(() => grads[name]());
      const x = node.inputs[name];
      const cur = acc.get(x.id);
      if (cur === undefined) acc.set(x.id, dx);
      else {
        acc.set(x.id, tf.add(cur, dx));
        cur.dispose();
      }
    }
  }
}
