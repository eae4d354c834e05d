/** Environments: the bandit template, FaceParsingEnv, the env registry and the checker. */
export { BanditEnv, DEFAULT_REWARDS, DEFAULT_REWARD_TIMEOUT_MS } from './bandit-env.js';
export type { BanditEnvOptions, Contexts } from './bandit-env.js';
export { FaceParsingEnv, type FaceParsingEnvOptions, type FaceParsingEnvState } from './face-parsing.js';
export { envRegistry, makeEnv, registerBuiltinEnvs, type MakeEnvOptions } from './registry.js';
export { checkEnv, type CheckEnvOptions } from './check.js';
export { requestRewards, nextRequestId, type ComponentAnswer } from './reward-request.js';
