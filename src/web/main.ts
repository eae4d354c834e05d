/// <reference lib="dom" />
/**
 * The page `fprl serve` serves (bundled by `npm run build` into dist/web/app.js): a parser view
 * (a photo parsed in the browser with the run's checkpoint) and a reward playground (a face,
 * synthetic or from the run's data folder, its ground truth and a prediction the user paints; the
 * agent's configured reward components and every registered reward live, with a heatmap of the
 * chosen reward's difference credit). The rewards and networks are the modules
 * training uses (rewards/, agents/vit/); nothing here reaches Node (.dependency-cruiser.cjs).
 * `window.fprlPage` exposes the page's state to the browser tests (test/web/page.test.ts).
 */
import { CLASS_COLORS, CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES } from '../core/classes.js';
import { FprlError } from '../core/errors.js';
import { Registry } from '../core/registry.js';
import type { RewardContext, RewardPlugin, RewardSpec } from '../core/types.js';
import { SyntheticFaces } from '../data/synthetic.js';
import {
  registerBuiltinRewards,
  registerRewardModule,
  resolveComponents,
  resolveOptions,
  type AttachedComponent,
} from '../../rewards/index.js';
import { checkValue } from '../../rewards/answer-check.js';
import { settle } from '../../rewards/settle.js';
import { chooseBackend } from './backend.js';
import { $, drawRgb, labelColours, rgbOf, showMessage } from './dom.js';
import { encodeLabelPng } from './png.js';
import type { DatasetSample, RunInfo } from '../serve/api.js';
import { loadPolicy, parseImage, type PagePolicy } from './policy.js';


/** A face of the playground and its truth, at the model's size. */
interface Face {
  rgb: Uint8Array;
  target: Int32Array;
  size: number;
  /** Where it came from, e.g. `synthetic seed 0 (easy)` or `test 3 (id 3)`. */
  source: string;
}


/** An agent's reward component resolved in the page, or why it cannot be. */
type RunComponent = { spec: RewardSpec; attached?: AttachedComponent; error?: string };

/** What the tests read. */
const state = {
  backend: '',
  policy: undefined as PagePolicy | undefined,
  parser: { labels: undefined as Int32Array | undefined, height: 0, width: 0, file: '' },
  playground: {
    size: 0,
    rgb: new Uint8Array(0) as Uint8Array,
    target: new Int32Array(0) as Int32Array,
    pred: new Int32Array(0) as Int32Array,
    values: {} as Record<string, number | string>,
    /** Where the face came from (`synthetic ...` or `<split> <index> (id ...)`). */
    source: '',
    /** The agent's reward components: value (or error) by component name, and their weighted sum. */
    run: {
      components: [] as { name: string; plugin: string; weight: number; options: unknown }[],
      values: {} as Record<string, number | string>,
      total: undefined as number | string | undefined,
    },
    credit: undefined as Float32Array | undefined,
    creditReward: 'f1',
    updates: 0,
  },
  rewards: [] as string[],
};
let brushClass = 10;
const registry = new Registry<RewardPlugin>('reward');
let runInfo: RunInfo = { rewardModules: [] };
let runComponents: RunComponent[] = [];

// ---------------------------------------------------------------- start-up

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const backend = await chooseBackend(params.get('backend') ?? undefined);
  state.backend = backend.name;
  const info = (await (await fetch('/api/run')).json()) as RunInfo;
  runInfo = info;
  let runText = 'no run (fprl serve RUN_DIR serves one)';
  if (info.error) showMessage(`not a run: ${info.error}`);
  else if (info.policyUrl) {
    try {
      state.policy = await loadPolicy(info.policyUrl, info.policyPath ?? info.policyUrl);
      const c = state.policy.config;
      runText = `run ${info.dir} (agent ${info.agent}, seed ${info.seed}, step ${info.step}; ${state.policy.architecture().kind} ${c.imageSize} px)`;
    } catch (e) {
      showMessage(e);
    }
  }
  registerBuiltinRewards(registry);
  for (const m of info.rewardModules) await loadRewardModule(m.url, m.file);
  state.rewards = registry.names();
  runComponents = resolveRunComponents(info.rewards ?? []);
  $('status').textContent = `tfjs backend: ${backend.name}${backend.skipped.length ? ` (not available: ${backend.skipped.join(', ')})` : ''} · ${runText}`;
  $('status').dataset.backend = backend.name;
  drawLegend();
  setUpParser();
  await setUpPlayground();
}

