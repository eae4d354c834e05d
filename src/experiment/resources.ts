/**
 * The resource check at config load: before a sweep allocates anything, every agent's training
 * step and evaluation batch is estimated (agents/vit/memory.ts) and compared with the memory this
 * process can have, so a config that cannot fit is refused naming the field to change (the batch
 * size, the image size, the patch size) instead of failing later with an allocator message.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import type { PolicyArchitecture } from '../core/types.js';
import type { AgentRegistry } from '../../agents/registry.js';
import {
  estimateMemory,
  evalBatchBytes,
  trainingStepBytes,
  type MemoryEstimate,
} from '../../agents/vit/memory.js';
import type { ConfigIssue } from '../core/validate.js';
import type { AgentEntry, ExperimentConfig } from './schema.js';

/** What the check compares against: bytes and where that number comes from. */
export interface MemoryBudget {
  bytes: number;
  what: string;
}

/**
 * Memory available to this process now: the kernel's MemAvailable (os.freemem) or, inside a
 * cgroup v2 with a limit (a container, a batch job), that limit minus what the group already uses,
 * whichever is smaller.
 */
export function availableMemory(): MemoryBudget {
  let budget: MemoryBudget = { bytes: os.freemem(), what: 'available memory (MemAvailable)' };
  try {
    const max = readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim();
    if (/^\d+$/.test(max)) {
      const used = Number(readFileSync('/sys/fs/cgroup/memory.current', 'utf8').trim());
      const left = Number(max) - (Number.isFinite(used) ? used : 0);
      if (left < budget.bytes) budget = { bytes: left, what: "what is left of this cgroup's memory.max" };
    }
  } catch {
    // no cgroup v2 limit: MemAvailable stands
  }
  return budget;
}

/** 18.6 GiB, 312 MiB, 40 KiB. */
export function gib(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${Math.round(bytes / 2 ** 20)} MiB`;
  return `${Math.max(1, Math.round(bytes / 2 ** 10))} KiB`;
}

/**
 * Issues for every agent with a policy network whose training step (batch, REINFORCE samples) or
 * evaluation batch needs more than `budget`. One image that alone does not fit names the image
 * and patch size; otherwise the batch size that does not fit is named with the largest that does.
 */
export function checkMemory(
  config: ExperimentConfig,
  model: PolicyArchitecture,
  agents: AgentRegistry,
  trainingOf: (a: AgentEntry) => { batchSize: number; evalBatchSize: number },
  budget: MemoryBudget = availableMemory(),
): ConfigIssue[] {
  const e = estimateMemory(model);
  if (!e) return [];
  const issues: ConfigIssue[] = [];
  const size = config.dataset.size;
  const oneImage = trainingStepBytes(e, 1);
  if (oneImage > budget.bytes) {
    return [
      {
        path: '/dataset/size',
        message:
          `at ${size} px an image is ${e.tokens.toLocaleString('en-US')} tokens; training on one image needs about ` +
          `${gib(oneImage)} (${describe(e)}), more than the ${gib(budget.bytes)} of ${budget.what}` +
          ` (lower /dataset/size or use a larger /model/patchSize: attention memory grows with tokens squared)`,
      },
    ];
  }
  config.agents.forEach((a, i) => {
    if (!agents.has(a.kind) || !agents.get(a.kind).policy) return;
    let t: { batchSize: number; evalBatchSize: number };
    try {
      t = trainingOf(a);
    } catch {
      return; // the training config's own check reports it
    }
    // An agent trained from rewards samples `samples` label maps per image; one trained from
    // labels (no rewards) samples none, whatever the shared default of the field.
    const samples = a.rewards.length
      ? Number((a as unknown as Record<string, unknown>).samples ?? 1) || 1
      : 1;
    const own = a.training !== undefined && 'batchSize' in a.training;
    const step = trainingStepBytes(e, t.batchSize, samples);
    if (step > budget.bytes) {
      const perImage = trainingStepBytes(e, 1, samples) - e.stateBytes;
      const fits = Math.floor((budget.bytes - e.stateBytes) / perImage);
      issues.push({
        path: own ? `/agents/${i}/training/batchSize` : '/training/batchSize',
        message:
          `agent '${a.name}': a training step of ${t.batchSize} images${samples > 1 ? ` with ${samples} samples each` : ''} ` +
          `at ${size} px needs about ${gib(step)} (${describe(e)}), more than the ${gib(budget.bytes)} of ${budget.what}` +
          ` (at most about ${Math.max(1, fits)} images fit)`,
      });
    }
    const evalBytes = evalBatchBytes(e, t.evalBatchSize);
    if (evalBytes > budget.bytes) {
      const ownEval = a.training !== undefined && 'evalBatchSize' in a.training;
      issues.push({
        path: ownEval ? `/agents/${i}/training/evalBatchSize` : '/training/evalBatchSize',
        message: `agent '${a.name}': an evaluation batch of ${t.evalBatchSize} images needs about ${gib(evalBytes)}, more than the ${gib(budget.bytes)} of ${budget.what}`,
      });
    }
  });
  const evalBatch = config.evaluation.batchSize;
  const finalEval = evalBatchBytes(e, evalBatch);
  if (finalEval > budget.bytes) {
    issues.push({
      path: '/evaluation/batchSize',
      message: `an evaluation batch of ${evalBatch} images needs about ${gib(finalEval)}, more than the ${gib(budget.bytes)} of ${budget.what}`,
    });
  }
  return issues;
}

function describe(e: MemoryEstimate): string {
  return (
    `${gib(e.trainBytesPerImage)} per image, attention ${gib(e.attentionBytes)} per block, ` +
    `${gib(e.stateBytes)} of weights and optimiser state`
  );
}
