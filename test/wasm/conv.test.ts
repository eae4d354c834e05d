import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { maxAbsDiff, randomOperand, type Operand } from './reference.js';
import { nativeMatMul, withoutNative, type NativeAddon } from '../../src/native/index.js';
import { setFusedKernels } from '../../src/native/fused.js';
import { registerWasmKernels, setFastWasmKernels } from '../../src/wasm/kernels.js';
import { convKernelsRegistered, stockConvKernel } from '../../src/wasm/conv-kernel.js';
import { fallbackConvRoute } from '../../src/wasm/conv-fallback.js';
import { nativeConvRoute } from '../../src/wasm/conv-native.js';
import { convGeometry, rowsPerChunk, outputPixels, type ConvRoute } from '../../src/wasm/im2col.js';
import { asWasmBackend } from '../../src/wasm/internals.js';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** A convolution: x [B,H,W,C], filter [kH,kW,C,O]. */
interface Case {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dilations?: number;
  /** tfjs has no gradient for dilated convolutions: forward only. */
  forwardOnly?: boolean;
}

const CASES: Case[] = [
  { name: '1x1 16->32 (a plain matMul)', x: [2, 9, 7, 16], w: [1, 1, 16, 32], strides: 1, pad: 'valid' },
  { name: '1x1 16->32 stride 2', x: [2, 9, 7, 16], w: [1, 1, 16, 32], strides: 2, pad: 'same' },
  { name: '3x3 3->16 same', x: [2, 11, 9, 3], w: [3, 3, 3, 16], strides: 1, pad: 'same' },
  { name: '3x3 16->32 stride 2 same', x: [3, 10, 13, 16], w: [3, 3, 16, 32], strides: 2, pad: 'same' },
  { name: '3x3 5->6 stride 2 valid, odd sizes', x: [3, 11, 7, 5], w: [3, 3, 5, 6], strides: 2, pad: 'valid' },
  { name: '7x7 3->16 stride 2 same (a stem)', x: [2, 23, 19, 3], w: [7, 7, 3, 16], strides: 2, pad: 'same' },
  { name: '7x7 4->5 valid', x: [2, 12, 15, 4], w: [7, 7, 4, 5], strides: 1, pad: 'valid' },
  { name: '3x5 filter, strides [1,2]', x: [2, 9, 12, 4], w: [3, 5, 4, 7], strides: [1, 2], pad: 'same' },
  {
    name: 'explicit padding',
    x: [2, 9, 10, 3],
    w: [3, 3, 3, 4],
    strides: 2,
    pad: [
      [0, 0],
      [1, 2],
      [0, 3],
      [0, 0],
    ],
  },
  { name: 'numeric padding 2', x: [1, 8, 9, 3], w: [5, 5, 3, 4], strides: 2, pad: 2 },
  {
    name: '5x5 32->8 over several column chunks',
    x: [2, 40, 40, 32],
    w: [5, 5, 32, 8],
    strides: 1,
    pad: 'same',
  },
  // The hybrid Face Transformer's decoder: 35 inputs (a masked last block in the direct input
  // gradient), 40 outputs (blocks of 16, 16, 8 in the direct forward pass and filter gradient).
  {
    name: '3x3 35->16 same (a decoder stage)',
    x: [2, 9, 10, 35],
    w: [3, 3, 35, 16],
    strides: 1,
    pad: 'same',
  },
  { name: '3x3 24->40 same, 1 pixel wide', x: [3, 7, 1, 24], w: [3, 3, 24, 40], strides: 1, pad: 'same' },
  { name: '3x3 6->11 stride 2 valid', x: [2, 13, 11, 6], w: [3, 3, 6, 11], strides: 2, pad: 'valid' },
  {
    name: '3x3 dilation 2',
    x: [2, 12, 11, 3],
    w: [3, 3, 3, 8],
    strides: 1,
    pad: 'same',
    dilations: 2,
    forwardOnly: true,
  },
];

/** What tfjs computes for a case: y, and the gradients of sum(y * r) with respect to x and w. */
interface Result {
  y: Float32Array;
  dx?: Float32Array;
  dw?: Float32Array;
}

interface Operands {
  x: Operand;
  w: Operand;
  /** Weights of the outputs in the loss, so that dy is not all ones. */
  r: Operand;
}

