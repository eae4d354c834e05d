/**
 * `environment.json`: what a reader needs to reproduce or distrust a sweep's numbers:
 * versions, the compute backend and its threads, the machine, the seeds, the git commit.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import sharp from 'sharp';
import type { BackendInfo } from '../backend/backend.js';

export interface EnvironmentRecord {
  createdAt: string;
  command: string[];
  package: { name: string; version: string };
  node: string;
  tfjs: string;
  /**
   * Libraries whose version can change the numbers: the wasm kernels, and the image decoders
   * that turn LaPa's JPEGs and PNGs into pixels (sharp, libvips, mozjpeg, libpng).
   */
  libraries: Record<string, string>;
  /**
   * `matMul`: what ran the matMuls on the wasm backend (the native AVX2 kernel or XNNPACK, with
   * the reason): the two sum in different orders, so their numbers agree only to float32 rounding.
   */
  backend: { name: string; provider: string; threads: number; notes: string[]; matMul?: string };
  workers: number;
  /**
   * The work queue the runs were put on (`fprl run --queue`, password left out): they were
   * trained by `fprl worker`s, so `backend` and `machine` here are the submitter's, not theirs.
   */
  queue?: string;
  seeds: number[];
  machine: { platform: string; arch: string; cpus: number; cpuModel: string; memoryGiB: number };
  /** Commit of the working tree the sweep ran from, with `dirty` when it had local changes. */
  git?: { commit: string; dirty: boolean };
}

/** This project's name and version (package.json), e.g. for a queue job to name who made it. */
export function packageInfo(): { name: string; version: string } {
  // From sources (src/experiment) and from the build (dist/src/experiment) alike.
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'face-parsing-rl') return { name: pkg.name, version: pkg.version ?? 'unknown' };
    } catch {
      // try the next layout
    }
  }
  return { name: 'face-parsing-rl', version: 'unknown' };
}

function libraryVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    const require = createRequire(import.meta.url);
    out['@tensorflow/tfjs-backend-wasm'] = (
      require('@tensorflow/tfjs-backend-wasm/package.json') as { version: string }
    ).version;
  } catch {
    // not installed: the record just lacks it
  }
  const v = sharp.versions as Record<string, string | undefined>;
  for (const [name, key] of [
    ['sharp', 'sharp'],
    ['libvips', 'vips'],
    ['mozjpeg', 'mozjpeg'],
    ['libpng', 'png'],
  ] as const) {
    if (v[key]) out[name] = v[key];
  }
  return out;
}

function gitInfo(cwd: string): EnvironmentRecord['git'] {
  try {
    const run = (args: string[]) =>
      execFileSync('git', args, {
        cwd,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 5000,
      });
    const commit = run(['rev-parse', 'HEAD']).trim();
    const dirty = run(['status', '--porcelain', '--untracked-files=no']).trim().length > 0;
    return { commit, dirty };
  } catch {
    return undefined; // not a git checkout, or git missing: the record just has no commit
  }
}

export function describeEnvironment(opts: {
  backend: BackendInfo;
  workers: number;
  queue?: string;
  seeds: number[];
  cwd?: string;
  now?: Date;
}): EnvironmentRecord {
  const cpus = os.cpus();
  const git = gitInfo(opts.cwd ?? process.cwd());
  return {
    createdAt: (opts.now ?? new Date()).toISOString(),
    command: process.argv.slice(1),
    package: packageInfo(),
    node: process.version,
    tfjs: opts.backend.tfjsVersion,
    libraries: libraryVersions(),
    backend: {
      name: opts.backend.backend,
      provider: opts.backend.provider,
      threads: opts.backend.threads,
      notes: opts.backend.notes,
      ...(opts.backend.matMul ? { matMul: opts.backend.matMul } : {}),
      ...(opts.backend.fused ? { fused: opts.backend.fused } : {}),
    },
    workers: opts.workers,
    ...(opts.queue !== undefined ? { queue: opts.queue } : {}),
    seeds: opts.seeds,
    machine: {
      platform: os.platform(),
      arch: os.arch(),
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    },
    ...(git ? { git } : {}),
  };
}
