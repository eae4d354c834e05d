/**
 * Config text (docs/RELIABILITY.md, "Experiment configs"): a UTF-8 byte-order mark is accepted,
 * every JSON syntax error has a line and a column (never NaN), and nesting deeper than 64 levels
 * is a clear error instead of a stack overflow; in experiment files, agent configs and reward
 * options alike.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { MAX_JSON_DEPTH, parseJsonText } from '../../src/experiment/json-position.js';
import { diagnoseCommand } from '../../src/commands/diagnose.js';
import { expectCleanFailure, runCli, snapshot, tempDir, tinyExperiment } from './fixtures.js';
import { refusal, refusalSync } from '../helpers/refusal.js';

const BOM = '\ufeff';

describe('config text', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => (tmp = tempDir('config-text')));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a byte-order mark is dropped: the text parses as without it', () => {
    expect(parseJsonText(`${BOM}{"a": [1, 2]}`, 'x.json')).to.deep.equal({ a: [1, 2] });
  });

  it('every syntax error names a line and a column, never NaN', () => {
    const bad = [
      '',
      '   ',
      '{',
      '{"a":1',
      '"abc',
      '[1,]',
      '{"a" 1}',
      'nul',
      '\u0000',
      '{"a":"\u0001"}',
      '-',
      '1e',
      '{"a":1}}',
      `${BOM}${BOM}{}`,
      '\n\n  {"a": tru}',
      `${'['.repeat(MAX_JSON_DEPTH)}`,
      `${'['.repeat(MAX_JSON_DEPTH)}1${']'.repeat(MAX_JSON_DEPTH - 1)}`,
    ];
    for (const text of bad) {
      const e = refusalSync(() => parseJsonText(text, 'x.json'));
      expect(e.message, JSON.stringify(text)).to.match(/^not valid JSON at line [1-9]\d*, column [1-9]\d*: /);
      expect(e.where).to.equal('x.json');
    }
    expect(refusalSync(() => parseJsonText('\n\n  {"a": tru}', 'x')).message).to.contain('line 3, column 9');
  });

  it('an invisible character is spelled out in the message', () => {
    const e = refusalSync(() => parseJsonText(`${BOM}${BOM}{}`, 'x.json'));
    expect(e.message).to.contain('line 1, column 1: unexpected "\\ufeff{}"');
  });

  it(`nesting deeper than ${MAX_JSON_DEPTH} levels is a clear error, not a stack overflow`, () => {
    for (const open of ['[', '{"a":']) {
      const text = open.repeat(200_000);
      const e = refusalSync(() => parseJsonText(text, 'deep.json'));
      expect(e.message).to.match(
        new RegExp(`^nested deeper than ${MAX_JSON_DEPTH} levels at line 1, column \\d+$`),
      );
      expect(e.hint).to.contain('runaway');
    }
    // At the bound it parses; brackets inside strings do not count.
    const ok = `${'['.repeat(MAX_JSON_DEPTH)}"[[[[{{{{"${']'.repeat(MAX_JSON_DEPTH)}`;
    expect(() => parseJsonText(ok, 'x')).to.not.throw();
  });

  describe('fprl run EXPERIMENT.json', () => {
    it('runs an experiment file that starts with a byte-order mark', async () => {
      const file = path.join(tmp, 'bom.json');
      fs.writeFileSync(file, `${BOM}${JSON.stringify(tinyExperiment(), null, 2)}`);
      const r = await runCli([
        'run',
        file,
        '--out',
        path.join(tmp, 'bom-out'),
        '--backend',
        'cpu',
        '--quiet',
      ]);
      expect(r.code, r.stderr).to.equal(0);
    });

    it('refuses a deeply nested experiment file naming line and column, and writes nothing', async () => {
      const file = path.join(tmp, 'deep.json');
      fs.writeFileSync(file, `{"name": "tiny", "seeds": ${'['.repeat(100_000)}`);
      const out = path.join(tmp, 'deep-out');
      const r = await runCli(['run', file, '--out', out, '--backend', 'cpu', '--quiet']);
      expectCleanFailure(r, {
        where: file,
        message: `nested deeper than ${MAX_JSON_DEPTH} levels at line 1, column 90`,
        hint: 'runaway',
      });
      expect(snapshot(out).size).to.equal(0);
    });
  });

  describe('fprl diagnose --agent FILE and --reward-options', () => {
    it('reads an agent config file with a byte-order mark, and names line and column of its errors', async () => {
      const file = path.join(tmp, 'agent.json');
      fs.writeFileSync(file, `${BOM}{"kind": "supervised"}`);
      // Parsed: refused for its kind, not for its text.
      expect((await refusal(diagnoseCommand({ agent: file }))).message).to.contain('REINFORCE');
      fs.writeFileSync(file, `${BOM}{\n  "kind": "reinforce",\n  "samples": 2,\n}`);
      const e = await refusal(diagnoseCommand({ agent: file }));
      expect(e.where).to.equal(file);
      expect(e.message).to.match(/^the agent config is not valid JSON at line 4, column 1: /);
    });

    it('reads reward options from a file with a byte-order mark, and refuses deep or broken ones', async () => {
      const file = path.join(tmp, 'options.json');
      fs.writeFileSync(file, `${BOM}{"smoth": 1}`);
      const agent = '{"kind":"reinforce","samples":2}';
      const schema = await refusal(diagnoseCommand({ agent, rewardOptions: file }));
      expect(schema.message).to.match(/smoth|additional/);
      const deep = await refusal(diagnoseCommand({ agent, rewardOptions: `{"a":${'['.repeat(70)}` }));
      expect(deep.where).to.equal('--reward-options');
      expect(deep.message).to.equal(
        `the reward options are nested deeper than ${MAX_JSON_DEPTH} levels at line 1, column 69`,
      );
      fs.writeFileSync(file, `${BOM}{"includeBackground": yes}`);
      const broken = await refusal(diagnoseCommand({ agent, rewardOptions: file }));
      expect(broken.where).to.equal(file);
      expect(broken.message).to.contain('not valid JSON at line 1, column 23: unexpected "yes}"');
    });
  });
});