function operands(c: Case): Operands {
  const rng = new Rng(c.name);
  const x = randomOperand(c.x, rng);
  const w = randomOperand(c.w, rng);
  const outShape = tf.backend_util.computeConv2DInfo(c.x, c.w, c.strides, c.dilations ?? 1, c.pad).outShape;
  return { x, w, r: randomOperand(outShape, rng) };
}

const conv = (c: Case, x: tf.Tensor, w: tf.Tensor): tf.Tensor4D =>
  tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad, 'NHWC', c.dilations ?? 1);

/** Forward and (unless forwardOnly) both gradients through tf.grads, on the current backend. */
function compute(c: Case, o: Operands): Result {
  return tf.tidy(() => {
    const x = tf.tensor(o.x.data, o.x.shape);
    const w = tf.tensor(o.w.data, o.w.shape);
    const r = tf.tensor(o.r.data, o.r.shape);
    const y = conv(c, x, w).dataSync() as Float32Array;
    if (c.forwardOnly) return { y };
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(c, a, b), r)))([x, w]);
    return { y, dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Float32 agreement: every value within 1e-4 of the largest magnitude of the expected tensor. */
function expectClose(
  got: ArrayLike<number> | undefined,
  want: ArrayLike<number> | undefined,
  what: string,
): void {
  expect(got, what).to.not.equal(undefined);
  expect(got?.length, what).to.equal(want?.length);
  const g = got as ArrayLike<number>;
  const w = want as ArrayLike<number>;
  expect(maxAbsDiff(g, w), what).to.be.at.most(1e-4 * Math.max(maxAbs(w), 1e-30));
}

const heapBytes = (): number => asWasmBackend(tf.backend()).wasm.HEAPU8.buffer.byteLength;

/** The cpu backend's results, computed once for both routes. */
const expected = new Map<string, Result>();

async function cpuResults(): Promise<void> {
  if (expected.size === CASES.length) return;
  await useBackend('cpu');
  for (const c of CASES) expected.set(c.name, compute(c, operands(c)));
}

/**
 * The routes of the conv kernels: the native addon's direct kernels (direct-conv.cc, with the fused
 * kernels on), its im2col + GEMM route (FPRL_FUSED=0), and the fallback without the addon.
 */
const ROUTES = nativeMatMul()
  ? (['native addon, direct', 'native addon, im2col (fused kernels off)', 'fallback'] as const)
  : (['fallback'] as const);

for (const route of ROUTES)
  describe(`wasm Conv2D and its gradients (${route})`, () => {
    /** `fn` on this route: the fallback is what runs without the addon (FPRL_NATIVE=0, no build). */
    const onRoute = <T>(fn: () => T): T => {
      if (route === 'fallback') return withoutNative(fn);
      if (route === 'native addon, direct') return fn();
      const was = setFusedKernels(false);
      try {
        return fn();
      } finally {
        setFusedKernels(was);
      }
    };

    before(async function () {
      this.timeout(60_000);
      await cpuResults();
      await useBackend('wasm');
    });
    afterEach(() => setFastWasmKernels(true));

    it('are registered by initBackend (the filter gradient is new on wasm) and registering again changes nothing', () => {
      expect(convKernelsRegistered()).to.deep.equal([
        'Conv2D',
        'Conv2DBackpropInput',
        'Conv2DBackpropFilter',
      ]);
      expect(registerWasmKernels()).to.deep.equal([]);
      expect(stockConvKernel('Conv2D')).to.not.equal(undefined);
      expect(stockConvKernel('Conv2DBackpropInput')).to.not.equal(undefined);
      expect(stockConvKernel('Conv2DBackpropFilter')).to.equal(undefined);
    });

    for (const c of CASES) {
      it(`equal the cpu backend's conv2d${c.forwardOnly ? '' : ' and its gradients'} for ${c.name}`, () => {
        const want = expected.get(c.name) as Result;
        const got = onRoute(() => compute(c, operands(c)));
        expectClose(got.y, want.y, 'y');
        if (!c.forwardOnly) {
          expectClose(got.dx, want.dx, 'dx');
          expectClose(got.dw, want.dw, 'dw');
        }
      });
    }

    it('give the same bits on every call (a fixed summation order)', () => {
      const c = CASES[10];
      const first = onRoute(() => compute(c, operands(c)));
      const again = onRoute(() => compute(c, operands(c)));
      for (const k of ['y', 'dx', 'dw'] as const)
        expect(maxAbsDiff(again[k] ?? [], first[k] ?? []), k).to.equal(0);
    });

    it('leak no tensors, forward and backward, in tfjs or in the wasm tensor table', () => {
      const c = CASES[3];
      const o = operands(c);
      const backend = tf.backend();
      const step = () => onRoute(() => compute(c, o));
      step();
      const tensors = tf.memory().numTensors;
      const dataIds = backend.numDataIds();
      for (let i = 0; i < 3; i++) step();
      expect(tf.memory().numTensors).to.equal(tensors);
      expect(backend.numDataIds()).to.equal(dataIds);
    });

    it('do not grow the wasm heap over repeated training steps with fresh values', function () {
      this.timeout(60_000);
      const c = CASES[10]; // several column chunks
      const g = convGeometry(tf.backend_util.computeConv2DInfo(c.x, c.w, c.strides, 1, c.pad));
      expect(rowsPerChunk(g)).to.be.below(outputPixels(g));
      const o = operands(c);
      const x0 = tf.tensor(o.x.data, o.x.shape);
      const w0 = tf.tensor(o.w.data, o.w.shape);
      const step = (i: number) =>
        onRoute(() =>
          tf.tidy(() => {
            const [x, w] = [tf.add(x0, i), tf.mul(w0, 1 + i / 100)];
            tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(conv(c, a, b))))([x, w]).forEach((t) =>
              t.dataSync(),
            );
          }),
        );
      for (let i = 0; i < 3; i++) step(i);
      const before = heapBytes();
      for (let i = 0; i < 15; i++) step(i + 3);
      expect(heapBytes() - before).to.be.below(1024 * 1024);
      tf.dispose([x0, w0]);
    });

    it('send the forward and input gradient to the stock kernels when the fast kernels are off', () => {
      const c = CASES[3];
      const o = operands(c);
      tf.tidy(() => {
        const x = tf.tensor4d(o.x.data, c.x);
        const w = tf.tensor4d(o.w.data, c.w);
        const stock = (name: string, inputs: tf.NamedTensorMap, attrs: object) =>
          tf.engine().makeTensorFromTensorInfo(
            stockConvKernel(name as 'Conv2D')?.kernelFunc({
              inputs,
              backend: tf.backend(),
              attrs: attrs as tf.NamedAttrMap,
            }) as tf.TensorInfo,
          );
        const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
        const y = stock('Conv2D', { x, filter: w }, { ...attrs, dilations: 1 });
        const dx = stock('Conv2DBackpropInput', { dy: y, filter: w }, { ...attrs, inputShape: c.x });
        const y4 = y as tf.Tensor4D;
        setFastWasmKernels(false);
        expect(maxAbsDiff(conv(c, x, w).dataSync(), y.dataSync())).to.equal(0);
        expect(
          maxAbsDiff(tf.conv2dTranspose(y4, w, c.x, c.strides, 'same').dataSync(), dx.dataSync()),
        ).to.equal(0);
      });
    });

    it('refuse NCHW in the filter gradient (wasm has no stock one) and operands that do not fit', () => {
      tf.tidy(() => {
        const x = tf.zeros([1, 4, 4, 2]);
        const dy = tf.zeros([1, 4, 4, 3]);
        const attrs = { strides: 1, pad: 'same', dimRoundingMode: undefined, filterShape: [3, 3, 2, 3] };
        const run = (a: object, dyT = dy) =>
          onRoute(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: dyT }, a as tf.NamedAttrMap));
        expect(() => run({ ...attrs, dataFormat: 'NCHW' })).to.throw(/NCHW is not supported/);
        expect(() => run({ ...attrs, dataFormat: 'NHWC' }, tf.zeros([1, 4, 5, 3]))).to.throw(
          /dy is \[1,4,5,3\]/,
        );
        expect(() => run({ ...attrs, dataFormat: 'NHWC', filterShape: [3, 3, 4, 3] })).to.throw(/do not fit/);
      });
    });
  });

