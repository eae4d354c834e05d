import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openCelebAMask } from '../../src/data/index.js';
import { FprlError } from '../../src/core/errors.js';
import { pattern, tempDir, writeJpg, writeLabel, writePng } from './helpers.js';

/** Values 0..18 of a merged mask in one row, and what each must become (written out by hand). */
const MERGED = Array.from({ length: 19 }, (_, i) => i);
// g_mask order: bg, skin, nose, eye_g, l_eye, r_eye, l_brow, r_brow, l_ear, r_ear, mouth, u_lip, l_lip, hair, hat, ear_r, neck_l, neck, cloth
const LAPA_G_MASK = [0, 1, 6, 255, 5, 4, 3, 2, 1, 1, 8, 7, 9, 10, 0, 0, 0, 0, 0];
// face-parsing.PyTorch order: bg, skin, l_brow, r_brow, l_eye, r_eye, eye_g, l_ear, r_ear, ear_r, nose, mouth, u_lip, l_lip, neck, neck_l, cloth, hair, hat
const LAPA_FPP = [0, 1, 3, 2, 5, 4, 255, 1, 1, 0, 6, 8, 7, 9, 0, 0, 0, 10, 0];

const MAPPING =
  'idx orig_idx orig_file\n0 100 000101.jpg\n1 170000 170001.jpg\n2 190000 190001.jpg\n3 5 000006.jpg\n';

async function labelsOf(ds: Awaited<ReturnType<typeof openCelebAMask>>): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < ds.length; i++) out.push(Array.from((await ds.get(i)).label));
  return out;
}

