/**
 * Writes a sweep's report files into `outDir`:
 *   summary.json        the {@link Summary} (the numbers; written atomically)
 *   report.md           tables, links to the curves and pictures
 *   report.html         self-contained page: tables, inline SVG curves, embedded pictures
 *   curve-*.svg         learning curves (linked from report.md)
 * Every file is written to a temporary sibling and renamed, so a reader never sees half.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../core/atomic.js';
import { FprlError } from '../core/errors.js';
import { renderCurveSvg, type CurveChart } from './charts.js';
import { metricLabel, slug } from './format.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import type { Summary } from './summary.js';
import type { RunResult } from './types.js';

export interface ReportFiles {
  summaryJson: string;
  reportMd: string;
  reportHtml: string;
  /** The curve SVGs written. */
  curves: string[];
}

export interface ReportOptions {
  /** Most training-scalar charts (default 4). */
  maxTrainCharts?: number;
}

/**
 * Training scalars worth a chart, most telling first. Each kind of loss gets its own chart:
 * a cross-entropy and a policy-gradient surrogate are not on one scale, so `losses/total`
 * only comes when neither is there.
 */
const TRAIN_CHART_PREFERENCE = [
  /^rewards?\/mean$/,
  /^losses\/ce$/,
  /^losses\/policy$/,
  /^(policy\/)?entropy$/,
  /^losses\/total$/,
];

export async function writeReport(
  outDir: string,
  summary: Summary,
  runs: readonly RunResult[],
  opts: ReportOptions = {},
): Promise<ReportFiles> {
  const charts = chartsOf(summary, opts.maxTrainCharts ?? 4);
  const rendered: { title: string; svg: string; file: string }[] = [];
  for (const [i, c] of charts.entries()) {
    rendered.push({ title: c.chart.title, file: c.file, svg: await renderCurveSvg(c.chart, `c${i}`) });
  }

  const notes: string[] = [];
  const pictures = await loadPictures(outDir, summary, runs, notes);
  const shown: Summary = { ...summary, notes: [...summary.notes, ...notes] };

  const files: ReportFiles = {
    summaryJson: path.join(outDir, 'summary.json'),
    reportMd: path.join(outDir, 'report.md'),
    reportHtml: path.join(outDir, 'report.html'),
    curves: rendered.map((r) => path.join(outDir, r.file)),
  };
  try {
    await writeJsonAtomic(files.summaryJson, summary);
    for (const r of rendered) await writeFileAtomic(path.join(outDir, r.file), r.svg);
    const md = renderMarkdown(shown, {
      curves: rendered.map((r) => ({ title: r.title, href: r.file })),
      pictures: pictures.map((p) => ({ agent: p.agent, seed: p.seed, href: p.href })),
    });
    await writeFileAtomic(files.reportMd, md);
    const html = renderHtml(shown, {
      curves: rendered.map((r) => ({ title: r.title, svg: r.svg })),
      pictures: firstPerAgent(pictures).map((p) => ({
        agent: p.agent,
        seed: p.seed,
        dataUri: `data:image/png;base64,${p.png.toString('base64')}`,
      })),
    });
    await writeFileAtomic(files.reportHtml, html);
  } catch (e) {
    if (e instanceof FprlError) throw e;
    throw new FprlError(`could not write the report: ${(e as Error).message}`, {
      where: outDir,
      hint: 'check that the folder is writable and the disk has space; summary.json is rewritten on the next run',
      cause: e,
    });
  }
  return files;
}

/** The charts: each main metric's eval curve, then a few training scalars. */
function chartsOf(summary: Summary, maxTrain: number): { file: string; chart: CurveChart }[] {
  const agents = summary.agents.map((a) => a.agent);
  const out: { file: string; chart: CurveChart }[] = [];
  for (const m of summary.mainMetrics) {
    const series = summary.agents
      .filter((a) => (a.curves[m]?.length ?? 0) > 0)
      .map((a) => ({ agent: a.agent, points: a.curves[m] }));
    if (series.length === 0) continue;
    const label = metricLabel(m);
    out.push({
      file: `curve-eval-${slug(m)}.svg`,
      chart: { title: `${label} on the evaluation split`, yTitle: label, series, agents },
    });
  }
  const trainKeys = [...new Set(summary.agents.flatMap((a) => Object.keys(a.train)))].sort();
  const picked: string[] = [];
  for (const re of TRAIN_CHART_PREFERENCE)
    for (const k of trainKeys) if (re.test(k) && !picked.includes(k)) picked.push(k);
  for (const key of picked.slice(0, maxTrain)) {
    const series = summary.agents
      .filter((a) => (a.train[key]?.length ?? 0) > 0)
      .map((a) => ({ agent: a.agent, points: a.train[key] }));
    out.push({
      file: `curve-train-${slug(key)}.svg`,
      chart: { title: `${key} during training`, yTitle: key, series, agents },
    });
  }
  return out;
}

interface LoadedPicture {
  agent: string;
  seed: number;
  /** Link from report.md (relative to outDir, '/' separators). */
  href: string;
  png: Buffer;
}

/** Read each run's picture grid, in agent then seed order; a missing file becomes a note. */
async function loadPictures(
  outDir: string,
  summary: Summary,
  runs: readonly RunResult[],
  notes: string[],
): Promise<LoadedPicture[]> {
  const order = summary.agents.map((a) => a.agent);
  const withPictures = runs
    .filter((r) => r.picturesPng)
    .sort((a, b) => order.indexOf(a.agent) - order.indexOf(b.agent) || a.seed - b.seed);
  const out: LoadedPicture[] = [];
  for (const r of withPictures) {
    const file = path.resolve(r.picturesPng!);
    if (!existsSync(file)) {
      notes.push(`${r.agent} seed ${r.seed}: picture ${r.picturesPng} is missing.`);
      continue;
    }
    const href = path.relative(path.resolve(outDir), file).split(path.sep).map(encodeURIComponent).join('/');
    out.push({ agent: r.agent, seed: r.seed, href, png: await readFile(file) });
  }
  return out;
}

function firstPerAgent(pictures: LoadedPicture[]): LoadedPicture[] {
  const seen = new Set<string>();
  return pictures.filter((p) => !seen.has(p.agent) && seen.add(p.agent));
}