describe('wasm conv routes', () => {
  before(async function () {
    this.timeout(60_000);
    await cpuResults();
    await useBackend('wasm');
  });

  /** One pass of a route on tensors, as an array (the route's output is freed). */
  function runPass(route: ConvRoute, c: Case, pass: 'forward'): Float32Array {
    const backend = asWasmBackend(tf.backend());
    const g = convGeometry(tf.backend_util.computeConv2DInfo(c.x, c.w, c.strides, c.dilations ?? 1, c.pad));
    const o = operands(c);
    return tf.tidy(() => {
      const x = tf.tensor(o.x.data, o.x.shape);
      const w = tf.tensor(o.w.data, o.w.shape);
      const out = tf.engine().makeTensorFromTensorInfo(route[pass](backend, g, x, w));
      return out.dataSync() as Float32Array;
    });
  }

  /** y, dx and dw of the native route on `addon` for case `c` (dy = y), as arrays. */
  function threePasses(addon: NativeAddon, c: Case): Float32Array[] {
    const o = operands(c);
    return tf.tidy(() => {
      const backend = asWasmBackend(tf.backend());
      const g = convGeometry(tf.backend_util.computeConv2DInfo(c.x, c.w, c.strides, 1, c.pad));
      const route = nativeConvRoute(addon);
      const x = tf.tensor(o.x.data, o.x.shape);
      const w = tf.tensor(o.w.data, o.w.shape);
      const y = tf.engine().makeTensorFromTensorInfo(route.forward(backend, g, x, w));
      const dx = tf.engine().makeTensorFromTensorInfo(route.inputGradient(backend, g, y, w));
      const dw = tf.engine().makeTensorFromTensorInfo(route.filterGradient(backend, g, x, y));
      return [y, dx, dw].map((t) => t.dataSync() as Float32Array);
    });
  }

  it("the fallback's own forward pass (the kernel prefers XNNPACK's convolution there) equals the cpu backend", () => {
    for (const c of CASES)
      expectClose(runPass(fallbackConvRoute, c, 'forward'), expected.get(c.name)?.y, c.name);
  });

  it('the native route takes the direct kernels where they apply, and im2col + GEMM elsewhere or with FPRL_FUSED=0', function () {
    const addon = nativeMatMul();
    if (!addon?.convForward) this.skip();
    const native = addon as NativeAddon;
    const calls: string[] = [];
    const counted: NativeAddon = { ...native };
    for (const name of ['convForward', 'convInputGradient', 'convFilterGradient', 'im2col'] as const) {
      const fn = native[name] as (...a: unknown[]) => void;
      (counted as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => {
        calls.push(name);
        fn(...a);
      };
    }
    const passes = (c: Case): string[] => {
      calls.length = 0;
      threePasses(counted, c);
      return [...new Set(calls)];
    };
    const decoder = CASES.find((c) => c.name.startsWith('3x3 35->16')) as Case;
    const strided = CASES.find((c) => c.name.startsWith('3x3 6->11')) as Case;
    expect(passes(decoder)).to.deep.equal(['convForward', 'convInputGradient', 'convFilterGradient']);
    // Stride 2: no direct input gradient; 11 outputs: no direct filter gradient.
    expect(passes(strided)).to.deep.equal(['convForward', 'im2col']);
    const was = setFusedKernels(false);
    try {
      expect(passes(decoder)).to.deep.equal(['im2col']);
    } finally {
      setFusedKernels(was);
    }
  });

  it('the native route gives the same bits with the TypeScript im2col/col2im (an addon built before conv.cc)', function () {
    const addon = nativeMatMul();
    if (!addon) this.skip();
    // Without the direct kernels (direct-conv.cc), so that both run im2col + GEMM.
    const native: NativeAddon = {
      ...(addon as NativeAddon),
      convForward: undefined,
      convInputGradient: undefined,
      convFilterGradient: undefined,
    };
    const older: NativeAddon = { ...native, im2col: undefined, col2im: undefined };
    for (const c of [CASES[3], CASES[5], CASES[10]]) {
      const want = threePasses(native, c);
      const got = threePasses(older, c);
      want.forEach((v, i) => expect(maxAbsDiff(got[i], v), `${c.name} output ${i}`).to.equal(0));
    }
  });
});
