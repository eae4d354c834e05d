export { ConfusionMatrix } from './confusion.js';
export { scoresFromCounts, nanMean, ratio, type Scores, type ClassScores } from './scores.js';
export { PerImageStats, spread, PER_IMAGE_METRICS, type PerImageMetric, type Spread } from './per-image.js';
