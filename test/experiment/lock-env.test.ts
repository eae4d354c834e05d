import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireSweepLock, LOCK_FILE } from '../../src/experiment/lock.js';
import { expandEnvVars } from '../../src/experiment/env-vars.js';
import { FprlError } from '../../src/core/errors.js';

describe('sweep lock file', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-lock-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses a second sweep on a folder that a live process holds, naming its pid', () => {
    const lock = acquireSweepLock(dir);
    try {
      expect(() => acquireSweepLock(dir)).to.throw(FprlError, new RegExp(`pid ${process.pid}`));
    } finally {
      lock.release();
    }
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).to.equal(false);
    acquireSweepLock(dir).release();
  });

  it('takes over a lock left by a process that has died', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const deadPid = Number(dead.stdout);
    fs.writeFileSync(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid: deadPid, host: os.hostname(), startedAt: '2020-01-01T00:00:00Z', command: 'x' }),
    );
    const lock = acquireSweepLock(dir);
    expect(JSON.parse(fs.readFileSync(lock.file, 'utf8')).pid).to.equal(process.pid);
    lock.release();
  });

  it('takes over a torn (empty) lock file', () => {
    fs.writeFileSync(path.join(dir, LOCK_FILE), '');
    acquireSweepLock(dir).release();
  });

  it('refuses a lock held on another machine, since its pid cannot be checked', () => {
    fs.writeFileSync(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: '2020-01-01T00:00:00Z', command: 'x' }),
    );
    expect(() => acquireSweepLock(dir)).to.throw(FprlError, /elsewhere/);
  });
});

describe('environment variables in configs', () => {
  it('expands ${NAME} and ${NAME:-fallback} in every string, leaving keys alone', () => {
    const out = expandEnvVars(
      { dataset: { root: '${DATA}/lapa', cache: '${CACHE:-/tmp/c}' }, '${KEY}': 1, list: ['$${literal}'] },
      { DATA: '/d' },
    );
    expect(out).to.deep.equal({
      dataset: { root: '/d/lapa', cache: '/tmp/c' },
      '${KEY}': 1,
      list: ['${literal}'],
    });
  });

  it('expands only the fields it is asked to, so a description may mention ${NAME}', () => {
    const doc = { description: 'uses ${LAPA_DIR}', dataset: { root: '${LAPA_DIR}' }, mods: ['${M}/a.js'] };
    const out = expandEnvVars(doc, { LAPA_DIR: '/l', M: '/m' }, 'x', ['/dataset/root', '/mods/*']);
    expect(out).to.deep.equal({
      description: 'uses ${LAPA_DIR}',
      dataset: { root: '/l' },
      mods: ['/m/a.js'],
    });
  });

  it('names every unset variable and the JSON path that uses it', () => {
    try {
      expandEnvVars({ dataset: { root: '${LAPA_DIR}' }, agents: [{ x: '${A}' }] }, {}, 'exp.json');
      expect.fail('should throw');
    } catch (e) {
      const err = e as FprlError;
      expect(err).to.be.instanceOf(FprlError);
      expect(err.where).to.equal('exp.json');
      expect(err.message).to.contain('/dataset/root: environment variable LAPA_DIR is not set');
      expect(err.message).to.contain('/agents/0/x: environment variable A is not set');
      expect(err.hint).to.contain('LAPA_DIR=');
    }
  });

  it('treats an empty variable as unset, so a path never silently loses its root', () => {
    expect(() => expandEnvVars({ root: '${EMPTY}/x' }, { EMPTY: '' })).to.throw(/EMPTY is not set/);
  });
});

describe('an unwritable output folder', () => {
  it('gives a clear error naming the folder', function () {
    if (process.getuid?.() === 0) this.skip(); // root writes anywhere: permissions cannot be tested
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-ro-'));
    fs.chmodSync(dir, 0o500);
    try {
      expect(() => acquireSweepLock(path.join(dir, 'sweep'))).to.throw(
        FprlError,
        /cannot write to the output folder/,
      );
    } finally {
      fs.chmodSync(dir, 0o700);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives a clear error when the output path is a file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-file-'));
    const file = path.join(dir, 'not-a-folder');
    fs.writeFileSync(file, 'x');
    try {
      expect(() => acquireSweepLock(file)).to.throw(FprlError, /cannot write to the output folder/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
