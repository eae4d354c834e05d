/**
 * PyTorch in and out for the Face Transformer (`fprl import`, `fprl export`, an experiment's
 * `initWeights`). An imported checkpoint is a folder an agent can start from:
 *
 *   <out>/fprl-import.json   format 'fprl-import/1', the source file, its layout, the config, what
 *                            was loaded and what started fresh
 *   <out>/policy/            the policy weights as every fprl agent saves them (model.json,
 *                            weights.bin, variables.json: agents/vit/README.md)
 *
 * Everything is read and checked before anything is written; the folder is built beside `<out>`
 * and renamed into place, so a refused file leaves nothing behind.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { FprlError } from '../core/errors.js';
import { guardOutput, markOutput } from '../core/output-guard.js';
import { Rng } from '../core/rng.js';
import type { Agent } from '../core/types.js';
import { isFprlAgent } from '../../agents/base.js';
import { savePolicyWeights } from '../../agents/policy-io.js';
import { FaceTransformer } from '../../agents/vit/model.js';
import { paramSpecs, initialValues } from '../../agents/vit/params.js';
import { numTokens, validateViTConfig, type ViTConfig } from '../../agents/vit/config.js';
import { MODEL_JSON } from '../../agents/vit/checkpoint.js';
import {
  HF_QKV,
  LAYOUT_ANCHORS,
  TIMM_DROPPED,
  checkShape,
  hfToTimm,
  inferArch,
  resamplePosEmbed,
  timmRules,
  toFprl,
  toTorch,
  torchRules,
  type ArchHints,
  type TorchLayout,
  type TorchRule,
} from '../../agents/vit/torch-layout.js';
import { buildOnnxModel } from '../../agents/vit/onnx.js';
import { openWeightFile, shapeText, writeSafetensors, type StoredTensor } from '../interop/index.js';
import { writeFileAtomic } from '../core/atomic.js';

export const IMPORT_JSON = 'fprl-import.json';
const IMPORT_COMMAND = 'fprl import';
const EXPORT_COMMAND = 'fprl export';
export const IMPORT_FORMAT = 'fprl-import/1';
export type ArchChoice = 'auto' | 'torch-vit' | 'timm-vit';

export interface ImportOptions extends ArchHints {
  arch?: ArchChoice;
  /** Seed of the freshly initialised variables (the dense head of a timm backbone). */
  seed?: number;
  /** Replace a non-empty `out` that fprl did not make. */
  force?: boolean;
}

/** What `fprl import` found and did (also stored in fprl-import.json). */
export interface ImportSummary {
  format: typeof IMPORT_FORMAT;
  source: string;
  fileFormat: 'safetensors' | 'torch';
  layout: TorchLayout | 'huggingface';
  /** Module prefix stripped from the keys (`net.`, `model.`...), '' for none. */
  prefix: string;
  stateDictKey: string;
  model: { kind: 'vit'; config: ViTConfig };
  /** Where each architecture field came from. */
  sources: Record<string, string>;
  loaded: string[];
  fresh: string[];
  /** Keys in the file not used (classifier, class token, keys outside the prefix...). */
  dropped: string[];
  /** Lightning entries ignored or skipped (named, with the reason). */
  notes: string[];
}

interface Located {
  layout: TorchLayout | 'huggingface';
  prefix: string;
}

function locate(keys: string[], arch: ArchChoice, where: string): Located {
  const order: [TorchLayout | 'huggingface', string][] = [];
  if (arch !== 'timm-vit')
    order.push(['report', LAYOUT_ANCHORS.report], ['reference', LAYOUT_ANCHORS.reference]);
  if (arch !== 'torch-vit') {
    order.push(
      ['timm', LAYOUT_ANCHORS.timm],
      ['huggingface', 'encoder.layer.0.attention.attention.query.weight'],
    );
  }
  for (const [layout, anchor] of order) {
    const hit = keys.find(
      (k) => k.endsWith(anchor) && (k.length === anchor.length || k[k.length - anchor.length - 1] === '.'),
    );
    if (hit) return { layout, prefix: hit.slice(0, hit.length - anchor.length) };
  }
  throw new FprlError(
    `no known ViT layout among the keys (${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', ...' : ''})`,
    {
      where,
      hint:
        arch === 'auto'
          ? 'fprl reads the report module (transformer.layers.N...), torch_vit_bench.py (layers.N...), timm (blocks.N...) and Hugging Face ViT (encoder.layer.N...) layouts'
          : `--arch ${arch} expects ${arch === 'torch-vit' ? "'layers.0.self_attn.in_proj_weight'" : "'blocks.0.attn.qkv.weight'"}; try --arch auto`,
    },
  );
}

