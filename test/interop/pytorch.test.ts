/**
 * PyTorch interop against fixtures made with PyTorch (test/fixtures/torch/make_fixtures.py): no
 * Python runs here. Logits of every layout equal PyTorch's within 1e-4, exports round-trip
 * bit-identically, PyTorch's strict load of the exports was recorded at fixture time, and ONNX
 * files give fprl's logits in onnxruntime.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import { FaceTransformer } from '../../agents/vit/index.js';
import { readSafetensors } from '../../src/interop/index.js';
import { exportWeights, importWeights, type ImportOptions } from '../../src/train/interop.js';
import { main } from '../../src/cli.js';
import { EXPORTS, FIXTURES } from '../fixtures/torch/export-for-check.js';

const fixture = (name: string) => path.join(FIXTURES, name);

async function expected(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const f = await readSafetensors(fixture('expected.safetensors'));
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of f.tensors) out.set(t.name, { shape: t.shape, data: await t.read() });
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** fprl's logits [B,S,S,C] (or `pooled` [B,D]) of the imported folder `dir` on the fixture input. */
async function fprlLogits(
  dir: string,
  input: { shape: number[]; data: Float32Array },
  which: 'logits' | 'pooled' = 'logits',
): Promise<Float32Array> {
  const model = await FaceTransformer.load(path.join(dir, 'policy'));
  try {
    const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
    const out = model.apply(x);
    const data = (await out[which].data()) as Float32Array;
    tf.dispose([x, out.logits, out.pooled]);
    return data;
  } finally {
    model.dispose();
  }
}

