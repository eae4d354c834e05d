/**
 * `fprl bench --agent reinforce`: where a REINFORCE step's time goes, next to a cross-entropy
 * step on the same batches. The REINFORCE step is what the trainer does: data (env.reset: render,
 * normalise), forward (softmax of the policy), sampling (k labellings per image, agents/sampling.ts;
 * on N threads each shard samples its own pixels, so the phase is the draws plus the main shard's part),
 * reward (env.step: every reward component with per-pixel credit), learn (advantages, REINFORCE
 * weights, forward + backward, Adam). The cross-entropy step is data + learn of the supervised agent.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveModelPreset } from '../../agents/vit/presets.js';
import { buildPolicyNet } from '../../agents/nets/registry.js';
import type { PolicyAgent } from '../../agents/policy-agent.js';
import type { ReinforceAgent, RlExperience } from '../../agents/reinforce.js';
import { policyWeights } from '../../agents/advantage.js';
import { sampleFrom } from '../../agents/nets/sampling.js';
import type { FaceParsingEnv } from '../../envs/index.js';
import { buildAgent, buildEnv } from '../train/build.js';
import { EventBus } from '../core/bus.js';
import { Rng } from '../core/rng.js';
import { DataParallel, shardRanges, shardUniforms } from '../parallel/pool.js';
import { machineLoad, round } from './timing.js';

export interface ReinforceBenchOptions {
  preset: string;
  batch: number;
  /** Timed steps of each agent. */
  steps: number;
  /** Untimed steps first (JIT, heap growth, XNNPACK caches). Default 2. */
  warmup?: number;
  /** Labellings per image (k). Default 4. */
  samples?: number;
  /** Data-parallel threads (1: this thread only). Default 1. */
  threads?: number;
  seed?: number;
  onProgress?: (msg: string) => void;
}

/** Mean ms per step of each phase. */
export interface ReinforcePhases {
  data: number;
  forward: number;
  sampling: number;
  reward: number;
  /** Of which, before the gradients: advantages and the REINFORCE weights in JS. */
  learnJs: number;
  learn: number;
}

export interface ReinforceBenchResult {
  preset: string;
  batch: number;
  samples: number;
  threads: number;
  steps: number;
  reward: string;
  phases: ReinforcePhases;
  reinforceMsPerStep: number;
  crossEntropyMsPerStep: number;
  /** Cross-entropy step phases: data, learn. */
  crossEntropyPhases: { data: number; learn: number };
  /** REINFORCE step over cross-entropy step. */
  ratio: number;
  /** (sampling + reward) / REINFORCE step. */
  samplingRewardShare: number;
  loadAverage1m: number;
  cores: number;
}

function makeEnv(size: number, batch: number, seed: number): Promise<FaceParsingEnv> {
  return buildEnv('SyntheticFaces-v0', {
    size,
    // Enough distinct faces that no timed step repeats an image.
    count: 256,
    dataSeed: seed,
    batchSize: batch,
    rng: new Rng(seed, 'bench-env'),
    bus: new EventBus(),
    rewards: [{ name: 'dice', plugin: 'dice', weight: 1 }],
  });
}

async function withPool<T>(agent: PolicyAgent, threads: number, fn: () => Promise<T>): Promise<T> {
  if (threads <= 1) return fn();
  const pool = await DataParallel.create(agent.policy, threads);
  try {
    agent.useParallel(pool);
    return await fn();
  } finally {
    agent.useParallel(undefined);
    await pool.dispose();
  }
}

