/**
 * The layers of fprl (docs/ARCHITECTURE.md, "Layers"), enforced by `npm run lint`.
 *
 * Folders are floors: a module may import its own floor and the floors below it, never one above.
 * The order is the order in which the code runs a step, from the command down to the kernels:
 * a lower floor is usable (and testable) without anything above it, so a new agent, env, reward
 * or kernel lands in one room and cannot tangle the house. `src/cli.ts` and `src/index.ts` are
 * facades and may import anything; tests may import anything.
 */
const LAYERS = [
  { name: 'commands', path: '^src/commands/', why: 'the fprl subcommands: parse, validate, hand over' },
  {
    name: 'serve',
    path: '^src/serve/',
    why: 'fprl serve: the HTTP server of the browser page and the esbuild steps that bundle it; it reads run folders',
  },
  {
    name: 'queue',
    path: '^src/queue/',
    why: 'the BullMQ work queue (fprl run --queue, fprl worker, fprl queue) hands sweeps of the experiment floor to other machines: it uses the runner, run folders and worker processes, and only commands use it',
  },
  {
    name: 'experiment',
    path: '^src/(experiment|report|sinks|bench)/',
    why: 'sweeps, run folders, reports, sinks and benchmarks orchestrate training; nothing below may know about run folders or reports',
  },
  {
    name: 'train',
    path: '^src/train/',
    why: 'the trainer loop, evaluation, diagnostics and checkpoints drive agents and envs',
  },
  {
    name: 'agents',
    path: '^agents/(?!vit/|nets/)',
    why: 'learners: they own a policy network and its optimiser',
  },
  {
    name: 'envs',
    path: '^envs/',
    why: 'the per-pixel bandit: datasets in, rewards out; it never sees an agent',
  },
  {
    name: 'rewards',
    path: '^rewards/',
    why: 'reward plugins know label maps and counts, nothing of agents or envs (they also run in a browser)',
  },
  {
    name: 'parallel',
    path: '^src/parallel/',
    why: 'the executor runs a loss description on one thread or many; it knows networks, not learners',
  },
  {
    name: 'nets',
    path: '^agents/(vit|nets)/',
    why: 'policy networks describe themselves; they know tensors, not losses or learners',
  },
  {
    name: 'optim',
    path: '^src/optim/',
    why: 'optimisers, schedules, gradients and tensor io serve any learner',
  },
  {
    name: 'data-metrics',
    path: '^src/(data|metrics)/',
    why: 'faces in, tensors out; confusion counts and scores',
  },
  {
    name: 'backend',
    path: '^src/(backend|wasm|native)/',
    why: 'the tfjs backend ladder, the wasm kernels this project registers and the native addon under them',
  },
  {
    name: 'interop',
    path: '^src/interop/',
    why: 'weight files of other tools (safetensors, PyTorch zips read by a restricted unpickler, ONNX and protobuf encoding): bytes and float arrays only, so the networks above can read and write them and the sinks can encode TensorBoard events',
  },
  {
    name: 'core',
    path: '^src/core/',
    why: 'types, bus, rng, registry, errors, validation (one ajv) and atomic writes: everything else builds on these',
  },
];

/**
 * Node core modules (with or without `node:`) and the packages that only run in Node. Code that
 * also runs in the browser page (src/web/) must reach none of them: reward plugins are the same
 * modules in training and in the page (no copy for the web), and so are the Face Transformers.
 */
const NODE_CORE = [
  'assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs',
  'http', 'http2', 'https', 'module', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream',
  'string_decoder', 'timers', 'tls', 'tty', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib',
];
const NODE_ONLY = [
  `^(node:)?(${NODE_CORE.join("|")})(/|$)`,
  'node_modules/(sharp|yauzl|cli-progress|onnxruntime-node|@tensorflow/tfjs-node(-gpu)?|bullmq|ioredis|esbuild|playwright-core)/',
  '\\.node$',
];
/** The folders the browser page bundles from, directly or through what they import. */
const BROWSER_CODE = '^(rewards|src/web)/';

/** One rule per floor: nothing on it imports a floor above it. */
const upward = LAYERS.slice(1).map((layer, i) => ({
  name: `layer-${layer.name}-imports-up`,
  comment: `${layer.name} (${layer.why}) must not import ${LAYERS.slice(0, i + 1)
    .map((l) => l.name)
    .join(', ')}: imports point down the layers; move the shared code down instead`,
  severity: 'error',
  from: { path: layer.path },
  to: { path: LAYERS.slice(0, i + 1).map((l) => l.path) },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'agents-and-envs-apart',
      comment:
        'agents and envs are one floor but meet only in the trainer: an agent that imports an env (or back) cannot be reused with another env',
      severity: 'error',
      from: { path: '^(agents/(?!vit/|nets/)|envs/)' },
      to: { path: '^(agents/(?!vit/|nets/)|envs/)', pathNot: '^$1' },
    },
    {
      name: 'report-and-sinks-below-experiment',
      comment:
        'report and sinks write what the experiment hands them; importing the experiment back would make a cycle between floors',
      severity: 'error',
      from: { path: '^src/(report|sinks)/' },
      to: { path: '^src/(experiment|bench)/' },
    },
    {
      name: 'no-folder-cycles',
      comment: 'two folders that import each other are one tangled folder: move the shared part down',
      severity: 'error',
      from: { path: '^(src|agents|envs|rewards)/' },
      to: { circular: true },
      scope: 'folder',
    },
    {
      name: 'no-module-cycles',
      comment: 'a module cycle makes load order matter (undefined imports at start-up)',
      severity: 'error',
      from: { path: '^(src|agents|envs|rewards)/' },
      to: { circular: true },
    },
    {
      // The page is a floor of its own beside the commands: an entry point (bundled by esbuild,
      // served by fprl serve) that nothing imports and that stands on the browser-safe floors only.
      name: 'web-stands-on-browser-floors',
      comment:
        'the page (src/web/) may import only rewards/, the networks (agents/vit/), src/data, src/metrics, src/native/addon.ts, src/core, the server\'s wire types (src/serve/api.ts, types only) and packages: everything else is Node or orchestration',
      severity: 'error',
      from: { path: '^src/web/' },
      to: { pathNot: '^(src/web/|rewards/|agents/vit/|src/(data|metrics|core)/|src/native/addon\\.ts$|src/serve/api\\.ts$|node_modules/)' },
    },
    {
      name: 'nothing-imports-the-page',
      comment: 'the page is bundled from src/web/main.ts, never imported: Node code would pull in the DOM',
      severity: 'error',
      from: { pathNot: '^src/web/' },
      to: { path: '^src/web/' },
    },
    {
      name: 'browser-code-reaches-no-node',
      comment:
        'rewards/ and the page (src/web/) run in a browser: nothing they import, directly or through other modules, may be a Node core module or a Node-only package; split the Node part into its own module above (as src/native/addon.ts and index.ts, agents/vit/net.ts and persist.ts)',
      severity: 'error',
      from: { path: BROWSER_CODE },
      to: { path: NODE_ONLY, reachable: true },
    },
    {
      name: 'no-test-imports-in-source',
      comment: 'library code must not depend on test helpers',
      severity: 'error',
      from: { path: '^(src|agents|envs|rewards)/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // The facades import every floor by design; they are left out of the graph.
    exclude: { path: '^(node_modules|dist|build|test|examples)/|^src/(cli|index)\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
    reporterOptions: {
      archi: { collapsePattern: '^(src/[^/]+/|agents/(vit|nets)/|agents/|envs/|rewards/)' },
    },
  },
};