/**
 * The agent's reward components, resolved as the env resolves them (`resolveComponents`: the
 * plugin, its options checked with the schema's defaults filled in, the weight); one that cannot
 * be (e.g. its module did not load here) keeps its row with the reason.
 */
function resolveRunComponents(specs: RewardSpec[]): RunComponent[] {
  return specs.map((spec) => {
    try {
      return { spec, attached: resolveComponents([spec], registry)[0] };
    } catch (e) {
      return { spec, error: e instanceof FprlError ? e.describe() : String(e) };
    }
  });
}

async function loadRewardModule(url: string, file: string): Promise<void> {
  try {
    const r = await fetch(url);
    if (!r.ok) {
      // The server's message (esbuild's, naming the file and the import that failed).
      showMessage(await r.text());
      return;
    }
    const blob = URL.createObjectURL(new Blob([await r.text()], { type: 'text/javascript' }));
    let mod: Record<string, unknown>;
    try {
      mod = (await import(/* @vite-ignore */ blob)) as Record<string, unknown>;
    } catch (e) {
      throw new FprlError(`the reward module failed to load: ${(e as Error).message}`, { where: file });
    } finally {
      URL.revokeObjectURL(blob);
    }
    registerRewardModule(mod, file, registry);
  } catch (e) {
    showMessage(e instanceof FprlError && e.where?.includes(file) ? e : new FprlError(String((e as Error).message ?? e), { where: file }));
  }
}

function drawLegend(): void {
  const ul = $('legend');
  ul.replaceChildren();
  CLASS_NAMES.forEach((name, c) => {
    const li = document.createElement('li');
    li.innerHTML = `<span class="swatch" style="background:rgb(${CLASS_COLORS[c].join(',')})"></span>${c} ${name}`;
    li.dataset.cls = String(c);
    li.classList.toggle('on', c === brushClass);
    li.title = 'brush class in the reward playground';
    li.onclick = () => {
      brushClass = c;
      drawLegend();
    };
    ul.append(li);
  });
}

// ---------------------------------------------------------------- parser view

function setUpParser(): void {
  $('tab-parser').onclick = () => showTab('parser');
  $('tab-playground').onclick = () => showTab('playground');
  $<HTMLInputElement>('photo').onchange = (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void parseFile(f, f.name);
  };
  const drop = $('drop');
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add('drag');
  };
  drop.ondragleave = () => drop.classList.remove('drag');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('drag');
    const f = e.dataTransfer?.files[0];
    if (f) void parseFile(f, f.name);
  };
  $('webcam').onclick = () => void webcam();
  if (!state.policy) $('areas').insertAdjacentHTML('beforebegin', '<p class="error">no checkpoint: serve a run to parse photos</p>');
}

function showTab(which: 'parser' | 'playground'): void {
  $('parser').hidden = which !== 'parser';
  $('playground').hidden = which !== 'playground';
  $('tab-parser').classList.toggle('on', which === 'parser');
  $('tab-playground').classList.toggle('on', which === 'playground');
}

let stream: MediaStream | undefined;
async function webcam(): Promise<void> {
  const video = $<HTMLVideoElement>('video');
  try {
    if (!stream) {
      stream = await navigator.mediaDevices.getUserMedia({ video: true });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      $('webcam').textContent = 'Capture';
      return;
    }
    const bitmap = await createImageBitmap(video);
    await parseBitmap(bitmap, 'webcam.png');
  } catch (e) {
    showMessage(new FprlError(`cannot use the webcam: ${(e as Error).message}`, { where: 'webcam' }));
  }
}

async function parseFile(file: Blob, name: string): Promise<void> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    showMessage(new FprlError('the browser cannot decode this image', { where: name, hint: 'open a PNG, JPEG or WebP photo' }));
    return;
  }
  await parseBitmap(bitmap, name);
}

