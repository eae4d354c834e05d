import { CLASS_NAMES } from '../../src/core/classes.js';
import type { RunResult } from '../../src/report/types.js';

/** Per-class scores where every class has F1 `f1` (and iou = f1 / (2 - f1)). */
export function perClass(f1: number, overrides: Record<string, number> = {}) {
  return Object.fromEntries(
    CLASS_NAMES.map((c) => {
      const f = overrides[c] ?? f1;
      return [c, { precision: f, recall: f, f1: f, iou: f / (2 - f), support: 100 }];
    }),
  );
}

/** A finished run whose curve climbs to `meanF1` in 3 evaluations. */
export function okRun(
  agent: string,
  seed: number,
  meanF1: number,
  mIoU: number,
  extra: Partial<RunResult> = {},
): RunResult {
  return {
    agent,
    seed,
    status: 'ok',
    wallSeconds: 10 + seed,
    final: {
      metrics: { meanF1, mIoU, pixelAccuracy: 0.9 },
      perClass: perClass(meanF1, { hair: meanF1 + 0.1 }),
    },
    curve: [10, 20, 30].map((step, i) => ({
      step,
      metrics: { meanF1: (meanF1 * (i + 1)) / 3, mIoU: (mIoU * (i + 1)) / 3 },
    })),
    train: Array.from({ length: 30 }, (_, i) => {
      const scalars: Record<string, number> =
        agent === 'reinforce'
          ? { 'rewards/mean': i / 30 + seed / 100, 'losses/policy': 1 - i / 30 }
          : { 'losses/ce': 2 - i / 20 };
      return { step: i + 1, scalars };
    }),
    ...extra,
  };
}

/** The sweep of the brief: 2 agents x 2 seeds, one run failed. */
export function tinySweep(): RunResult[] {
  return [
    okRun('ce', 1, 0.6, 0.5),
    okRun('ce', 0, 0.5, 0.4),
    okRun('reinforce', 0, 0.3, 0.2),
    {
      agent: 'reinforce',
      seed: 1,
      status: 'failed',
      error: 'reward plugin f1 returned NaN | at step 12',
      wallSeconds: 3,
      curve: [{ step: 10, metrics: { meanF1: 0.05, mIoU: 0.04 } }],
    },
  ];
}
