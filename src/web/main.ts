/// <reference lib="dom" />
/**
 * The page `fprl serve` serves (bundled by `npm run build` into dist/web/app.js): a parser view
 * (a photo parsed in the browser with the run's checkpoint) and a reward playground (a synthetic
 * face, its ground truth and a prediction the user paints; every registered reward live, with a
 * heatmap of the chosen reward's difference credit). The rewards and networks are the modules
 * training uses (rewards/, agents/vit/); nothing here reaches Node (.dependency-cruiser.cjs).
 * `window.fprlPage` exposes the page's state to the browser tests (test/web/page.test.ts).
 */
import { CLASS_COLORS, CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES } from '../core/classes.js';
import { FprlError } from '../core/errors.js';
import { Registry } from '../core/registry.js';
import type { RewardContext, RewardPlugin } from '../core/types.js';
import { SyntheticFaces } from '../data/synthetic.js';
import { registerBuiltinRewards, registerRewardModule, resolveOptions } from '../../rewards/index.js';
import { settle } from '../../rewards/settle.js';
import { chooseBackend } from './backend.js';
import { $, drawRgb, labelColours, rgbOf, showMessage } from './dom.js';
import { encodeLabelPng } from './png.js';
import { loadPolicy, parseImage, type PagePolicy } from './policy.js';

interface RunInfo {
  dir?: string;
  error?: string;
  agent?: string;
  seed?: number;
  step?: number;
  policyUrl?: string;
  policyPath?: string;
  rewardModules: { file: string; url: string }[];
}

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
    credit: undefined as Float32Array | undefined,
    creditReward: 'f1',
    updates: 0,
  },
  rewards: [] as string[],
};
let brushClass = 10;
const registry = new Registry<RewardPlugin>('reward');

// ---------------------------------------------------------------- start-up

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const backend = await chooseBackend(params.get('backend') ?? undefined);
  state.backend = backend.name;
  const info = (await (await fetch('/api/run')).json()) as RunInfo;
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
  $('status').textContent = `tfjs backend: ${backend.name}${backend.skipped.length ? ` (not available: ${backend.skipped.join(', ')})` : ''} · ${runText}`;
  $('status').dataset.backend = backend.name;
  drawLegend();
  setUpParser();
  setUpPlayground();
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

function setUpPlayground(): void {
  $('seed').onchange = () => newFace();
  $('difficulty').onchange = () => newFace();
  $('reset').onclick = () => newFace();
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
  newFace();
}

function newFace(): void {
  const S = state.policy?.config.imageSize ?? 64;
  const seed = Number($<HTMLInputElement>('seed').value) || 0;
  const difficulty = $<HTMLSelectElement>('difficulty').value as 'easy' | 'medium' | 'hard';
  const face = new SyntheticFaces({ size: S, count: 1, seed, split: 'test', difficulty }).render(0);
  const pg = state.playground;
  pg.size = S;
  pg.rgb = face.rgb;
  pg.target = Int32Array.from(face.label);
  if (state.policy) {
    pg.pred = parseImage(state.policy, face.rgb, S, S);
    $('pred-caption').textContent = 'prediction of the run (paint here)';
  } else {
    // Without a run: the truth shifted 2 px right, a plausible imperfect parse to start from.
    pg.pred = new Int32Array(S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) pg.pred[y * S + x] = pg.target[y * S + Math.max(0, x - 2)];
    $('pred-caption').textContent = 'prediction: the truth shifted 2 px (paint here)';
  }
  drawRgb($<HTMLCanvasElement>('face'), face.rgb, S, S);
  drawRgb($<HTMLCanvasElement>('truth'), labelColours(pg.target), S, S);
  buildRewardRows();
  void update();
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
  pg.values = values;
  pg.credit = credit;
  drawHeat(credit, S);
  pg.updates++;
  $('rewards').dataset.updates = String(pg.updates);
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
  $('heat-caption').textContent = credit
    ? `difference credit of ${state.playground.creditReward} (max |credit| ${max.toExponential(2)})`
    : `no difference credit for ${state.playground.creditReward}`;
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