function pixelsOf(bitmap: ImageBitmap, height: number, width: number): Uint8Array {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, 0, 0, width, height);
  return rgbOf(ctx.getImageData(0, 0, width, height).data);
}

async function parseBitmap(bitmap: ImageBitmap, name: string): Promise<void> {
  const net = state.policy;
  if (!net) {
    showMessage(new FprlError('no checkpoint to parse with', { where: name, hint: 'run fprl serve RUN_DIR' }));
    return;
  }
  const { height, width } = bitmap;
  const S = net.config.imageSize;
  const photo = pixelsOf(bitmap, height, width);
  // At the model's size the photo goes in untouched (as predict's resize to the same size).
  const small = height === S && width === S ? photo : pixelsOf(bitmap, S, S);
  const labels = parseImage(net, small, height, width);
  Object.assign(state.parser, { labels, height, width, file: name });
  drawRgb($<HTMLCanvasElement>('overlay'), labelColours(labels, photo, 0.5), height, width);
  const counts = new Array<number>(NUM_CLASSES).fill(0);
  for (const l of labels) counts[l]++;
  $('areas').querySelector('tbody')!.innerHTML = counts
    .map(
      (n, c) =>
        `<tr><td><span class="swatch" style="background:rgb(${CLASS_COLORS[c].join(',')})"></span>${CLASS_NAMES[c]}</td><td class="num">${n}</td><td class="num">${((100 * n) / labels.length).toFixed(1)}%</td></tr>`,
    )
    .join('');
  const a = $<HTMLAnchorElement>('download');
  if (a.href.startsWith('blob:')) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(await encodeLabelPng(labels, height, width));
  a.download = `${name.replace(/\.[^.]*$/, '')}.png`;
  a.classList.remove('disabled');
  $('overlay').dataset.parsed = name;
}

// ---------------------------------------------------------------- reward playground

async function setUpPlayground(): Promise<void> {
  const source = $<HTMLSelectElement>('source');
  for (const s of runInfo.dataset?.splits ?? []) {
    const o = document.createElement('option');
    o.value = `data:${s.split}`;
    o.textContent = `${s.split} split of the run's data folder (${s.count})`;
    source.append(o);
  }
  if (runInfo.dataset?.error) showMessage(runInfo.dataset.error);
  source.onchange = () => {
    const data = source.value.startsWith('data:');
    $('synthetic-controls').hidden = data;
    $('dataset-controls').hidden = !data;
    if (data) {
      const n = runInfo.dataset!.splits.find((s) => `data:${s.split}` === source.value)!.count;
      $<HTMLInputElement>('index').max = String(n - 1);
    }
    void newFace();
  };
  $('seed').onchange = () => void newFace();
  $('difficulty').onchange = () => void newFace();
  $('index').onchange = () => void newFace();
  $('reset').onclick = () => void newFace();
  const pred = $<HTMLCanvasElement>('pred');
  const paint = (e: PointerEvent) => {
    if (!(e.buttons & 1)) return;
    const S = state.playground.size;
    const r = pred.getBoundingClientRect();
    const x = Math.floor(((e.clientX - r.left) / r.width) * S);
    const y = Math.floor(((e.clientY - r.top) / r.height) * S);
    const rad = Number($<HTMLInputElement>('radius').value);
    const p = state.playground.pred;
    for (let dy = -rad; dy <= rad; dy++)
      for (let dx = -rad; dx <= rad; dx++) {
        const [u, v] = [x + dx, y + dy];
        if (u >= 0 && v >= 0 && u < S && v < S && dx * dx + dy * dy <= rad * rad) p[v * S + u] = brushClass;
      }
    void update();
  };
  pred.onpointerdown = (e) => {
    pred.setPointerCapture(e.pointerId);
    paint(e);
  };
  pred.onpointermove = paint;
  buildRunRewardRows();
  await newFace();
}

let facing: Promise<void> = Promise.resolve();
/** Show the face the controls name (one at a time, in order); a face that cannot load leaves the current one. */
function newFace(): Promise<void> {
  const next = async () => {
    const source = $<HTMLSelectElement>('source').value;
    const face = source.startsWith('data:') ? await dataFace(source.slice('data:'.length)) : syntheticFace();
    if (face) showFace(face);
  };
  facing = facing.then(next, next);
  return facing;
}

