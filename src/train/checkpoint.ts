/**
 * Checkpoints: one folder per run (`<dir>`), replaced atomically at every save.
 *
 *   <dir>/checkpoint.json   step, trainer state (env sampler, trainer RNG), the run's config
 *   <dir>/agent/            agent.save(): agent.json (counters, RNG, baseline state),
 *                           policy/ (the policy's own weight format + variables.json),
 *                           optimizer.json/.bin, value-head / counts tensors
 *
 * A save writes everything into `<dir>.tmp-<pid>`, then renames the old folder to `<dir>.old`,
 * the new one to `<dir>`, and removes `.old`. A crash at any point leaves either the previous
 * or the new checkpoint complete: the reader falls back to `.old` when `<dir>` is missing.
 *
 * Integrity: checkpoint.json lists the sha256 of every file under agent/ (`files`) and carries
 * the sha256 of its own content (`sha256`: the sampler state, the step, the run's config), so
 * corrupted state of the right size is refused on load, naming the file, instead of loading and
 * failing steps later as a NaN. Checkpoints written before checksums load unverified
 * (`verified(meta)` is false; the caller says so).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { syncFolder } from '../core/atomic.js';
import type { Agent, PolicyNet } from '../core/types.js';
import type { RngState } from '../core/rng.js';
import { FprlError } from '../core/errors.js';
import { isFprlAgent } from '../../agents/base.js';
import { loadPolicyWeights } from '../../agents/policy-io.js';

export interface TrainerState {
  /** Optimiser steps completed. */
  step: number;
  /** The env's sampler state (order of the remaining batches), when the env exposes it. */
  env?: unknown;
  /** The trainer's own stream. */
  rng?: RngState;
  runId: string;
}

export interface CheckpointMeta {
  format: 'fprl-checkpoint/1';
  step: number;
  /** ISO time of writing. */
  time: string;
  agent: { name: string; kind?: string };
  trainer: TrainerState;
  /** The run's resolved config (whatever the caller stores). */
  config?: unknown;
  /** sha256 (hex) of every file of the checkpoint but checkpoint.json, by path relative to it ('agent/optimizer.bin'). */
  files?: Record<string, string>;
  /** sha256 (hex) of this JSON without the field itself (covers the sampler state and the config). */
  sha256?: string;
}

/** Whether the checkpoint carries checksums (written by fprl since issue 16); older ones load unverified. */
export function verified(meta: CheckpointMeta): boolean {
  return meta.files !== undefined && meta.sha256 !== undefined;
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The checksum of a meta record: of its JSON without `sha256` (key order is kept by JSON.parse). */
function metaSum(meta: CheckpointMeta): string {
  const { sha256: _, ...rest } = meta;
  return sha256(JSON.stringify(rest));
}

/** sha256 of every file under `root`, by POSIX path relative to `base`, sorted. */
async function hashTree(root: string, base: string): Promise<Record<string, string>> {
  const files: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(path.join(d, e.name));
      else if (e.isFile()) files.push(path.join(d, e.name));
    }
  };
  await walk(root);
  const out: Record<string, string> = {};
  for (const f of files.sort())
    out[path.relative(base, f).split(path.sep).join('/')] = sha256(await fs.readFile(f));
  return out;
}

/** Check every file listed in `meta.files` under `at` against its checksum; an FprlError names the first bad one. */
async function verifyFiles(at: string, meta: CheckpointMeta): Promise<void> {
  if (!meta.files) return;
  for (const [rel, want] of Object.entries(meta.files)) {
    const file = path.join(at, ...rel.split('/'));
    let data: Buffer;
    try {
      data = await fs.readFile(file);
    } catch {
      throw new FprlError(`a file of the checkpoint (step ${meta.step}) is missing`, {
        where: file,
        hint: 'the checkpoint is incomplete; delete the checkpoints folder to start the run over',
      });
    }
    if (sha256(data) !== want) {
      throw new FprlError(
        `${path.basename(file)} does not match the checksum recorded in ${META} (step ${meta.step}): it was corrupted or changed after it was written`,
        {
          where: file,
          hint: 'restore the file from a backup, or delete the checkpoints folder to start the run over',
        },
      );
    }
  }
}

const META = 'checkpoint.json';

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

/** The folder holding a complete checkpoint at `dir` (itself, or `.old` left by a crash mid-replace). */
async function completeDir(dir: string): Promise<string | undefined> {
  if (await exists(path.join(dir, META))) return dir;
  if (await exists(path.join(`${dir}.old`, META))) return `${dir}.old`;
  return undefined;
}

export async function hasCheckpoint(dir: string): Promise<boolean> {
  return (await completeDir(dir)) !== undefined;
}

