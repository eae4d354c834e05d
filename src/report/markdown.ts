/** report.md: the summary as Markdown tables, with links to the curve SVGs and pictures. */
import {
  bestIndex,
  CLASS_ABBREV,
  interval,
  meanPm,
  metricLabel,
  num,
  pValue,
  resolutionPhrase,
  seconds,
  signed,
} from './format.js';
import type { Summary } from './summary.js';

/** Files the report links to, relative to report.md. */
export interface ReportLinks {
  curves: { title: string; href: string }[];
  pictures: { agent: string; seed: number; href: string }[];
}

/** Classes of the per-class table: the foreground classes (LaPa tables leave background out). */
export function tableClasses(summary: Summary): string[] {
  return summary.classes.filter((c) => c !== 'background');
}

export function renderMarkdown(summary: Summary, links: ReportLinks): string {
  const level = Math.round(summary.confidenceLevel * 100);
  const totalRuns = summary.agents.reduce((s, a) => s + a.seeds.length + a.failedSeeds.length, 0);
  const okRuns = summary.agents.reduce((s, a) => s + a.seeds.length, 0);
  const out: string[] = [];
  out.push(`# ${summary.experiment}: agent comparison`, '');
  out.push(
    `${summary.agents.length} agents, ${okRuns} of ${totalRuns} runs finished. Numbers are the final evaluation ` +
      `${resolutionPhrase(summary)}, mean ± half-width of the ${level}% confidence interval over seeds (Student t); **bold** is the best mean.`,
    '',
  );

  out.push('## Results', '');
  const metricCols = summary.metrics;
  out.push(row(['agent', 'seeds', ...metricCols.map(metricLabel), 'wall time / run']));
  out.push(row(['---', '---:', ...metricCols.map(() => '---:'), '---:']));
  const best = metricCols.map((m) => bestIndex(summary.agents.map((a) => a.metrics[m])));
  summary.agents.forEach((a, i) => {
    out.push(
      row([
        a.agent,
        `${a.seeds.length}/${a.seeds.length + a.failedSeeds.length}`,
        ...metricCols.map((m, k) => bold(meanPm(a.metrics[m]), best[k] === i)),
        a.wallSeconds.n > 0 ? seconds(a.wallSeconds.mean) : 'n/a',
      ]),
    );
  });
  out.push('');

  const sized = summary.agents.filter((a) => a.modelSize);
  if (sized.length > 0) {
    const { height, width } = sized[0].modelSize!;
    out.push(`### At the model's input size (${width}x${height})`, '');
    out.push(
      "The same predictions scored against the labels resized to the model's input size " +
        '(nearest neighbour): not the protocol of published tables, shown for comparison.',
      '',
    );
    out.push(row(['agent', ...summary.mainMetrics.map(metricLabel)]));
    out.push(row(['---', ...summary.mainMetrics.map(() => '---:')]));
    for (const a of sized)
      out.push(row([a.agent, ...summary.mainMetrics.map((m) => meanPm(a.modelSize!.metrics[m]))]));
    out.push('');
  }

  const classes = tableClasses(summary);
  if (classes.length > 0) {
    out.push('## Per-class F1', '');
    out.push(
      `Mean over seeds of each class's F1 (one confusion matrix over the whole test set per seed). ` +
        `Background is left out, as in the LaPa tables; summary.json has it and the intervals.`,
      '',
    );
    const mainF1 = summary.metrics.includes('meanF1') ? ['meanF1'] : [];
    out.push(row(['agent', ...classes.map((c) => CLASS_ABBREV[c] ?? c), ...mainF1.map(metricLabel)]));
    out.push(row(['---', ...classes.map(() => '---:'), ...mainF1.map(() => '---:')]));
    const bestC = classes.map((c) => bestIndex(summary.agents.map((a) => a.perClassF1[c])));
    summary.agents.forEach((a, i) => {
      const cells = classes.map((c, k) =>
        bold(a.perClassF1[c]?.n ? num(a.perClassF1[c].mean) : 'n/a', bestC[k] === i),
      );
      const main = mainF1.map((m) => (a.metrics[m]?.n ? num(a.metrics[m].mean) : 'n/a'));
      out.push(row([a.agent, ...cells, ...main]));
    });
    out.push('');
  }

  if (summary.comparisons.length > 0) {
    out.push('## Pairwise comparisons', '');
    out.push(
      `Difference of means A − B with its ${level}% confidence interval and the two-sided p-value of ` +
        `Welch's t-test over seeds; "p (Holm)" adjusts for the number of pairs compared on that metric; ` +
        `"p (paired)" is the paired t-test over the seeds both finished (a seed gives every agent the same ` +
        `initial weights and batches, so it is usually the sharper test).`,
      '',
    );
    out.push(row(['metric', 'A', 'B', 'A − B', `${level}% CI`, 'p', 'p (Holm)', 'p (paired)', 'note']));
    out.push(row(['---', '---', '---', '---:', '---:', '---:', '---:', '---:', '---']));
    for (const c of summary.comparisons) {
      out.push(
        row([
          metricLabel(c.metric),
          c.a,
          c.b,
          signed(c.diff),
          interval(c.ci),
          pValue(c.pValue),
          pValue(c.pHolm),
          pValue(c.paired?.pValue ?? null),
          c.note ?? '',
        ]),
      );
    }
    out.push('');
  }

  if (links.curves.length > 0) {
    out.push('## Learning curves', '');
    for (const c of links.curves) out.push(`![${c.title}](${c.href})`, '');
  }

  if (links.pictures.length > 0) {
    out.push('## Pictures', '');
    out.push(
      'Each row is a test face: photo | ground truth | prediction | errors (red: wrong, grey: ignored).',
      '',
    );
    // The first seed of each agent inline; the other seeds as links, to keep the page short.
    for (const agent of [...new Set(links.pictures.map((p) => p.agent))]) {
      const [first, ...rest] = links.pictures.filter((p) => p.agent === agent);
      out.push(`### ${agent}`, '', `![${agent} seed ${first.seed}](${first.href})`, '');
      const others = rest.map((p) => `[seed ${p.seed}](${p.href})`);
      out.push(`Seed ${first.seed}${others.length > 0 ? `; other seeds: ${others.join(', ')}` : ''}.`, '');
    }
  }

  if (summary.failed.length > 0) {
    out.push('## Failed runs', '');
    out.push(row(['agent', 'seed', 'error']), row(['---', '---:', '---']));
    for (const f of summary.failed) out.push(row([f.agent, String(f.seed), f.error]));
    out.push('');
  }

  if (summary.notes.length > 0) {
    out.push('## Notes', '');
    for (const n of summary.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}

function bold(s: string, yes: boolean): string {
  return yes ? `**${s}**` : s;
}

/** A table row; pipes and newlines in cells are escaped so an error message cannot break the table. */
function row(cells: string[]): string {
  return `| ${cells.map((c) => c.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')).join(' | ')} |`;
}
