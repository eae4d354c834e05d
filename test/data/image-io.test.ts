import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  IMAGE_RANGE,
  denormalizeImage,
  normalizeImage,
  readImageFile,
  readLabelPng,
  resizeLabelNearest,
  writeLabelPng,
} from '../../src/data/index.js';
import { FprlError } from '../../src/core/errors.js';
import { pattern, tempDir, writePng, writeRgbPng } from './helpers.js';

async function errorOf(p: Promise<unknown>): Promise<FprlError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(FprlError);
    return e as FprlError;
  }
  throw new Error('expected an error');
}

describe('data: normalisation and image IO', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('maps 0..255 onto IMAGE_RANGE and back exactly', () => {
    const rgb = new Uint8Array(256).map((_, i) => i);
    const f = normalizeImage(rgb);
    expect(f[0]).to.equal(IMAGE_RANGE[0]);
    expect(f[255]).to.equal(IMAGE_RANGE[1]);
    expect(f[128]).to.be.closeTo(0.00392, 1e-4);
    expect(Array.from(denormalizeImage(f))).to.deep.equal(Array.from(rgb));
    expect(Array.from(denormalizeImage(new Float32Array([-3, 3, NaN])))).to.deep.equal([0, 255, 0]);
    const out = new Float32Array(256);
    expect(normalizeImage(rgb, out)).to.equal(out);
    expect(() => normalizeImage(rgb, new Float32Array(3))).to.throw(RangeError);
  });

  it('round-trips a label map through a greyscale PNG', async () => {
    const label = new Uint8Array(6 * 5).map((_, i) => (i % 12 === 11 ? 255 : i % 11));
    const file = path.join(dir, 'label.png');
    await writeLabelPng(file, label, 6, 5);
    const back = await readLabelPng(file);
    expect([back.height, back.width]).to.deep.equal([6, 5]);
    expect(Array.from(back.data)).to.deep.equal(Array.from(label));
  });

  it('reads an image as RGB bytes and resizes it on request', async () => {
    const file = path.join(dir, 'img.png');
    const rgb = pattern(10, 12);
    await writePng(file, rgb, 10, 12);
    const img = await readImageFile(file);
    expect([img.height, img.width]).to.deep.equal([10, 12]);
    expect(Buffer.from(img.data).equals(Buffer.from(rgb))).to.equal(true);
    const small = await readImageFile(file, { height: 5, width: 6 });
    expect([small.height, small.width, small.data.length]).to.deep.equal([5, 6, 90]);
  });

  it('resizes labels by nearest neighbour, never inventing values', () => {
    const label = { data: new Uint8Array([1, 2, 3, 4]), height: 2, width: 2 };
    const up = resizeLabelNearest(label, 4, 4);
    expect(Array.from(up.data)).to.deep.equal([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    expect(Array.from(resizeLabelNearest(up, 2, 2).data)).to.deep.equal([1, 2, 3, 4]);
  });

  it('names the file when a label is RGB, empty, missing or not an image', async () => {
    const rgbLabel = path.join(dir, 'rgb.png');
    await writeRgbPng(rgbLabel, 4, 4);
    let e = await errorOf(readLabelPng(rgbLabel));
    expect(e.where).to.equal(rgbLabel);
    expect(e.message).to.match(/3 channels/);

    const empty = path.join(dir, 'empty.png');
    await fs.writeFile(empty, '');
    e = await errorOf(readLabelPng(empty));
    expect([e.where, e.message]).to.deep.equal([empty, 'empty file (0 bytes)']);

    const text = path.join(dir, 'text.jpg');
    await fs.writeFile(text, 'not an image');
    e = await errorOf(readImageFile(text));
    expect(e.where).to.equal(text);
    expect(e.message).to.match(/not an image file/);

    e = await errorOf(readImageFile(path.join(dir, 'nope.jpg')));
    expect(e.message).to.equal('file not found');
  });
});
