import { expect } from 'chai';
import { checkAgentGraph, planSweep } from '../../src/experiment/plan.js';
import { schedule, type Executor, type RunOutcome } from '../../src/experiment/scheduler.js';
import type { RunSpec } from '../../src/experiment/plan.js';

describe('experiment planning', () => {
  describe('checkAgentGraph', () => {
    it('accepts a fine-tuning chain', () => {
      expect(
        checkAgentGraph([{ name: 'ce' }, { name: 'rl', initFrom: 'ce' }, { name: 'rl2', initFrom: 'rl' }]),
      ).to.deep.equal([]);
    });

    it('names the path of an initFrom that points at no agent', () => {
      const issues = checkAgentGraph([{ name: 'ce' }, { name: 'rl', initFrom: 'cee' }]);
      expect(issues).to.have.length(1);
      expect(issues[0].path).to.equal('/agents/1/initFrom');
      expect(issues[0].message).to.contain("'cee'").and.contain('ce');
    });

    it('reports a cycle once, with the chain that forms it', () => {
      const issues = checkAgentGraph([
        { name: 'a', initFrom: 'b' },
        { name: 'b', initFrom: 'a' },
        { name: 'c', initFrom: 'a' },
      ]);
      expect(issues).to.have.length(1);
      expect(issues[0].path).to.equal('/agents/0/initFrom');
      expect(issues[0].message).to.contain('a -> b -> a');
    });

    it('treats an agent starting from itself as a cycle', () => {
      const issues = checkAgentGraph([{ name: 'a', initFrom: 'a' }]);
      expect(issues.map((i) => i.path)).to.deep.equal(['/agents/0/initFrom']);
    });

    it('refuses duplicate agent names', () => {
      const issues = checkAgentGraph([{ name: 'a' }, { name: 'a' }]);
      expect(issues.map((i) => i.path)).to.deep.equal(['/agents/1/name']);
    });
  });

  describe('planSweep', () => {
    it('plans every agent x seed with sources first and links each fine-tune to the same seed', () => {
      const plan = planSweep([{ name: 'rl', initFrom: 'ce' }, { name: 'ce' }, { name: 'maj' }], [0, 1]);
      expect(plan.map((r) => r.id)).to.deep.equal([
        'ce/seed-0',
        'ce/seed-1',
        'maj/seed-0',
        'maj/seed-1',
        'rl/seed-0',
        'rl/seed-1',
      ]);
      expect(plan.find((r) => r.id === 'rl/seed-1')!.initFrom).to.equal('ce/seed-1');
      expect(plan.find((r) => r.id === 'ce/seed-1')!.initFrom).to.equal(undefined);
    });

    it("runs an agent's own seeds and starts every seed of a fine-tune from the initSeed run", () => {
      const plan = planSweep(
        [
          { name: 'ce', seeds: [0] },
          { name: 'rl', initFrom: 'ce', initSeed: 0 },
          { name: 'more', initFrom: 'ce', initSeed: 0, seeds: [5] },
        ],
        [0, 1, 2],
      );
      expect(plan.map((r) => `${r.id}<-${r.initFrom ?? ''}`)).to.deep.equal([
        'ce/seed-0<-',
        'rl/seed-0<-ce/seed-0',
        'rl/seed-1<-ce/seed-0',
        'rl/seed-2<-ce/seed-0',
        'more/seed-5<-ce/seed-0',
      ]);
    });
  });

  describe('checkAgentGraph with seeds', () => {
    it('accepts fine-tunes whose source runs the seeds they start from', () => {
      expect(checkAgentGraph([{ name: 'ce' }, { name: 'rl', initFrom: 'ce' }], [0, 1])).to.deep.equal([]);
      expect(
        checkAgentGraph(
          [
            { name: 'ce', seeds: [3] },
            { name: 'rl', initFrom: 'ce', initSeed: 3 },
          ],
          [0, 1],
        ),
      ).to.deep.equal([]);
    });

    it('names the field when the source does not run the seed a fine-tune needs', () => {
      const own = checkAgentGraph(
        [
          { name: 'ce', seeds: [0] },
          { name: 'rl', initFrom: 'ce' },
        ],
        [0, 1, 2],
      );
      expect(own).to.have.length(1);
      expect(own[0].path).to.equal('/agents/1/initFrom');
      expect(own[0].message).to.contain('seed 1, 2, which is not run (ce runs seeds 0)');
      const picked = checkAgentGraph([{ name: 'ce' }, { name: 'rl', initFrom: 'ce', initSeed: 7 }], [0, 1]);
      expect(picked.map((i) => i.path)).to.deep.equal(['/agents/1/initSeed']);
      expect(picked[0].message).to.contain('seed 7');
    });

    it('refuses initSeed without initFrom', () => {
      const issues = checkAgentGraph([{ name: 'ce', initSeed: 0 }], [0]);
      expect(issues.map((i) => i.path)).to.deep.equal(['/agents/0/initSeed']);
      expect(issues[0].message).to.contain('give initFrom too');
    });
  });

  describe('schedule', () => {
    /** An executor that records start/end order and finishes after `delays[id]` ticks. */
    function fakeExecutor(log: string[], fail: Set<string>, delays: Record<string, number> = {}): Executor {
      return {
        async execute(run: RunSpec): Promise<RunOutcome> {
          log.push(`start ${run.id}`);
          for (let i = 0; i < (delays[run.id] ?? 1); i++) await new Promise((r) => setImmediate(r));
          log.push(`end ${run.id}`);
          return fail.has(run.id) ? { status: 'failed', error: 'boom' } : { status: 'ok' };
        },
      };
    }

    it('never starts a fine-tune before its source has finished, even with spare executors', async () => {
      const plan = planSweep([{ name: 'ce' }, { name: 'rl', initFrom: 'ce' }, { name: 'maj' }], [0]);
      const log: string[] = [];
      const ex = fakeExecutor(log, new Set(), { 'ce/seed-0': 5 });
      const outcomes = await schedule(plan, [ex, ex, ex]);
      expect(log.indexOf('start rl/seed-0')).to.be.greaterThan(log.indexOf('end ce/seed-0'));
      expect([...outcomes.values()].every((o) => o.status === 'ok')).to.equal(true);
      expect(outcomes.size).to.equal(3);
    });

    it('skips the runs that start from a failed run and carries on with the rest', async () => {
      const plan = planSweep(
        [{ name: 'ce' }, { name: 'rl', initFrom: 'ce' }, { name: 'rl2', initFrom: 'rl' }],
        [0, 1],
      );
      const log: string[] = [];
      const skipped: string[] = [];
      const outcomes = await schedule(plan, [fakeExecutor(log, new Set(['ce/seed-0']))], {
        onSkipped: (r) => void skipped.push(r.id),
      });
      expect(skipped).to.deep.equal(['rl/seed-0', 'rl2/seed-0']);
      expect(outcomes.get('rl2/seed-0')!.error).to.contain('rl/seed-0');
      expect(outcomes.get('rl2/seed-1')!.status).to.equal('ok');
      expect(log).to.not.include('start rl/seed-0');
    });

    it('does not rerun runs a previous sweep finished', async () => {
      const plan = planSweep([{ name: 'ce' }, { name: 'rl', initFrom: 'ce' }], [0]);
      const log: string[] = [];
      await schedule(plan, [fakeExecutor(log, new Set())], {
        previous: (r) => (r.id === 'ce/seed-0' ? { status: 'ok' } : undefined),
      });
      expect(log).to.deep.equal(['start rl/seed-0', 'end rl/seed-0']);
    });

    it('records a thrown executor error as a failed run', async () => {
      const plan = planSweep([{ name: 'a' }, { name: 'b' }], [0]);
      const ex: Executor = {
        execute: async (r) => {
          if (r.agent === 'a') throw new Error('worker died');
          return { status: 'ok' };
        },
      };
      const outcomes = await schedule(plan, [ex]);
      expect(outcomes.get('a/seed-0')).to.deep.equal({ status: 'failed', error: 'worker died' });
      expect(outcomes.get('b/seed-0')!.status).to.equal('ok');
    });
  });
});
