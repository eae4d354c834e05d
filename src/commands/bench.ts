/**
 * `fprl bench`: speed of the Face Transformer (`--preset NAME --batch N --steps N`), optionally
 * next to the PyTorch reference (`--compare-peer`), or of the wasm matMul kernels (`--kernels`).
 * `--no-native` measures without the native AVX2 matMul (src/native/), `--no-fused` without the
 * fused element-wise kernels; `--fused-kernels` times those kernels against the tfjs ops they replace.
 * The measuring lives in src/bench/; this file parses flags and prints.
 */
import type { Command } from 'commander';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { describeBackend, initBackend } from '../backend/backend.js';
import { FprlError } from '../core/errors.js';
import {
  benchMatMulKernels,
  benchViT,
  formatKernelReport,
  formatViTBench,
  peerRatio,
  bestPeer,
  runPeerBench,
  vitStepMatMuls,
  type KernelReport,
  type PeerOutcome,
  type ViTBenchResult,
} from '../bench/index.js';
import { MODEL_PRESET_NAMES, isHybridPreset, resolveViTConfig } from '../../agents/vit/index.js';
import { benchReinforce, formatReinforceBench, type ReinforceBenchResult } from '../bench/reinforce.js';
import { setFastWasmKernels } from '../wasm/kernels.js';
import { requestWasmThreads } from '../wasm/threads.js';
import { NATIVE_ENV_VAR } from '../native/index.js';
import { FUSED_ENV_VAR } from '../native/fused.js';
import { benchFusedKernels, formatFusedReport, type FusedReport } from '../bench/fused.js';
import { copiesCount, formatCopies, runCopies, type CopiesResult } from '../bench/copies.js';
import { cpuPeak } from '../bench/peak.js';
import { cpuTicks, stealPercent } from '../bench/timing.js';
import type { ThreadDefault } from '../bench/format.js';
import { describeFreeCores, sampleFreeCores, threadsForFree } from '../parallel/cores.js';

export interface BenchCommandOptions {
  preset?: string;
  batch?: number;
  steps?: number;
  warmup?: number;
  seed?: number;
  /** Benchmark the matMul kernels instead of the model. */
  kernels?: boolean;
  /** Benchmark the fused element-wise kernels against the tfjs ops instead of the model. */
  fusedKernels?: boolean;
  /** Turn this project's wasm kernels off (the stock tfjs-backend-wasm numbers). */
  stockKernels?: boolean;
  comparePeer?: boolean;
  /** Path of the reference script (implies --compare-peer). */
  peer?: string;
  /** Threads for the reference (default: its own default, 2). */
  peerThreads?: number;
  python?: string;
  /** Data-parallel threads to time besides one thread (default: the cores; 1: single only). */
  threads?: number;
  /** `reinforce`: the REINFORCE step breakdown next to a cross-entropy step (default: the model step). */
  agent?: string;
  /** Labellings per image for --agent reinforce (default 4). */
  samples?: number;
  /** Busy processes (one core each) kept running while the model is timed: a shared machine. */
  compete?: number;
  /** Training steps of the default, adaptive pool to time (default 24 with --compete, else 0). */
  adaptSteps?: number;
  /** Measure ours and the reference this many times in turn and report the medians (default 1). */
  repeat?: number;
  /** Also time this many one-thread copies side by side (separate processes): the machine's ceiling. */
  copies?: number;
  /** The backend the copies ask for (`--backend`); this process's is initialised by the caller. */
  backend?: string;
  /** `--wasm-threads`: threads inside the wasm backend (the copies refuse more than one). */
  wasmThreads?: number;
  /** How a copy runs `fprl` (default: this process's node, flags and script; tests pass the CLI). */
  copiesCommand?: { file: string; args: string[] };
}

export type BenchOutput =
  | { kind: 'kernels'; report: KernelReport; text: string }
  | { kind: 'fused'; report: FusedReport; text: string }
  | { kind: 'reinforce'; result: ReinforceBenchResult; text: string }
  | {
      kind: 'model';
      result: ViTBenchResult;
      /** The first reference run (of `peers`). */
      peer?: PeerOutcome;
      /** The reference at each thread count run (1 and 2 unless --peer-threads). */
      peers?: PeerOutcome[];
      json: object;
      text: string;
    };