/** Hugging Face keys renamed to timm's, q/k/v concatenated (values read on demand). */
function hfAsTimm(tensors: Map<string, StoredTensor>): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  const qkv = new Map<string, Partial<Record<'query' | 'key' | 'value', StoredTensor>>>();
  for (const [k, t] of tensors) {
    const m = HF_QKV.exec(k);
    if (m) {
      const id = `blocks.${m[1]}.attn.qkv.${m[3]}`;
      qkv.set(id, { ...qkv.get(id), [m[2]]: t });
      continue;
    }
    out.set(hfToTimm(k) ?? k, t);
  }
  for (const [id, parts] of qkv) {
    const list = [parts.query, parts.key, parts.value];
    if (list.some((p) => !p)) {
      out.set(
        id.replace('qkv', 'qkv-incomplete'),
        list.find((p) => p)!,
      );
      continue;
    }
    const [q, k, v] = list as StoredTensor[];
    out.set(id, {
      name: id,
      dtype: q.dtype,
      shape: [q.shape[0] * 3, ...q.shape.slice(1)],
      read: async () => {
        const [a, b, c] = await Promise.all([q.read(), k.read(), v.read()]);
        const all = new Float32Array(a.length * 3);
        all.set(a, 0);
        all.set(b, a.length);
        all.set(c, 2 * a.length);
        return all;
      },
    });
  }
  return out;
}

/** Read a PyTorch / safetensors weight file and write it as an fprl checkpoint folder at `out`. */
export async function importWeights(
  file: string,
  out: string,
  opts: ImportOptions = {},
): Promise<ImportSummary> {
  await guardOutput(out, {
    command: IMPORT_COMMAND,
    inputs: [file],
    force: opts.force,
    replaces: true,
    recognise: [[IMPORT_JSON]],
  });
  const wf = await openWeightFile(file);
  try {
    const all = new Map(wf.tensors.map((t) => [t.name, t]));
    const located = locate([...all.keys()], opts.arch ?? 'auto', file);
    const dropped: string[] = [];
    let tensors = new Map<string, StoredTensor>();
    for (const [k, t] of all) {
      if (k.startsWith(located.prefix)) tensors.set(k.slice(located.prefix.length), t);
      else dropped.push(`${k} (outside the module prefix '${located.prefix}')`);
    }
    if (located.layout === 'huggingface') tensors = hfAsTimm(tensors);
    const layout: TorchLayout = located.layout === 'huggingface' ? 'timm' : located.layout;
    const shapes = new Map([...tensors].map(([k, t]) => [k, t.shape]));
    if (located.layout === 'huggingface' && opts.layerNormEps === undefined)
      opts = { ...opts, layerNormEps: 1e-12 };
    const { config, sources } = inferArch(
      shapes,
      layout,
      { ...opts, hyper: { ...wf.hyperParameters, ...opts.hyper } },
      file,
    );
    const rules: TorchRule[] = layout === 'timm' ? timmRules(config) : torchRules(config, layout);
    const used = new Set(rules.map((r) => r.torch));
    if (layout === 'timm') used.add('pos_embed');
    const missing = [...used].filter((k) => !tensors.has(k));
    const known = new Set([...used, ...(layout === 'timm' ? TIMM_DROPPED : [])]);
    const unexpected = [...tensors.keys()].filter((k) => !known.has(k));
    if (missing.length || unexpected.length) {
      const parts = [];
      if (missing.length)
        parts.push(`missing keys: ${missing.map((k) => `${located.prefix}${k}`).join(', ')}`);
      if (unexpected.length)
        parts.push(`unexpected keys: ${unexpected.map((k) => `${located.prefix}${k}`).join(', ')}`);
      throw new FprlError(
        `the state dict does not match the ${located.layout} layout of ${describe(config)}: ${parts.join('; ')}`,
        {
          where: file,
          hint: 'fprl loads strictly (as load_state_dict(strict=True)): save the matching module, or pass --arch to choose the layout',
        },
      );
    }
    for (const r of rules) checkShape(r, tensors.get(r.torch)!.shape, file);
    const values = new Map<string, Float32Array>();
    for (const r of rules) values.set(r.fprl, toFprl(r, await tensors.get(r.torch)!.read()));
    for (const k of tensors.keys()) if (!used.has(k)) dropped.push(`${located.prefix}${k}`);
    const fresh: string[] = [];
    if (layout === 'timm') {
      values.set('pos_embed', await timmPosEmbed(tensors, config, file, sources));
      const rng = new Rng(opts.seed ?? 0, 'import').fork('vit/init');
      for (const spec of paramSpecs(config)) {
        if (values.has(spec.name)) continue;
        values.set(spec.name, initialValues(spec, rng));
        fresh.push(spec.name);
      }
    }
    const summary: ImportSummary = {
      format: IMPORT_FORMAT,
      source: path.resolve(file),
      fileFormat: wf.format,
      layout: located.layout,
      prefix: located.prefix,
      stateDictKey: wf.stateDictKey,
      model: { kind: 'vit', config },
      sources,
      loaded: rules.map((r) => r.fprl).concat(layout === 'timm' ? ['pos_embed'] : []),
      fresh,
      dropped,
      notes: [
        ...wf.skipped,
        ...(wf.ignored.length ? [`not loaded as weights: ${wf.ignored.join(', ')}`] : []),
      ],
    };
    await writeImported(out, config, values, summary);
    return summary;
  } finally {
    await wf.close();
  }
}

