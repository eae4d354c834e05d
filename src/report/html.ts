/**
 * report.html: one self-contained page (inline CSS, inline SVG curves, pictures as base64
 * PNG), readable offline and attachable to an email or an issue.
 */
import { CLASS_COLORS, CLASS_NAMES } from '../core/classes.js';
import {
  bestIndex,
  CLASS_ABBREV,
  interval,
  metricLabel,
  num,
  pValue,
  resolutionPhrase,
  seconds,
  signed,
} from './format.js';
import { tableClasses } from './markdown.js';
import type { Estimate } from './stats.js';
import type { Comparison, Summary } from './summary.js';

export interface HtmlAssets {
  /** Rendered charts, in display order. */
  curves: { title: string; svg: string }[];
  /** Prediction grids as `data:image/png;base64,...`. */
  pictures: { agent: string; seed: number; dataUri: string }[];
}

const CSS = `
body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d2330;margin:2rem auto;max-width:1100px;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #dde2ea;padding-bottom:.2rem}
p.lead{color:#4a5568;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e5e9f0;text-align:right;white-space:nowrap}
th{background:#f5f7fa;font-weight:600}th:first-child,td:first-child{text-align:left}
th.text,td.text{text-align:left;white-space:normal}
.scroll{overflow-x:auto}
table.per-class td .pm{display:block;line-height:1.1}
tr:hover td{background:#fafbfd}
.best{font-weight:700}
.pm{color:#6b7280;font-size:.85em}
.sw{display:inline-block;width:.7em;height:.7em;border:1px solid #999;margin-right:.25em;vertical-align:baseline}
.sig{color:#0a7a32;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts figure{margin:0}
figure.pic{margin:.6rem 0 1.4rem}figure.pic img{image-rendering:pixelated;max-width:100%;border:1px solid #e5e9f0}
figcaption{color:#4a5568;font-size:.9em}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1rem;font-size:.9em;margin:.4rem 0}
ul.notes li{margin:.2rem 0}
.failed td{color:#9b1c1c}
`;