/** Run what the flags ask for (the backend must be initialised) and return it with its text. */
export async function benchCommand(
  o: BenchCommandOptions,
  progress: (msg: string) => void = () => {},
): Promise<BenchOutput> {
  const preset = o.preset ?? 'ti16-256';
  const batch = o.batch ?? 8;
  if (o.copies !== undefined && (o.kernels || o.fusedKernels || o.agent !== undefined)) {
    throw new FprlError('--copies times the model benchmark, not --kernels, --fused-kernels or --agent', {
      where: '--copies',
      hint: 'drop --copies, or time the model step (fprl bench --preset NAME --copies 2)',
    });
  }
  // Refused before anything is timed: the copies run after this process's own measurement.
  if (o.copies !== undefined) copiesCount(o.copies);
  if (o.copies !== undefined && (o.wasmThreads ?? 1) > 1) {
    throw new FprlError(`--copies runs one-thread copies, but --wasm-threads asks for ${o.wasmThreads}`, {
      where: '--copies',
      hint: 'drop --wasm-threads to measure the ceiling of one-thread copies',
    });
  }
  if (o.kernels || o.fusedKernels) {
    if (isHybridPreset(preset)) {
      throw new FprlError(
        `--kernels and --fused-kernels list the kernels of a ViT step; '${preset}' is a hybrid (convolutions)`,
        {
          where: '--preset',
          hint: 'use a ViT preset (seed, ti16-256, tiny-64) with --kernels or --fused-kernels, or time the hybrid without them',
        },
      );
    }
    const config = resolveViTConfig(preset);
    if (o.fusedKernels) {
      const report = await benchFusedKernels(config, batch, {
        wholeRuns: o.steps ?? 3,
        onRow: (r) => progress(`${r.name}: tfjs ops ${r.opsMs} ms, fused ${r.fusedMs ?? 'n/a'} ms`),
      });
      const text = formatFusedReport(
        report,
        `fused element-wise kernels vs tfjs ops, ${preset} at batch ${batch} (wasm, 1 thread)`,
      );
      return { kind: 'fused', report, text };
    }
    const report = await benchMatMulKernels(vitStepMatMuls(config, batch), {
      onRow: (r) =>
        progress(
          `${r.name}: stock ${r.stockGflops}, XNNPACK ${r.fastGflops}` +
            `${r.nativeGflops !== undefined ? `, native ${r.nativeGflops}` : ''} GFLOP/s`,
        ),
    });
    const text = formatKernelReport(
      report,
      `matMul shapes of one ${preset} training step at batch ${batch} (wasm, 1 thread)`,
    );
    return { kind: 'kernels', report, text };
  }
  const steps = o.steps ?? 5;
  if (o.agent !== undefined) {
    if (o.agent !== 'reinforce') {
      throw new FprlError(`unknown --agent '${o.agent}'`, {
        where: '--agent',
        hint: 'reinforce (the step breakdown next to cross-entropy); without --agent the model step is timed',
      });
    }
    const result = await benchReinforce({
      preset,
      batch,
      steps,
      warmup: o.warmup,
      samples: o.samples,
      threads: o.threads ?? 1,
      seed: o.seed,
      onProgress: progress,
    });
    return { kind: 'reinforce', result, text: formatReinforceBench(result) };
  }
  // The thread count `fprl run` would default to now (free cores), shown next to the timings;
  // with --compete, busy processes hold cores for the whole measurement (a shared machine).
  const competitors = startCompetitors(o.compete ?? 0);
  try {
    const free = await sampleFreeCores();
    const defaultThreads = threadsForFree(free.free, 1, free.cores);
    progress(`default threads now: ${describeFreeCores(free, defaultThreads)}`);
    const choice: ThreadDefault = {
      threads: defaultThreads,
      ...free,
      competitors: competitors.length,
      line: describeFreeCores(free, defaultThreads),
    };
    const peak = cpuPeak();
    const repeat = o.repeat ?? 1;
    const rounds: Round[] = [];
    for (let i = 0; i < repeat; i++) {
      if (repeat > 1) progress(`round ${i + 1} of ${repeat}`);
      rounds.push(await benchRound(o, preset, batch, steps, defaultThreads, progress));
    }
    // The last round is printed in full; with --repeat, the ratios of every round and their median.
    const { result, peers, copies } = rounds[rounds.length - 1];
    let json: object = {
      ...result,
      kernels: o.stockKernels ? 'stock' : 'fast',
      defaultThreads: choice,
      peak,
      ...(copies ? { copies } : {}),
    };
    if (peers) {
      const ok = peers.flatMap((p) => (p.ok ? [p.result] : []));
      const best = bestPeer(ok);
      json = best
        ? {
            ...json,
            peer: best.train,
            peers: ok,
            ratio: { train: peerRatio(result, best.train).train, infer: peerRatio(result, best.infer).infer },
            ratios: Object.fromEntries(ok.map((p) => [String(p.threads), peerRatio(result, p)])),
          }
        : { ...json, peer: { unavailable: peers.map((p) => (p.ok ? '' : p.reason)).join('; ') } };
    }
    const summary = repeat > 1 ? summariseRounds(rounds) : undefined;
    if (summary) json = { ...json, rounds: summary };
    let text = formatViTBench(result, peers, { choice, peak });
    if (copies) text += `\n${formatCopiesOf(result, copies)}`;
    return {
      kind: 'model',
      result,
      peer: peers?.[0],
      peers,
      json,
      text: summary ? `${text}\n${formatRounds(summary)}` : text,
    };
  } finally {
    stopCompetitors(competitors);
  }
}