function describe(c: ViTConfig): string {
  return `a ViT (image ${c.imageSize}, patch ${c.patchSize}, dim ${c.dim}, depth ${c.depth}, mlp ${c.mlpDim}${c.posEmbedding ? '' : ', no position embedding'})`;
}

/** timm's pos_embed [1, (1+)gs*gs, D] without the class token, resampled to the model's grid. */
async function timmPosEmbed(
  tensors: Map<string, StoredTensor>,
  c: ViTConfig,
  file: string,
  sources: Record<string, string>,
): Promise<Float32Array> {
  const t = tensors.get('pos_embed')!;
  const [one, n, d] = t.shape;
  const cls = tensors.has('cls_token') ? 1 : 0;
  const gs = Math.round(Math.sqrt(n - cls));
  if (t.shape.length !== 3 || one !== 1 || d !== c.dim || gs * gs !== n - cls || gs === 0) {
    throw new FprlError(
      `tensor 'pos_embed' ${shapeText(t.shape)} is not a square grid of position embeddings${cls ? ' after the class token' : ''} of width ${c.dim}: it cannot be resampled`,
      {
        where: file,
        hint: 'fprl takes [1, 1 + g*g, D] (class token first) or [1, g*g, D] position embeddings',
      },
    );
  }
  const all = await t.read();
  const grid = all.subarray(cls * d);
  const gt = Math.sqrt(numTokens(c));
  if (gs !== gt)
    sources.posEmbed = `resampled bicubic from ${gs}x${gs} to ${gt}x${gt}${cls ? ', class token dropped' : ''}`;
  else if (cls) sources.posEmbed = 'class token dropped';
  return resamplePosEmbed(grid, gs, gt, d);
}

