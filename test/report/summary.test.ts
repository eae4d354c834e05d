import { expect } from 'chai';
import { buildSummary } from '../../src/report/summary.js';
import { formatSummaryTable } from '../../src/report/format.js';
import { tCritical } from '../../src/report/stats.js';
import { okRun, tinySweep } from './fixtures.js';

describe('buildSummary', () => {
  it('summarises 2 agents x 2 seeds with one failed run into the documented shape', () => {
    const s = buildSummary('tiny', tinySweep());
    expect(s).to.include({ version: 1, experiment: 'tiny', confidenceLevel: 0.95 });
    expect(s.mainMetrics).to.deep.equal(['meanF1', 'mIoU']);
    expect(s.metrics).to.deep.equal(['meanF1', 'mIoU', 'pixelAccuracy']);
    expect(s.classes[0]).to.equal('background');
    expect(s.classes).to.have.length(11);
    expect(s.agents.map((a) => a.agent)).to.deep.equal(['ce', 'reinforce']);

    const [ce, rl] = s.agents;
    expect(ce.seeds).to.deep.equal([0, 1]);
    expect(ce.failedSeeds).to.deep.equal([]);
    expect(rl.seeds).to.deep.equal([0]);
    expect(rl.failedSeeds).to.deep.equal([1]);

    // ce meanF1 over seeds [0.5, 0.6]: std = 0.0707, half-width = t(0.975,1) * std / sqrt(2)
    const f1 = ce.metrics.meanF1;
    expect(f1.values).to.deep.equal([0.5, 0.6]);
    expect(f1.mean).to.be.closeTo(0.55, 1e-12);
    expect(f1.halfWidth).to.be.closeTo((tCritical(0.95, 1) * Math.sqrt(0.005)) / Math.sqrt(2), 1e-12);
    expect(ce.perClassF1.hair.mean).to.be.closeTo(0.65, 1e-12);
    expect(ce.perClassF1.skin.mean).to.be.closeTo(0.55, 1e-12);

    // One finished seed: a mean but no interval, and the report says so.
    expect(rl.metrics.meanF1).to.include({ n: 1, mean: 0.3, halfWidth: null, ci: null });
    expect(s.notes.join('\n')).to.match(/reinforce: only one seed finished/);
    expect(s.notes.join('\n')).to.match(/1 of 4 runs failed/);

    expect(s.failed).to.deep.equal([
      { agent: 'reinforce', seed: 1, error: 'reward plugin f1 returned NaN | at step 12' },
    ]);

    // One pair per main metric; with n=1 on one side there is no test.
    expect(s.comparisons.map((c) => [c.metric, c.a, c.b])).to.deep.equal([
      ['meanF1', 'ce', 'reinforce'],
      ['mIoU', 'ce', 'reinforce'],
    ]);
    expect(s.comparisons[0].diff).to.be.closeTo(0.25, 1e-12);
    expect(s.comparisons[0]).to.include({ pValue: null, ci: null, pHolm: null, paired: null });
    expect(ce.metrics.meanF1.seeds).to.deep.equal([0, 1]);

    // Curves average finished seeds only (the failed run's point at step 10 is left out).
    expect(ce.curves.meanF1.map((p) => p.step)).to.deep.equal([10, 20, 30]);
    expect(ce.curves.meanF1[2]).to.deep.include({ n: 2, min: 0.5, max: 0.6 });
    expect(rl.curves.meanF1[0].n).to.equal(1);
    expect(rl.curves.meanF1[0].mean).to.be.closeTo(0.1, 1e-12);
    expect(Object.keys(rl.train)).to.deep.equal(['losses/policy', 'rewards/mean']);
    expect(JSON.parse(JSON.stringify(s))).to.deep.equal(s);
  });

  it('says at which resolution the final metrics were counted, and keeps the model-size scores apart', () => {
    const native = (agent: string, seed: number, f1: number, small: number) => {
      const r = okRun(agent, seed, f1, f1 - 0.1);
      r.final = {
        ...r.final!,
        resolution: 'native',
        modelSize: {
          height: 64,
          width: 64,
          metrics: { meanF1: small, mIoU: small - 0.1, pixelAccuracy: 0.95 },
          perClass: {},
        },
      };
      return r;
    };
    const s = buildSummary('lapa', [native('ce', 0, 0.5, 0.55), native('ce', 1, 0.6, 0.65)]);
    expect(s.resolution).to.equal('native');
    expect(s.agents[0].metrics.meanF1.mean).to.be.closeTo(0.55, 1e-12);
    expect(s.agents[0].modelSize).to.deep.include({ height: 64, width: 64 });
    expect(s.agents[0].modelSize!.metrics.meanF1.mean).to.be.closeTo(0.6, 1e-12);
    expect(formatSummaryTable(s)).to.match(/scored at each label's own resolution/);

    // An older result (no resolution: counted at the model's size) next to a native one.
    const mixed = buildSummary('lapa', [native('ce', 0, 0.5, 0.55), okRun('ce', 1, 0.6, 0.5)]);
    expect(mixed.resolution).to.equal('mixed');
    expect(mixed.notes.join('\n')).to.match(
      /mixed resolutions: at native label size ce\/seed-0; at the model's input size ce\/seed-1/,
    );
    expect(buildSummary('old', [okRun('ce', 0, 0.5, 0.4)]).resolution).to.equal('model');
  });

  it('is deterministic: the order of the runs given does not change the summary', () => {
    const runs = tinySweep();
    const a = buildSummary('tiny', runs);
    const b = buildSummary('tiny', [runs[1], runs[0], runs[3], runs[2]]);
    expect(JSON.stringify(b)).to.equal(JSON.stringify(a));
  });

  it('compares every pair with Welch tests and Holm-adjusted p-values', () => {
    const runs = [0, 1, 2].flatMap((seed) => [
      okRun('ce', seed, [0.61, 0.63, 0.62][seed], 0.5),
      okRun('rl', seed, [0.55, 0.58, 0.54][seed], 0.4),
      okRun('majority', seed, 0.1, 0.05),
    ]);
    const s = buildSummary('three', runs, { mainMetrics: ['meanF1'] });
    expect(s.comparisons.map((c) => `${c.a}-${c.b}`)).to.deep.equal(['ce-rl', 'ce-majority', 'rl-majority']);
    const ceRl = s.comparisons[0];
    expect(ceRl.pValue).to.be.closeTo(0.019459351754697887, 1e-9); // scipy, see stats.test.ts
    expect(ceRl.paired!.seeds).to.deep.equal([0, 1, 2]);
    expect(ceRl.paired!.pValue).to.be.closeTo(0.01884421896078765, 1e-9); // scipy ttest_rel
    const ps = s.comparisons.map((c) => c.pValue!);
    const sorted = [...ps].sort((x, y) => x - y);
    expect(s.comparisons.every((c) => c.pHolm! >= c.pValue!)).to.equal(true);
    expect(Math.min(...s.comparisons.map((c) => c.pHolm!))).to.be.closeTo(Math.min(1, 3 * sorted[0]), 1e-12);
    expect(s.agents.find((a) => a.agent === 'majority')!.metrics.meanF1.note).to.match(/identical/);
  });

  it('leaves a NaN (a class absent from the test set) out of the mean and says so', () => {
    const runs = [okRun('ce', 0, 0.5, 0.4), okRun('ce', 1, 0.7, 0.4)];
    runs[1].final!.perClass.inner_mouth.f1 = NaN;
    const s = buildSummary('nan', runs);
    expect(s.agents[0].perClassF1.inner_mouth).to.include({ n: 1, mean: 0.5 });
    expect(s.agents[0].perClassF1.inner_mouth.seeds).to.deep.equal([0]); // values stay matched to their seeds
    expect(s.agents[0].perClassF1.inner_mouth.note).to.match(/1 of 2 seeds gave no value/);
    expect(s.notes.join('\n')).to.match(/F1 of inner_mouth/);
  });

  it('prints an aligned terminal table', () => {
    const table = formatSummaryTable(buildSummary('tiny', tinySweep()));
    const lines = table.split('\n');
    expect(lines[0]).to.match(/^agent\s+seeds\s+mean F1\s+mIoU\s+wall time$/);
    expect(lines[2]).to.match(/^ce\s+2\/2\s+0\.550 ± 0\.635/);
    expect(lines[3]).to.match(/^reinforce\s+1\/2\s+0\.300 \(n=1\)/);
  });
});