export function renderHtml(summary: Summary, assets: HtmlAssets): string {
  const level = Math.round(summary.confidenceLevel * 100);
  const okRuns = summary.agents.reduce((s, a) => s + a.seeds.length, 0);
  const totalRuns = okRuns + summary.agents.reduce((s, a) => s + a.failedSeeds.length, 0);
  const parts: string[] = [];
  parts.push(
    `<h1>${esc(summary.experiment)}: agent comparison</h1>`,
    `<p class="lead">${summary.agents.length} agents, ${okRuns} of ${totalRuns} runs finished. Final evaluation ${esc(resolutionPhrase(summary))}: ` +
      `mean ± half-width of the ${level}% confidence interval over seeds (Student t). Bold: best mean.</p>`,
  );
  parts.push(resultsTable(summary));
  parts.push(perClassTable(summary));
  parts.push(comparisonsTable(summary, level));
  if (assets.curves.length > 0) {
    parts.push(
      '<h2>Learning curves</h2><div class="charts">',
      ...assets.curves.map((c) => `<figure aria-label="${esc(c.title)}">${c.svg}</figure>`),
      '</div>',
    );
  }
  if (assets.pictures.length > 0) {
    parts.push(
      '<h2>Ground truth and predictions</h2>',
      '<p>Each row is a test face: photo | ground truth | prediction | errors (red: wrong, grey: ignored, dark: correct).</p>',
      classLegend(),
      ...assets.pictures.map(
        (p) =>
          `<figure class="pic"><img src="${p.dataUri}" alt="${esc(`${p.agent} seed ${p.seed}`)}">` +
          `<figcaption>${esc(p.agent)}, seed ${p.seed}</figcaption></figure>`,
      ),
    );
  }
  if (summary.failed.length > 0) {
    parts.push(
      '<h2>Failed runs</h2><table><thead><tr><th>agent</th><th>seed</th><th class="text">error</th></tr></thead><tbody>',
      ...summary.failed.map(
        (f) =>
          `<tr class="failed"><td>${esc(f.agent)}</td><td>${f.seed}</td><td class="text">${esc(f.error)}</td></tr>`,
      ),
      '</tbody></table>',
    );
  }
  if (summary.notes.length > 0) {
    parts.push(
      '<h2>Notes</h2><ul class="notes">',
      ...summary.notes.map((n) => `<li>${esc(n)}</li>`),
      '</ul>',
    );
  }
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(summary.experiment)}: report</title>`,
    `<style>${CSS}</style></head><body>`,
    ...parts,
    '</body></html>',
    '',
  ].join('\n');
}

function resultsTable(summary: Summary): string {
  const cols = summary.metrics;
  const best = cols.map((m) => bestIndex(summary.agents.map((a) => a.metrics[m])));
  const head = `<tr><th>agent</th><th>seeds</th>${cols.map((m) => `<th>${esc(metricLabel(m))}</th>`).join('')}<th>wall time / run</th></tr>`;
  const body = summary.agents.map((a, i) => {
    const cells = cols.map(
      (m, k) => `<td${best[k] === i ? ' class="best"' : ''}>${estimateHtml(a.metrics[m])}</td>`,
    );
    const wall = a.wallSeconds.n > 0 ? seconds(a.wallSeconds.mean) : 'n/a';
    return `<tr><td>${esc(a.agent)}</td><td>${a.seeds.length}/${a.seeds.length + a.failedSeeds.length}</td>${cells.join('')}<td>${wall}</td></tr>`;
  });
  return `<h2>Results</h2><table id="results"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>`;
}

function perClassTable(summary: Summary): string {
  const classes = tableClasses(summary);
  if (classes.length === 0) return '';
  const hasMean = summary.metrics.includes('meanF1');
  const best = classes.map((c) => bestIndex(summary.agents.map((a) => a.perClassF1[c])));
  const head =
    '<tr><th>agent</th>' +
    classes.map((c) => `<th title="${esc(c)}">${swatch(c)}${esc(CLASS_ABBREV[c] ?? c)}</th>`).join('') +
    (hasMean ? '<th>mean F1</th>' : '') +
    '</tr>';
  const body = summary.agents.map((a, i) => {
    const cells = classes.map(
      (c, k) => `<td${best[k] === i ? ' class="best"' : ''}>${estimateHtml(a.perClassF1[c])}</td>`,
    );
    const mean = hasMean ? `<td>${a.metrics.meanF1?.n ? num(a.metrics.meanF1.mean) : 'n/a'}</td>` : '';
    return `<tr><td>${esc(a.agent)}</td>${cells.join('')}${mean}</tr>`;
  });
  return (
    "<h2>Per-class F1</h2><p>Mean over seeds of each class's F1 (one confusion matrix over the whole test set per seed); " +
    'background left out as in the LaPa tables.</p>' +
    `<div class="scroll"><table id="per-class-f1" class="per-class"><thead>${head}</thead><tbody>${body.join('')}</tbody></table></div>`
  );
}

function comparisonsTable(summary: Summary, level: number): string {
  if (summary.comparisons.length === 0) return '';
  const rows = summary.comparisons.map((c) => {
    const sig = c.pHolm !== null && c.pHolm < 1 - summary.confidenceLevel;
    const paired = c.paired;
    return (
      `<tr><td>${esc(metricLabel(c.metric))}</td><td class="text">${esc(c.a)}</td><td class="text">${esc(c.b)}</td>` +
      `<td>${signed(c.diff)}</td><td>${interval(c.ci)}</td><td>${pValue(c.pValue)}</td>` +
      `<td${sig ? ' class="sig"' : ''}>${pValue(c.pHolm)}</td>` +
      `<td${paired ? ` title="${esc(pairedTitle(paired))}"` : ''}>${pValue(paired?.pValue ?? null)}</td>` +
      `<td class="text">${esc(c.note ?? '')}</td></tr>`
    );
  });
  return (
    '<h2>Pairwise comparisons</h2>' +
    `<p>Difference of means A − B, its ${level}% confidence interval and the two-sided p-value of Welch's t-test over seeds; ` +
    `p (Holm) adjusts for the number of pairs compared on a metric (green: below ${(1 - summary.confidenceLevel).toFixed(2)}); ` +
    'p (paired) is the paired t-test over the seeds both agents finished (a seed gives every agent the same initial weights ' +
    'and batches, so it is usually the sharper test; hover for its interval).</p>' +
    '<table id="comparisons"><thead><tr><th>metric</th><th class="text">A</th><th class="text">B</th><th>A − B</th>' +
    `<th>${level}% CI</th><th>p</th><th>p (Holm)</th><th>p (paired)</th><th class="text">note</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

function pairedTitle(p: NonNullable<Comparison['paired']>): string {
  return `paired over seeds ${p.seeds.join(', ')}: A − B ${signed(p.diff)}, CI ${interval(p.ci)}${p.note ? `; ${p.note}` : ''}`;
}

function estimateHtml(e: Estimate | undefined): string {
  if (!e || e.n === 0) return 'n/a';
  const title = e.ci ? ` title="${ciTitle(e)}"` : '';
  if (e.halfWidth === null) return `<span${title}>${num(e.mean)}</span> <span class="pm">(n=${e.n})</span>`;
  return `<span${title}>${num(e.mean)}</span> <span class="pm">± ${num(e.halfWidth)}</span>`;
}

function ciTitle(e: Estimate): string {
  return `CI ${interval(e.ci)}, seeds: ${e.values.map((v) => num(v)).join(', ')}`;
}

function swatch(cls: string): string {
  const i = (CLASS_NAMES as readonly string[]).indexOf(cls);
  if (i < 0) return '';
  const [r, g, b] = CLASS_COLORS[i];
  return `<span class="sw" style="background:rgb(${r},${g},${b})"></span>`;
}

function classLegend(): string {
  return (
    '<div class="legend">' +
    CLASS_NAMES.map((c) => `<span>${swatch(c)}${esc(c.replace(/_/g, ' '))}</span>`).join('') +
    '</div>'
  );
}

/** Escape text for HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );
}
