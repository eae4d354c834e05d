import { expect } from 'chai';
import { Command } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { register, runDataCheck, runDataSynth } from '../../src/commands/data.js';
import { SyntheticFaces, openLapaFolder } from '../../src/data/index.js';
import { FprlError } from '../../src/core/errors.js';
import { bands, tempDir, writeLabel } from './helpers.js';

describe('data: fprl data synth and fprl data check', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir('fprl-synth-');
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes synthetic faces in the LaPa layout that read back byte for byte', async () => {
    const lines: string[] = [];
    await runDataSynth({ out: dir, train: 3, val: 2, test: 0, size: 24, seed: 5, format: 'png' }, (l) =>
      lines.push(l),
    );
    expect(lines[0]).to.match(/wrote train 3, val 2 synthetic faces \(24 px, seed 5, png\)/);
    expect((await fs.readdir(path.join(dir, 'train', 'images'))).sort()).to.deep.equal([
      '0.png',
      '1.png',
      '2.png',
    ]);
    expect(await fs.readdir(dir)).to.not.include('test');
    const read = await openLapaFolder(dir, 'val');
    const mem = new SyntheticFaces({ size: 24, count: 2, seed: 5, split: 'val' });
    for (let i = 0; i < 2; i++) {
      const [a, b] = [await read.get(i), await mem.get(i)];
      expect(Array.from(a.image)).to.deep.equal(Array.from(b.image));
      expect(Array.from(a.label)).to.deep.equal(Array.from(b.label));
    }
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'synthetic.json'), 'utf8'));
    expect(manifest).to.include({ seed: 5, size: 24 });
  });

  it('checks a good folder: counts, class shares, no problems', async () => {
    await runDataSynth(
      { out: dir, train: 4, val: 0, test: 2, size: 32, seed: 1, format: 'jpg' },
      () => undefined,
    );
    const lines: string[] = [];
    const report = await runDataCheck(dir, { format: 'lapa' }, (l) => lines.push(l));
    expect(report.splits.map((s) => [s.split, s.samples, s.good])).to.deep.equal([
      ['train', 4, 4],
      ['test', 2, 2],
    ]);
    expect(report.missing).to.deep.equal(['val']);
    expect(report.errors).to.equal(0);
    const train = report.splits[0];
    expect(train.classShare.reduce((a, b) => a + b, 0) + train.ignoreShare).to.be.closeTo(1, 1e-9);
    expect(train.pixels).to.equal(4 * 32 * 32);
    expect(lines.join('\n')).to.match(/left_eyebrow/);
    // Warnings, no errors: the missing val split (fprl run validates on it), and a class the two
    // test faces happen not to show.
    expect(lines.join('\n')).to.match(
      /0 errors, 2 warnings\n {2}warning: .*val: the val split is missing\n {2}warning: .*test: class absent from the whole test split: inner_mouth/,
    );
  });

  it("prints class weights from the training split's pixel shares with --class-weights", async () => {
    await runDataSynth(
      { out: dir, train: 4, val: 2, test: 0, size: 32, seed: 1, format: 'png' },
      () => undefined,
    );
    const lines: string[] = [];
    const report = await runDataCheck(dir, { format: 'lapa', classWeights: 'inverse-sqrt' }, (l) =>
      lines.push(l),
    );
    const i = lines.findIndex((l) => l.startsWith('class weights (inverse-sqrt of the train pixel shares'));
    expect(i, lines.join('\n')).to.be.greaterThan(0);
    const weights = JSON.parse(lines[i + 1]) as number[];
    expect(weights).to.have.length(11);
    const share = report.splits[0].classShare;
    const present = weights.filter((w, k) => share[k] > 0);
    expect(present.reduce((a, b) => a + b, 0) / present.length).to.be.closeTo(1, 1e-3);
    // rarer classes weigh more: background (most pixels) less than the left eye
    expect(weights[0]).to.be.lessThan(weights[4]);
    const json: string[] = [];
    await runDataCheck(
      dir,
      { format: 'lapa', classWeights: 'inverse', weightsSplit: 'val', json: true },
      (l) => json.push(l),
    );
    expect(JSON.parse(json[0]).classWeights).to.include({ split: 'val', kind: 'inverse' });
    let e: unknown;
    try {
      await runDataCheck(
        dir,
        { format: 'lapa', classWeights: 'inverse', weightsSplit: 'test' },
        () => undefined,
      );
    } catch (err) {
      e = err;
    }
    expect(e).to.be.instanceOf(FprlError);
    expect((e as FprlError).message).to.match(/split 'test' is not in the folder \(found: train, val\)/);
  });

  it('lists every problem and fails (non-zero exit) when there are errors', async () => {
    await runDataSynth(
      { out: dir, train: 3, val: 0, test: 0, size: 16, seed: 1, format: 'png' },
      () => undefined,
    );
    const bad = bands(16, 16);
    bad[0] = 12;
    await writeLabel(path.join(dir, 'train', 'labels', '1.png'), bad, 16, 16);
    await fs.writeFile(path.join(dir, 'train', 'images', '2.png'), '');
    const lines: string[] = [];
    let e: unknown;
    try {
      await runDataCheck(dir, { format: 'lapa' }, (l) => lines.push(l));
    } catch (err) {
      e = err;
    }
    expect(e).to.be.instanceOf(FprlError);
    expect((e as FprlError).message).to.equal('2 errors found');
    const text = lines.join('\n');
    expect(text).to.match(/error: .*1\.png: label value 12/);
    expect(text).to.match(/error: .*2\.png: empty file/);
    expect(text).to.match(/good\s+1/);
  });

  it('registers `data synth` and `data check` on the program', async () => {
    const program = new Command('fprl').exitOverride().configureOutput({ writeErr: () => undefined });
    register(program);
    const written: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync([
        'node',
        'fprl',
        'data',
        'synth',
        '--out',
        dir,
        '--train',
        '2',
        '--val',
        '1',
        '--test',
        '0',
        '--size',
        '16',
      ]);
      await program.parseAsync(['node', 'fprl', 'data', 'check', dir, '--json']);
    } finally {
      process.stdout.write = orig;
    }
    expect(written[0]).to.match(/wrote train 2, val 1/);
    const report = JSON.parse(written[1]);
    expect(report.splits.map((s: { good: number }) => s.good)).to.deep.equal([2, 1]);
    expect(() => program.parse(['node', 'fprl', 'data', 'synth', '--out', dir, '--size', 'x'])).to.throw(
      /integer/,
    );
  });
});