/** Write the agent and trainer state as the checkpoint at `dir`, atomically replacing the previous one. */
export async function writeCheckpoint(
  dir: string,
  agent: Agent,
  trainer: TrainerState,
  config?: unknown,
): Promise<string> {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old`;
  try {
    await fs.rm(tmp, { recursive: true, force: true });
    await fs.mkdir(tmp, { recursive: true });
    await agent.save(path.join(tmp, 'agent'));
    const meta: CheckpointMeta = {
      format: 'fprl-checkpoint/1',
      step: trainer.step,
      time: new Date().toISOString(),
      agent: { name: agent.name, kind: isFprlAgent(agent) ? agent.kind : undefined },
      trainer,
      config,
      files: await hashTree(path.join(tmp, 'agent'), tmp),
    };
    // Through JSON first, so the checksum is of exactly what a reader parses (undefined fields dropped).
    const written = JSON.parse(JSON.stringify(meta)) as CheckpointMeta;
    written.sha256 = metaSum(written);
    // checkpoint.json is written last: a folder without it is never taken for a checkpoint.
    const handle = await fs.open(path.join(tmp, META), 'w');
    try {
      await handle.writeFile(`${JSON.stringify(written, null, 1)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // Every file inside was fsynced by its writer; the folder's entries too, before it is renamed.
    await syncFolder(tmp);
    // If a crash left only `.old`, it is the last complete checkpoint: keep it until the new one is in place.
    if (await exists(dir)) {
      await fs.rm(old, { recursive: true, force: true });
      await fs.rename(dir, old);
    }
    await fs.rename(tmp, dir);
    await syncFolder(path.dirname(dir));
    await fs.rm(old, { recursive: true, force: true });
    return dir;
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof FprlError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new FprlError(`cannot write the checkpoint: ${err.message}`, {
      where: dir,
      hint:
        err.code === 'ENOSPC'
          ? 'the disk is full: free space and resume; the previous checkpoint is intact'
          : 'check that the output folder is writable; the previous checkpoint is intact',
      cause: e,
    });
  }
}

/** Read a checkpoint's metadata (undefined when there is none at `dir`). */
export async function readCheckpointMeta(dir: string): Promise<CheckpointMeta | undefined> {
  const at = await completeDir(dir);
  if (!at) return undefined;
  const p = path.join(at, META);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await fs.readFile(p, 'utf8')) as CheckpointMeta;
  } catch (e) {
    throw new FprlError(`the checkpoint is unreadable: ${(e as Error).message.split('\n')[0]}`, {
      where: p,
      hint: 'the checkpoint is corrupted; delete the folder to start the run over',
    });
  }
  if (meta.format !== 'fprl-checkpoint/1' || typeof meta.step !== 'number') {
    throw new FprlError('not an fprl checkpoint', {
      where: p,
      hint: 'delete the folder to start the run over',
    });
  }
  if (meta.sha256 !== undefined && metaSum(meta) !== meta.sha256) {
    throw new FprlError(
      'the checkpoint does not match its own checksum (its sampler state, step or config was changed after it was written)',
      { where: p, hint: 'restore it from a backup, or delete the checkpoints folder to start the run over' },
    );
  }
  return meta;
}

/** Restore `agent` from the checkpoint at `dir` (weights, optimiser, counters, RNG, baseline). */
export async function loadCheckpoint(dir: string, agent: Agent): Promise<CheckpointMeta> {
  const meta = await readCheckpointMeta(dir);
  if (!meta) {
    throw new FprlError('no checkpoint here', {
      where: dir,
      hint: 'train first, or point at a run’s checkpoint folder',
    });
  }
  const at = (await completeDir(dir))!;
  await verifyFiles(at, meta);
  await agent.load(path.join(at, 'agent'));
  return meta;
}

/**
 * Start `agent` from the policy weights of another run's checkpoint (cross-entropy first,
 * then REINFORCE fine-tuning). Its optimiser and counters stay fresh. `from` is a checkpoint
 * folder or an agent folder.
 */
export async function initFromCheckpoint(agent: Agent, from: string): Promise<void> {
  if (!isFprlAgent(agent)) {
    throw new FprlError(`agent '${agent.name}' does not support initFrom`, {
      where: from,
      hint: 'initFrom is available for the supervised and reinforce agents',
    });
  }
  await agent.initFrom(await agentDirOf(from));
}

/**
 * Add `delta` [C] to the agent's per-class output bias (`initLogitAdjustment`: the logit
 * adjustment of class weights baked into the starting weights). `where` names the config field.
 */
export function shiftClassBias(agent: Agent, delta: readonly number[], where: string): void {
  if (!isFprlAgent(agent) || !agent.shiftClassBias) {
    throw new FprlError(`agent '${agent.name}' has no policy output bias to adjust`, {
      where,
      hint: 'initLogitAdjustment is available for the supervised and reinforce agents',
    });
  }
  agent.shiftClassBias(delta, where);
}

/** Load the policy weights of a checkpoint (or saved agent) folder into `policy`. */
export async function loadPolicyFromCheckpoint(policy: PolicyNet, from: string): Promise<void> {
  await loadPolicyWeights(policy, path.join(await agentDirOf(from), 'policy'));
}

/** The saved-agent folder of a checkpoint folder, or `from` itself when it is a saved agent. */
async function agentDirOf(from: string): Promise<string> {
  const at = await completeDir(from);
  if (at) {
    const meta = await readCheckpointMeta(from);
    if (meta) await verifyFiles(at, meta);
  }
  const agentDir = at ? path.join(at, 'agent') : from;
  if (!(await exists(path.join(agentDir, 'agent.json')))) {
    throw new FprlError('no checkpoint or saved agent here', {
      where: from,
      hint: 'point at the checkpoint folder of a run (it holds checkpoint.json)',
    });
  }
  return agentDir;
}
