/**
 * The browser page (src/web/) in a real Chromium, driven by playwright-core, served by
 * `fprl serve` (src/serve/) with two small runs: a 16 px run on synthetic faces (the exact
 * parse check) and a 64 px run on a LaPa folder written here (the data folder's faces, the
 * agent's configured rewards, the screenshots). Skips, saying why, only where no Chromium is
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
import { normalizeImage, openLapaFolder, readLabelPng, SyntheticFaces, writeSyntheticFolder } from '../../src/data/index.js';
import { buildPage } from '../../src/serve/bundle.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { diceReward, f1Reward, registerBuiltinRewards, resolveComponents, resolveOptions } from '../../rewards/index.js';
import { NUM_CLASSES, IGNORE_INDEX } from '../../src/core/classes.js';
import { FprlError } from '../../src/core/errors.js';
import { Registry } from '../../src/core/registry.js';
import type { RewardPlugin, RewardSpec } from '../../src/core/types.js';
import { writeJpg, writeLabel, writePng } from '../data/helpers.js';

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

/** Write a LaPa folder of synthetic faces at `size` px (PNG, and JPEG for test id 1), with sharp. */
async function writeLapaFaces(root: string, counts: Record<'train' | 'val' | 'test', number>, size: number): Promise<void> {
  for (const split of ['train', 'val', 'test'] as const) {
    const ds = new SyntheticFaces({ size, count: counts[split], seed: 3, split });
    for (let i = 0; i < counts[split]; i++) {
      const { rgb, label } = ds.render(i);
      const write = split === 'test' && i === 1 ? writeJpg : writePng;
      await write(path.join(root, split, 'images', `${i}.${write === writeJpg ? 'jpg' : 'png'}`), rgb, size, size);
      await writeLabel(path.join(root, split, 'labels', `${i}.png`), label, size, size);
    }
  }
}

/** The 64 px run's agent: two configured components with options that are not the defaults. */
const RUN64_REWARDS: RewardSpec[] = [
  { name: 'dice-bg', plugin: 'dice', weight: 0.5, options: { includeBackground: true } },
  {
    name: 'mix',
    plugin: 'composite',
    weight: 0.5,
    options: { parts: [{ plugin: 'f1', weight: 0.25 }, { plugin: 'pixel-accuracy', weight: 0.75 }] },
  },
];