/** One measurement of ours (1 thread and the pool) and, with --compare-peer, of the reference. */
interface Round {
  result: ViTBenchResult;
  peers?: PeerOutcome[];
  /** `--copies N`: N one-thread copies side by side, measured right after ours. */
  copies?: CopiesResult;
}

function formatCopiesOf(result: ViTBenchResult, copies: CopiesResult): string {
  const alone = { train: result.trainImagesPerSecond, infer: result.inferImagesPerSecond };
  const p = result.parallel;
  const pool = p
    ? { threads: p.threads, train: p.trainImagesPerSecond, infer: p.inferImagesPerSecond }
    : undefined;
  return formatCopies(copies, alone, pool);
}

async function benchRound(
  o: BenchCommandOptions,
  preset: string,
  batch: number,
  steps: number,
  defaultThreads: number,
  progress: (msg: string) => void,
): Promise<Round> {
  const was = setFastWasmKernels(!o.stockKernels);
  let result: ViTBenchResult;
  try {
    result = await benchViT({
      preset,
      batch,
      steps,
      warmup: o.warmup,
      seed: o.seed,
      threads: o.threads ?? os.availableParallelism(),
      adaptSteps: o.adaptSteps ?? (o.compete ? 24 : 0),
      adaptStart: defaultThreads,
      onProgress: progress,
    });
  } finally {
    setFastWasmKernels(was);
  }
  let copies: CopiesResult | undefined;
  if (o.copies !== undefined) {
    progress(`timing ${o.copies} one-thread copies side by side`);
    copies = await runCopies({
      copies: o.copies,
      preset,
      batch,
      steps,
      warmup: o.warmup,
      seed: o.seed,
      backend: o.backend,
      stockKernels: o.stockKernels,
      command: o.copiesCommand,
    });
  }
  if (!o.comparePeer && !o.peer) return { result, copies };
  // PyTorch at 1 and at 2 threads (or the one count asked for), compared with its best.
  const counts = o.peerThreads !== undefined ? [o.peerThreads] : [1, 2];
  const peers: PeerOutcome[] = [];
  for (const threads of counts) {
    progress(`running the PyTorch reference on ${threads} thread${threads === 1 ? '' : 's'}`);
    const before = cpuTicks();
    const outcome = await runPeerBench({ preset, batch, steps, threads, script: o.peer, python: o.python });
    const steal = stealPercent(before, cpuTicks());
    if (outcome.ok && steal !== undefined) outcome.result.stealPercent = steal;
    peers.push(outcome);
  }
  return { result, peers, copies };
}

