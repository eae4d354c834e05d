/**
 * The browser page (src/web/) in a real Chromium, driven by playwright-core, served by
 * `fprl serve` (src/serve/) with a tiny run. Skips, saying why, only where no Chromium is
 * installed (.ci/run installs Debian's). FPRL_SCREENSHOTS=1 writes docs/web-*.png (README).
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { useBackend } from '../helpers/backend.js';
import { runSweep } from '../../src/experiment/runner.js';
import { predictImages } from '../../src/commands/predict.js';
import { readLabelPng, writeSyntheticFolder } from '../../src/data/index.js';
import { buildPage } from '../../src/serve/bundle.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { f1Reward } from '../../rewards/index.js';
import { NUM_CLASSES, IGNORE_INDEX } from '../../src/core/classes.js';
import { FprlError } from '../../src/core/errors.js';

const root = path.resolve(import.meta.dirname, '../..');
const CHROMIUM = [process.env.FPRL_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** GET `url` without a browser: status and body (no client-side path normalisation). */
function get(base: string, rawPath: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    http
      .get({ host: u.hostname, port: u.port, path: rawPath }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('fprl serve and the browser page', function () {
  this.timeout(120_000);
  let tmp: string;
  let pageDir: string;
  let run: string;
  let faces: string;

  before(async () => {
    await useBackend('cpu');
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'fprl-web-'));
    pageDir = path.join(tmp, 'page');
    await buildPage(pageDir);
    // A reward module that runs in Node but cannot run in a browser (it imports node:fs).
    await fs.writeFile(
      path.join(tmp, 'node-only-reward.ts'),
      `import fs from 'node:fs';\nimport { defineReward } from '${path.join(root, 'rewards/index.ts')}';\n` +
        `export default defineReward({ name: 'node-only', description: 'x', optionsSchema: { type: 'object' }, range: [0, 1], compute: () => (fs ? 1 : 0) });\n`,
    );
    const experiment = {
      name: 'web',
      dataset: { kind: 'synthetic', size: 16, train: 16, val: 4, test: 4, seed: 0 },
      model: { preset: 'tiny-64', patchSize: 4, dim: 16, depth: 1, heads: 2, mlpDim: 32, dropout: 0 },
      training: { steps: 2, batchSize: 4, evalEvery: 2, checkpointEvery: 2 },
      agents: [{ name: 'ce', kind: 'supervised' }],
      seeds: [0],
      evaluation: { pictures: 0, batchSize: 4 },
      rewardModules: [path.join(root, 'test/fixtures/rewards/class-iou.ts'), path.join(tmp, 'node-only-reward.ts')],
    };
    await fs.writeFile(path.join(tmp, 'web.json'), JSON.stringify(experiment));
    await runSweep({ experiment: path.join(tmp, 'web.json'), out: path.join(tmp, 'sweep'), progress: 'none', backend: 'cpu' });
    run = path.join(tmp, 'sweep', 'ce', 'seed-0');
    faces = path.join(tmp, 'faces');
    await writeSyntheticFolder({ out: faces, counts: { train: 0, val: 0, test: 2 }, size: 16, seed: 5 });
  });
  after(() => fs.rm(tmp, { recursive: true, force: true }));

  describe('the server', () => {
    let server: RunningServer;
    before(async () => {
      server = await startServer({ run, pageDir, port: 0 });
    });
    after(() => server.close());

    it('listens on 127.0.0.1 and serves the page, the run info and files of the run folder', async () => {
      expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect((await get(server.url, '/')).body).to.contain('<script type="module" src="app.js">');
      const info = JSON.parse((await get(server.url, '/api/run')).body);
      expect(info).to.include({ agent: 'ce', seed: 0, step: 2 });
      expect((await get(server.url, `${info.policyUrl}model.json`)).status).to.equal(200);
      expect((await get(server.url, '/run/checkpoints/checkpoint.json')).status).to.equal(200);
    });

    it('refuses every path that leaves the run folder or the page (no path traversal)', async () => {
      // The sweep's config.json lies one folder above the run's: reachable only by traversal.
      await fs.symlink(path.join(tmp, 'sweep', 'config.json'), path.join(run, 'link.json'));
      for (const p of [
        '/run/../../config.json',
        '/run/%2e%2e/%2e%2e/config.json',
        '/run/..%2f..%2fconfig.json',
        '/run/checkpoints/..%5c..%5c..%5cconfig.json',
        '/run/%00',
        '/run/link.json',
        '/../package.json',
        '/%2e%2e/package.json',
        '/app.js/../../package.json',
        '/api/reward-module/7.js',
        '/src/web/main.ts',
      ]) {
        const r = await get(server.url, p);
        expect(r.status, p).to.equal(404);
        expect(r.body, p).not.to.contain('"name"');
      }
      expect((await get(server.url, '/run/checkpoints/checkpoint.json')).status).to.equal(200);
    });

    it('refuses to start without a built page, saying to run npm run build', async () => {
      const e = await startServer({ run, pageDir: path.join(tmp, 'no-page'), port: 0 }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).to.be.instanceOf(FprlError);
      expect((e as FprlError).describe()).to.contain('npm run build').and.contain('no-page');
    });
  });

  describe('in Chromium', function () {
    let browser: Browser;
    let server: RunningServer;
    let page: Page;

    before(async function () {
      if (!CHROMIUM) {
        console.log('    (skipped: no Chromium at /usr/bin/chromium; .ci/run installs Debian\'s, or set FPRL_CHROMIUM)');
        this.skip();
      }
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
      server = await startServer({ run, pageDir, port: 0 });
    });
    after(async () => {
      await browser?.close();
      await server?.close();
    });

    async function open(url: string): Promise<Page> {
      const p = await browser.newPage({ acceptDownloads: true });
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(e.message));
      await p.goto(url);
      await p.evaluate(() => window.fprlPage.ready);
      expect(errors).to.deep.equal([]);
      return p;
    }

    it('loads the tiny checkpoint and parses a synthetic face with the labels of fprl predict', async () => {
      page = await open(server.url);
      const status = await page.textContent('#status');
      expect(status).to.contain('tfjs backend:').and.contain('agent ce');
      const image = path.join(faces, 'test', 'images', '0.png');
      await page.setInputFiles('#photo', image);
      await page.waitForSelector('#overlay[data-parsed="0.png"]');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
      const saved = path.join(tmp, 'page-0.png');
      await download.saveAs(saved);
      const fromPage = await readLabelPng(saved);
      const pred = await predictImages({ run, images: [image], out: path.join(tmp, 'predict') });
      const fromNode = await readLabelPng(pred.files[0].label);
      expect([fromPage.height, fromPage.width]).to.deep.equal([16, 16]);
      expect(Array.from(fromPage.data)).to.deep.equal(Array.from(fromNode.data));
      // A parse worth comparing: the tiny model already tells several classes apart.
      expect(new Set(fromNode.data).size).to.be.greaterThan(2);
      const areas = await page.$$eval('#areas tbody tr', (rows) => rows.length);
      expect(areas).to.equal(NUM_CLASSES);
      if (process.env.FPRL_SCREENSHOTS === '1') await page.screenshot({ path: path.join(root, 'docs/web-parser.png') });
    });

    it('changes F1 with a brush stroke, equal to the Node reward, and draws the Node credit', async () => {
      await page.click('#tab-playground');
      const before = await page.evaluate(() => ({ ...window.fprlPage.state.playground.values }));
      const updates = await page.evaluate(() => window.fprlPage.state.playground.updates);
      await page.click('#legend li[data-cls="10"]');
      const box = (await page.locator('#pred').boundingBox())!;
      await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.5);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.5, { steps: 8 });
      await page.mouse.up();
      await page.waitForFunction((n) => window.fprlPage.state.playground.updates > n, updates);
      await page.evaluate(() => window.fprlPage.update());
      const after = await page.evaluate(() => {
        const pg = window.fprlPage.state.playground;
        return { values: pg.values, pred: Array.from(pg.pred), target: Array.from(pg.target), credit: Array.from(pg.credit ?? []), size: pg.size };
      });
      expect(after.values.f1).to.be.a('number');
      expect(after.values.f1).not.to.equal(before.f1);
      const ctx = { height: after.size, width: after.size, numClasses: NUM_CLASSES, ignoreIndex: IGNORE_INDEX };
      const pred = Int32Array.from(after.pred);
      const target = Int32Array.from(after.target);
      const f1 = f1Reward();
      const options = { average: 'macro' as const, includeBackground: false, absent: 'skip' as const };
      expect(after.values.f1 as number).to.be.closeTo(f1.compute(pred, target, ctx, options) as number, 1e-9);
      const credit = f1.pixelCredit!(pred, target, ctx, options, 'difference');
      expect(after.credit).to.deep.equal(Array.from(credit));
      expect(credit.some((c) => c !== 0)).to.equal(true);
      // Every built-in and the experiment's loadable module are listed, composite included.
      for (const name of ['f1', 'dice', 'iou', 'pixel-accuracy', 'boundary-f1', 'composite', 'class-iou']) {
        expect(after.values[name], name).to.be.a('number');
      }
      if (process.env.FPRL_SCREENSHOTS === '1') await page.screenshot({ path: path.join(root, 'docs/web-playground.png') });
    });

    it('names the reward module that cannot load and the image it cannot decode, and keeps working', async () => {
      const messages = await page.$$eval('#messages li', (li) => li.map((l) => l.textContent ?? ''));
      expect(messages.some((m) => m.includes('node-only-reward.ts'))).to.equal(true);
      await fs.writeFile(path.join(tmp, 'broken.png'), 'not a png at all');
      await page.click('#tab-parser');
      await page.setInputFiles('#photo', path.join(tmp, 'broken.png'));
      await page.waitForFunction(() => Array.from(document.querySelectorAll('#messages li')).some((l) => l.textContent?.includes('broken.png')));
      await page.setInputFiles('#photo', path.join(faces, 'test', 'images', '1.png'));
      await page.waitForSelector('#overlay[data-parsed="1.png"]');
    });

    it('says when the folder is not a run, and the playground still works', async () => {
      const notRun = await startServer({ run: faces, pageDir, port: 0 });
      try {
        const p = await open(notRun.url);
        const messages = await p.$$eval('#messages li', (li) => li.map((l) => l.textContent ?? ''));
        expect(messages.join('\n')).to.contain('not a run').and.contain(faces);
        const values = await p.evaluate(() => window.fprlPage.state.playground.values);
        expect(values.f1).to.be.a('number');
        await p.close();
      } finally {
        await notRun.close();
      }
    });
  });
});