describe('fprl serve and the browser page', function () {
  this.timeout(120_000);
  let tmp: string;
  let pageDir: string;
  let run: string;
  let faces: string;
  /** The 64 px run on the LaPa folder `lapa`. */
  let run64: string;
  let lapa: string;

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

    // A LaPa folder of 72 px faces and a 64 px run on it (training resizes them), trained on wasm
    // long enough (a few seconds) to tell face from hair in the screenshots.
    lapa = path.join(tmp, 'lapa');
    await writeLapaFaces(lapa, { train: 24, val: 4, test: 4 }, 72);
    const experiment64 = {
      name: 'web64',
      dataset: { kind: 'lapa', root: lapa, size: 64 },
      model: { preset: 'tiny-64', patchSize: 8, dim: 32, depth: 1, heads: 2, mlpDim: 64, dropout: 0 },
      training: { steps: 200, batchSize: 8, evalEvery: 200, checkpointEvery: 200, optimizer: { name: 'adam', lr: 0.01 } },
      agents: [{ name: 'ce', kind: 'supervised', rewards: RUN64_REWARDS }],
      seeds: [0],
      evaluation: { pictures: 0, batchSize: 4 },
    };
    await fs.writeFile(path.join(tmp, 'web64.json'), JSON.stringify(experiment64));
    await runSweep({ experiment: path.join(tmp, 'web64.json'), out: path.join(tmp, 'sweep64'), progress: 'none', backend: 'wasm' });
    await useBackend('cpu');
    run64 = path.join(tmp, 'sweep64', 'ce', 'seed-0');
    // Bad files added after training (ids sort after 0..3: indices 4, 5, 6): an image that is not
    // one, a label with a value no class has, and an image linked from outside the data folder.
    const label72 = new SyntheticFaces({ size: 72, count: 1, seed: 3, split: 'test' }).render(0).label;
    await fs.writeFile(path.join(lapa, 'test', 'images', '90.png'), 'not a png at all');
    await writeLabel(path.join(lapa, 'test', 'labels', '90.png'), label72, 72, 72);
    await writePng(path.join(lapa, 'test', 'images', '91.png'), new Uint8Array(72 * 72 * 3), 72, 72);
    await writeLabel(path.join(lapa, 'test', 'labels', '91.png'), new Uint8Array(72 * 72).fill(42), 72, 72);
    await writePng(path.join(tmp, 'outside.png'), new Uint8Array(72 * 72 * 3), 72, 72);
    await fs.symlink(path.join(tmp, 'outside.png'), path.join(lapa, 'test', 'images', '92.png'));
    await writeLabel(path.join(lapa, 'test', 'labels', '92.png'), label72, 72, 72);
    await fs.writeFile(path.join(lapa, 'notes.txt'), 'not a file of a split');
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
      // A run without a data folder serves none.
      expect((await get(server.url, '/data/test/images/0.png')).status).to.equal(404);
      expect((await get(server.url, '/api/data/test/0')).status).to.equal(404);
    });

    it('serves only the files of the data folder\'s image/label pairs, read-only (no path traversal)', async () => {
      const s64 = await startServer({ run: run64, pageDir, port: 0 });
      try {
        for (const p of [
          '/data/test/images/0.png',
          '/data/test/images/1.jpg',
          '/data/test/labels/0.png',
          '/data/train/labels/23.png',
          '/data/val/images/3.png',
        ]) {
          const r = await get(s64.url, p);
          expect(r.status, p).to.equal(200);
        }
        for (const p of [
          '/data/notes.txt', // in the data folder, but no file of a split
          '/data/test/images/92.png', // a pair's image, linked from outside the data folder
          '/data/test/images/4.png',
          '/data/test/images',
          '/data/test',
          '/data/',
          '/data/../web64.json',
          '/data/%2e%2e/web64.json',
          '/data/test/images/..%2f..%2f..%2fweb64.json',
          '/data/test/images/%2e%2e/%2e%2e/%2e%2e/web64.json',
          '/data/test%5cimages%5c0.png',
          '/data/test/images/0.png%00',
          '/data/%E0%A4%A',
          '/data//etc/passwd',
          `/data/${encodeURIComponent(path.join(lapa, 'test', 'images', '0.png'))}`,
          '/api/data/..%2f..%2fweb64.json/0',
          '/api/data/test/-1',
          '/api/data/test/0.5',
          '/api/data/test/../../web64.json',
        ]) {
          const r = await get(s64.url, p);
          expect(r.status, p).to.equal(404);
          expect(r.body, p).not.to.contain('"name"');
        }
        // POST is refused before any route (read-only).
        const post = await new Promise<number>((resolve, reject) => {
          const u = new URL(s64.url);
          const req = http.request({ host: u.hostname, port: u.port, path: '/data/test/images/0.png', method: 'PUT' }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end('x');
        });
        expect(post).to.equal(405);
        const info = JSON.parse((await get(s64.url, '/api/run')).body);
        expect(info.dataset).to.deep.include({ kind: 'lapa', root: lapa, size: 64 });
        expect(info.dataset.splits).to.deep.equal([
          { split: 'train', count: 24 },
          { split: 'val', count: 4 },
          { split: 'test', count: 7 },
        ]);
        // As the env takes them: named, weighted, the configured options (with the schema's defaults filled in at load).
        expect(info.rewards.map((r: RewardSpec) => [r.name, r.plugin, r.weight])).to.deep.equal(RUN64_REWARDS.map((r) => [r.name, r.plugin, r.weight]));
        expect(info.rewards[0].options).to.include({ includeBackground: true });
        expect(info.rewards[1].options.parts).to.deep.equal(RUN64_REWARDS[1].options!.parts);
        expect(info).not.to.have.property('rewardsDefault');
        const outOfRange = await get(s64.url, '/api/data/test/7');
        expect(outOfRange.status).to.equal(422);
        expect(outOfRange.body).to.contain('index 7 is out of range (0..6)').and.contain(path.join(lapa));
        const noSplit = await get(s64.url, '/api/data/extra/0');
        expect(noSplit.status).to.equal(422);
        expect(noSplit.body).to.contain("no split 'extra'");
      } finally {
        await s64.close();
      }
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
    let server64: RunningServer;
    let page: Page;
    let page64: Page;

    before(async function () {
      if (!CHROMIUM) {
        console.log('    (skipped: no Chromium at /usr/bin/chromium; .ci/run installs Debian\'s, or set FPRL_CHROMIUM)');
        this.skip();
      }
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
      server = await startServer({ run, pageDir, port: 0 });
      server64 = await startServer({ run: run64, pageDir, port: 0 });
    });
    after(async () => {
      await browser?.close();
      await server?.close();
      await server64?.close();
    });

    async function open(url: string): Promise<Page> {
      const p = await browser.newPage({ acceptDownloads: true, viewport: { width: 1280, height: 760 } });
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
      // The agent configures no rewards: the env's default f1 component is shown as its reward.
      const run = await page.evaluate(() => window.fprlPage.state.playground.run);
      expect(run.components).to.deep.equal([{ name: 'f1', plugin: 'f1', weight: 1, options: {} }]);
      expect(run.total).to.equal(after.values.f1);
      expect(await page.textContent('#run-rewards-title')).to.contain("env's default");
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

    /** Pick the playground's face from the data folder (split, index) and wait for the page to show it (or say why not). */
    async function pickSample(p: Page, split: string, index: number): Promise<void> {
      const updates = await p.evaluate(() => window.fprlPage.state.playground.updates);
      const messages = await p.$$eval('#messages li', (li) => li.length);
      if ((await p.inputValue('#source')) !== `data:${split}`) {
        await p.selectOption('#source', `data:${split}`);
        await p.waitForFunction((n) => window.fprlPage.state.playground.updates > n, updates);
      }
      if (Number(await p.inputValue('#index')) === index) return;
      const before = await p.evaluate(() => window.fprlPage.state.playground.updates);
      await p.fill('#index', String(index));
      await p.dispatchEvent('#index', 'change');
      await p.waitForFunction(
        ([n, m]) => window.fprlPage.state.playground.updates > n || document.querySelectorAll('#messages li').length > m,
        [before, messages],
      );
    }

    it("offers the run's data folder: a face and its truth resized to the model's size as training does", async () => {
      page64 = await open(server64.url);
      await page64.click('#tab-playground');
      expect(await page64.textContent('#status')).to.contain('64 px');
      const options = await page64.$$eval('#source option', (o) => o.map((x) => (x as HTMLOptionElement).value));
      expect(options).to.deep.equal(['synthetic', 'data:train', 'data:val', 'data:test']);
      const ds = await openLapaFolder(lapa, 'test', { size: 64, skipBad: true });
      for (const index of [0, 1]) {
        await pickSample(page64, 'test', index);
        const pg = await page64.evaluate(() => {
          const s = window.fprlPage.state.playground;
          return { size: s.size, rgb: Array.from(s.rgb), target: Array.from(s.target), source: s.source, pred: s.pred.length };
        });
        const sample = await ds.get(index);
        expect(pg.size).to.equal(64);
        expect(pg.source).to.contain(`test ${index} (id ${sample.id}`);
        // The bytes training trains on: the same Lanczos image (normalised as training does) and nearest label.
        expect(Array.from(normalizeImage(Uint8Array.from(pg.rgb)))).to.deep.equal(Array.from(sample.image));
        expect(pg.target).to.deep.equal(Array.from(sample.label));
        expect(pg.pred).to.equal(64 * 64);
      }
      // The original files are linked (index 1 is the JPEG).
      const hrefs = await page64.$$eval('#sample-info a', (a) => a.map((x) => (x as HTMLAnchorElement).getAttribute('href')));
      expect(hrefs).to.deep.equal(['/data/test/images/1.jpg', '/data/test/labels/1.png']);
      const jpg = await page64.evaluate(async (u) => (await fetch(u)).headers.get('content-type'), hrefs[0]!);
      expect(jpg).to.equal('image/jpeg');
    });

    it("shows the agent's configured rewards with their options and weights, equal to the Node rewards", async () => {
      await pickSample(page64, 'test', 0);
      // Paint a stroke so the values are not those of the run's parse alone.
      const updates = await page64.evaluate(() => window.fprlPage.state.playground.updates);
      await page64.click('#legend li[data-cls="1"]');
      const box = (await page64.locator('#pred').boundingBox())!;
      await page64.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
      await page64.mouse.down();
      await page64.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 6 });
      await page64.mouse.up();
      await page64.waitForFunction((n) => window.fprlPage.state.playground.updates > n, updates);
      await page64.check('#run-rewards input[value="run:"]');
      await page64.evaluate(() => window.fprlPage.update());
      const pg = await page64.evaluate(() => {
        const s = window.fprlPage.state.playground;
        return { run: s.run, values: s.values, pred: Array.from(s.pred), target: Array.from(s.target), credit: Array.from(s.credit ?? []), size: s.size };
      });
      const rows = await page64.$$eval('#run-rewards tbody tr', (tr) =>
        tr.map((r) => Array.from(r.querySelectorAll('td')).slice(1, 5).map((td) => td.textContent)),
      );
      expect(rows.slice(0, 2).map((r) => r.slice(0, 2))).to.deep.equal([
        ['dice-bg', 'dice'],
        ['mix', 'composite'],
      ]);
      expect(rows[0][2]).to.contain('"includeBackground":true');
      expect(rows[0][3]).to.equal('0.5');
      expect(pg.run.components.map((c) => c.name)).to.deep.equal(['dice-bg', 'mix']);

      const ctx = { height: pg.size, width: pg.size, numClasses: NUM_CLASSES, ignoreIndex: IGNORE_INDEX };
      const pred = Int32Array.from(pg.pred);
      const target = Int32Array.from(pg.target);
      // The env's own resolution of the same components (options checked, defaults filled in).
      const registry = new Registry<RewardPlugin>('reward');
      registerBuiltinRewards(registry);
      const components = resolveComponents(RUN64_REWARDS, registry);
      let total = 0;
      const credit = new Float32Array(pg.size * pg.size);
      for (const c of components) {
        const v = (await c.plugin.compute(pred, target, ctx, c.options)) as number;
        expect(pg.run.values[c.name] as number, c.name).to.be.closeTo(v, 1e-9);
        total += c.weight * v;
        const own = c.plugin.pixelCredit!(pred, target, ctx, c.options, 'difference');
        for (let p = 0; p < own.length; p++) credit[p] += c.weight * own[p];
      }
      expect(pg.run.total as number).to.be.closeTo(total, 1e-9);
      expect(pg.credit).to.deep.equal(Array.from(credit));
      // The configured options matter: dice with the background is not the default dice, which
      // the built-in row shows; the configured composite is not the table's composite.
      const dice = diceReward();
      const defaultDice = dice.compute(pred, target, ctx, resolveOptions(dice, {}, 'dice')) as number;
      expect(pg.values.dice as number).to.be.closeTo(defaultDice, 1e-9);
      expect(Math.abs((pg.run.values['dice-bg'] as number) - defaultDice)).to.be.greaterThan(1e-3);
      expect(Math.abs((pg.run.values.mix as number) - (pg.values.composite as number))).to.be.greaterThan(1e-3);
    });

    /** With FPRL_SCREENSHOTS=1, write a README screenshot, kept under 150 KB. */
    async function shoot(p: Page, file: string, fullPage: boolean): Promise<void> {
      if (process.env.FPRL_SCREENSHOTS !== '1') return;
      await p.screenshot({ path: path.join(root, file), fullPage });
      expect((await fs.stat(path.join(root, file))).size, file).to.be.below(150_000);
    }

    it('takes the README screenshots from a clean page on the 64 px run', async () => {
      const p = await open(server64.url);
      try {
        await p.setInputFiles('#photo', path.join(lapa, 'test', 'images', '2.png'));
        await p.waitForSelector('#overlay[data-parsed="2.png"]');
        // The parse of a 64 px run tells face from background and hair.
        const labels = await p.evaluate(() => Array.from(window.fprlPage.state.parser.labels ?? []));
        expect(new Set(labels).size).to.be.greaterThan(2);
        expect(await p.$$eval('#messages li', (li) => li.length)).to.equal(0);
        await shoot(p, 'docs/web-parser.png', false);
        await p.click('#tab-playground');
        await pickSample(p, 'test', 2);
        await p.check('#run-rewards input[value="run:"]');
        await p.evaluate(() => window.fprlPage.update());
        // A clean state: no message, no reward in error.
        expect(await p.$$eval('#messages li', (li) => li.length)).to.equal(0);
        expect(await p.$$eval('#run-rewards .error, #rewards .error', (e) => e.length)).to.equal(0);
        await shoot(p, 'docs/web-playground.png', true);
      } finally {
        await p.close();
      }
    });

    it('names the data file it cannot read, and keeps the face and the rest of the page', async () => {
      await pickSample(page64, 'test', 0);
      const face = await page64.evaluate(() => window.fprlPage.state.playground.source);
      const cases: [number, string[]][] = [
        [4, [path.join(lapa, 'test', 'images', '90.png'), 'not an image file']],
        [5, [path.join(lapa, 'test', 'labels', '91.png'), 'label value 42']],
        [6, [path.join(lapa, 'test', 'images', '92.png'), 'leaves the data folder']],
        [9, ['index 9 is out of range (0..6)']],
      ];
      for (const [index, words] of cases) {
        await pickSample(page64, 'test', index);
        await page64.waitForFunction((w) => Array.from(document.querySelectorAll('#messages li')).some((l) => w.every((x) => l.textContent?.includes(x))), words);
        expect(await page64.evaluate(() => window.fprlPage.state.playground.source), String(index)).to.equal(face);
      }
      await pickSample(page64, 'test', 3);
      expect(await page64.evaluate(() => window.fprlPage.state.playground.source)).to.contain('test 3');
      expect(await page64.evaluate(() => window.fprlPage.state.playground.values.f1)).to.be.a('number');
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