async function writeImported(
  out: string,
  config: ViTConfig,
  values: Map<string, Float32Array>,
  summary: ImportSummary,
): Promise<void> {
  const tmp = `${out.replace(/[/\\]+$/, '')}.tmp-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  const weights: tf.NamedTensorMap = {};
  for (const spec of paramSpecs(config))
    weights[spec.name] = tf.tensor(values.get(spec.name)!, spec.shape, 'float32');
  const model = new FaceTransformer(config, new Rng(0, 'unused'), weights);
  tf.dispose(weights);
  try {
    await savePolicyWeights(model, path.join(tmp, 'policy'));
    await writeFileAtomic(path.join(tmp, IMPORT_JSON), `${JSON.stringify(summary, null, 1)}\n`);
    await markOutput(tmp, IMPORT_COMMAND);
    await fs.rm(out, { recursive: true, force: true });
    await fs.rename(tmp, out);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  } finally {
    model.dispose();
  }
}

/**
 * The policy folder (model.json + weights.bin) of what a user points at: a policy folder, an
 * imported folder, a saved agent, a checkpoint folder, or a run folder (`runs/x/<agent>/seed-0`).
 */
export function policyDirOf(from: string): string {
  const candidates = [
    from,
    path.join(from, 'policy'),
    path.join(from, 'agent', 'policy'),
    path.join(from, 'checkpoints', 'agent', 'policy'),
  ];
  for (const c of candidates) {
    if (existsSync(path.join(c, MODEL_JSON))) return c;
    if (existsSync(path.join(`${path.dirname(c)}.old`, path.basename(c), MODEL_JSON)))
      return path.join(`${path.dirname(c)}.old`, path.basename(c));
  }
  throw new FprlError('no Face Transformer weights here', {
    where: from,
    hint: 'point at a run folder (runs/<exp>/<agent>/seed-<n>), its checkpoints folder, or a folder made by fprl import',
  });
}

/** The export formats. */
export type ExportFormat = 'safetensors' | 'onnx';

/** PyTorch names and layouts of a Face Transformer's weights (the reference module's, torch_vit_bench.py). */
export function torchStateDict(
  model: FaceTransformer,
): { name: string; shape: number[]; data: Float32Array }[] {
  const byName = new Map(model.namedVariables.map((n) => [n.name, n.variable]));
  const c = model.config;
  // The reference module always has `pos`: a model without a position embedding exports zeros
  // there, which computes the same function and keeps load_state_dict(strict=True) working.
  const rules = torchRules({ ...c, posEmbedding: true }, 'reference');
  return rules.map((r) => ({
    name: r.torch,
    shape: r.torchShape,
    data: byName.has(r.fprl)
      ? toTorch(r, byName.get(r.fprl)!.dataSync() as Float32Array)
      : new Float32Array(numTokens(c) * c.dim),
  }));
}

/** Write the Face Transformer at `from` as safetensors (PyTorch names) or ONNX (the greedy parser). */
export async function exportWeights(
  from: string,
  format: ExportFormat,
  out: string,
  opts: { force?: boolean } = {},
): Promise<{ config: ViTConfig; policyDir: string }> {
  await guardOutput(out, {
    command: EXPORT_COMMAND,
    inputs: [from],
    force: opts.force,
    kind: 'file',
    ownsFile: exportedByFprl,
  });
  const policyDir = policyDirOf(from);
  let model: FaceTransformer;
  try {
    model = await FaceTransformer.load(policyDir);
  } catch (e) {
    if (e instanceof FprlError && /holds a 'hybrid' network/.test(e.message)) {
      throw new FprlError('only the ViT presets export to PyTorch and ONNX, not the hybrid', {
        where: policyDir,
        cause: e,
      });
    }
    throw e;
  }
  try {
    if (format === 'safetensors') {
      await writeSafetensors(out, torchStateDict(model), {
        format: 'pt',
        'fprl.layout': 'torch_vit_bench.ViTSegmenter',
        'fprl.config': JSON.stringify(model.config),
      });
    } else {
      await writeFileAtomic(
        out,
        buildOnnxModel(model.config, (name) => byNameData(model, name)),
      );
    }
    return { config: model.config, policyDir };
  } finally {
    model.dispose();
  }
}

/** Whether `file` is a safetensors or ONNX file fprl export wrote (its header names fprl). */
async function exportedByFprl(file: string): Promise<boolean> {
  const fh = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const text = head.subarray(0, bytesRead).toString('latin1');
    // safetensors: __metadata__ (written first) holds fprl.layout; ONNX: producer_name (field 2).
    // ONNX: ir_version (tag 0x08, one byte), then producer_name (tag 0x12, length, text).
    const onnx = head[0] === 0x08 && head[2] === 0x12 && text.startsWith('face-parsing-rl', 4);
    return text.includes('"fprl.layout"') || onnx;
  } finally {
    await fh.close();
  }
}

function byNameData(model: FaceTransformer, name: string): Float32Array {
  const v = model.namedVariables.find((n) => n.name === name);
  if (!v) throw new Error(`no variable ${name}`);
  return v.variable.dataSync() as Float32Array;
}

/** The config of an imported folder (fprl-import.json), checked. */
export function readImportedConfig(dir: string): ViTConfig {
  const file = path.join(dir, IMPORT_JSON);
  let json: ImportSummary;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as ImportSummary;
  } catch (e) {
    throw new FprlError(`not a folder made by fprl import (${(e as Error).message.split('\n')[0]})`, {
      where: dir,
      hint: 'run fprl import FILE --out DIR first, and point initWeights at DIR',
    });
  }
  if (json.format !== IMPORT_FORMAT)
    throw new FprlError(`${IMPORT_JSON} has format ${JSON.stringify(json.format)}, not ${IMPORT_FORMAT}`, {
      where: file,
    });
  return validateViTConfig(json.model.config, `${file}: model.config`);
}

/** Start `agent`'s policy from an imported folder (its optimiser and counters stay fresh). */
export async function initFromImported(agent: Agent, dir: string): Promise<void> {
  readImportedConfig(dir);
  if (!isFprlAgent(agent)) {
    throw new FprlError(`agent '${agent.name}' has no policy network to initialise`, { where: dir });
  }
  await agent.initFrom(dir);
}
