/** Per-class scores of one evaluation (the shape `Scores.perClass` has in src/metrics). */
export interface ClassScore {
  precision: number;
  recall: number;
  f1: number;
  iou: number;
  support: number;
}

/** Where scores were counted: each label's own size, or the model's input size. */
export type Resolution = 'native' | 'model';

/**
 * What the runner hands the report for one agent x seed. Plain JSON, so the runner can keep
 * it in the run folder (result.json) and a resumed sweep can report finished runs.
 */
export interface RunResult {
  agent: string;
  seed: number;
  status: 'ok' | 'failed';
  /** Why a failed run failed (one line for the report). */
  error?: string;
  wallSeconds: number;
  /** Final evaluation (test split): absent when the run failed before it. */
  final?: {
    /** meanF1, mIoU, pixelAccuracy, meanDice, ... at `resolution`. */
    metrics: Record<string, number>;
    /** By class name. */
    perClass: Record<string, ClassScore>;
    /**
     * Where `metrics` were counted: 'native' at each label's own size (the LaPa protocol; for
     * synthetic faces that is the model's size), 'model' at the model's input size. Absent in
     * results written before it existed: those were at the model's size.
     */
    resolution?: Resolution;
    /** True when the logits were averaged with the mirrored image's (flip test-time augmentation). */
    flip?: boolean;
    /** True when -log(class weights) was added to the logits before the argmax (logit adjustment). */
    logitAdjusted?: boolean;
    /** The same predictions scored at the model's input size, when some label's own size differs from it. */
    modelSize?: {
      height: number;
      width: number;
      metrics: Record<string, number>;
      perClass: Record<string, ClassScore>;
    };
  };
  /** Evaluation points during training (learning curve), by step. */
  curve: { step: number; metrics: Record<string, number> }[];
  /** Training scalars by step (losses, rewards, entropy), namespaced like `losses/policy`. */
  train?: { step: number; scalars: Record<string, number> }[];
  /** Path to a ground truth | prediction | error grid PNG (absolute, or relative to the cwd). */
  picturesPng?: string;
}