/** Time REINFORCE (rloo, difference credit, Dice) and cross-entropy steps of the same preset and batches. */
export async function benchReinforce(opts: ReinforceBenchOptions): Promise<ReinforceBenchResult> {
  const preset = resolveModelPreset(opts.preset);
  const config = { imageSize: preset.imageSize };
  const net = () =>
    buildPolicyNet({ kind: preset.kind, config: preset.config }, new Rng(seed, 'bench-model'));
  const K = opts.samples ?? 4;
  const seed = opts.seed ?? 0;
  const threads = opts.threads ?? 1;
  const warmup = opts.warmup ?? 2;
  const progress = opts.onProgress ?? (() => {});
  const training = { optimizer: { name: 'adam', lr: 1e-3 } } as never;
  const now = () => performance.now();

  const rl = buildAgent({
    config: { kind: 'reinforce', baseline: 'rloo', credit: 'difference', samples: K },
    policy: net(),
    streams: { agent: new Rng(seed, 'bench-agent') },
    training,
  }) as ReinforceAgent;
  const env = await makeEnv(config.imageSize, opts.batch, seed);
  const sum: ReinforcePhases = { data: 0, forward: 0, sampling: 0, reward: 0, learnJs: 0, learn: 0 };
  try {
    await withPool(rl, threads, async () => {
      for (let s = 0; s < warmup + opts.steps; s++) {
        const timed = s >= warmup;
        if (timed && s === warmup)
          progress(`timing ${opts.steps} REINFORCE steps (k = ${K}) on ${threads} thread(s)`);
        const t0 = now();
        const { observation } = await env.reset();
        const t1 = now();
        const action = await rl.act(observation, 'sample', K);
        const t2 = now();
        const result = await env.step(action.labels, { pixelCredit: 'difference' });
        const t3 = now();
        const exp: RlExperience = { observation, target: env.optimalAction(), action, result };
        await rl.learn(exp);
        const t4 = now();
        if (!timed) continue;
        // The split of act into forward and sampling, and of learn's JS part: each part timed again
        // on this step's data, and act's measured time split in the ratio of the two (timing one part
        // and subtracting it from act could go negative on a busy machine).
        const f0 = now();
        const probs = tf.tidy(() =>
          tf.softmax(rl.policy.apply(observation.images, { training: false }).logits),
        );
        const p = probs.dataSync() as Float32Array;
        probs.dispose();
        const forwardAgain = now() - f0;
        const [B, H, W] = observation.images.shape;
        // Sampling as act does it: all draws on the main thread, then (on N threads) each shard
        // samples its own pixels at once, so the wall time is the main shard's part.
        const u0 = now();
        const u = new Rng(s, 'bench-sampling').fill(new Float64Array(K * B * H * W));
        const own = shardRanges(B, threads)[0].count * H * W;
        const mine = threads > 1 ? shardUniforms(u, K, B * H * W, 0, own) : u;
        sampleFrom(p.subarray(0, own * rl.numClasses), rl.numClasses, K, mine);
        const samplingAgain = now() - u0;
        const sampling = ((t2 - t1) * samplingAgain) / (samplingAgain + forwardAgain);
        const v0 = now();
        const adv = rl.advantages(exp);
        policyWeights(action.labels, adv, K, B, H * W, rl.numClasses);
        sum.learnJs += now() - v0;
        sum.data += t1 - t0;
        sum.sampling += sampling;
        sum.forward += t2 - t1 - sampling;
        sum.reward += t3 - t2;
        sum.learn += t4 - t3;
      }
    });
  } finally {
    rl.dispose();
    env.close();
  }

  const ce = buildAgent({
    config: { kind: 'supervised' },
    policy: net(),
    streams: { agent: new Rng(seed, 'bench-agent') },
    training,
  }) as PolicyAgent;
  const ceEnv = await makeEnv(config.imageSize, opts.batch, seed);
  const ceSum = { data: 0, learn: 0 };
  try {
    await withPool(ce, threads, async () => {
      progress(`timing ${opts.steps} cross-entropy steps on the same batches`);
      for (let s = 0; s < warmup + opts.steps; s++) {
        const t0 = now();
        const { observation } = await ceEnv.reset();
        const t1 = now();
        await ce.learn({ observation, target: ceEnv.optimalAction() });
        const t2 = now();
        if (s < warmup) continue;
        ceSum.data += t1 - t0;
        ceSum.learn += t2 - t1;
      }
    });
  } finally {
    ce.dispose();
    ceEnv.close();
  }

  const n = opts.steps;
  const phases = Object.fromEntries(
    Object.entries(sum).map(([k, v]) => [k, round(v / n, 2)]),
  ) as unknown as ReinforcePhases;
  const rlMs = (sum.data + sum.forward + sum.sampling + sum.reward + sum.learn) / n;
  const ceMs = (ceSum.data + ceSum.learn) / n;
  return {
    preset: opts.preset,
    batch: opts.batch,
    samples: K,
    threads,
    steps: n,
    reward: 'dice, difference credit, rloo',
    phases,
    reinforceMsPerStep: round(rlMs, 1),
    crossEntropyMsPerStep: round(ceMs, 1),
    crossEntropyPhases: { data: round(ceSum.data / n, 1), learn: round(ceSum.learn / n, 1) },
    ratio: round(rlMs / ceMs),
    samplingRewardShare: round((sum.sampling + sum.reward) / n / rlMs, 3),
    ...machineLoad(),
  };
}

/** The breakdown as lines: ms and % of the step per phase, and the ratio to cross-entropy. */
export function formatReinforceBench(r: ReinforceBenchResult): string {
  const pct = (ms: number) => `${((100 * ms) / r.reinforceMsPerStep).toFixed(1)}%`;
  const row = (name: string, ms: number) =>
    `  ${name.padEnd(34)} ${ms.toFixed(0).padStart(7)} ms  ${pct(ms).padStart(6)}`;
  const p = r.phases;
  return [
    `REINFORCE step, ${r.preset} batch ${r.batch}, k = ${r.samples} (${r.reward}), ${r.threads} thread${r.threads === 1 ? '' : 's'}, ${r.steps} timed steps`,
    row('data (env.reset)', p.data),
    row('forward (softmax)', p.forward),
    row('sampling', p.sampling),
    row('reward (env.step, Dice + credit)', p.reward),
    row('learn (fwd + bwd + Adam)', p.learn),
    row('  of which advantages + weights (JS)', p.learnJs),
    row('total', r.reinforceMsPerStep),
    `sampling + reward: ${(100 * r.samplingRewardShare).toFixed(1)}% of the step`,
    `cross-entropy step on the same batches: ${r.crossEntropyMsPerStep.toFixed(0)} ms (data ${r.crossEntropyPhases.data.toFixed(0)}, learn ${r.crossEntropyPhases.learn.toFixed(0)})`,
    `REINFORCE / cross-entropy: ${r.ratio.toFixed(2)}x`,
    `load average ${r.loadAverage1m} on ${r.cores} cores`,
  ].join('\n');
}
