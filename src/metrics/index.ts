export { ConfusionMatrix } from './confusion.js';
export { countConfusion } from './count.js';
export { classCounts, countClasses, type ClassCounts } from './class-counts.js';
export { overlap, type Overlap } from './overlap.js';
export { scoresFromCounts, nanMean, ratio, type Scores, type ClassScores } from './scores.js';
export { PerImageStats, spread, PER_IMAGE_METRICS, type PerImageMetric, type Spread } from './per-image.js';
