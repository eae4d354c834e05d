/** Experiments: the config schema and loader, the sweep runner, and a single run. */
export {
  experimentSchema,
  editorSchema,
  agentEntrySchema,
  datasetSchema,
  modelSchema,
  evaluationSchema,
  PATH_FIELDS,
  EVAL_METRICS,
  type ExperimentConfig,
  type AgentEntry,
  type DatasetConfig,
  type SyntheticDatasetConfig,
  type FolderDatasetConfig,
  type ModelConfig,
  type RewardEntry,
  type EvaluationConfig,
  type EvalMetric,
} from './schema.js';
export {
  loadExperiment,
  resolveExperiment,
  trainingOf,
  rewardSpecsOf,
  agentConfigOf,
  type LoadOptions,
  type ResolvedExperiment,
} from './load.js';
export { expandEnvVars } from './env-vars.js';
export { importRewards } from './import-rewards.js';
export { configError } from './issues.js';
export { describeAjvErrors, type ConfigIssue } from '../core/validate.js';
export { planSweep, checkAgentGraph, orderAgents, runId, type RunSpec, type PlannedAgent } from './plan.js';
export { schedule, type Executor, type RunOutcome, type RunStatus } from './scheduler.js';
export { runSweep, resolveWorkers, type SweepOptions, type SweepOutcome } from './runner.js';
export { executeRun, type RunHooks, type RunConfigRecord } from './run-one.js';
export { loadRun, type LoadedRun } from './load-run.js';
export { acquireSweepLock, LOCK_FILE, type SweepLock } from './lock.js';
export { defaultSweepDir, runDir, runPaths, sweepPaths, RUN_FILES, SWEEP_FILES } from './layout.js';
export { collectResults, readRunResult } from './results.js';
export { writeFileAtomic, writeJsonAtomic } from '../core/atomic.js';
export { describeEnvironment, type EnvironmentRecord } from './environment.js';
