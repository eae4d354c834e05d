import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { useBackend } from '../helpers/backend.js';
import { Registry } from '../../src/core/registry.js';
import { FprlError } from '../../src/core/errors.js';
import { runCommand } from '../../src/commands/run.js';
import { evalRun } from '../../src/commands/eval.js';
import { resolveExperiment } from '../../src/experiment/load.js';
import { readMetricsLog } from '../../src/sinks/index.js';
import type { RunResult } from '../../src/report/types.js';
import {
  agentRegistry,
  defineAgent,
  importAgents,
  registerBuiltinAgents,
  type AgentDefinition,
  type AgentFactoryArgs,
  type AgentRegistry,
} from '../../agents/index.js';
import type { Agent } from '../../src/core/types.js';
import { refusal } from '../helpers/refusal.js';

const FIXTURES = path.resolve('test/fixtures/agents');
const MODULE = path.join(FIXTURES, 'group-relative.ts');
const DEFINE = pathToFileURL(path.resolve('agents/define.ts')).href;

function freshRegistry(): AgentRegistry {
  const r = new Registry<Agent, AgentFactoryArgs, AgentDefinition>('agent');
  registerBuiltinAgents(r);
  return r;
}

const tiny = (agents: unknown[], extra: Record<string, unknown> = {}) => ({
  name: 'x',
  dataset: { kind: 'synthetic', size: 16 },
  model: { patchSize: 4 },
  agents,
  ...extra,
});

