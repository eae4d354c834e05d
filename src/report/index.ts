/** The sweep report: statistics over seeds, summary.json, report.md, report.html, pictures. */
export type { RunResult, ClassScore } from './types.js';
export {
  estimate,
  welch,
  holm,
  mean,
  sampleStd,
  sampleVariance,
  tCritical,
  type Estimate,
  type Difference,
} from './stats.js';
export {
  buildSummary,
  type Summary,
  type AgentSummary,
  type Comparison,
  type CurvePoint,
  type SummaryOptions,
} from './summary.js';
export { writeReport, type ReportFiles, type ReportOptions } from './write.js';
export { formatSummaryTable } from './format.js';
export { renderCurveSvg, curveSpec, type CurveChart } from './charts.js';
export {
  renderPredictionGrid,
  predictionGridSize,
  labelToRgb,
  overlay,
  errorMap,
  encodePng,
  type PredictionGridInput,
} from './pictures.js';
