/**
 * `fprl bench --agent reinforce`: where a REINFORCE step's time goes, next to a cross-entropy
 * step on the same batches. The REINFORCE step is what the trainer does: data (env.reset: render,
 * normalise), forward (softmax of the policy), sampling (k labellings per image, agents/sampling.ts;
 * on N threads each shard samples its own pixels, so the phase is the draws plus the main shard's part),
 * reward (env.step: every reward component with per-pixel credit), learn (advantages, REINFORCE
 * weights, the loss and the backward of the pass act() kept, Adam). The cross-entropy step is data +
 * learn of the supervised agent. The REINFORCE step is timed a second time with the agent running
 * the forward pass again in learn (`reuseSamplingPass = false`, the same numbers), so the kept
 * pass's saving is measured in the same run; the three steps take turns (see {@link benchReinforce}).
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
  /** The REINFORCE step when learn runs the forward pass again (no kept pass), same batches. */
  recomputeMsPerStep: number;
  /** That step over the cross-entropy step. */
  recomputeRatio: number;
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

/** A learner timed by the REINFORCE bench: its agent, env and pool (none on one thread). */
interface Timed {
  agent: PolicyAgent;
  env: FaceParsingEnv;
  pool?: DataParallel;
}

/**
 * Time REINFORCE (rloo, difference credit, Dice) with the kept pass, REINFORCE running the forward
 * again, and cross-entropy, on the same preset and batches. The three take turns step by step
 * (one of each per round), so a machine that gets slower or faster during the run (other tenants,
 * clocks) moves all three alike and their ratios stay fair.
 */
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

  const make = async (agentConfig: object, reuse?: boolean): Promise<Timed> => {
    const agent = buildAgent({
      config: agentConfig as never,
      policy: net(),
      streams: { agent: new Rng(seed, 'bench-agent') },
      training,
    }) as PolicyAgent;
    if (reuse !== undefined) (agent as ReinforceAgent).reuseSamplingPass = reuse;
    const env = await makeEnv(config.imageSize, opts.batch, seed);
    const pool = threads > 1 ? await DataParallel.create(agent.policy, threads) : undefined;
    agent.useParallel(pool);
    return { agent, env, pool };
  };
  const learners: Timed[] = [];
  const sum: ReinforcePhases = { data: 0, forward: 0, sampling: 0, reward: 0, learnJs: 0, learn: 0 };
  const again: ReinforcePhases = { ...sum };
  const ceSum = { data: 0, learn: 0 };

  /** One REINFORCE step (the trainer's: reset, act, step, learn), its phases added to `into` when timed. */
  const rlStep = async ({ agent, env }: Timed, s: number, into: ReinforcePhases | undefined): Promise<void> => {
    const rl = agent as ReinforceAgent;
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
    if (!into) return;
    // The split of act into forward and sampling, and of learn's JS part: each part timed again
    // on this step's data, and act's measured time split in the ratio of the two (timing one part
    // and subtracting it from act could go negative on a busy machine).
    const f0 = now();
    const probs = tf.tidy(() => tf.softmax(rl.policy.apply(observation.images, { training: false }).logits));
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
    into.learnJs += now() - v0;
    into.data += t1 - t0;
    into.sampling += sampling;
    into.forward += t2 - t1 - sampling;
    into.reward += t3 - t2;
    into.learn += t4 - t3;
  };

  try {
    const rlConfig = { kind: 'reinforce', baseline: 'rloo', credit: 'difference', samples: K };
    const kept = await make(rlConfig, true);
    learners.push(kept);
    const recompute = await make(rlConfig, false);
    learners.push(recompute);
    const ce = await make({ kind: 'supervised' });
    learners.push(ce);
    for (let s = 0; s < warmup + opts.steps; s++) {
      const timed = s >= warmup;
      if (timed && s === warmup)
        progress(
          `timing ${opts.steps} rounds on ${threads} thread(s): a REINFORCE step (k = ${K}) learning from the kept pass, one running the forward again, a cross-entropy step`,
        );
      await rlStep(kept, s, timed ? sum : undefined);
      await rlStep(recompute, s, timed ? again : undefined);
      const t0 = now();
      const { observation } = await ce.env.reset();
      const t1 = now();
      await ce.agent.learn({ observation, target: ce.env.optimalAction() });
      const t2 = now();
      if (!timed) continue;
      ceSum.data += t1 - t0;
      ceSum.learn += t2 - t1;
    }
  } finally {
    for (const l of learners) {
      l.agent.useParallel(undefined);
      await l.pool?.dispose();
      l.agent.dispose();
      l.env.close();
    }
  }

  const n = opts.steps;
  const phases = Object.fromEntries(
    Object.entries(sum).map(([k, v]) => [k, round(v / n, 2)]),
  ) as unknown as ReinforcePhases;
  const stepMs = (p: ReinforcePhases) => (p.data + p.forward + p.sampling + p.reward + p.learn) / n;
  const rlMs = stepMs(sum);
  const againMs = stepMs(again);
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
    recomputeMsPerStep: round(againMs, 1),
    recomputeRatio: round(againMs / ceMs),
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
    row('forward, kept for learn (softmax)', p.forward),
    row('sampling', p.sampling),
    row('reward (env.step, Dice + credit)', p.reward),
    row('learn (loss + bwd + Adam)', p.learn),
    row('  of which advantages + weights (JS)', p.learnJs),
    row('total', r.reinforceMsPerStep),
    `sampling + reward: ${(100 * r.samplingRewardShare).toFixed(1)}% of the step`,
    `cross-entropy step on the same batches: ${r.crossEntropyMsPerStep.toFixed(0)} ms (data ${r.crossEntropyPhases.data.toFixed(0)}, learn ${r.crossEntropyPhases.learn.toFixed(0)})`,
    `REINFORCE / cross-entropy: ${r.ratio.toFixed(2)}x`,
    `  with learn running the forward pass again (no kept pass): ${r.recomputeMsPerStep.toFixed(0)} ms, ${r.recomputeRatio.toFixed(2)}x`,
    `load average ${r.loadAverage1m} on ${r.cores} cores`,
  ].join('\n');
}