/** Per-round figures of `fprl bench --repeat N` and their medians. */
export interface RoundsSummary {
  /** Ours (the pool when timed, else one thread): training and inference images/s per round. */
  train: number[];
  infer: number[];
  /** Ours over the reference's best per round (absent without --compare-peer or a reference). */
  trainRatio?: number[];
  inferRatio?: number[];
  /** Highest steal share (percent) seen in each round. */
  steal: (number | undefined)[];
  /** The pool's training speed-up over one thread per round (absent when no pool was timed). */
  speedup?: number[];
  /** `--copies`: the copies' summed training images/s per round, and the pool's share of it. */
  copiesTrain?: number[];
  poolOverCopies?: number[];
  median: { train: number; infer: number; trainRatio?: number; inferRatio?: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function summariseRounds(rounds: Round[]): RoundsSummary {
  const ours = rounds.map((r) => r.result.parallel ?? r.result);
  const bests = rounds.map((r) => bestPeer((r.peers ?? []).flatMap((p) => (p.ok ? [p.result] : []))));
  const withPeer = bests.every((b) => b !== undefined);
  const train = ours.map((x) => x.trainImagesPerSecond);
  const infer = ours.map((x) => x.inferImagesPerSecond);
  const trainRatio = withPeer ? rounds.map((r, i) => peerRatio(r.result, bests[i]!.train).train) : undefined;
  const inferRatio = withPeer ? rounds.map((r, i) => peerRatio(r.result, bests[i]!.infer).infer) : undefined;
  const steal = rounds.map((r) => {
    const xs = [
      r.result.trainStealPercent,
      r.result.parallel?.trainStealPercent,
      ...(r.peers ?? []).map((p) => (p.ok ? p.result.stealPercent : undefined)),
    ].filter((x): x is number => x !== undefined);
    return xs.length ? Math.max(...xs) : undefined;
  });
  const round2 = (x: number) => Math.round(x * 100) / 100;
  const withCopies = rounds.every((r) => r.copies !== undefined);
  const withPool = rounds.every((r) => r.result.parallel !== undefined);
  return {
    train,
    infer,
    ...(withPool ? { speedup: rounds.map((r) => r.result.parallel!.trainSpeedup) } : {}),
    ...(withCopies
      ? {
          copiesTrain: rounds.map((r) => r.copies!.train),
          poolOverCopies: rounds.map((r, i) => round2(train[i] / r.copies!.train)),
        }
      : {}),
    ...(trainRatio ? { trainRatio, inferRatio } : {}),
    steal,
    median: {
      train: round2(median(train)),
      infer: round2(median(infer)),
      ...(trainRatio
        ? { trainRatio: round2(median(trainRatio)), inferRatio: round2(median(inferRatio!)) }
        : {}),
    },
  };
}

export function formatRounds(s: RoundsSummary): string {
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
  const lines = [
    `rounds ${s.train.length} (ours, then the reference, in turn): ours train ${list(s.train)} img/s, median ${s.median.train.toFixed(2)}; ` +
      `infer ${list(s.infer)}, median ${s.median.infer.toFixed(2)}`,
  ];
  if (s.trainRatio && s.inferRatio)
    lines.push(
      `rounds ratio to the reference's best per round: train median ${s.median.trainRatio!.toFixed(2)}x (${range(s.trainRatio)}: ${list(s.trainRatio)}), ` +
        `infer median ${s.median.inferRatio!.toFixed(2)}x (${range(s.inferRatio)})`,
    );
  if (s.speedup) lines.push(`rounds training speed-up of the pool over one thread: ${list(s.speedup)}`);
  if (s.copiesTrain && s.poolOverCopies)
    lines.push(
      `rounds one-thread copies side by side, summed: train ${list(s.copiesTrain)} img/s; ours over that sum ${list(s.poolOverCopies)}`,
    );
  lines.push(
    `rounds highest steal per round: ${s.steal.map((x) => (x === undefined ? 'n/a' : `${x.toFixed(1)}%`)).join(', ')}`,
  );
  return lines.join('\n');
}

/** `n` child processes that spin on a core each until stopped (`fprl bench --compete n`). */
function startCompetitors(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

function stopCompetitors(children: ChildProcess[]): void {
  for (const c of children) c.kill('SIGKILL');
}

const positive = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new FprlError(`${flag} must be a positive integer, got '${v}'`, { where: flag });
  return n;
};

export function register(program: Command): void {
  program
    .command('bench')
    .description('training and inference speed of the Face Transformer, or of the wasm matMul kernels')
    .option('--preset <name>', `model preset: ${MODEL_PRESET_NAMES.join(', ')}`, 'ti16-256')
    .option('--batch <n>', 'images per step', positive('--batch'), 8)
    .option('--steps <n>', 'timed training steps and inference batches', positive('--steps'), 5)
    .option('--warmup <n>', 'untimed steps first', positive('--warmup'), 2)
    .option('--seed <n>', 'seed of weights and data', positive('--seed'))
    .option('--kernels', 'GFLOP/s of the matMuls of one training step, stock vs fast wasm kernels')
    .option(
      '--fused-kernels',
      'ms of the fused element-wise kernels (LayerNorm, GELU, softmax, the loss) vs the tfjs ops, forward + backward',
    )
    .option('--stock-kernels', "measure with this project's wasm kernels turned off")
    .option('--no-native', 'measure without the native AVX2 matMul (XNNPACK only; as FPRL_NATIVE=0)')
    .option('--no-fused', 'measure without the fused element-wise kernels (the tfjs ops; as FPRL_FUSED=0)')
    .option('--compare-peer', 'also run the PyTorch reference and print the ratio')
    .option(
      '--peer <path>',
      'reference script (default ../shared/peer/torch_vit_bench.py; src/bench/torch_hybrid_bench.py for hybrid presets)',
    )
    .option(
      '--peer-threads <n>',
      'threads for the reference (default: 1 and 2, compared with its best)',
      positive('--peer-threads'),
    )
    .option(
      '--compete <n>',
      'keep n busy processes running while timing (a shared machine); shows the default thread choice under load',
      (v: string) => (v === '0' ? 0 : positive('--compete')(v)),
    )
    .option(
      '--adapt-steps <n>',
      "also time n training steps of fprl run's default pool, which adapts its threads to the measured speed (default 24 with --compete)",
      (v: string) => (v === '0' ? 0 : positive('--adapt-steps')(v)),
    )
    .option(
      '--repeat <n>',
      'measure n rounds (ours, then the reference, in turn) and print every ratio and the medians: a shared machine drifts',
      positive('--repeat'),
    )
    .option(
      '--copies <n>',
      'also time n one-thread copies of this benchmark side by side (separate processes, nothing shared): the most n threads splitting the batch can give on this machine',
      (v: string) => copiesCount(v),
    )
    .option('--python <path>', 'python with torch for the reference', '/usr/bin/python3')
    .option('--backend <name>', 'compute backend: auto, tensorflow-gpu, tensorflow, wasm, cpu')
    .option(
      '--threads <n>',
      'data-parallel threads to time besides one thread (default: the cores; 1: one thread only)',
      positive('--threads'),
    )
    .option(
      '--wasm-threads <n>',
      'threads inside the wasm backend (threaded XNNPACK build; default FPRL_WASM_THREADS or 1)',
      positive('--wasm-threads'),
    )
    .option(
      '--agent <kind>',
      'reinforce: a REINFORCE step (rloo, Dice, difference credit) phase by phase vs cross-entropy',
    )
    .option('--samples <k>', 'labellings per image for --agent reinforce', positive('--samples'), 4)
    .option('--json', 'print one JSON object on stdout')
    .action(
      async (
        flags: BenchCommandOptions & {
          backend?: string;
          json?: boolean;
          wasmThreads?: number;
          native?: boolean;
          fused?: boolean;
        },
      ) => {
        if (flags.wasmThreads !== undefined) requestWasmThreads(flags.wasmThreads);
        // Through the environment, so the data-parallel worker threads see it too.
        if (flags.native === false) process.env[NATIVE_ENV_VAR] = '0';
        if (flags.fused === false) process.env[FUSED_ENV_VAR] = '0';
        const kernels = flags.kernels || flags.fusedKernels;
        const info = await initBackend(kernels ? (flags.backend ?? 'wasm') : flags.backend);
        if (kernels && info.backend !== 'wasm') {
          throw new FprlError(
            `--kernels and --fused-kernels measure wasm kernels, but the backend is ${info.backend}`,
            {
              where: '--backend',
              hint: 'drop --backend or use --backend wasm',
            },
          );
        }
        process.stderr.write(`${describeBackend(info)}\n`);
        const out = await benchCommand(flags, (msg) => process.stderr.write(`  ${msg}\n`));
        const json =
          out.kind === 'kernels' || out.kind === 'fused'
            ? out.report
            : out.kind === 'reinforce'
              ? out.result
              : out.json;
        process.stdout.write(`${flags.json ? JSON.stringify(json) : out.text}\n`);
      },
    );
}
