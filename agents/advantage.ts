/**
 * Advantages for REINFORCE, in plain JS over typed arrays, so every baseline and credit
 * scheme is a small pure function that tests can check against hand-computed numbers.
 *
 * Layout: K samples per image, B images, P pixels per image, sample-major like the env:
 * image-level signals are [K*B] (index k*B + b), pixel-level signals [K*B*P] ((k*B + b)*P + p).
 */
import type { BaselineKind } from './config.js';
import { nativeAddon } from '../src/native/index.js';

export interface AdvantageInput {
  K: number;
  B: number;
  P: number;
  baseline: BaselineKind;
  /** The learning signal: image rewards [K*B] (credit `image`) or per-pixel credit [K*B*P]. */
  signal: Float32Array;
  /** `ema`: the moving average before this batch (undefined before the first batch: no baseline). */
  ema?: number;
  /** `self-critical`: the greedy labelling's signal, [B] or [B*P] matching `signal`. */
  greedy?: Float32Array;
  /** `critic`: predicted value per image [B] (stop-gradient: plain numbers). */
  value?: Float32Array;
  /** Pixels that count (1) and pixels whose truth is the ignore label (0), [B*P]; pixel signals only. */
  mask?: Uint8Array;
  /** Standardise over the batch (valid entries only). */
  normalize: boolean;
}

export interface Advantages {
  /** Same layout as the signal. */
  values: Float32Array;
  /** True when `values` is per pixel ([K*B*P]), false for per image ([K*B]). */
  perPixel: boolean;
  /** Mean and std of the signal and of the advantage before normalisation (valid entries). */
  signalMean: number;
  signalStd: number;
  advMean: number;
  advStd: number;
  /** Mean baseline subtracted. */
  baselineMean: number;
}

/** A = signal - baseline, per the chosen baseline; the baseline never depends on the sample it is subtracted from. */
export function computeAdvantages(inp: AdvantageInput): Advantages {
  const { K, B, P, baseline, signal } = inp;
  const perPixel = signal.length === K * B * P && signal.length !== K * B;
  const unit = perPixel ? P : 1; // entries per image per sample
  if (signal.length !== K * B * unit) {
    throw new Error(`advantage: signal has ${signal.length} entries, expected ${K * B} or ${K * B * P}`);
  }
  const adv = new Float32Array(signal.length);
  const base = new Float32Array(signal.length);
  // The native loops (src/native/bandit.cc) do the same arithmetic in the same order as the JS.
  const addon = nativeAddon();
  switch (baseline) {
    case 'none':
      break;
    case 'ema':
      if (inp.ema !== undefined) base.fill(inp.ema);
      break;
    case 'self-critical': {
      const g = inp.greedy;
      if (!g || g.length !== B * unit)
        throw new Error(`advantage: self-critical needs the greedy signal [${B * unit}]`);
      for (let k = 0; k < K; k++) base.set(g, k * B * unit);
      break;
    }
    case 'rloo': {
      if (K < 2) throw new Error('advantage: rloo needs at least 2 samples per image');
      const n = B * unit;
      if (addon) {
        addon.rlooBaseline(signal, K, n, base);
        break;
      }
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += signal[k * n + i];
        for (let k = 0; k < K; k++) base[k * n + i] = (sum - signal[k * n + i]) / (K - 1);
      }
      break;
    }
    case 'critic': {
      const v = inp.value;
      if (!v || v.length !== B) throw new Error(`advantage: critic needs a value per image [${B}]`);
      for (let k = 0; k < K; k++)
        for (let b = 0; b < B; b++) base.fill(v[b], (k * B + b) * unit, (k * B + b + 1) * unit);
      break;
    }
  }
  // One pass in index order (k-major), the mask looked up by position within the sample: no
  // per-entry closure or modulo (this runs over K*B*H*W entries every REINFORCE step).
  const n = B * unit;
  const mask = perPixel ? inp.mask : undefined;
  let count = 0;
  let sS = 0;
  let sS2 = 0;
  let sA = 0;
  let sA2 = 0;
  let sB = 0;
  if (addon) {
    const st = new Float64Array(6);
    addon.advantageStats(signal, base, K, n, mask ?? null, adv, st);
    [count, sS, sS2, sA, sA2, sB] = st;
  } else {
    for (let k = 0; k < K; k++) {
      const off = k * n;
      for (let j = 0; j < n; j++) {
        const i = off + j;
        if (mask && mask[j] !== 1) {
          adv[i] = 0;
          continue;
        }
        const x = signal[i];
        const b = base[i];
        adv[i] = x - b;
        const a = adv[i]; // the stored float32, as the statistics always used
        count++;
        sS += x;
        sS2 += x * x;
        sA += a;
        sA2 += a * a;
        sB += b;
      }
    }
  }
  const mean = (s: number) => (count ? s / count : 0);
  const std = (s: number, s2: number) => Math.sqrt(Math.max(0, mean(s2) - mean(s) ** 2));
  const out: Advantages = {
    values: adv,
    perPixel,
    signalMean: mean(sS),
    signalStd: std(sS, sS2),
    advMean: mean(sA),
    advStd: std(sA, sA2),
    baselineMean: mean(sB),
  };
  if (inp.normalize) {
    const scale = 1 / (out.advStd + 1e-8);
    if (addon) {
      addon.normalizeAdvantages(adv, K, n, mask ?? null, out.advMean, scale);
      return out;
    }
    for (let k = 0; k < K; k++) {
      const off = k * n;
      for (let j = 0; j < n; j++)
        if (!mask || mask[j] === 1) adv[off + j] = (adv[off + j] - out.advMean) * scale;
    }
  }
  return out;
}

/** Exponential moving average after a batch whose signal mean is `batchMean`; the first batch initialises it. */
export function updateEma(ema: number | undefined, batchMean: number, decay: number): number {
  return ema === undefined ? batchMean : decay * ema + (1 - decay) * batchMean;
}

/**
 * REINFORCE weights W [B*P*C] = (1/N) sum_k A_kp * onehot(a_kp), N = K*B*P, so that
 * `-sum(W * logSoftmax(logits))` is the policy loss `-(1/N) sum A log pi(a|x)`: k samples cost one
 * forward/backward pass, and no gather (which has no gradient kernel on wasm) is needed.
 * Pixels with mask 0 (ignore label: no reward depends on them) get no weight.
 */
export function policyWeights(
  actions: Int32Array,
  adv: Advantages,
  K: number,
  B: number,
  P: number,
  C: number,
  mask?: Uint8Array,
): Float32Array {
  const W = new Float32Array(B * P * C);
  const inv = 1 / (K * B * P);
  const addon = nativeAddon();
  if (addon) {
    addon.policyWeights(actions, adv.values, adv.perPixel, K, B, P, C, mask ?? null, inv, W);
    return W;
  }
  const n = B * P;
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < n; i++) {
      if (mask && mask[i] === 0) continue;
      const a = adv.perPixel ? adv.values[k * n + i] : adv.values[k * B + Math.floor(i / P)];
      W[i * C + actions[k * n + i]] += a * inv;
    }
  }
  return W;
}
