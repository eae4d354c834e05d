/**
 * The PyTorch reference benchmarks, run with Debian's /usr/bin/python3 and python3-torch, for
 * side-by-side ratios in one run: ../shared/peer/torch_vit_bench.py for the ViT presets and
 * src/bench/torch_hybrid_bench.py (beside this file) for the hybrid ones. Missing python, script
 * or torch is an answer ("unavailable: why"), not an error: the comparison is optional.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isHybridPreset } from '../../agents/vit/hybrid-config.js';
import type { ViTBenchResult } from './vit.js';

export const DEFAULT_PEER_SCRIPT = path.join('..', 'shared', 'peer', 'torch_vit_bench.py');
export const DEFAULT_PYTHON = '/usr/bin/python3';

/**
 * The hybrid presets' reference: beside this file under tsx (src/bench/), or back in src/bench/
 * from the compiled dist/src/bench/.
 */
export function hybridPeerScript(): string {
  const beside = fileURLToPath(new URL('./torch_hybrid_bench.py', import.meta.url));
  const fromDist = fileURLToPath(new URL('../../../src/bench/torch_hybrid_bench.py', import.meta.url));
  return existsSync(beside) ? beside : fromDist;
}

/** The reference script of a preset (the hybrid one for hybrid presets). */
export function defaultPeerScript(preset: string): string {
  return isHybridPreset(preset) ? hybridPeerScript() : DEFAULT_PEER_SCRIPT;
}

/** What the reference prints (one JSON line). */
export interface PeerResult {
  peer: string;
  preset: string;
  batch: number;
  threads: number;
  params: number;
  trainMsPerStep: number;
  trainImagesPerSecond: number;
  inferImagesPerSecond: number;
  /** Percent of the cores' time stolen by the hypervisor during the whole reference run (measured here, Linux). */
  stealPercent?: number;
}

export type PeerOutcome = { ok: true; result: PeerResult } | { ok: false; reason: string };

export interface PeerOptions {
  preset: string;
  batch: number;
  steps: number;
  /**
   * Threads PyTorch may use (torch.set_num_threads). Default: the reference's own default (2). The
   * reference always runs with OPENBLAS_NUM_THREADS=1, so OpenBLAS's pool does not fight
   * PyTorch's (two pools of two threads on two cores made 2-thread runs slower than one).
   */
  threads?: number;
  /**
   * Path of the reference script. Default: ../shared/peer/torch_vit_bench.py (from the cwd), or
   * src/bench/torch_hybrid_bench.py for a hybrid preset.
   */
  script?: string;
  python?: string;
  /** Kill the reference after this long. Default 20 minutes. */
  timeoutMs?: number;
}

/** Run the reference and parse its JSON line. */
export function runPeerBench(opts: PeerOptions): Promise<PeerOutcome> {
  const python = opts.python ?? DEFAULT_PYTHON;
  const script = path.resolve(opts.script ?? defaultPeerScript(opts.preset));
  if (!existsSync(python)) return Promise.resolve({ ok: false, reason: `${python} not found` });
  if (!existsSync(script))
    return Promise.resolve({ ok: false, reason: `reference script ${script} not found (--peer PATH)` });
  const args = [
    script,
    '--preset',
    opts.preset,
    '--batch',
    String(opts.batch),
    '--steps',
    String(opts.steps),
  ];
  if (opts.threads !== undefined) args.push('--threads', String(opts.threads));
  return new Promise((resolve) => {
    execFile(
      python,
      args,
      {
        timeout: opts.timeoutMs ?? 20 * 60_000,
        maxBuffer: 1 << 20,
        env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
      },
      (err, stdout, stderr) => {
        if (/No module named ['"]?torch/.test(stderr)) {
          resolve({
            ok: false,
            reason: `${python} has no torch (install: apt-get install -y python3-torch)`,
          });
          return;
        }
        if (err) {
          const last = stderr.trim().split('\n').pop() ?? err.message;
          resolve({ ok: false, reason: `the reference failed: ${last}` });
          return;
        }
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve({ ok: true, result: JSON.parse(line) as PeerResult });
        } catch {
          resolve({ ok: false, reason: `the reference printed no JSON line: ${line.slice(0, 200)}` });
        }
      },
    );
  });
}

/** The reference's fastest run of several (by training, and by inference, separately). */
export function bestPeer(results: PeerResult[]): { train: PeerResult; infer: PeerResult } | undefined {
  if (results.length === 0) return undefined;
  const by = (k: 'trainImagesPerSecond' | 'inferImagesPerSecond') =>
    results.reduce((a, b) => (b[k] > a[k] ? b : a));
  return { train: by('trainImagesPerSecond'), infer: by('inferImagesPerSecond') };
}

/** Ours over the reference's images per second (> 1: we are faster). */
export function peerRatio(ours: ViTBenchResult, peer: PeerResult): { train: number; infer: number } {
  const r = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  // With --threads N the data-parallel figures are ours (what `fprl run` trains with).
  const best = ours.parallel ?? ours;
  return {
    train: r(best.trainImagesPerSecond, peer.trainImagesPerSecond),
    infer: r(best.inferImagesPerSecond, peer.inferImagesPerSecond),
  };
}
