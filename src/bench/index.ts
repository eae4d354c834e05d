/** Benchmarks behind `fprl bench` (see src/commands/bench.ts). */
export { timeIt, machineLoad, type Timing, type TimingOptions } from './timing.js';
export {
  vitStepMatMuls,
  benchMatMulKernels,
  formatKernelReport,
  matMulFlops,
  type MatMulShape,
  type KernelRow,
  type KernelReport,
} from './kernels.js';
export { benchViT, pixelCrossEntropy, type ViTBenchOptions, type ViTBenchResult } from './vit.js';
export {
  runPeerBench,
  peerRatio,
  bestPeer,
  defaultPeerScript,
  hybridPeerScript,
  DEFAULT_PEER_SCRIPT,
  DEFAULT_PYTHON,
  type PeerResult,
  type PeerOutcome,
  type PeerOptions,
} from './peer.js';
export { formatViTBench } from './format.js';
export {
  benchReinforce,
  formatReinforceBench,
  type ReinforceBenchOptions,
  type ReinforceBenchResult,
  type ReinforcePhases,
} from './reinforce.js';
