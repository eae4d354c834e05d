/**
 * Bad weight files and bad options: each a clear FprlError naming the file and the tensor or
 * global, and nothing written.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FprlError } from '../../src/core/errors.js';
import { useBackend } from '../helpers/backend.js';
import { readSafetensors, writeSafetensors, type DenseTensor } from '../../src/interop/index.js';
import { exportWeights, importWeights, type ImportOptions } from '../../src/train/interop.js';
import { HybridFaceTransformer, resolveHybridConfig } from '../../agents/vit/index.js';
import { Rng } from '../../src/core/rng.js';
import { FIXTURES } from '../fixtures/torch/export-for-check.js';

const fixture = (name: string) => path.join(FIXTURES, name);

/** A safetensors file from a header object and data bytes (anything, valid or not). */
async function rawSafetensors(file: string, header: unknown, data: Uint8Array): Promise<void> {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  await writeFile(file, Buffer.concat([len, json, data]));
}

async function referenceTensors(): Promise<DenseTensor[]> {
  const f = await readSafetensors(fixture('reference-pre.safetensors'));
  return Promise.all(f.tensors.map(async (t) => ({ name: t.name, shape: t.shape, data: await t.read() })));
}

describe('fprl export refuses what it cannot write', () => {
  before(() => useBackend('cpu'));

  it('a hybrid network, naming the folder; a folder without weights', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'fprl-bad-export-'));
    try {
      const model = new HybridFaceTransformer(
        resolveHybridConfig({ preset: 'hybrid-128', imageSize: 16, depth: 1 }),
        new Rng(0),
      );
      await model.save(path.join(tmp, 'hybrid'));
      model.dispose();
      const out = path.join(tmp, 'x.safetensors');
      let err: unknown;
      try {
        await exportWeights(path.join(tmp, 'hybrid'), 'safetensors', out);
      } catch (e) {
        err = e;
      }
      expect((err as FprlError).describe()).to.match(
        /only the ViT presets export to PyTorch and ONNX, not the hybrid/,
      );
      expect(existsSync(out)).to.equal(false);
      err = undefined;
      try {
        await exportWeights(tmp, 'onnx', out);
      } catch (e) {
        err = e;
      }
      expect((err as FprlError).describe()).to.match(
        /no Face Transformer weights here[\s\S]*hint: point at a run folder/,
      );
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

describe('fprl import refuses bad input clearly and writes nothing', () => {
  let tmp: string;
  let out: string;
  before(() => useBackend('cpu'));
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'fprl-bad-'));
    out = path.join(tmp, 'out');
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  async function refused(
    file: string,
    pattern: RegExp,
    opts: ImportOptions = { heads: 2 },
  ): Promise<FprlError> {
    let err: unknown;
    try {
      await importWeights(file, out, opts);
    } catch (e) {
      err = e;
    }
    expect(err, 'expected an FprlError').to.be.instanceOf(FprlError);
    const e = err as FprlError;
    expect(e.describe()).to.match(pattern);
    expect(e.where).to.equal(file);
    expect(existsSync(out), 'nothing written').to.equal(false);
    expect((await readdir(tmp)).filter((n) => n.startsWith('out'))).to.deep.equal([]);
    return e;
  }

  it('a file that is neither safetensors nor a zip', async () => {
    const f = path.join(tmp, 'notes.txt');
    await writeFile(f, 'these are not weights, just some text');
    await refused(f, /not a safetensors file and not a zip/);
  });

  it('a legacy (pre-zip) torch.save file says how to re-save it', async () => {
    const f = path.join(tmp, 'legacy.pt');
    // What torch.save(..., _use_new_zipfile_serialization=False) starts with: a pickled magic number.
    await writeFile(
      f,
      Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]),
    );
    const e = await refused(f, /legacy torch\.save file/);
    expect(e.hint).to.match(/save it again/);
  });

  it('--arch naming another layout than the file has', async () => {
    await refused(
      fixture('reference-pre.safetensors'),
      /no known ViT layout among the keys[\s\S]*--arch timm-vit expects/,
      {
        heads: 2,
        arch: 'timm-vit',
      },
    );
  });

  it('a truncated safetensors file names the tensor that reaches past the end', async () => {
    const f = path.join(tmp, 'cut.safetensors');
    const bytes = await readFile(fixture('reference-pre.safetensors'));
    await writeFile(f, bytes.subarray(0, bytes.length - 1000));
    await refused(f, /tensor '.*' has data_offsets \[\d+,\d+\] beyond the data .*truncated/);
  });

  it('a truncated torch.save zip', async () => {
    const f = path.join(tmp, 'cut.pt');
    const bytes = await readFile(fixture('reference-post.pt'));
    await writeFile(f, bytes.subarray(0, bytes.length - 300));
    await refused(f, /truncated or damaged/);
  });

  it('a header length beyond the file', async () => {
    const f = path.join(tmp, 'long.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(1_000_000n);
    await writeFile(f, Buffer.concat([len, Buffer.from('{"a":{}}')]));
    await refused(f, /header length 1000000 goes beyond the file \(16 bytes\)/);
  });

  it('overlapping tensor offsets name both tensors', async () => {
    const f = path.join(tmp, 'overlap.safetensors');
    await rawSafetensors(
      f,
      {
        a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
        b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
      },
      new Uint8Array(24),
    );
    await refused(f, /tensors 'a' \[0,16\] and 'b' \[8,24\] overlap/);
  });

  it('offsets out of range, or not matching the shape', async () => {
    const f = path.join(tmp, 'range.safetensors');
    await rawSafetensors(f, { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8));
    await refused(f, /tensor 'w' has data_offsets \[0,16\] beyond the data \(8 bytes\)/);
    await rawSafetensors(f, { w: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }, new Uint8Array(16));
    await refused(f, /tensor 'w' has data_offsets \[0,12\] \(12 bytes\) but F32 \[4\] needs 16/);
  });

  it('an unknown dtype in the header; an unsupported dtype (I64) where a weight must be, naming the tensor', async () => {
    const f = path.join(tmp, 'int.safetensors');
    await rawSafetensors(f, { steps: { dtype: 'Q4', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    await refused(f, /tensor 'steps' has unknown dtype "Q4"/);
    const header: Record<string, unknown> = {};
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const t of await referenceTensors()) {
      const wide = t.name === 'deconv.bias';
      const bytes = wide ? new Uint8Array(t.data.length * 8) : new Uint8Array(t.data.buffer.slice(0));
      header[t.name] = { dtype: wide ? 'I64' : 'F32', shape: t.shape, data_offsets: [at, at + bytes.length] };
      parts.push(bytes);
      at += bytes.length;
    }
    await rawSafetensors(f, header, Buffer.concat(parts));
    await refused(f, /tensor 'deconv\.bias' has unsupported dtype I64/);
  });

  it('a pickle that calls os.system is refused, naming the global, and never run', async () => {
    const e = await refused(fixture('evil.pt'), /refusing to unpickle global 'posix\.system'/);
    expect(e.hint).to.match(/never runs code/);
  });

  it('a state dict entry that is an os.system call names the entry and the global', async () => {
    await refused(fixture('evil-entry.pt'), /refusing to unpickle global 'posix\.system' in 'conv\.bias'/);
  });

  it('missing and unexpected keys are listed', async () => {
    const f = path.join(tmp, 'keys.safetensors');
    const ts = (await referenceTensors()).filter(
      (t) => t.name !== 'layers.1.norm2.bias' && t.name !== 'deconv.bias',
    );
    ts.push({ name: 'layers.0.extra.weight', shape: [2], data: new Float32Array(2) });
    await writeSafetensors(f, ts);
    await refused(
      f,
      /missing keys: layers\.1\.norm2\.bias, deconv\.bias; unexpected keys: layers\.0\.extra\.weight/,
    );
  });

  it('a shape that does not fit names the tensor and both shapes', async () => {
    const f = path.join(tmp, 'shape.safetensors');
    const ts = (await referenceTensors()).map((t) =>
      t.name === 'layers.1.linear1.bias' ? { ...t, shape: [31], data: t.data.subarray(0, 31) } : t,
    );
    await writeSafetensors(f, ts);
    await refused(f, /tensor 'layers\.1\.linear1\.bias' has shape \[31\] but the model needs \[32\]/);
  });

  it('a position-embedding grid that cannot be resampled', async () => {
    const src = await readSafetensors(fixture('hf.safetensors'));
    const ts = await Promise.all(
      src.tensors.map(async (t) => ({ name: t.name, shape: t.shape, data: await t.read() })),
    );
    const f = path.join(tmp, 'grid.safetensors');
    await writeSafetensors(
      f,
      ts.map((t) =>
        t.name === 'vit.embeddings.position_embeddings'
          ? { ...t, shape: [1, 9, 16], data: t.data.subarray(0, 9 * 16) }
          : t,
      ),
    );
    await refused(f, /tensor 'pos_embed' \[1,9,16\] is not a square grid .* cannot be resampled/, {
      heads: 2,
      imageSize: 16,
    });
  });

  it('heads that shapes cannot tell ask for --heads', async () => {
    await refused(fixture('reference-pre.safetensors'), /number of attention heads cannot be read/, {});
  });

  it('--out a non-empty folder fprl did not make is refused unless --force', async () => {
    await mkdir(out);
    await writeFile(path.join(out, 'thesis.tex'), 'precious');
    let err: unknown;
    try {
      await importWeights(fixture('reference-pre.safetensors'), out, { heads: 2 });
    } catch (e) {
      err = e;
    }
    expect((err as FprlError).describe()).to.match(
      /non-empty folder that fprl import did not make; fprl import would replace it, deleting thesis\.tex[\s\S]*--force/,
    );
    expect(await readFile(path.join(out, 'thesis.tex'), 'utf8')).to.equal('precious');
    await importWeights(fixture('reference-pre.safetensors'), out, { heads: 2, force: true });
    expect((await readdir(out)).sort()).to.deep.equal(['.fprl-output.json', 'fprl-import.json', 'policy']);
    // A folder fprl made is replaced without --force.
    await importWeights(fixture('reference-post.pt'), out, { heads: 2, normFirst: false });
    expect(
      JSON.parse(await readFile(path.join(out, 'fprl-import.json'), 'utf8')).model.config.normFirst,
    ).to.equal(false);
  });
});
