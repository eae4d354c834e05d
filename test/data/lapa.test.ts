import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FolderDataset, denormalizeImage, openLapaFolder, resizeLabelNearest } from '../../src/data/index.js';
import { FprlError } from '../../src/core/errors.js';
import {
  bands,
  pattern,
  tempDir,
  writeJpg,
  writeLabel,
  writeLapaSplit,
  writePng,
  writeRgbPng,
} from './helpers.js';

async function openError(root: string, opts = {}): Promise<FprlError> {
  try {
    await openLapaFolder(root, 'train', opts);
  } catch (e) {
    expect(e).to.be.instanceOf(FprlError);
    return e as FprlError;
  }
  throw new Error('expected openLapaFolder to fail');
}

describe('data: LaPa folder reader', () => {
  let root: string;
  beforeEach(async () => {
    root = await tempDir();
    await writeLapaSplit(root, 'train', 3);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('reads a good folder: ids in numeric order, exact pixels and labels', async () => {
    await writeLapaSplit(root, 'train', 11);
    await fs.mkdir(path.join(root, 'train', 'landmarks'));
    await fs.writeFile(path.join(root, 'train', 'landmarks', '0.txt'), '106\n');
    const ds = await openLapaFolder(root, 'train');
    expect(ds.length).to.equal(11);
    expect([ds.height, ds.width]).to.deep.equal([16, 16]);
    expect(ds.classNames).to.have.length(11);
    const s = await ds.get(10);
    expect(s.id).to.equal('10');
    expect(Buffer.from(denormalizeImage(s.image)).equals(Buffer.from(pattern(16, 16, 10)))).to.equal(true);
    expect(Array.from(s.label)).to.deep.equal(Array.from(bands(16, 16)));
    expect((await ds.get(2)).id).to.equal('2');
  });

  it('gives each sample’s native label and photo size, from memory, a cache file or the source files', async () => {
    await writeJpg(path.join(root, 'train', 'images', '3.jpg'), pattern(30, 40), 30, 40);
    await writeLabel(path.join(root, 'train', 'labels', '3.png'), bands(30, 40), 30, 40);
    await writeLabel(path.join(root, 'train', 'labels', '0.png'), bands(16, 16), 16, 16);
    const cache = path.join(root, 'cache');
    for (const opts of [{ size: 8 }, { size: 8, cache }, { size: 8, cache }, { size: 8, memoryBudget: 1 }]) {
      const ds = await openLapaFolder(root, 'train', opts);
      const own = await ds.native!(3);
      expect([own.height, own.width, own.imageHeight, own.imageWidth]).to.deep.equal([30, 40, 30, 40]);
      expect(Buffer.from(own.label).equals(Buffer.from(bands(30, 40)))).to.equal(true);
      expect((await ds.native!(0)).label).to.have.length(256);
    }
  });

  it('resizes images and labels (labels by nearest neighbour) to the requested size', async () => {
    await writeJpg(path.join(root, 'train', 'images', '3.jpg'), pattern(32, 24), 32, 24);
    await writeLabel(path.join(root, 'train', 'labels', '3.png'), bands(32, 24), 32, 24);
    const ds = await openLapaFolder(root, 'train', { size: 8 });
    expect(ds.length).to.equal(4);
    const s = await ds.get(3);
    expect([s.height, s.width, s.image.length, s.label.length]).to.deep.equal([8, 8, 192, 64]);
    const want = resizeLabelNearest({ data: bands(32, 24), height: 32, width: 24 }, 8, 8).data;
    expect(Array.from(s.label)).to.deep.equal(Array.from(want));
  });

  it('fails on samples of different sizes unless a size is given', async () => {
    await writeLapaSplit(root, 'val', 0);
    await writePng(path.join(root, 'train', 'images', '9.png'), pattern(8, 8), 8, 8);
    await writeLabel(path.join(root, 'train', 'labels', '9.png'), bands(8, 8), 8, 8);
    const e = await openError(root);
    expect(e.message).to.match(/is 8x8 but earlier samples are 16x16/);
    expect(e.hint).to.match(/size/);
    expect((await openLapaFolder(root, 'train', { size: 8 })).length).to.equal(4);
  });

  const badCases: { name: string; make: (root: string) => Promise<string>; message: RegExp }[] = [
    {
      name: 'an unreadable (truncated) image',
      make: async (r) => {
        const f = path.join(r, 'train', 'images', '1.png');
        const buf = await fs.readFile(f);
        await fs.writeFile(f, buf.subarray(0, Math.floor(buf.length / 2)));
        return f;
      },
      message: /cannot decode image/,
    },
    {
      name: 'a label value 12',
      make: async (r) => {
        const label = bands(16, 16);
        label[5 * 16 + 3] = 12;
        const f = path.join(r, 'train', 'labels', '1.png');
        await writeLabel(f, label, 16, 16);
        return f;
      },
      message: /label value 12 at \(x=3, y=5\) is not a LaPa class/,
    },
    {
      name: 'a label whose size differs from its image',
      make: async (r) => {
        const f = path.join(r, 'train', 'labels', '1.png');
        await writeLabel(f, bands(16, 12), 16, 12);
        return f;
      },
      message: /size mismatch: label is 12x16 but its image .*1\.png is 16x16/,
    },
    {
      name: 'an image without a label',
      make: async (r) => {
        const f = path.join(r, 'train', 'images', '7.png');
        await writePng(f, pattern(16, 16), 16, 16);
        return f;
      },
      message: /image has no label/,
    },
    {
      name: 'a label without an image',
      make: async (r) => {
        const f = path.join(r, 'train', 'labels', '8.png');
        await writeLabel(f, bands(16, 16), 16, 16);
        return f;
      },
      message: /label has no image/,
    },
    {
      name: 'a zero-byte image',
      make: async (r) => {
        const f = path.join(r, 'train', 'images', '1.png');
        await fs.writeFile(f, '');
        return f;
      },
      message: /empty file \(0 bytes\)/,
    },
    {
      name: 'an RGB label',
      make: async (r) => {
        const f = path.join(r, 'train', 'labels', '1.png');
        await writeRgbPng(f, 16, 16);
        return f;
      },
      message: /label has 3 channels/,
    },
    {
      name: 'a text file named like an image',
      make: async (r) => {
        const f = path.join(r, 'train', 'images', '1.png');
        await fs.writeFile(f, 'hello');
        return f;
      },
      message: /not an image file/,
    },
  ];

  for (const c of badCases) {
    it(`names the file for ${c.name}, or skips it with a warning when asked`, async () => {
      const file = await c.make(root);
      const e = await openError(root);
      expect(e.where).to.equal(file);
      expect(e.message).to.match(c.message);
      expect(e.hint).to.match(/skip/i);

      const warnings: string[] = [];
      const ds = await openLapaFolder(root, 'train', { skipBad: true, onWarning: (m) => warnings.push(m) });
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.contain(file);
      expect(warnings[0]).to.match(/^skipped /);
      const ids = await Promise.all(Array.from({ length: ds.length }, (_, i) => ds.get(i).then((s) => s.id)));
      expect(ids).to.not.include(path.basename(file, '.png'));
      expect(ds.length).to.be.within(2, 3);
    });
  }

  it('reports every bad file in one error, and warns about stray files without failing', async () => {
    await fs.writeFile(path.join(root, 'train', 'images', '0.png'), '');
    await fs.writeFile(path.join(root, 'train', 'images', '2.png'), '');
    await fs.writeFile(path.join(root, 'train', 'images', 'notes.txt'), 'x');
    const e = await openError(root);
    expect(e.message).to.match(/and 1 more problem/);
    const warnings: string[] = [];
    await openLapaFolder(root, 'train', { skipBad: true, onWarning: (m) => warnings.push(m) });
    expect(warnings.some((w) => /notes\.txt: not an image file/.test(w))).to.equal(true);
  });

  it('fails clearly when the split folder is missing or empty', async () => {
    let e: FprlError | undefined;
    try {
      await openLapaFolder(root, 'val');
    } catch (err) {
      e = err as FprlError;
    }
    expect(e?.message).to.equal('folder not found');
    expect(e?.where).to.equal(path.join(root, 'val'));
    await writeLapaSplit(root, 'test', 0);
    await fs.mkdir(path.join(root, 'test', 'images'), { recursive: true });
    await fs.mkdir(path.join(root, 'test', 'labels'), { recursive: true });
    try {
      await openLapaFolder(root, 'test');
    } catch (err) {
      e = err as FprlError;
    }
    expect(e?.message).to.match(/no usable samples/);
  });

  describe('cache', () => {
    let cache: string;
    beforeEach(async () => {
      cache = await tempDir('fprl-cache-');
    });
    afterEach(async () => {
      await fs.rm(cache, { recursive: true, force: true });
    });

    async function open(size = 8): Promise<FolderDataset> {
      return (await openLapaFolder(root, 'train', { size, cache })) as FolderDataset;
    }

    it('writes one cache file, then serves identical samples from it without decoding', async () => {
      const first = await open();
      expect(first.cacheHit).to.equal(false);
      const files = await fs.readdir(cache);
      expect(files).to.have.length(1);
      expect(files[0]).to.match(/^lapa-[0-9a-f]{12}-train-8x8\.fprlcache$/);
      const second = await open();
      expect(second.cacheHit).to.equal(true);
      for (let i = 0; i < 3; i++) {
        const [a, b] = await Promise.all([first.get(i), second.get(i)]);
        expect(b.id).to.equal(a.id);
        expect(Array.from(b.image)).to.deep.equal(Array.from(a.image));
        expect(Array.from(b.label)).to.deep.equal(Array.from(a.label));
      }
      // Reading records from the file (budget too small for memory) gives the same samples.
      const fromFile = (await openLapaFolder(root, 'train', {
        size: 8,
        cache,
        memoryBudget: 10,
      })) as FolderDataset;
      expect([fromFile.cacheHit, fromFile.storage]).to.deep.equal([true, 'cache-file']);
      expect(Array.from((await fromFile.get(2)).label)).to.deep.equal(Array.from((await first.get(2)).label));
    });

    it('is rebuilt when a file changes, a file is added, or the size changes', async () => {
      await open();
      const label = bands(16, 16).fill(10);
      const f = path.join(root, 'train', 'labels', '1.png');
      await writeLabel(f, label, 16, 16);
      const later = new Date(Date.now() + 5000);
      await fs.utimes(f, later, later);
      const changed = await open();
      expect(changed.cacheHit).to.equal(false);
      expect(Array.from((await changed.get(1)).label)).to.deep.equal(new Array(64).fill(10));

      await writeLapaSplit(root, 'train', 4);
      const added = await open();
      expect([added.cacheHit, added.length]).to.deep.equal([false, 4]);
      expect((await open()).cacheHit).to.equal(true);

      const other = await open(12);
      expect([other.cacheHit, other.height]).to.deep.equal([false, 12]);
      expect((await fs.readdir(cache)).length).to.equal(2);
    });

    it('replays skipped-file warnings on a cache hit and still fails without skipBad', async () => {
      await fs.writeFile(path.join(root, 'train', 'images', '2.png'), '');
      const warnings: string[] = [];
      await openLapaFolder(root, 'train', {
        size: 8,
        cache,
        skipBad: true,
        onWarning: (m) => warnings.push(m),
      });
      const again = (await openLapaFolder(root, 'train', {
        size: 8,
        cache,
        skipBad: true,
        onWarning: (m) => warnings.push(m),
      })) as FolderDataset;
      expect(again.cacheHit).to.equal(true);
      expect(again.length).to.equal(2);
      expect(warnings).to.have.length(2);
      expect(warnings[1]).to.equal(warnings[0]);
      let e: unknown;
      try {
        await openLapaFolder(root, 'train', { size: 8, cache });
      } catch (err) {
        e = err;
      }
      expect((e as FprlError).message).to.match(/empty file/);
    });

    it('ignores a corrupted cache file and rebuilds it', async () => {
      await open();
      const [name] = await fs.readdir(cache);
      const file = path.join(cache, name);
      const buf = await fs.readFile(file);
      await fs.writeFile(file, buf.subarray(0, buf.length - 3));
      const ds = await open();
      expect(ds.cacheHit).to.equal(false);
      expect((await open()).cacheHit).to.equal(true);
      expect((await fs.readdir(cache)).filter((f) => /\.tmp-/.test(f))).to.have.length(0);
    });
  });
});
