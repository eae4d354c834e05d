/**
 * `fprl bench --fused`: the fused element-wise kernels (src/native/fused.cc) against the tfjs ops
 * they replace, forward and backward, at the shapes of one training step of a ViT preset, in the
 * same process one after the other (an A/B of relative numbers; a loaded machine slows both).
 */
import * as tf from '@tensorflow/tfjs';
import type { ViTConfig } from '../../agents/vit/index.js';
import { numTokens } from '../../agents/vit/index.js';
import { dense, gelu, layerNorm, softmax } from '../../agents/vit/ops.js';
import { fusedPolicyTerms, policyTerms } from '../parallel/loss.js';
import { Rng } from '../core/rng.js';
import { setFusedKernels, fusedKernelsOn } from '../native/fused.js';
import { machineLoad, round, timeIt } from './timing.js';
import { buildPolicyNet } from '../../agents/nets/registry.js';
import { pixelCrossEntropy } from './vit.js';

export interface FusedRow {
  name: string;
  /** Shape of the op's main input. */
  shape: number[];
  /** Calls per training step. */
  perStep: number;
  /** Counted in the element-wise time of a (relu) step: not GELU (relu presets), not the dense layer (its matMuls). */
  elementWise: boolean;
  /** Median ms of forward + backward, tfjs ops. */
  opsMs: number;
  /** Median ms of forward + backward, the fused kernels (undefined: they cannot run here). */
  fusedMs?: number;
}

export interface FusedReport {
  rows: FusedRow[];
  /**
   * Forward + loss + backward of the whole network at this batch (no optimiser), ops and fused
   * alternating: median wall ms, and median CPU ms of this process (less sensitive to other load).
   */
  wholeStep: { opsMs: number; fusedMs?: number; opsCpuMs: number; fusedCpuMs?: number; runs: number };
  /** Per training step: the ops' ms and the fused kernels' ms (calls per step included). */
  stepOpsMs: number;
  stepFusedMs?: number;
  load: { loadAverage1m: number; cores: number };
}

interface Case {
  name: string;
  elementWise: boolean;
  shape: number[];
  perStep: number;
  /** Forward and backward once, from the given inputs. */
  run: (inputs: tf.Tensor[]) => void;
  inputs: (rng: Rng) => tf.Tensor[];
}

const normal = (shape: number[], rng: Rng, scale = 1) =>
  tf.tensor(
    Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => scale * rng.normal()),
    shape,
  );

/** The element-wise ops of one training step of `config` at `batch` images, with their counts. */
function cases(config: ViTConfig, batch: number): Case[] {
  const T = numTokens(config);
  const N = batch * T;
  const D = config.dim;
  const S = config.imageSize;
  const C = config.numClasses;
  // Forward, then backward from the given output gradient dy (no extra ops in the timed pass).
  const grads = (f: (...xs: tf.Tensor[]) => tf.Tensor) => (inputs: tf.Tensor[]) => {
    tf.tidy(() => {
      const [dy, ...xs] = inputs;
      tf.grads((...v: tf.Tensor[]) => f(...v))(xs, dy);
    });
  };
  return [
    {
      name: 'LayerNorm',
      elementWise: true,
      shape: [N, D],
      perStep: 2 * config.depth + 1,
      inputs: (rng) => [normal([N, D], rng), normal([N, D], rng, 2), normal([D], rng), normal([D], rng)],
      run: grads((x, g, b) => layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D)),
    },
    {
      name: 'ReLU dense fc1 (matMuls included)',
      elementWise: false,
      shape: [N, D, config.mlpDim],
      perStep: config.depth,
      inputs: (rng) => [
        normal([N, config.mlpDim], rng),
        normal([N, D], rng),
        normal([D, config.mlpDim], rng, 0.1),
        normal([config.mlpDim], rng, 0.1),
      ],
      run: grads((x, k, b) => dense(x as tf.Tensor2D, k as tf.Tensor2D, b as tf.Tensor1D, true)),
    },
    {
      name: 'GELU (mlpActivation gelu)',
      elementWise: false,
      shape: [N, config.mlpDim],
      perStep: config.depth,
      inputs: (rng) => [normal([N, config.mlpDim], rng), normal([N, config.mlpDim], rng, 2)],
      run: grads((x) => gelu(x)),
    },
    {
      name: 'attention softmax',
      elementWise: true,
      shape: [batch * config.heads, T, T],
      perStep: config.depth,
      inputs: (rng) => [
        normal([batch * config.heads, T, T], rng),
        normal([batch * config.heads, T, T], rng, 3),
      ],
      run: grads((x) => softmax(x)),
    },
    {
      name: 'log-softmax + loss (11 classes per pixel)',
      elementWise: true,
      shape: [batch, S, S, C],
      perStep: 1,
      inputs: (rng) => {
        const w = new Float32Array(batch * S * S * C);
        for (let p = 0; p < batch * S * S; p++) w[p * C + Math.floor(rng.uniform() * C)] = 1;
        return [normal([batch, S, S, C], rng, 2), tf.tensor4d(w, [batch, S, S, C])];
      },
      run: ([z, w]) => {
        tf.tidy(() => {
          const f = fusedKernelsOn() ? fusedPolicyTerms : policyTerms;
          tf.grad((t: tf.Tensor) => {
            const r = f(t as tf.Tensor4D, w as tf.Tensor4D, batch * S * S);
            return tf.sub(r.policyTerm, tf.mul(r.entropy, 0.01));
          })(z);
        });
      },
    },
  ];
}