describe('data: CelebAMask-HQ reader', () => {
  let root: string;
  beforeEach(async () => {
    root = await tempDir('fprl-celeb-');
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('maps a merged 19-class mask to LaPa classes (official g_mask order)', async () => {
    await writePng(path.join(root, 'train', 'images', '0.png'), pattern(1, 19), 1, 19);
    await writeLabel(path.join(root, 'train', 'labels', '0.png'), Uint8Array.from(MERGED), 1, 19);
    const ds = await openCelebAMask(root, 'train');
    expect(await labelsOf(ds)).to.deep.equal([LAPA_G_MASK]);
  });

  it('gives the native label (mask size, LaPa ids) and the photo size, whose mask is half its size', async () => {
    await writePng(path.join(root, 'train', 'images', '0.png'), pattern(4, 38), 4, 38);
    const mask = Uint8Array.from([...MERGED, ...MERGED, ...MERGED, ...MERGED].slice(0, 2 * 19));
    await writeLabel(path.join(root, 'train', 'labels', '0.png'), mask, 2, 19);
    const ds = await openCelebAMask(root, 'train', { size: 8 });
    expect([ds.height, ds.width]).to.deep.equal([8, 8]);
    const own = await ds.native!(0);
    expect([own.height, own.width, own.imageHeight, own.imageWidth]).to.deep.equal([2, 19, 4, 38]);
    expect(Array.from(own.label)).to.deep.equal([...LAPA_G_MASK, ...LAPA_G_MASK]);
  });

  it('maps the face-parsing.PyTorch order when asked', async () => {
    await writePng(path.join(root, 'train_img', '0.png'), pattern(1, 19), 1, 19);
    await writeLabel(path.join(root, 'train_label', '0.png'), Uint8Array.from(MERGED), 1, 19);
    const ds = await openCelebAMask(root, 'train', { mergedOrder: 'face-parsing-pytorch' });
    expect(await labelsOf(ds)).to.deep.equal([LAPA_FPP]);
  });

  it('rejects merged mask values above 18, naming the file', async () => {
    const f = path.join(root, 'train', 'labels', '0.png');
    await writePng(path.join(root, 'train', 'images', '0.png'), pattern(2, 2), 2, 2);
    await writeLabel(f, Uint8Array.from([0, 1, 19, 2]), 2, 2);
    let e: FprlError | undefined;
    try {
      await openCelebAMask(root, 'train');
    } catch (err) {
      e = err as FprlError;
    }
    expect(e?.where).to.equal(f);
    expect(e?.message).to.match(/mask value 19 at \(x=0, y=1\)/);
  });

  describe('original release layout (per-part masks)', () => {
    // 4x4 masks for a 8x8 image (CelebA-HQ images are twice the mask size).
    const H = 4;
    const W = 4;
    function mask(cells: [number, number][]): Uint8Array {
      const m = new Uint8Array(H * W);
      for (const [y, x] of cells) m[y * W + x] = 255;
      return m;
    }
    const all: [number, number][] = [];
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) all.push([y, x]);
    const parts: Record<string, [number, number][]> = {
      skin: all.filter(([y]) => y > 0),
      nose: [[2, 1]],
      eye_g: [
        [1, 0],
        [1, 1],
        [1, 2],
        [1, 3],
      ],
      l_eye: [[1, 3]], // subject's left = image right: LaPa right eye (5), drawn over the glasses
      r_eye: [[1, 0]],
      hair: [
        [0, 0],
        [0, 1],
        [0, 2],
        [0, 3],
        [2, 0],
      ],
      hat: [[0, 0]], // after hair: background
      neck: [[3, 3]], // after skin: background
      u_lip: [[3, 1]],
      l_lip: [[3, 2]],
    };
    const expected = [
      [0, 10, 10, 10],
      [4, 255, 255, 5],
      [10, 6, 1, 1],
      [1, 7, 9, 0],
    ].flat();

    async function writeParts(annoName = 'CelebAMask-HQ-mask-anno'): Promise<void> {
      for (const id of [0, 1, 3]) {
        await writeJpg(
          path.join(root, 'CelebA-HQ-img', `${id}.jpg`),
          pattern(2 * H, 2 * W, id),
          2 * H,
          2 * W,
        );
        for (const [part, cells] of Object.entries(parts)) {
          await writeLabel(
            path.join(root, annoName, '0', `${String(id).padStart(5, '0')}_${part}.png`),
            mask(cells),
            H,
            W,
          );
        }
      }
      await fs.writeFile(path.join(root, 'CelebA-HQ-to-CelebA-mapping.txt'), MAPPING);
    }

    it('merges the parts in the official order and maps them to LaPa classes', async () => {
      await writeParts();
      const ds = await openCelebAMask(root, 'train');
      expect(ds.length).to.equal(2); // ids 0 and 3 are train, 1 is val
      expect([ds.height, ds.width]).to.deep.equal([H, W]);
      expect((await ds.get(1)).id).to.equal('3');
      expect(await labelsOf(ds)).to.deep.equal([expected, expected]);
      const val = await openCelebAMask(root, 'val', { size: 8 });
      expect(val.length).to.equal(1);
      expect((await val.get(0)).id).to.equal('1');
    });

    it('gives the same labels as the merged-mask layout of the same data', async () => {
      await writeParts('CelebAMaskHQ-mask-anno');
      const parts19: Record<string, number> = {
        skin: 1,
        nose: 2,
        eye_g: 3,
        l_eye: 4,
        r_eye: 5,
        hair: 13,
        hat: 14,
        neck: 17,
        u_lip: 11,
        l_lip: 12,
      };
      // g_mask.py: later parts overwrite earlier ones, part i written as i + 1.
      const merged = new Uint8Array(H * W);
      for (const [part, cells] of Object.entries(parts).sort((a, b) => parts19[a[0]] - parts19[b[0]])) {
        for (const [y, x] of cells) merged[y * W + x] = parts19[part];
      }
      const other = await tempDir('fprl-celeb-merged-');
      try {
        for (const id of [0, 3]) {
          await writeJpg(
            path.join(other, 'CelebA-HQ-img', `${id}.jpg`),
            pattern(2 * H, 2 * W, id),
            2 * H,
            2 * W,
          );
          await writeLabel(path.join(other, 'CelebAMask-HQ-mask', `${id}.png`), merged, H, W);
        }
        await fs.writeFile(path.join(other, 'CelebA-HQ-to-CelebA-mapping.txt'), MAPPING);
        const fromMerged = await openCelebAMask(other, 'train');
        const fromParts = await openCelebAMask(root, 'train', { layout: 'parts' });
        expect(await labelsOf(fromMerged)).to.deep.equal(await labelsOf(fromParts));
      } finally {
        await fs.rm(other, { recursive: true, force: true });
      }
    });

    it('names unknown parts, images without masks and a missing split list', async () => {
      await writeParts();
      const stray = path.join(root, 'CelebAMask-HQ-mask-anno', '0', '00000_beard.png');
      await writeLabel(stray, mask([[0, 0]]), H, W);
      let e: FprlError | undefined;
      try {
        await openCelebAMask(root, 'train');
      } catch (err) {
        e = err as FprlError;
      }
      expect(e?.where).to.equal(stray);
      expect(e?.message).to.match(/unknown CelebAMask-HQ part 'beard'/);
      await fs.rm(stray);

      await writeJpg(path.join(root, 'CelebA-HQ-img', '3.jpg'), pattern(8, 8), 8, 8);
      await fs.rm(path.join(root, 'CelebAMask-HQ-mask-anno', '0'), { recursive: true });
      await fs.mkdir(path.join(root, 'CelebAMask-HQ-mask-anno', '0'));
      try {
        await openCelebAMask(root, 'train');
      } catch (err) {
        e = err as FprlError;
      }
      expect(e?.message).to.match(/image has no part masks/);

      await fs.rm(path.join(root, 'CelebA-HQ-to-CelebA-mapping.txt'));
      try {
        await openCelebAMask(root, 'train');
      } catch (err) {
        e = err as FprlError;
      }
      expect(e?.message).to.match(/CelebA-HQ-to-CelebA-mapping\.txt not found/);
    });
  });

  it('lists the layouts it looked for when none is there', async () => {
    let e: FprlError | undefined;
    try {
      await openCelebAMask(root, 'test');
    } catch (err) {
      e = err as FprlError;
    }
    expect(e?.message).to.match(/no CelebAMask-HQ layout found for split 'test'/);
    expect(e?.hint).to.contain('CelebAMask-HQ-mask-anno');
  });
});
