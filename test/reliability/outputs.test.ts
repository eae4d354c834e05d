/**
 * Outputs never clobber inputs or foreign files (docs/RELIABILITY.md, "Outputs"): every command
 * that writes refuses a target that is, contains or is inside one of its inputs, and a non-empty
 * folder (or an existing file) that fprl did not make unless --force is given; what was there is
 * left byte for byte.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { guardOutput, markOutput, OUTPUT_MARKER } from '../../src/core/output-guard.js';
import { expectCleanFailure, runCli, snapshot, tempDir, tinyExperiment, writeJson } from './fixtures.js';
import { refusal } from '../helpers/refusal.js';

const FIXTURE = path.resolve('test/fixtures/torch/reference-pre.safetensors');

function precious(dir: string, name = 'thesis.tex'): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, 'precious');
  return file;
}

describe('outputs never clobber inputs or foreign files', function () {
  this.timeout(120_000);
  let tmp: string;
  let sweep: string;
  let run: string;

  before(async () => {
    tmp = tempDir('outputs');
    sweep = path.join(tmp, 'sweep');
    const exp = writeJson(tmp, 'exp.json', tinyExperiment());
    const r = await runCli(['run', exp, '--out', sweep, '--backend', 'cpu', '--quiet']);
    expect(r.code, r.stderr).to.equal(0);
    run = path.join(sweep, 'ce', 'seed-0');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('guardOutput', () => {
    it('refuses a target that is, contains or is inside an input, even with --force', async () => {
      const input = path.join(tmp, 'g', 'photos');
      precious(input, 'a.png');
      const opts = { command: 'fprl predict', inputs: [input], force: true };
      expect((await refusal(guardOutput(input, opts))).message).to.contain('is the input');
      expect((await refusal(guardOutput(path.dirname(input), opts))).message).to.contain(
        'contains the input',
      );
      expect((await refusal(guardOutput(path.join(input, 'labels'), opts))).message).to.contain(
        'is inside the input',
      );
    });

    it('sees through a symbolic link to an input', async () => {
      const input = path.join(tmp, 'g2', 'photos');
      precious(input, 'a.png');
      const link = path.join(tmp, 'g2', 'link');
      fs.symlinkSync(input, link);
      const e = await refusal(guardOutput(link, { command: 'fprl predict', inputs: [input] }));
      expect(e.message).to.contain('is the input');
    });

    it("accepts its own folders (marker or older signs) and names another command's folder", async () => {
      const dir = path.join(tmp, 'g3');
      await markOutput(dir, 'fprl predict');
      fs.writeFileSync(path.join(dir, 'x.png'), '');
      expect(await guardOutput(dir, { command: 'fprl predict', inputs: [] })).to.equal('ours');
      const e = await refusal(guardOutput(dir, { command: 'fprl data synth', inputs: [] }));
      expect(e.message).to.contain('a folder that fprl predict made');
      const old = path.join(tmp, 'g4');
      precious(old, 'synthetic.json');
      expect(
        await guardOutput(old, { command: 'fprl data synth', inputs: [], recognise: [['synthetic.json']] }),
      ).to.equal('ours');
    });
  });

  describe('fprl run', () => {
    it('refuses a non-empty --out it did not make, names what is there, and writes nothing', async () => {
      const out = path.join(tmp, 'run-foreign');
      precious(out);
      const before = snapshot(out);
      const exp = writeJson(tmp, 'exp-foreign.json', tinyExperiment());
      const r = await runCli(['run', exp, '--out', out, '--backend', 'cpu', '--quiet']);
      expectCleanFailure(r, {
        where: out,
        message:
          /--out is a non-empty folder that fprl run did not make; fprl run would write into it, which holds thesis\.tex/,
        hint: '--force',
      });
      expect(snapshot(out)).to.deep.equal(before);
      const forced = await runCli(['run', exp, '--out', out, '--backend', 'cpu', '--quiet', '--force']);
      expect(forced.code, forced.stderr).to.equal(0);
      expect(fs.readFileSync(path.join(out, 'thesis.tex'), 'utf8')).to.equal('precious');
    });

    it('refuses an --out that holds the experiment file or is inside the data folder', async () => {
      const dir = path.join(tmp, 'run-holds');
      const exp = writeJson(dir, 'exp.json', tinyExperiment());
      expectCleanFailure(await runCli(['run', exp, '--out', dir, '--backend', 'cpu', '--quiet', '--force']), {
        where: dir,
        message: `--out contains the input ${exp}`,
        hint: 'outside every input',
      });
      const data = path.join(tmp, 'lapa-like');
      precious(path.join(data, 'train', 'images'), '0.jpg');
      const lapa = writeJson(tmp, 'exp-lapa.json', tinyExperiment({ dataset: { kind: 'lapa', root: data } }));
      const inside = path.join(data, 'runs');
      expectCleanFailure(await runCli(['run', lapa, '--out', inside, '--backend', 'cpu', '--quiet']), {
        where: inside,
        message: `--out is inside the input ${data}`,
      });
      expect(fs.existsSync(inside)).to.equal(false);
    });

    it('resumes a sweep folder made before the marker (config.json + environment.json)', async () => {
      fs.rmSync(path.join(sweep, OUTPUT_MARKER));
      const r = await runCli(['run', '--resume', sweep, '--backend', 'cpu', '--quiet']);
      expect(r.code, r.stderr).to.equal(0);
      expect(fs.existsSync(path.join(sweep, OUTPUT_MARKER))).to.equal(true);
    });
  });

  describe('fprl predict', () => {
    it('refuses to write label maps over the photos they are made from', async () => {
      const photos = path.join(tmp, 'photos');
      precious(photos, 'face.png');
      const before = snapshot(photos);
      const r = await runCli([
        'predict',
        photos,
        '--run',
        run,
        '--out',
        photos,
        '--backend',
        'cpu',
        '--force',
      ]);
      expectCleanFailure(r, { where: photos, message: `--out is the input ${photos}` });
      expect(snapshot(photos)).to.deep.equal(before);
    });

    it('refuses a non-empty --out it did not make unless --force, and writes again into its own', async () => {
      const photos = path.join(tmp, 'photos2');
      fs.mkdirSync(photos, { recursive: true });
      await sharp({ create: { width: 20, height: 12, channels: 3, background: { r: 200, g: 150, b: 120 } } })
        .png()
        .toFile(path.join(photos, 'face.png'));
      const out = path.join(tmp, 'labels');
      precious(out);
      const args = ['predict', photos, '--run', run, '--out', out, '--backend', 'cpu'];
      expectCleanFailure(await runCli(args), {
        where: out,
        message: 'non-empty folder that fprl predict did not make',
        hint: '--force',
      });
      expect(fs.readdirSync(out)).to.deep.equal(['thesis.tex']);
      const forced = await runCli([...args, '--force']);
      expect(forced.code, forced.stderr).to.equal(0);
      expect(fs.readFileSync(path.join(out, 'thesis.tex'), 'utf8')).to.equal('precious');
      // --force is not remembered: the folder still holds the user's file, so it still needs it.
      expect(fs.existsSync(path.join(out, OUTPUT_MARKER))).to.equal(false);
      expect((await runCli(args)).code).to.not.equal(0);
      // A folder it made is written again without --force.
      const own = path.join(tmp, 'labels-own');
      const ownArgs = ['predict', photos, '--run', run, '--out', own, '--backend', 'cpu'];
      expect((await runCli(ownArgs)).code).to.equal(0);
      const again = await runCli(ownArgs);
      expect(again.code, again.stderr).to.equal(0);
      expect(fs.readdirSync(own).sort()).to.deep.equal([OUTPUT_MARKER, 'face.png', 'overlays']);
    });
  });

  describe('fprl data synth', () => {
    it('refuses to write a synthetic set over an existing dataset, and rewrites its own', async () => {
      const data = path.join(tmp, 'dataset');
      precious(path.join(data, 'train', 'images'), '0.jpg');
      const before = snapshot(data);
      const args = [
        'data',
        'synth',
        '--out',
        data,
        '--train',
        '2',
        '--val',
        '0',
        '--test',
        '0',
        '--size',
        '16',
      ];
      expectCleanFailure(await runCli(args), {
        where: data,
        message:
          'non-empty folder that fprl data synth did not make; fprl data synth would write into it, which holds train',
        hint: '--force',
      });
      expect(snapshot(data)).to.deep.equal(before);
      const own = path.join(tmp, 'synth');
      const ownArgs = [
        'data',
        'synth',
        '--out',
        own,
        '--train',
        '2',
        '--val',
        '0',
        '--test',
        '0',
        '--size',
        '16',
      ];
      expect((await runCli(ownArgs)).code).to.equal(0);
      expect((await runCli(ownArgs)).code).to.equal(0);
    });
  });

  describe('fprl eval --out', () => {
    it('refuses to overwrite a file it did not write, or a file of the run; rewrites its own report', async () => {
      const file = precious(path.join(tmp, 'eval'), 'notes.json');
      const args = ['eval', '--run', run, '--backend', 'cpu', '--limit', '2'];
      expectCleanFailure(await runCli([...args, '--out', file]), {
        where: file,
        message: 'existing file that fprl eval did not write',
        hint: '--force',
      });
      expect(fs.readFileSync(file, 'utf8')).to.equal('precious');
      const result = path.join(run, 'result.json');
      const kept = fs.readFileSync(result);
      expectCleanFailure(await runCli([...args, '--out', result, '--force']), {
        where: result,
        message: `--out is inside the input ${run}`,
      });
      expect(fs.readFileSync(result)).to.deep.equal(kept);
      const report = path.join(tmp, 'eval', 'report.json');
      expect((await runCli([...args, '--out', report])).code).to.equal(0);
      expect(JSON.parse(fs.readFileSync(report, 'utf8')).split).to.be.a('string');
      expect((await runCli([...args, '--out', report])).code).to.equal(0);
    });
  });

  describe('fprl import --out and fprl export --out', () => {
    it('import refuses an --out that is its own input file', async () => {
      const dir = path.join(tmp, 'imp');
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'w.safetensors');
      fs.copyFileSync(FIXTURE, file);
      const kept = fs.readFileSync(file);
      for (const out of [file, dir]) {
        expectCleanFailure(await runCli(['import', file, '--out', out, '--heads', '2', '--force']), {
          where: out,
          message: /--out (is|contains) the input/,
        });
      }
      expect(fs.readFileSync(file)).to.deep.equal(kept);
    });

    it('export refuses to overwrite a file it did not write unless --force, and rewrites its own', async () => {
      const file = precious(path.join(tmp, 'exp-out'), 'model.safetensors');
      const args = ['export', run, '--format', 'safetensors', '--out', file];
      expectCleanFailure(await runCli(args), {
        where: file,
        message: 'existing file that fprl export did not write',
        hint: '--force',
      });
      expect(fs.readFileSync(file, 'utf8')).to.equal('precious');
      expect((await runCli([...args, '--force'])).code).to.equal(0);
      expect((await runCli(args)).code, 'its own safetensors').to.equal(0);
      const onnx = path.join(tmp, 'exp-out', 'model.onnx');
      const onnxArgs = ['export', run, '--format', 'onnx', '--out', onnx];
      expect((await runCli(onnxArgs)).code).to.equal(0);
      expect((await runCli(onnxArgs)).code, 'its own ONNX').to.equal(0);
      const weights = path.join(run, 'checkpoints');
      const inRun = fs
        .readdirSync(weights, { recursive: true })
        .map((f) => path.join(weights, String(f)))
        .find((f) => f.endsWith('weights.bin'))!;
      expectCleanFailure(await runCli(['export', run, '--format', 'onnx', '--out', inRun, '--force']), {
        where: inRun,
        message: `--out is inside the input ${run}`,
      });
      // A new file inside the run folder touches nothing; writing it again is writing its own file.
      const beside = path.join(run, 'model.onnx');
      expect((await runCli(['export', run, '--format', 'onnx', '--out', beside])).code).to.equal(0);
      expect((await runCli(['export', run, '--format', 'onnx', '--out', beside])).code).to.equal(0);
    });
  });
});
