import { expect } from 'chai';
import { FprlError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { useBackend } from '../helpers/backend.js';
import { FaceTransformer, PRESETS, paramSpecs, resolveViTConfig } from '../../agents/vit/index.js';

/** Parameter counts printed by ../shared/peer/torch_vit_bench.py for the same architectures. */
const TORCH_PARAMS = { 'tiny-64': 132_747, 'ti16-256': 3_444_107, seed: 26_551_307 } as const;

function errorOf(fn: () => unknown): FprlError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(FprlError);
    return e as FprlError;
  }
  throw new Error('expected an FprlError');
}

describe('vit config', () => {
  before(() => useBackend('cpu'));

  it('resolves each preset to the sizes the issue names', () => {
    expect(resolveViTConfig('seed')).to.include({
      imageSize: 256,
      patchSize: 32,
      dim: 512,
      depth: 6,
      heads: 16,
      mlpDim: 2048,
      dropout: 0.1,
      numClasses: 11,
      normFirst: false,
    });
    expect(resolveViTConfig('ti16-256')).to.include({
      imageSize: 256,
      patchSize: 16,
      dim: 192,
      depth: 6,
      heads: 3,
    });
    expect(resolveViTConfig('tiny-64')).to.include({
      imageSize: 64,
      patchSize: 8,
      dim: 64,
      depth: 2,
      heads: 4,
    });
    expect(resolveViTConfig('tiny-64').mlpDim).to.equal(128);
  });

  it('lets explicit fields override a preset', () => {
    const c = resolveViTConfig({ preset: 'tiny-64', depth: 3, posEmbedding: false, dropout: 0 });
    expect(c).to.include({ depth: 3, posEmbedding: false, dropout: 0, dim: 64, imageSize: 64 });
    expect(PRESETS['tiny-64'].depth).to.equal(2);
  });

  it('builds a config from explicit sizes with mlpDim defaulting to 4 * dim', () => {
    const c = resolveViTConfig({ imageSize: 32, patchSize: 8, dim: 24, depth: 1, heads: 3 });
    expect(c).to.include({ mlpDim: 96, numClasses: 11, dropout: 0.1, posEmbedding: true, normFirst: true });
  });

  it('names the field when the image size is not divisible by the patch size', () => {
    const e = errorOf(() => resolveViTConfig({ preset: 'tiny-64', patchSize: 7 }));
    expect(e.where).to.match(/imageSize/);
    expect(e.message).to.match(/64 is not divisible by patchSize 7/);
  });

  it('names the field when dim is not divisible by heads', () => {
    const e = errorOf(() => resolveViTConfig({ preset: 'tiny-64', heads: 5 }));
    expect(e.where).to.match(/heads/);
    expect(e.message).to.match(/dim 64 is not divisible by heads 5/);
  });

  it('rejects unknown presets, unknown fields, missing sizes and bad rates with the field named', () => {
    expect(errorOf(() => resolveViTConfig('vit-huge')).hint).to.contain('tiny-64');
    expect(errorOf(() => resolveViTConfig({ preset: 'tiny-64', dims: 3 } as never)).where).to.match(/dims/);
    expect(errorOf(() => resolveViTConfig({ imageSize: 64, patchSize: 8 })).message).to.match(
      /missing dim, depth, heads/,
    );
    expect(errorOf(() => resolveViTConfig({ preset: 'tiny-64', dropout: 1 })).where).to.match(/dropout/);
    expect(errorOf(() => resolveViTConfig({ preset: 'tiny-64', depth: 1.5 })).where).to.match(/depth/);
    expect(errorOf(() => resolveViTConfig({ preset: 'tiny-64', normFirst: 'yes' as never })).where).to.match(
      /normFirst/,
    );
  });

  it('validates a config handed straight to the constructor', () => {
    const bad = { ...PRESETS['tiny-64'], heads: 3 };
    expect(errorOf(() => new FaceTransformer(bad, new Rng(0))).where).to.match(/heads/);
  });

  for (const [preset, count] of Object.entries(TORCH_PARAMS)) {
    it(`has exactly PyTorch's parameter count for ${preset} (${count})`, () => {
      const config = resolveViTConfig(preset);
      const specs = paramSpecs(config);
      expect(specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)).to.equal(count);
      const model = new FaceTransformer(config, new Rng(0));
      try {
        expect(model.countParams()).to.equal(count);
        expect(model.trainableVariables).to.have.length(specs.length);
      } finally {
        model.dispose();
      }
    });
  }

  it('drops exactly the positional embedding [T, D] when it is turned off', () => {
    const config = resolveViTConfig({ preset: 'tiny-64', posEmbedding: false });
    const names = paramSpecs(config).map((s) => s.name);
    expect(names).to.not.include('pos_embed');
    const count = paramSpecs(config).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    expect(count).to.equal(TORCH_PARAMS['tiny-64'] - 64 * 64);
  });

  it('draws the same initial weights from the same seed and different ones from another', () => {
    const c = resolveViTConfig({ preset: 'tiny-64', depth: 1 });
    const [a, b, d] = [
      new FaceTransformer(c, new Rng(3)),
      new FaceTransformer(c, new Rng(3)),
      new FaceTransformer(c, new Rng(4)),
    ];
    try {
      const k = (m: FaceTransformer) => Array.from(m.trainableVariables[0].dataSync().slice(0, 8));
      expect(k(a)).to.deep.equal(k(b));
      expect(k(a)).to.not.deep.equal(k(d));
    } finally {
      [a, b, d].forEach((m) => m.dispose());
    }
  });
});