/** Time every case with the fused kernels off and on (wasm with the addon; else off only). */
export async function benchFusedKernels(
  config: ViTConfig,
  batch: number,
  opts: { runs?: number; wholeRuns?: number; onRow?: (row: FusedRow) => void } = {},
): Promise<FusedReport> {
  const canFuse = fusedKernelsOn();
  const rng = new Rng(7);
  const rows: FusedRow[] = [];
  const timing = { warmup: 2, minRuns: opts.runs ?? 5 };
  for (const c of cases(config, batch)) {
    const inputs = c.inputs(rng);
    try {
      const time = async (on: boolean) => {
        const was = setFusedKernels(on);
        try {
          return (await timeIt(() => c.run(inputs), timing)).medianMs;
        } finally {
          setFusedKernels(was);
        }
      };
      const opsMs = await time(false);
      const fusedMs = canFuse ? await time(true) : undefined;
      const row: FusedRow = {
        name: c.name,
        shape: c.shape,
        perStep: c.perStep,
        elementWise: c.elementWise,
        opsMs: round(opsMs),
        ...(fusedMs !== undefined ? { fusedMs: round(fusedMs) } : {}),
      };
      rows.push(row);
      opts.onRow?.(row);
    } finally {
      tf.dispose(inputs);
    }
  }
  const wholeStep = await timeWholeStep(config, batch, canFuse, opts.wholeRuns ?? 3);
  const step = (pick: (r: FusedRow) => number | undefined) =>
    round(rows.filter((r) => r.elementWise).reduce((s, r) => s + (pick(r) ?? 0) * r.perStep, 0));
  return {
    rows,
    wholeStep,
    stepOpsMs: step((r) => r.opsMs),
    ...(canFuse ? { stepFusedMs: step((r) => r.fusedMs) } : {}),
    load: machineLoad(),
  };
}

/**
 * Median ms of the network's forward, cross-entropy and backward at `batch` random images, with the
 * fused kernels off and on in alternation (so both see the same load).
 */
async function timeWholeStep(
  config: ViTConfig,
  batch: number,
  canFuse: boolean,
  runs: number,
): Promise<FusedReport['wholeStep']> {
  const rng = new Rng(11);
  const model = buildPolicyNet({ kind: 'vit', config }, rng.fork('model'));
  const S = config.imageSize;
  const C = config.numClasses;
  const images = normal([batch, S, S, 3], rng);
  const onehot = new Float32Array(batch * S * S * C);
  for (let p = 0; p < batch * S * S; p++) onehot[p * C + Math.floor(rng.uniform() * C)] = 1;
  const targets = tf.tensor4d(onehot, [batch, S, S, C]);
  const step = () =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(
        () => pixelCrossEntropy(model.apply(images as tf.Tensor4D, { training: false }).logits, targets),
        model.trainableVariables,
      );
      return Object.values(grads)[0].dataSync()[0];
    });
  const times: Record<'ops' | 'fused', { wall: number[]; cpu: number[] }> = {
    ops: { wall: [], cpu: [] },
    fused: { wall: [], cpu: [] },
  };
  try {
    for (let i = 0; i < runs + 1; i++)
      for (const on of canFuse ? [false, true] : [false]) {
        const was = setFusedKernels(on);
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        try {
          step();
        } finally {
          setFusedKernels(was);
        }
        const c = process.cpuUsage(c0);
        if (i === 0) continue; // the first round warms up
        times[on ? 'fused' : 'ops'].wall.push(performance.now() - t0);
        times[on ? 'fused' : 'ops'].cpu.push((c.user + c.system) / 1000);
      }
  } finally {
    tf.dispose([images, targets]);
    model.dispose();
  }
  const median = (xs: number[]) => round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
  return {
    runs,
    opsMs: median(times.ops.wall),
    opsCpuMs: median(times.ops.cpu),
    ...(canFuse ? { fusedMs: median(times.fused.wall), fusedCpuMs: median(times.fused.cpu) } : {}),
  };
}

/** The report as a table. */
export function formatFusedReport(r: FusedReport, title: string): string {
  const lines = [
    title,
    `load average ${r.load.loadAverage1m} on ${r.load.cores} cores; median ms of forward + backward per call`,
    '',
    '| op | shape | per step | tfjs ops ms | fused ms | speed-up |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of r.rows) {
    const up = row.fusedMs ? `${round(row.opsMs / row.fusedMs, 1)}x` : '-';
    lines.push(
      `| ${row.name} | [${row.shape.join(',')}] | ${row.perStep} | ${row.opsMs} | ${row.fusedMs ?? 'n/a'} | ${up} |`,
    );
  }
  lines.push(
    '',
    `element-wise work of one training step (LayerNorms, attention softmaxes, the loss): tfjs ops ${r.stepOpsMs} ms` +
      (r.stepFusedMs !== undefined
        ? `, fused ${r.stepFusedMs} ms`
        : ' (fused kernels not available: wasm with the native addon only)'),
    `whole network, forward + cross-entropy + backward (median of ${r.wholeStep.runs} alternating runs): ` +
      `tfjs ops ${r.wholeStep.opsMs} ms wall, ${r.wholeStep.opsCpuMs} ms CPU` +
      (r.wholeStep.fusedMs !== undefined && r.wholeStep.fusedCpuMs !== undefined
        ? `; fused ${r.wholeStep.fusedMs} ms wall (${round(r.wholeStep.opsMs / r.wholeStep.fusedMs, 2)}x), ` +
          `${r.wholeStep.fusedCpuMs} ms CPU (${round(r.wholeStep.opsCpuMs / r.wholeStep.fusedCpuMs, 2)}x)`
        : ''),
  );
  return lines.join('\n');
}