describe('agents: a kind of your own from an agent module', function () {
  this.timeout(120_000);
  let tmp: string;
  before(async () => {
    await useBackend('cpu');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-agent-modules-'));
  });
  after(() => {
    agentRegistry.unregister('group-relative'); // other tests see the built-ins only
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('fprl run with agentModules', () => {
    let out: string;
    before(async () => {
      out = path.join(tmp, 'sweep');
      await runCommand(path.join(FIXTURES, 'experiment.json'), { out, quiet: true, backend: 'cpu' });
    });

    it('trains the kind and records its metrics, its resolved fields and the module in config.json', async () => {
      const result = JSON.parse(
        fs.readFileSync(path.join(out, 'grpo/seed-0/result.json'), 'utf8'),
      ) as RunResult;
      expect(result.status, result.error).to.equal('ok');
      expect(result.final?.metrics.meanF1).to.be.a('number');
      const log = await readMetricsLog(path.join(out, 'grpo/seed-0/metrics.jsonl'));
      const steps = log.records.filter((r) => r.type === 'train:step');
      expect(steps).to.have.length(4);
      const scalars = (steps[0] as unknown as { scalars: Record<string, number> }).scalars;
      expect(scalars).to.include.keys('losses/policy', 'adv/mean', 'adv/std', 'reward/mean');
      // Standardised within each group of k samples: the advantages average to zero.
      expect(scalars['adv/mean']).to.be.closeTo(0, 1e-5);
      const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
      expect(config.agentModules).to.deep.equal([MODULE]);
      expect(config.agents[0]).to.include({
        kind: 'group-relative',
        samples: 3,
        eps: 1e-6,
        entropyCoef: 0.01,
      });
      expect(config.agents[0]).not.to.have.property('baseline'); // only the kind's own fields
    });

    it('reloads the run for fprl eval (the run config names the module)', async () => {
      agentRegistry.unregister('group-relative'); // as in a fresh process
      const report = await evalRun({ run: path.join(out, 'grpo/seed-0') });
      expect(report.run).to.include({ agent: 'grpo', seed: 0, step: 4 });
      expect(report.meanF1).to.be.a('number');
    });

    it('loads the module in the worker processes that train the runs', async () => {
      const workers = path.join(tmp, 'workers');
      await runCommand(path.join(FIXTURES, 'experiment.json'), {
        out: workers,
        quiet: true,
        backend: 'cpu',
        workers: 2,
        seeds: [0, 1],
      });
      const result = JSON.parse(
        fs.readFileSync(path.join(workers, 'grpo/seed-0/result.json'), 'utf8'),
      ) as RunResult;
      expect(result.status, result.error).to.equal('ok');
      const inProcess = JSON.parse(fs.readFileSync(path.join(out, 'grpo/seed-0/result.json'), 'utf8'));
      expect(result.final).to.deep.equal(inProcess.final); // the same numbers in a worker
    });
  });

  describe('errors name the module, the kind and what to do', () => {
    it('an unknown kind lists the registered kinds and how to add one', async () => {
      const e = await refusal(
        resolveExperiment(tiny([{ name: 'a', kind: 'ppo' }]), { where: 'bad.json', agents: freshRegistry() }),
      );
      expect(e.message).to.match(/\/agents\/0\/kind: must be one of .*'reinforce'.* \(got 'ppo'\)/);
      expect(e.hint).to.contain('registered agent kinds: majority, random, reinforce, supervised');
      expect(e.hint).to.contain('agentModules');
    });

    it('a module that cannot be imported', async () => {
      const e = await refusal(
        resolveExperiment(tiny([{ name: 'a', kind: 'random' }], { agentModules: ['./nope.ts'] }), {
          where: 'bad.json',
          baseDir: tmp,
          agents: freshRegistry(),
        }),
      );
      expect(e.where).to.equal('bad.json: /agentModules/0');
      expect(e.message).to.contain(path.join(tmp, 'nope.ts')).and.contain('cannot import agent module');
    });

    it('a module that exports no kind', async () => {
      const e = await refusal(importAgents('test/agents/fakes.ts', freshRegistry()));
      expect(e.message).to.contain('exports no agent kind made with defineAgent');
      expect(e.hint).to.contain('defineAgent');
    });

    it('a module whose kind clashes with a registered one', async () => {
      const file = path.join(tmp, 'clash.mjs');
      fs.writeFileSync(
        file,
        `import { defineAgent } from '${DEFINE}';\n` +
          `export default defineAgent({ name: 'reinforce', description: 'mine', properties: {}, policy: false, create: () => { throw new Error('unused'); } });\n`,
      );
      const e = await refusal(importAgents(file, freshRegistry()));
      expect(e.where).to.equal(file);
      expect(e.message).to.contain("agent kind 'reinforce' is already registered");
      expect(e.hint).to.contain('rename the kind');
    });

    it('a kind whose definition is wrong fails when it is defined, naming it', () => {
      const bad = (kind: Record<string, unknown>) => () =>
        defineAgent({
          name: 'k',
          description: '',
          properties: {},
          policy: false,
          create: () => undefined as never,
          ...kind,
        } as never);
      expect(bad({ properties: { rewards: { type: 'array' } } })).to.throw(
        FprlError,
        /may not declare rewards/,
      );
      expect(bad({ properties: { x: { type: 'numbr' } } })).to.throw(FprlError, /not valid JSON schemas/);
      expect(bad({ policy: 'yes' })).to.throw(FprlError, /policy must be true/);
      expect(bad({ name: '' })).to.throw(FprlError, /name must be/);
    });

    it("the kind's own rules and schema are checked with the entry's path", async () => {
      const agents = freshRegistry();
      await importAgents(MODULE, agents);
      const e = await refusal(
        resolveExperiment(
          tiny([
            { name: 'a', kind: 'group-relative', samples: 1, rewards: [{ plugin: 'dice' }] },
            { name: 'b', kind: 'group-relative', baseline: 'rloo' },
          ]),
          { where: 'bad.json', agents },
        ),
      );
      expect(e.message).to.match(/\/agents\/0\/samples: must be >= 2/);
      expect(e.message).to.match(
        /\/agents\/1\/baseline: unknown key 'baseline'; allowed keys: name, description, kind, samples, eps/,
      );
    });
  });

  it('is the README example, line for line', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const at = readme.indexOf('### Write your own agent');
    expect(at).to.be.greaterThan(0);
    const snippet = /```ts\n([\s\S]*?)```/.exec(readme.slice(at))![1];
    const fixture = fs
      .readFileSync(MODULE, 'utf8')
      .split('\n')
      .slice(1)
      .join('\n')
      .replace(/'\.\.\/\.\.\/\.\.\/src\/index\.js'/g, "'face-parsing-rl'");
    expect(snippet.trim()).to.equal(fixture.trim());
  });
});