describe('PyTorch interop (fixtures made with PyTorch)', () => {
  let tmp: string;
  let ref: Map<string, { shape: number[]; data: Float32Array }>;
  before(async () => {
    await useBackend('cpu');
    ref = await expected();
  });
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'fprl-interop-'));
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  const cases: [string, string, string, ImportOptions][] = [
    [
      "the report's module (transformer.layers.N, post-norm, no position embedding), torch.save",
      'report.pt',
      'report',
      { heads: 2, imageSize: 16 },
    ],
    [
      'the same module as a Lightning checkpoint (net. prefix, hyper_parameters)',
      'report-lightning.ckpt',
      'report',
      {},
    ],
    [
      'torch_vit_bench.py ViTSegmenter, pre-norm, safetensors F32',
      'reference-pre.safetensors',
      'reference-pre',
      { heads: 2 },
    ],
    ['the same weights stored as F16', 'reference-pre-f16.safetensors', 'reference-pre-f16', { heads: 2 }],
    ['the same weights stored as BF16', 'reference-pre-bf16.safetensors', 'reference-pre-bf16', { heads: 2 }],
    [
      'ViTSegmenter, post-norm, torch.save',
      'reference-post.pt',
      'reference-post',
      { heads: 2, normFirst: false },
    ],
  ];
  for (const [what, file, key, opts] of cases) {
    it(`gives PyTorch's logits within 1e-4: ${what}`, async () => {
      const out = path.join(tmp, 'imported');
      await importWeights(fixture(file), out, opts);
      const diff = maxAbsDiff(await fprlLogits(out, ref.get('input')!), ref.get(`logits/${key}`)!.data);
      expect(diff).to.be.below(1e-4);
    });
  }

  it('finds the Lightning state dict, strips net., reads heads and norm order from hyper_parameters and skips an entry holding other objects', async () => {
    const s = await importWeights(fixture('report-lightning.ckpt'), path.join(tmp, 'l'));
    expect(s.stateDictKey).to.equal('state_dict');
    expect(s.prefix).to.equal('net.');
    expect(s.layout).to.equal('report');
    expect(s.sources.heads).to.equal('hyper_parameters');
    expect(s.sources.normFirst).to.equal('hyper_parameters');
    expect(s.model.config).to.include({ heads: 2, imageSize: 16, normFirst: false, posEmbedding: false });
    expect(s.notes.join('\n')).to.match(
      /skipped 'datamodule_hyper_parameters': it holds pickled 'argparse\.Namespace'/,
    );
    expect(s.notes.join('\n')).to.match(/not loaded as weights: .*epoch.*optimizer_states/);
  });

  it('leaves no tensors behind after an import and an export', async () => {
    const before = tf.memory().numTensors;
    await importWeights(fixture('timm.pt'), path.join(tmp, 'a'), { heads: 2, imageSize: 16 });
    await exportWeights(path.join(tmp, 'a'), 'onnx', path.join(tmp, 'a.onnx'));
    await exportWeights(path.join(tmp, 'a'), 'safetensors', path.join(tmp, 'a.safetensors'));
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('round-trips fprl -> safetensors -> fprl bit-identically, and exports what PyTorch strict-loaded at fixture time', async () => {
    const strict = JSON.parse(await readFile(fixture('strict-load.json'), 'utf8'));
    for (const [file, name, opts] of EXPORTS) {
      const a = path.join(tmp, `${name}-a`);
      const b = path.join(tmp, `${name}-b`);
      const st = path.join(tmp, `${name}.safetensors`);
      await importWeights(fixture(file), a, opts);
      await exportWeights(a, 'safetensors', st);
      expect(await readFile(st)).to.deep.equal(await readFile(fixture(`exported/${name}.safetensors`)));
      expect(strict.exports[name]).to.include({ strictLoad: true });
      expect(strict.exports[name].maxAbsLogitDiff).to.be.below(1e-4);
      await importWeights(st, b, { heads: opts.heads });
      if (name !== 'report') {
        // (the report's module has no position embedding: it exports zeros as `pos`, read back as one)
        expect(await readFile(path.join(b, 'policy', 'weights.bin'))).to.deep.equal(
          await readFile(path.join(a, 'policy', 'weights.bin')),
        );
      } else {
        const diff = maxAbsDiff(
          await fprlLogits(b, ref.get('input')!),
          await fprlLogits(a, ref.get('input')!),
        );
        expect(diff).to.equal(0);
      }
    }
  });

  it('loads a timm backbone: class token dropped, pos_embed resampled bicubic as PyTorch does, encoder loaded, dense head fresh', async () => {
    const out = path.join(tmp, 'timm');
    const s = await importWeights(fixture('timm.pt'), out, { heads: 2, imageSize: 16 });
    expect(s.layout).to.equal('timm');
    expect(s.stateDictKey).to.equal('model');
    expect(s.fresh).to.deep.equal(['proj/kernel', 'proj/bias', 'head/kernel', 'head/bias']);
    expect(s.dropped).to.include.members(['cls_token', 'head.weight', 'head.bias']);
    expect(s.sources.posEmbed).to.equal('resampled bicubic from 3x3 to 4x4, class token dropped');
    const model = await FaceTransformer.load(path.join(out, 'policy'));
    try {
      const pos = model.namedVariables
        .find((n) => n.name === 'pos_embed')!
        .variable.dataSync() as Float32Array;
      expect(maxAbsDiff(pos, ref.get('timm/pos_embed')!.data)).to.be.below(1e-5);
    } finally {
      model.dispose();
    }
  });

  it("computes timm's encoder within 1e-4 (exact GELU, LayerNorm eps 1e-6, on the patch tokens): pooled tokens", async () => {
    const out = path.join(tmp, 'timm');
    const s = await importWeights(fixture('timm.pt'), out, { heads: 2, imageSize: 16 });
    expect(s.model.config).to.include({ mlpActivation: 'gelu', layerNormEps: 1e-6, normFirst: true });
    const diff = maxAbsDiff(await fprlLogits(out, ref.get('input')!, 'pooled'), ref.get('pooled/timm')!.data);
    expect(diff).to.be.below(1e-4);
  });

  it('computes the Hugging Face encoder within 1e-4 (its LayerNorm eps 1e-12)', async () => {
    const out = path.join(tmp, 'hf');
    const s = await importWeights(fixture('hf.safetensors'), out, { heads: 2, imageSize: 16 });
    expect(s.model.config).to.include({ mlpActivation: 'gelu', layerNormEps: 1e-12 });
    const diff = maxAbsDiff(await fprlLogits(out, ref.get('input')!, 'pooled'), ref.get('pooled/hf')!.data);
    expect(diff).to.be.below(1e-4);
  });

  it('reads Hugging Face ViT names (q, k, v apart) into the same weights as timm', async () => {
    await importWeights(fixture('timm.pt'), path.join(tmp, 't'), { heads: 2, imageSize: 16 });
    const s = await importWeights(fixture('hf.safetensors'), path.join(tmp, 'h'), {
      heads: 2,
      imageSize: 16,
    });
    expect(s.layout).to.equal('huggingface');
    expect(s.prefix).to.equal('vit.');
    expect(await readFile(path.join(tmp, 'h', 'policy', 'weights.bin'))).to.deep.equal(
      await readFile(path.join(tmp, 't', 'policy', 'weights.bin')),
    );
  });

  it('fprl import and fprl export run from the command line and say what they found', async () => {
    const out = path.join(tmp, 'cli');
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (
      lines.push(String(chunk)),
      true
    )) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main([
        'node',
        'fprl',
        'import',
        fixture('timm.pt'),
        '--out',
        out,
        '--heads',
        '2',
        '--image-size',
        '16',
      ]);
      expect(code).to.equal(0);
      code = await main([
        'node',
        'fprl',
        'export',
        out,
        '--format',
        'safetensors',
        '--out',
        path.join(tmp, 'x.safetensors'),
      ]);
    } finally {
      process.stdout.write = write;
    }
    expect(code).to.equal(0);
    const text = lines.join('');
    expect(text).to.match(/layout: timm/);
    expect(text).to.match(/architecture: image 16, patch 4, dim 16, depth 2, heads 2, mlp 32/);
    expect(text).to.match(/initialised fresh: proj\/kernel, proj\/bias, head\/kernel, head\/bias/);
    expect(text).to.match(/exported .* as safetensors/);
    const st = await readSafetensors(path.join(tmp, 'x.safetensors'));
    expect(st.tensors.map((t) => t.name)).to.include.members([
      'conv.weight',
      'pos',
      'layers.1.linear2.bias',
      'deconv.weight',
    ]);
  });
});

