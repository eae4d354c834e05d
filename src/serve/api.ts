/**
 * What `fprl serve` sends the page (JSON): one definition for the server (src/serve/) and the page
 * (src/web/), so the two cannot drift. Types only, importing nothing but src/core: the page may
 * import this one file of the server's folder (.dependency-cruiser.cjs, web-stands-on-browser-floors).
 */
import type { RewardSpec } from '../core/types.js';

/** The data folder as the page sees it (part of `/api/run`). */
export interface DatasetInfo {
  kind: 'lapa' | 'celebamask';
  root: string;
  /** The size training resizes every sample to (the model's input size). */
  size: number;
  /** The splits found (train, val, test), with their number of image/label pairs. */
  splits: { split: string; count: number }[];
  /** Why no split can be offered (naming the folder), when none can. */
  error?: string;
}

/** One sample as `/api/data/<split>/<index>` sends it. */
export interface DatasetSample {
  split: string;
  index: number;
  id: string;
  height: number;
  width: number;
  /** URLs of the original files under /data/ (the label: none for per-part CelebAMask masks). */
  image: string;
  label?: string;
  /** RGB bytes [H,W,3], base64. */
  rgb: string;
  /** Class ids [H,W] (0..10, 255 = ignore), base64. */
  labels: string;
}

/** The run as the page sees it (`/api/run`). */
export interface RunInfo {
  /** The folder given to `fprl serve` (as given), or none. */
  dir?: string;
  /** Why there is no checkpoint to parse with: FprlError.describe(), naming the file. */
  error?: string;
  agent?: string;
  seed?: number;
  step?: number;
  /** URL folder of the policy's model.json + weights.bin (under /run/), and its path for messages. */
  policyUrl?: string;
  policyPath?: string;
  /** The served agent's reward components as the env takes them (name, plugin, weight, options). */
  rewards?: RewardSpec[];
  /** True when the agent configures no rewards and `rewards` is the env's default. */
  rewardsDefault?: boolean;
  /** The run's data folder, when its dataset is one (`lapa`, `celebamask`). */
  dataset?: DatasetInfo;
  /** The experiment's `rewardModules`, served bundled at /api/reward-module/<i>.js. */
  rewardModules: { file: string; url: string }[];
}
