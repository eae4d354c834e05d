/**
 * Learning-curve charts: a vega-lite spec compiled and rendered to SVG on the server
 * (vega's headless `renderer: 'none'` view), so report.html needs no script and no network.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { CurvePoint } from './summary.js';

export interface CurveSeries {
  agent: string;
  points: CurvePoint[];
}

export interface CurveChart {
  title: string;
  yTitle: string;
  series: CurveSeries[];
  /** Colour order (so an agent has the same colour in every chart). */
  agents: string[];
  /** What the band shows, for the subtitle. */
  band?: 'min-max' | 'none';
}

/** Tableau-10: distinguishable, and readable on white. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** The vega-lite spec: mean line per agent with points, over a band from min to max over seeds. */
export function curveSpec(chart: CurveChart): vl.TopLevelSpec {
  const rows = chart.series.flatMap((s) =>
    s.points.map((p) => ({ agent: s.agent, step: p.step, mean: p.mean, lo: p.min, hi: p.max, n: p.n })),
  );
  // Only the agents drawn are in the legend, each in its colour from the global order.
  const drawn = chart.agents.filter((a) => chart.series.some((s) => s.agent === a && s.points.length > 0));
  const color = {
    field: 'agent',
    type: 'nominal' as const,
    scale: { domain: drawn, range: drawn.map((a) => PALETTE[chart.agents.indexOf(a) % PALETTE.length]) },
    legend: {
      title: null,
      orient: 'bottom' as const,
      symbolType: 'stroke',
      symbolOpacity: 1,
      symbolStrokeWidth: 3,
      labelLimit: 240,
    },
  };
  // Markers help read a few eval points; on a dense training curve they are clutter.
  const longest = Math.max(0, ...chart.series.map((s) => s.points.length));
  const point = longest <= 30 ? { size: 24 } : false;
  const x = { field: 'step', type: 'quantitative' as const, title: 'training step' };
  const band = chart.band ?? 'min-max';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: chart.title,
      subtitle: band === 'min-max' ? 'line: mean over seeds; band: min to max over seeds' : 'mean over seeds',
      anchor: 'start',
    },
    width: 440,
    height: 220,
    background: 'white',
    data: { values: rows },
    layer: [
      ...(band === 'min-max'
        ? [
            {
              mark: { type: 'area' as const, opacity: 0.18 },
              encoding: {
                x,
                y: {
                  field: 'lo',
                  type: 'quantitative' as const,
                  title: chart.yTitle,
                  scale: { zero: false },
                },
                y2: { field: 'hi' },
                color,
              },
            },
          ]
        : []),
      {
        mark: { type: 'line' as const, strokeWidth: 2, point },
        encoding: {
          x,
          y: { field: 'mean', type: 'quantitative' as const, title: chart.yTitle, scale: { zero: false } },
          color,
        },
      },
    ],
    config: { font: 'Helvetica, Arial, sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 } },
  } as vl.TopLevelSpec;
}

/**
 * Render a chart to a standalone SVG string. `idPrefix` makes the SVG's internal ids unique
 * when several charts are inlined in one HTML page (vega numbers clip paths from 1 in each).
 */
export async function renderCurveSvg(chart: CurveChart, idPrefix = ''): Promise<string> {
  const spec = vl.compile(curveSpec(chart)).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none', logLevel: vega.Error });
  try {
    const svg = await view.toSVG();
    return idPrefix ? prefixIds(svg, idPrefix) : svg;
  } finally {
    view.finalize();
  }
}

function prefixIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}
