import { expect } from 'chai';
import sharp from 'sharp';
import { CLASS_COLORS } from '../../src/core/classes.js';
import { FprlError } from '../../src/core/errors.js';
import {
  ERROR_COLOR,
  IGNORE_COLOR,
  errorMap,
  labelToRgb,
  overlay,
  predictionGridSize,
  renderPredictionGrid,
} from '../../src/report/pictures.js';

/** A face-like test picture: [H,W,3] in [-1,1], a label map with every class and an ignore band. */
function face(h: number, w: number, shift = 0) {
  const image = new Float32Array(h * w * 3);
  const truth = new Int32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      image.set([x / w - 0.5, y / h - 0.5, 0.2], p * 3);
      truth[p] = y < 2 ? 255 : Math.floor((x * 11) / w);
    }
  }
  const pred = truth.map((l, p) => (l === 255 ? 0 : (p + shift) % 7 === 0 ? (l + 1) % 11 : l));
  return { image, truth, pred: Int32Array.from(pred) };
}

describe('prediction pictures', () => {
  it('colours a label map with CLASS_COLORS and ignore pixels grey', () => {
    const rgb = labelToRgb([0, 1, 10, 255], 2, 2);
    expect([...rgb.subarray(3, 6)]).to.deep.equal([...CLASS_COLORS[1]]);
    expect([...rgb.subarray(6, 9)]).to.deep.equal([...CLASS_COLORS[10]]);
    expect([...rgb.subarray(9, 12)]).to.deep.equal([...IGNORE_COLOR]);
  });

  it('blends class colours over a photo and leaves ignore pixels alone', () => {
    const photo = Uint8Array.from([100, 100, 100, 50, 60, 70]);
    const out = overlay(photo, [1, 255], 0.5);
    const [r, g, b] = CLASS_COLORS[1];
    expect([...out]).to.deep.equal([
      Math.round(50 + r / 2),
      Math.round(50 + g / 2),
      Math.round(50 + b / 2),
      50,
      60,
      70,
    ]);
    // Normalised floats are accepted too: -1 is black, 1 is white.
    expect([...overlay(Float32Array.from([-1, -1, -1]), [0], 0)]).to.deep.equal([0, 0, 0]);
    expect(() => overlay(photo, [1], 0.5)).to.throw(FprlError, /image has 6 values, expected 3/);
  });

  it('marks wrong pixels red, ignore pixels grey, and dims correct ones', () => {
    const img = Uint8Array.from([200, 200, 200, 200, 200, 200, 200, 200, 200]);
    const out = errorMap(img, [1, 2, 255], [1, 3, 4]);
    expect([...out.subarray(3, 6)]).to.deep.equal([...ERROR_COLOR]);
    expect([...out.subarray(6, 9)]).to.deep.equal([...IGNORE_COLOR]);
    expect(out[0]).to.equal(Math.round(0.35 * 200));
  });

  it('renders one row per face with four panels, upscaled 2x for 64-px faces by default', async () => {
    const faces = [face(64, 64), face(64, 64, 3)];
    const png = await renderPredictionGrid({
      images: faces.map((f) => f.image),
      truth: faces.map((f) => f.truth),
      pred: faces.map((f) => f.pred),
      height: 64,
      width: 64,
    });
    const want = predictionGridSize(2, 64, 64);
    expect(want).to.deep.equal({ width: (4 * 64 + 3) * 2, height: (2 * 64 + 1) * 2 });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(info.format).to.equal('raw');
    expect([info.width, info.height, info.channels]).to.deep.equal([want.width, want.height, 3]);
    // The ground-truth panel of the first face, at output pixel (x, y) in the upscaled grid.
    const at = (x: number, y: number) => [
      ...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3),
    ];
    const panel = (k: number, x: number, y: number) => at((k * 65 + x) * 2, y * 2);
    expect(panel(1, 0, 10)).to.deep.equal([...CLASS_COLORS[0]]);
    expect(panel(1, 63, 10)).to.deep.equal([...CLASS_COLORS[10]]);
    expect(panel(1, 30, 0)).to.deep.equal([...IGNORE_COLOR]);
    expect(panel(3, 30, 0)).to.deep.equal([...IGNORE_COLOR]);
    expect(at(64 * 2, 10)).to.deep.equal([255, 255, 255]); // the gap between panels
  });

  it('refuses mismatched inputs with a clear error', async () => {
    const f = face(8, 8);
    let err: unknown;
    await renderPredictionGrid({ images: [f.image], truth: [f.truth], pred: [], height: 8, width: 8 }).catch(
      (e) => (err = e),
    );
    expect(err).to.be.instanceOf(FprlError);
    expect((err as FprlError).message).to.match(/1 images, 1 ground truths and 0 predictions/);
  });
});
