import { expect } from 'chai';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { FprlError } from '../../src/core/errors.js';
import { LinearPolicy } from '../../agents/nets/linear.js';
import { diagnoseBaselines, formatDiagnosis } from '../../src/train/diagnose.js';
import { diagnoseCommand } from '../../src/commands/diagnose.js';
import { TinyEnv, colourWorld, macroF1 } from '../agents/fakes.js';

describe('diagnose: policy-gradient variance per baseline', () => {
  before(() => useBackend('cpu'));

  it('measures every baseline on the same batches and samples, and ranks the baselines below none', async () => {
    const w = colourWorld(16, 4, 4, 1);
    const env = new TinyEnv({ ...w, height: 4, width: 4, batchSize: 8, numClasses: 3, reward: macroF1(3) });
    const policy = new LinearPolicy({ height: 4, width: 4, numClasses: 3, initStd: 0.5 }, new Rng(0));
    const before = policy.trainableVariables.map((v) => Array.from(v.dataSync()));
    const d = await diagnoseBaselines({ env, policy, agent: { samples: 4 }, batches: 30, warmupBatches: 4 });
    expect(d.rows.map((r) => r.baseline)).to.deep.equal(['none', 'ema', 'self-critical', 'rloo', 'critic']);
    expect(d.parameters).to.equal(3 * 3 + 4 * 4 * 3);
    // Paired: the same batches and samples for every row, so the same mean reward.
    for (const r of d.rows) expect(r.rewardMean).to.be.closeTo(d.rows[0].rewardMean, 1e-9);
    expect(d.rows[0].varianceVsNone).to.equal(1);
    for (const r of d.rows.slice(1)) expect(r.varianceVsNone, r.baseline).to.be.lessThan(1);
    // Unbiased baselines estimate the same true gradient: the same signal |E g|^2, up to noise.
    for (const r of d.rows)
      expect(r.signal, r.baseline).to.be.closeTo(d.rows[0].signal, 0.2 * d.rows[0].signal);
    expect(d.rows.find((r) => r.baseline === 'rloo')!.snr).to.be.greaterThan(d.rows[0].snr);
    // Diagnostics never change the weights.
    expect(policy.trainableVariables.map((v) => Array.from(v.dataSync()))).to.deep.equal(before);
    expect(formatDiagnosis(d)).to.match(/rloo\s+30\s/);
    policy.dispose();
    env.close();
  });

  it('runs from the command function on synthetic faces with a small Face Transformer', async function () {
    this.timeout(60000);
    const d = await diagnoseCommand({
      agent: '{"kind":"reinforce","samples":2}',
      preset: '{"imageSize":16,"patchSize":4,"dim":16,"depth":1,"heads":2,"mlpDim":32}',
      batches: 3,
      warmup: 2,
      batchSize: 2,
      baselines: 'none,rloo,critic',
    });
    expect(d.rows.map((r) => r.baseline)).to.deep.equal(['none', 'rloo', 'critic']);
    expect(d.rows.every((r) => r.totalVariance > 0 && Number.isFinite(r.meanSqNorm))).to.equal(true);
  });

  it("takes the reward plugin's options and the synthetic difficulty, and refuses bad ones", async function () {
    this.timeout(60000);
    const tiny = {
      agent: '{"kind":"reinforce","samples":2,"credit":"difference"}',
      preset: '{"imageSize":16,"patchSize":4,"dim":16,"depth":1,"heads":2,"mlpDim":32}',
      batches: 2,
      warmup: 1,
      batchSize: 2,
      baselines: 'none,rloo',
    };
    const d = await diagnoseCommand({
      ...tiny,
      rewardOptions: '{"includeBackground":true}',
      difficulty: 'easy',
    });
    expect(d.rows.map((r) => r.baseline)).to.deep.equal(['none', 'rloo']);
    const fails = async (extra: object, re: RegExp) => {
      let e: unknown;
      try {
        await diagnoseCommand({ ...tiny, ...extra });
      } catch (err) {
        e = err;
      }
      expect(e, String(re)).to.be.instanceOf(FprlError);
      expect((e as Error).message).to.match(re);
    };
    await fails({ rewardOptions: '{"includeBackground":' }, /reward options are not valid JSON/);
    await fails({ rewardOptions: '[1]' }, /must be a JSON object/);
    await fails({ rewardOptions: '{"smoth":1}' }, /smoth|additional/);
    await fails({ difficulty: 'extreme' }, /unknown difficulty 'extreme'/);
  });

  it('refuses a non-reinforce config and an unknown baseline, naming them', async () => {
    try {
      await diagnoseCommand({ agent: '{"kind":"supervised"}' });
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(FprlError);
      expect((e as Error).message).to.contain("'supervised' agent");
    }
    try {
      await diagnoseCommand({ agent: '{"kind":"reinforce"}', baselines: 'none,mean', preset: 'tiny-64' });
      expect.fail('should throw');
    } catch (e) {
      expect((e as FprlError).where).to.equal('--baselines');
    }
  });
});