describe('ONNX export (checked with onnxruntime-node)', () => {
  it("keeps onnxruntime-node's install script from downloading anything (.npmrc, read as npm_config_*)", async () => {
    const npmrc = await readFile(path.join(FIXTURES, '..', '..', '..', '.npmrc'), 'utf8');
    const setting = /^onnxruntime-node-install=(.*)$/m.exec(npmrc)?.[1];
    expect(setting).to.equal('skip');
    const { parseInstallFlag } = createRequire(import.meta.url)(
      'onnxruntime-node/script/install-utils.js',
    ) as {
      parseInstallFlag: () => unknown;
    };
    const saved = process.env.npm_config_onnxruntime_node_install;
    process.env.npm_config_onnxruntime_node_install = setting;
    try {
      expect(parseInstallFlag()).to.equal(false); // false: the script exits before any download
    } finally {
      if (saved === undefined) delete process.env.npm_config_onnxruntime_node_install;
      else process.env.npm_config_onnxruntime_node_install = saved;
    }
  });

  let tmp: string;
  let ref: Map<string, { shape: number[]; data: Float32Array }>;
  before(async () => {
    await useBackend('cpu');
    ref = await expected();
  });
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'fprl-onnx-'));
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  for (const [file, name, opts] of EXPORTS) {
    it(`gives fprl's logits within 1e-4 and its greedy labels: ${name}`, async () => {
      const ort = await import('onnxruntime-node');
      const dir = path.join(tmp, name);
      const onnx = path.join(tmp, `${name}.onnx`);
      await importWeights(fixture(file), dir, opts);
      await exportWeights(dir, 'onnx', onnx);
      const input = ref.get('input')!;
      const session = await ort.InferenceSession.create(onnx);
      const result = await session.run({ image: new ort.Tensor('float32', input.data, input.shape) });
      const logits = result.logits.data as Float32Array;
      expect(result.logits.dims).to.deep.equal([2, 16, 16, 11]);
      const mine = await fprlLogits(dir, input);
      expect(maxAbsDiff(logits, mine)).to.be.below(1e-4);
      const labels = result.labels.data as BigInt64Array;
      let agree = 0;
      for (let p = 0; p < labels.length; p++) {
        const row = mine.subarray(p * 11, (p + 1) * 11);
        if (Number(labels[p]) === row.indexOf(Math.max(...row))) agree++;
      }
      expect(agree).to.equal(labels.length);
      await session.release();
    });
  }

  it("gives fprl's logits within 1e-4 for an imported timm encoder (GELU as Erf, LayerNorm eps 1e-6)", async () => {
    const ort = await import('onnxruntime-node');
    const dir = path.join(tmp, 'timm');
    const onnx = path.join(tmp, 'timm.onnx');
    await importWeights(fixture('timm.pt'), dir, { heads: 2, imageSize: 16 });
    await exportWeights(dir, 'onnx', onnx);
    const input = ref.get('input')!;
    const session = await ort.InferenceSession.create(onnx);
    const result = await session.run({ image: new ort.Tensor('float32', input.data, input.shape) });
    expect(maxAbsDiff(result.logits.data as Float32Array, await fprlLogits(dir, input))).to.be.below(1e-4);
    await session.release();
  });
});
