import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderPredictionGrid } from '../../src/report/pictures.js';
import { buildSummary, type Summary } from '../../src/report/summary.js';
import type { RunResult } from '../../src/report/types.js';
import { writeReport, type ReportFiles } from '../../src/report/write.js';
import { tinySweep } from './fixtures.js';

describe('writeReport', () => {
  let dir: string;
  let runs: RunResult[];
  let files: ReportFiles;
  let summary: Summary;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fprl-report-'));
    runs = tinySweep();
    // A real picture for ce seed 0, where the runner keeps it.
    const h = 8;
    const png = await renderPredictionGrid({
      images: [new Float32Array(h * h * 3)],
      truth: [new Int32Array(h * h).fill(1)],
      pred: [new Int32Array(h * h).fill(2)],
      height: h,
      width: h,
    });
    mkdirSync(join(dir, 'ce', 'seed-0'), { recursive: true });
    writeFileSync(join(dir, 'ce', 'seed-0', 'predictions.png'), png);
    runs.find((r) => r.agent === 'ce' && r.seed === 0)!.picturesPng = join(
      dir,
      'ce',
      'seed-0',
      'predictions.png',
    );
    runs.find((r) => r.agent === 'reinforce' && r.seed === 0)!.picturesPng = join(dir, 'gone.png');
    summary = buildSummary('tiny', runs);
    files = await writeReport(dir, summary, runs);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes summary.json, report.md, report.html and curve SVGs, and no temp files', () => {
    expect(JSON.parse(readFileSync(files.summaryJson, 'utf8'))).to.deep.equal(
      JSON.parse(JSON.stringify(summary)),
    );
    expect(files.curves.map((f) => f.slice(dir.length + 1))).to.deep.equal([
      'curve-eval-meanF1.svg',
      'curve-eval-mIoU.svg',
      'curve-train-rewards-mean.svg',
      'curve-train-losses-ce.svg',
      'curve-train-losses-policy.svg',
    ]);
    for (const f of files.curves)
      expect(readFileSync(f, 'utf8')).to.match(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).to.deep.equal([]);
  });

  it('puts the tables, failures, notes and links in report.md', () => {
    const md = readFileSync(files.reportMd, 'utf8');
    expect(md).to.contain('# tiny: agent comparison');
    expect(md).to.match(/\| ce \| 2\/2 \| \*\*0\.550 ± 0\.635\*\* \|/);
    expect(md).to.match(/\| reinforce \| 1\/2 \| 0\.300 \(n=1\) \|/);
    expect(md).to.contain(
      '| agent | Skin | L-B | R-B | L-E | R-E | Nose | U-L | I-M | L-L | Hair | mean F1 |',
    );
    expect(md).to.contain(
      '| mean F1 | ce | reinforce | +0.250 | n/a | n/a | n/a | n/a | needs at least 2 seeds on each side |',
    );
    expect(md).to.contain('| reinforce | 1 | reward plugin f1 returned NaN \\| at step 12 |');
    expect(md).to.contain('![mean F1 on the evaluation split](curve-eval-meanF1.svg)');
    expect(md).to.contain('![ce seed 0](ce/seed-0/predictions.png)');
    expect(md).to.match(/reinforce seed 0: picture .*gone\.png is missing/);
  });

  it('writes a self-contained report.html with inline SVG curves, the per-class table and embedded pictures', () => {
    const html = readFileSync(files.reportHtml, 'utf8');
    expect(html).to.match(/^<!doctype html>/);
    expect(html.match(/<svg/g)).to.have.length(5);
    expect(html).to.contain('<table id="per-class-f1"');
    expect(html).to.contain('<table id="comparisons"');
    expect(html).to.match(/<img src="data:image\/png;base64,iVBORw0KGgo/);
    expect(html).to.contain('reward plugin f1 returned NaN | at step 12');
    // Self-contained: nothing fetched from elsewhere.
    expect(html).to.not.match(/<script|<link|src="http/);
    // Inlined SVGs must not share element ids.
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('escapes agent names and errors in HTML', async () => {
    const evil: RunResult[] = [
      {
        agent: '<b>x</b>',
        seed: 0,
        status: 'failed',
        error: '<script>alert(1)</script>',
        wallSeconds: 1,
        curve: [],
      },
    ];
    const files = await writeReport(join(dir, 'evil'), buildSummary('e&<', evil), evil);
    const html = readFileSync(files.reportHtml, 'utf8');
    expect(html).to.not.contain('<script>');
    expect(html).to.contain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).to.contain('<title>e&amp;&lt;: report</title>');
  });
});
