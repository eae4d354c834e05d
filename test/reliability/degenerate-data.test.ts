/**
 * Degenerate data (docs/RELIABILITY.md, "Data folders"): `fprl data check` and `fprl run` report
 * an empty or missing split, a split whose every label map holds one class only (errors) and
 * classes absent from a whole split (warnings), on tiny generated LaPa folders.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { NUM_CLASSES } from '../../src/core/classes.js';
import { encodeLabelPng } from '../../src/data/image-io.js';
import { addLabel, degenerateProblems, newTally } from '../../src/data/degenerate.js';
import { expectCleanFailure, runCli, snapshot, tempDir, tinyExperiment, writeJson } from './fixtures.js';
import { SIZE, writeCleanLapa } from './lapa-faults.js';

/** Rewrite every label of `split` with `fill(y, x)`. */
async function relabel(root: string, split: string, fill: (y: number, x: number) => number): Promise<void> {
  const dir = path.join(root, split, 'labels');
  for (const f of fs.readdirSync(dir)) {
    const label = new Uint8Array(SIZE * SIZE);
    for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) label[y * SIZE + x] = fill(y, x);
    fs.writeFileSync(path.join(dir, f), await encodeLabelPng(label, SIZE, SIZE));
  }
}

describe('degenerate data', function () {
  this.timeout(60_000);
  let tmp: string;
  let clean: string;
  let n = 0;
  before(async () => {
    tmp = tempDir('degenerate');
    clean = path.join(tmp, 'clean');
    await writeCleanLapa(clean);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A fresh copy of the clean folder. */
  function copy(): string {
    const root = path.join(tmp, `lapa-${n++}`);
    fs.cpSync(clean, root, { recursive: true });
    return root;
  }

  const check = (root: string) => runCli(['data', 'check', root, '--json']);
  const problemsOf = (stdout: string) =>
    (
      JSON.parse(stdout) as { splits: { problems: { severity: string; message: string; file: string }[] }[] }
    ).splits.flatMap((s) => s.problems);

  async function run(root: string) {
    const exp = writeJson(
      tmp,
      `exp-${n++}.json`,
      tinyExperiment({
        dataset: { kind: 'lapa', root, size: SIZE },
        agents: [{ name: 'majority', kind: 'majority' }],
      }),
    );
    const out = path.join(tmp, `out-${n++}`);
    return { r: await runCli(['run', exp, '--out', out, '--backend', 'cpu', '--quiet']), out };
  }

  describe('the rules (a tally of label maps)', () => {
    it('an empty split is an error; one class in every label map is an error; absent classes are a warning', () => {
      expect(degenerateProblems('val', newTally(), 'v').map((p) => [p.severity, p.message])).to.deep.equal([
        ['error', 'the val split is empty: no usable samples'],
      ]);
      const blank = newTally();
      for (let i = 0; i < 3; i++) addLabel(blank, new Uint8Array(16));
      expect(degenerateProblems('train', blank, 't').map((p) => [p.severity, p.message])).to.deep.equal([
        ['error', 'every label map of the train split is background only (3 images)'],
      ]);
      const two = newTally();
      addLabel(two, new Uint8Array(4).fill(1));
      addLabel(two, Uint8Array.from([10, 10, 255, 255]));
      expect(degenerateProblems('train', two, 't')[0].message).to.equal(
        'every label map of the train split holds one class only (skin, hair; 2 images)',
      );
      const some = newTally();
      addLabel(some, Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 255]));
      expect(degenerateProblems('test', some, 't').map((p) => [p.severity, p.message])).to.deep.equal([
        ['warning', 'classes absent from the whole test split: lower_lip, hair'],
      ]);
      const all = newTally();
      addLabel(
        all,
        Uint8Array.from({ length: NUM_CLASSES }, (_, k) => k),
      );
      expect(degenerateProblems('test', all, 't')).to.deep.equal([]);
    });
  });

  describe('fprl data check', () => {
    it('reports an empty split as an error and exits non-zero', async () => {
      const root = copy();
      for (const sub of ['images', 'labels']) {
        const dir = path.join(root, 'test', sub);
        for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
      }
      const r = await check(root);
      expect(r.code).to.not.equal(0);
      expect(problemsOf(r.stdout)).to.deep.include({
        file: path.join(root, 'test'),
        message: 'the test split is empty: no usable samples',
        hint: 'put image/label pairs in its images/ and labels/ folders, or remove the split folder',
        severity: 'error',
      });
    });

    it('reports a missing train split as an error, a missing val or test split as a warning', async () => {
      const noTest = copy();
      fs.rmSync(path.join(noTest, 'test'), { recursive: true });
      const r = await check(noTest);
      expect(r.code, r.stderr).to.equal(0);
      expect(problemsOf(r.stdout).map((p) => [p.severity, p.message])).to.deep.include([
        'warning',
        'the test split is missing',
      ]);
      const noTrain = copy();
      fs.rmSync(path.join(noTrain, 'train'), { recursive: true });
      const t = await check(noTrain);
      expect(t.code).to.not.equal(0);
      expect(problemsOf(t.stdout).map((p) => [p.severity, p.message, p.file])).to.deep.include([
        'error',
        'the train split is missing',
        path.join(noTrain, 'train'),
      ]);
    });

    it('reports a split whose every label map is one class as an error', async () => {
      const root = copy();
      await relabel(root, 'train', () => 0);
      const r = await runCli(['data', 'check', root]);
      expect(r.code).to.not.equal(0);
      expect(r.stdout).to.contain(
        `error: ${path.join(root, 'train')}: every label map of the train split is background only (4 images)`,
      );
    });

    it('reports classes absent from a whole split as a warning, with exit 0', async () => {
      const root = copy();
      await relabel(root, 'val', (y) => (y < SIZE / 2 ? 0 : 1));
      const r = await runCli(['data', 'check', root]);
      expect(r.code, r.stdout).to.equal(0);
      expect(r.stdout).to.contain(
        `warning: ${path.join(root, 'val')}: classes absent from the whole val split: left_eyebrow, right_eyebrow, left_eye, right_eye, nose, upper_lip, inner_mouth, lower_lip, hair`,
      );
    });
  });

  describe('fprl run', () => {
    it('refuses a split whose every label map is one class, naming the split folder, before any run', async () => {
      const root = copy();
      await relabel(root, 'val', () => 1);
      const before = snapshot(root);
      const { r, out } = await run(root);
      expectCleanFailure(r, {
        where: path.join(root, 'val'),
        message: 'every label map of the val split is skin only (2 images)',
        hint: 'written wrong',
      });
      expect(snapshot(root)).to.deep.equal(before);
      expect(fs.existsSync(path.join(out, 'config.json'))).to.equal(false);
    });

    it('warns about classes absent from a whole split and still runs', async () => {
      const root = copy();
      await relabel(root, 'train', (y, x) => (x < SIZE / 2 ? 0 : y < SIZE / 2 ? 1 : 10));
      const { r } = await run(root);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain(
        `warning: ${path.join(root, 'train')}: classes absent from the whole train split: left_eyebrow, right_eyebrow, left_eye, right_eye, nose, upper_lip, inner_mouth, lower_lip`,
      );
    });

    it('refuses an empty split (as before: no usable samples)', async () => {
      const root = copy();
      for (const sub of ['images', 'labels']) {
        const dir = path.join(root, 'val', sub);
        for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
      }
      const { r } = await run(root);
      expectCleanFailure(r, { where: root, message: /no usable samples in .*\(val\)/ });
    });
  });
});
