import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeLabelPng } from '../../src/data/image-io.js';
import { FprlError } from '../../src/core/errors.js';
import { Command } from 'commander';
import { scoreFolders, formatScoreReport, register } from '../../src/commands/score.js';

/** Two 2x3 images; by hand: 12 pixels, 1 ignored, 9 of 11 right. */
const GT = {
  a: [0, 0, 1, 1, 10, 10],
  b: [0, 2, 2, 3, 255, 10],
};
const PRED = {
  a: [0, 0, 1, 0, 10, 10],
  b: [0, 2, 3, 3, 1, 10],
};

async function folders(pred: Record<string, number[]>, gt: Record<string, number[]>, h = 2, w = 3) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'fprl-score-'));
  const write = async (dir: string, maps: Record<string, number[]>) => {
    await fs.mkdir(path.join(root, dir));
    for (const [stem, labels] of Object.entries(maps)) {
      await writeLabelPng(path.join(root, dir, `${stem}.png`), Uint8Array.from(labels), h, w);
    }
  };
  await write('pred', pred);
  await write('gt', gt);
  return { root, pred: path.join(root, 'pred'), gt: path.join(root, 'gt') };
}

describe('fprl score', () => {
  const made: string[] = [];
  const make = async (...args: Parameters<typeof folders>) => {
    const f = await folders(...args);
    made.push(f.root);
    return f;
  };
  after(async () => {
    for (const d of made) await fs.rm(d, { recursive: true, force: true });
  });

  it('scores matched PNGs with the LaPa protocol (hand-computed)', async () => {
    const f = await make(PRED, GT);
    const r = await scoreFolders({ pred: f.pred, gt: f.gt });
    expect(r.images).to.equal(2);
    expect(r.pixels).to.equal(11);
    expect(r.pixelAccuracy).to.be.closeTo(9 / 11, 1e-12);
    // skin: TP 1, predicted 1 (b's 1 sits on an ignored pixel), true 2 -> F1 2/3, IoU 1/2
    expect(r.perClass.skin.f1).to.be.closeTo(2 / 3, 1e-12);
    expect(r.perClass.skin.iou).to.be.closeTo(1 / 2, 1e-12);
    expect(r.perClass.skin.support).to.equal(2);
    // right eyebrow (3): TP 1, predicted 2, true 1 -> F1 2/3; left eyebrow (2): TP 1, P 1, G 2 -> 2/3
    expect(r.perClass.right_eyebrow.f1).to.be.closeTo(2 / 3, 1e-12);
    expect(r.perClass.left_eyebrow.f1).to.be.closeTo(2 / 3, 1e-12);
    expect(r.perClass.hair.f1).to.equal(1);
    // foreground classes present: skin, left/right eyebrow, hair; the rest absent from both
    expect(r.meanF1).to.be.closeTo((2 / 3 + 2 / 3 + 2 / 3 + 1) / 4, 1e-12);
    expect(r.absent).to.deep.equal([
      'left_eye',
      'right_eye',
      'nose',
      'upper_lip',
      'inner_mouth',
      'lower_lip',
    ]);
    expect(r.perImage.pixelAccuracy.n).to.equal(2);
    expect(formatScoreReport(r)).to.contain('mean F1 (Dice)');
  });

  it('counts the ignore value given with --ignore', async () => {
    const f = await make({ a: [1, 1] }, { a: [1, 7] }, 1, 2);
    expect((await scoreFolders({ pred: f.pred, gt: f.gt, ignore: 7 })).pixelAccuracy).to.equal(1);
  });

  it('names missing and extra files', async () => {
    const f = await make({ a: PRED.a, c: PRED.b }, GT);
    try {
      await scoreFolders({ pred: f.pred, gt: f.gt });
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(FprlError);
      expect((e as Error).message).to.contain('1 ground-truth image(s) have no prediction: b');
      expect((e as Error).message).to.contain('1 prediction(s) have no ground truth: c');
    }
  });

  it('names both files when sizes differ', async () => {
    const f = await make({ a: PRED.a }, { a: GT.a });
    await writeLabelPng(path.join(f.gt, 'a.png'), new Uint8Array(4), 2, 2);
    await scoreFolders({ pred: f.pred, gt: f.gt }).then(
      () => expect.fail('should throw'),
      (e: FprlError) => {
        expect(e.where).to.equal(path.join(f.pred, 'a.png'));
        expect(e.message).to.contain(`its ground truth ${path.join(f.gt, 'a.png')} is 2x2`);
      },
    );
  });

  it('names the file holding a label outside the classes', async () => {
    const f = await make({ a: [0, 11] }, { a: [0, 1] }, 1, 2);
    await scoreFolders({ pred: f.pred, gt: f.gt }).then(
      () => expect.fail('should throw'),
      (e: FprlError) => {
        expect(e.where).to.equal(path.join(f.pred, 'a.png'));
        expect(e.message).to.contain('pixel 1 has label 11');
      },
    );
  });

  it('names a missing folder', async () => {
    await scoreFolders({ pred: '/nonexistent/pred', gt: '/nonexistent/gt' }).then(
      () => expect.fail('should throw'),
      (e: FprlError) => expect(e.message).to.equal('folder not found'),
    );
  });

  it('prints JSON with per-class scores by class name from the command', async () => {
    const f = await make(PRED, GT);
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
    const program = new Command('fprl').exitOverride();
    register(program);
    try {
      await program.parseAsync(['node', 'fprl', 'score', '--pred', f.pred, '--gt', f.gt, '--json']);
    } finally {
      process.stdout.write = write;
    }
    const json = JSON.parse(out.join(''));
    expect(json).to.include.keys('images', 'pixelAccuracy', 'meanF1', 'mIoU', 'perClass');
    expect(json.perClass.hair).to.deep.equal({ precision: 1, recall: 1, f1: 1, iou: 1, support: 3 });
    expect(json.perClass.nose.f1, 'NaN is written as null').to.equal(null);
  });
});
