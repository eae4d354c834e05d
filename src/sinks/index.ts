/** Sinks: the writers of a run's event streams. Each listens to the event bus; see docs/ARCHITECTURE.md, "Sinks and the sweep report". */
export type { Sink } from './sink.js';
export { JsonlSink, JSONL_EVENTS, type JsonlRecord, type JsonlSinkOptions } from './jsonl.js';
export { readMetricsLog, curvesFromLog, type MetricsLog } from './jsonl-read.js';
export { TensorBoardSink, snakeCase, type TensorBoardSinkOptions } from './tensorboard.js';
export { ProgressSink, type ProgressSinkOptions } from './progress.js';
export { FileAppender } from './appender.js';