function syntheticFace(): Face {
  const S = state.policy?.config.imageSize ?? runInfo.dataset?.size ?? 64;
  const seed = Number($<HTMLInputElement>('seed').value) || 0;
  const difficulty = $<HTMLSelectElement>('difficulty').value as 'easy' | 'medium' | 'hard';
  const face = new SyntheticFaces({ size: S, count: 1, seed, split: 'test', difficulty }).render(0);
  return { rgb: face.rgb, target: Int32Array.from(face.label), size: S, source: `synthetic seed ${seed} (${difficulty})` };
}

function bytesOf(base64: string): Uint8Array {
  const text = atob(base64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * A face of the run's data folder: the server decodes and resizes it to the model's size with
 * training's own function (image Lanczos, label nearest), so the page sees what training sees.
 */
async function dataFace(split: string): Promise<Face | undefined> {
  const index = Number($<HTMLInputElement>('index').value);
  const info = $('sample-info');
  try {
    const r = await fetch(`/api/data/${encodeURIComponent(split)}/${index}`);
    if (!r.ok) throw new Error(await r.text());
    const s = (await r.json()) as DatasetSample;
    const link = (href: string, text: string) => {
      const a = document.createElement('a');
      a.href = href;
      a.target = '_blank';
      a.textContent = text;
      return a;
    };
    info.replaceChildren(`id ${s.id} · `, link(s.image, 'image'), ...(s.label ? [' · ', link(s.label, 'label')] : []));
    info.dataset.id = s.id;
    const target = Int32Array.from(bytesOf(s.labels));
    return { rgb: bytesOf(s.rgb), target, size: s.height, source: `${split} ${index} (id ${s.id}, resized to ${s.height} px as training does)` };
  } catch (e) {
    // The server's message names the file (or the split and the range); the current face stays.
    showMessage((e as Error).message);
    return undefined;
  }
}

function showFace(face: Face): void {
  const S = face.size;
  const pg = state.playground;
  pg.size = S;
  pg.rgb = face.rgb;
  pg.target = face.target;
  pg.source = face.source;
  $('face-caption').textContent = `face: ${face.source}`;
  if (state.policy && state.policy.config.imageSize === S) {
    pg.pred = parseImage(state.policy, face.rgb, S, S);
    $('pred-caption').textContent = 'prediction of the run (paint here)';
  } else {
    // Without a run: the truth shifted 2 px right, a plausible imperfect parse to start from.
    pg.pred = new Int32Array(S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
        const t = pg.target[y * S + Math.max(0, x - 2)];
        pg.pred[y * S + x] = t === IGNORE_INDEX ? 0 : t;
      }
    $('pred-caption').textContent = 'prediction: the truth shifted 2 px (paint here)';
  }
  drawRgb($<HTMLCanvasElement>('face'), face.rgb, S, S);
  drawRgb($<HTMLCanvasElement>('truth'), labelColours(pg.target), S, S);
  buildRewardRows();
  void update();
}

/** The agent's components, named as in its config, with plugin, options and weight; then their weighted sum. */
function buildRunRewardRows(): void {
  if (!runInfo.rewards?.length) return;
  $('run-rewards-block').hidden = false;
  $('run-rewards-title').textContent = runInfo.rewardsDefault
    ? `The agent's reward: ${runInfo.agent} configures none, so the env's default`
    : `The agent's rewards (${runInfo.agent}'s config)`;
  state.playground.run.components = runComponents.map(({ spec }) => ({ name: spec.name, plugin: spec.plugin, weight: spec.weight, options: spec.options ?? {} }));
  const tbody = $('run-rewards').querySelector('tbody')!;
  const cell = (text: string, cls?: string) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  };
  const radio = (value: string, on: boolean) => {
    const td = document.createElement('td');
    if (on) {
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'heat';
      input.value = value;
      td.append(input);
    }
    return td;
  };
  const credits = (c: RunComponent) => (c.attached?.plugin.credit ?? []).includes('difference');
  for (const c of runComponents) {
    const tr = document.createElement('tr');
    tr.dataset.component = c.spec.name;
    // Options as the env uses them: the schema's defaults filled in.
    const options = c.attached ? c.attached.options : (c.spec.options ?? {});
    tr.append(radio(`run:${c.spec.name}`, credits(c)), cell(c.spec.name), cell(c.spec.plugin), cell(JSON.stringify(options), 'options'));
    tr.append(cell(String(c.spec.weight), 'num'), cell('', 'num value'));
    tbody.append(tr);
  }
  const total = document.createElement('tr');
  total.className = 'total';
  total.append(radio('run:', runComponents.every(credits)), cell('weighted sum'), cell(''), cell('the reward the agent gets'), cell('', 'num'), cell('', 'num value'));
  tbody.append(total);
  tbody.onchange = (e) => {
    const t = e.target as HTMLInputElement;
    if (t.name === 'heat') state.playground.creditReward = t.value;
    void update();
  };
}

const DEFAULT_WEIGHTS: Record<string, number> = { f1: 0.7, 'boundary-f1': 0.3 };

function buildRewardRows(): void {
  const tbody = $('rewards').querySelector('tbody')!;
  if (tbody.children.length) return;
  for (const name of state.rewards) {
    const plugin = registry.create(name);
    const tr = document.createElement('tr');
    tr.dataset.reward = name;
    const credit = (plugin.credit ?? []).includes('difference');
    tr.innerHTML =
      `<td>${credit ? `<input type="radio" name="heat" value="${name}"${name === 'f1' ? ' checked' : ''}>` : ''}</td>` +
      `<td title="${plugin.description.replace(/"/g, '&quot;')}">${name}</td><td class="num value"></td>` +
      `<td>${name === 'composite' ? '= sum of the weights' : `<input type="number" step="0.1" value="${DEFAULT_WEIGHTS[name] ?? 0}" data-weight="${name}">`}</td>`;
    tbody.append(tr);
  }
  tbody.onchange = (e) => {
    const t = e.target as HTMLInputElement;
    if (t.name === 'heat') state.playground.creditReward = t.value;
    void update();
  };
}

function compositeParts(): { plugin: string; weight: number }[] {
  return Array.from(document.querySelectorAll<HTMLInputElement>('input[data-weight]'))
    .map((i) => ({ plugin: i.dataset.weight!, weight: Number(i.value) }))
    .filter((p) => Number.isFinite(p.weight) && p.weight !== 0);
}

let updating: Promise<void> = Promise.resolve();
function update(): Promise<void> {
  updating = updating.then(updateNow, updateNow);
  return updating;
}

async function updateNow(): Promise<void> {
  const pg = state.playground;
  const S = pg.size;
  drawRgb($<HTMLCanvasElement>('pred'), labelColours(pg.pred), S, S);
  const ctx: RewardContext = { height: S, width: S, numClasses: NUM_CLASSES, ignoreIndex: IGNORE_INDEX };
  const values: Record<string, number | string> = {};
  let credit: Float32Array | undefined;
  for (const name of state.rewards) {
    const plugin = registry.create(name);
    const cell = $('rewards').querySelector<HTMLElement>(`tr[data-reward="${CSS.escape(name)}"] .value`)!;
    try {
      const raw = name === 'composite' ? { parts: compositeParts() } : {};
      const options = resolveOptions(plugin, raw, `reward '${name}'`);
      const v = await settle(plugin.compute(pg.pred, pg.target, ctx, options));
      values[name] = v;
      cell.textContent = typeof v === 'number' ? v.toFixed(6) : String(v);
      cell.dataset.value = String(v);
      cell.classList.remove('error');
      if (name === pg.creditReward && plugin.pixelCredit) {
        credit = plugin.pixelCredit(pg.pred, pg.target, ctx, options, 'difference');
      }
    } catch (e) {
      values[name] = e instanceof FprlError ? e.describe() : String(e);
      cell.textContent = String(values[name]);
      cell.classList.add('error');
    }
  }
  const run = await runValues(pg, ctx);
  pg.run.values = run.values;
  pg.run.total = run.total;
  if (pg.creditReward.startsWith('run:')) credit = run.credit;
  pg.values = values;
  pg.credit = credit;
  drawHeat(credit, S);
  pg.updates++;
  $('rewards').dataset.updates = String(pg.updates);
}

/**
 * The agent's components on the playground's labels, each checked as the env checks an answer
 * (`checkValue`: a number inside the plugin's range), and their weighted sum; the difference credit
 * of the chosen component, or of the sum (the weighted sum of the credits, as the env's pixelReward).
 */
async function runValues(
  pg: typeof state.playground,
  ctx: RewardContext,
): Promise<{ values: Record<string, number | string>; total?: number | string; credit?: Float32Array }> {
  const values: Record<string, number | string> = {};
  if (!runComponents.length) return { values };
  const chosen = pg.creditReward.startsWith('run:') ? pg.creditReward.slice('run:'.length) : undefined;
  const wantSum = pg.creditReward === 'run:';
  let total: number | string = 0;
  let credit: Float32Array | undefined = wantSum ? new Float32Array(pg.size * pg.size) : undefined;
  let sumCredit = true;
  for (const c of runComponents) {
    const cell = $('run-rewards').querySelector<HTMLElement>(`tr[data-component="${CSS.escape(c.spec.name)}"] .value`)!;
    try {
      if (!c.attached) throw new Error(c.error);
      const { plugin, options, range, where, weight } = c.attached;
      const v = checkValue(await settle(plugin.compute(pg.pred, pg.target, ctx, options)), range, where, "the playground's face");
      values[c.spec.name] = v;
      if (typeof total === 'number') total += weight * v;
      cell.textContent = v.toFixed(6);
      cell.dataset.value = String(v);
      cell.classList.remove('error');
      if (wantSum || chosen === c.spec.name) {
        const gives = plugin.pixelCredit && (plugin.credit ?? []).includes('difference');
        const own = gives ? plugin.pixelCredit!(pg.pred, pg.target, ctx, options, 'difference') : undefined;
        if (!wantSum) credit = own;
        else if (!own) sumCredit = false;
        else for (let p = 0; p < own.length; p++) credit![p] += weight * own[p];
      }
    } catch (e) {
      values[c.spec.name] = e instanceof FprlError ? e.describe() : (e as Error).message;
      total = `no sum: component '${c.spec.name}' failed`;
      sumCredit = false;
      cell.textContent = values[c.spec.name] as string;
      cell.classList.add('error');
    }
  }
  if (wantSum && !sumCredit) credit = undefined;
  const cell = $('run-rewards').querySelector<HTMLElement>('tr.total .value')!;
  cell.textContent = typeof total === 'number' ? total.toFixed(6) : total;
  cell.dataset.value = String(total);
  return { values, total, credit };
}

/** Red where fixing the pixel raises the reward, blue where it lowers it, scaled by the largest |credit|. */
function drawHeat(credit: Float32Array | undefined, S: number): void {
  const canvas = $<HTMLCanvasElement>('heat');
  const rgb = new Uint8Array(S * S * 3).fill(255);
  let max = 0;
  if (credit) for (const c of credit) max = Math.max(max, Math.abs(c));
  if (credit && max > 0) {
    for (let p = 0; p < credit.length; p++) {
      const t = credit[p] / max;
      const fade = Math.round(255 * (1 - Math.abs(t)));
      rgb.set(t >= 0 ? [255, fade, fade] : [fade, fade, 255], p * 3);
    }
  }
  drawRgb(canvas, rgb, S, S);
  const chosen = state.playground.creditReward;
  const name =
    chosen === 'run:' ? "the agent's reward (weighted sum)" : chosen.startsWith('run:') ? `the agent's ${chosen.slice(4)}` : chosen;
  $('heat-caption').textContent = credit
    ? `difference credit of ${name} (max |credit| ${max.toExponential(2)})`
    : `no difference credit for ${name}`;
}

declare global {
  interface Window {
    fprlPage: { state: typeof state; ready: Promise<void>; update: () => Promise<void> };
  }
}
window.fprlPage = {
  state,
  update,
  ready: start().catch((e: unknown) => {
    showMessage(e);
    $('status').textContent = 'the page failed to start';
  }),
};
