/**
 * `Conv2D`, `Conv2DBackpropInput` and `Conv2DBackpropFilter` on the wasm backend, so that a model
 * with convolutions (a conv stem, a skip decoder) trains there with plain `tf.conv2d`: tfjs-backend-
 * wasm 4.22 has no `Conv2DBackpropFilter` at all, so the gradient of `tf.conv2d` threw.
 *
 * Each is one matrix product over the column matrix of src/wasm/im2col.ts (NHWC input, HWIO
 * filter, P = B*outH*outW output pixels, K = kH*kW*C):
 *   forward          y  [P,O] = im2col(x) [P,K] · w [K,O]
 *   input gradient   dx       = col2im(dy [P,O] · w^T [O,K])
 *   filter gradient  dw [K,O] = im2col(x)^T [K,P] · dy [P,O]
 * A 1x1 filter at stride 1 without padding needs no im2col: the input is the column matrix. The
 * products run on the native addon's GEMM when it is used (src/wasm/conv-native.ts), otherwise on
 * XNNPACK through the wasm matMul kernel (src/wasm/conv-fallback.ts), except the forward pass,
 * which goes to the stock kernel there: XNNPACK's own convolution is 2-4x faster than im2col in
 * TypeScript plus its matMul, while the stock input gradient is a scalar loop 4-10x slower than
 * the fallback's (measured, docs/ARCHITECTURE.md "Fast wasm").
 *
 * Any strides, dilations and padding ('same', 'valid', a number, explicit pairs) are computed by
 * tfjs's own shape arithmetic (`computeConv2DInfo`), as on every backend. Not handled, and left to
 * the stock kernel (which has no filter gradient: that one throws): NCHW data and non-float32
 * tensors. `setFastWasmKernels(false)` sends the forward and input gradient to the stock kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeMatMul, type NativeAddon } from '../native/index.js';
import { asWasmBackend, float32View } from './internals.js';
import {
  computedOutput,
  convGeometry,
  outputPixels,
  patchSize,
  type ConvGeometry,
  type ConvRoute,
} from './im2col.js';
import { nativeConvRoute } from './conv-native.js';
import { fallbackConvRoute } from './conv-fallback.js';

/** The kernels registered here on the wasm backend (the last one is new there). */
export const CONV_KERNELS = [tf.Conv2D, tf.Conv2DBackpropInput, tf.Conv2DBackpropFilter] as const;
export type ConvKernel = (typeof CONV_KERNELS)[number];

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Shape4 = [number, number, number, number];

/** The attributes of the three kernels (tfjs-core's Conv2DAttrs and the backprop ones). */
interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  /** Conv2DBackpropInput: the shape of x. */
  inputShape?: number[];
  /** Conv2DBackpropFilter: the shape of the filter. */
  filterShape?: number[];
}

/** One call: which pass, its geometry and its two operands. */
interface ConvCall {
  pass: keyof ConvRoute;
  g: ConvGeometry;
  a: tf.TensorInfo;
  b: tf.TensorInfo;
}

/** The output shape of each pass. */
const OUTPUT_SHAPE: Record<keyof ConvRoute, (g: ConvGeometry) => number[]> = {
  forward: (g) => [g.B, g.outH, g.outW, g.O],
  inputGradient: (g) => [g.B, g.H, g.W, g.C],
  filterGradient: (g) => [g.kH, g.kW, g.C, g.O],
};

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Each kernel's pass, its two operands, and the shapes of x and the filter that it implies. */
function operandsOf(name: ConvKernel, inputs: Record<string, tf.TensorInfo>, attrs: ConvAttrs) {
  const { x, dy, filter } = inputs;
  switch (name) {
    case tf.Conv2D:
      return {
        pass: 'forward' as const,
        a: x,
        b: filter,
        xShape: x.shape,
        wShape: filter.shape,
        dilations: attrs.dilations ?? 1,
      };
    case tf.Conv2DBackpropInput:
      return {
        pass: 'inputGradient' as const,
        a: dy,
        b: filter,
        xShape: attrs.inputShape ?? [],
        wShape: filter.shape,
        dilations: 1,
      };
    case tf.Conv2DBackpropFilter:
      return {
        pass: 'filterGradient' as const,
        a: x,
        b: dy,
        xShape: x.shape,
        wShape: attrs.filterShape ?? [],
        dilations: 1,
      };
  }
}

/**
 * The call's geometry, or why this kernel does not take it (the stock kernel may). Throws when the
 * operands do not fit together: the loops and views below trust these shapes.
 */
function prepare(name: ConvKernel, args: KernelArgs): ConvCall | string {
  const attrs = args.attrs as unknown as ConvAttrs;
  const { pass, a, b, xShape, wShape, dilations } = operandsOf(
    name,
    args.inputs as Record<string, tf.TensorInfo>,
    attrs,
  );
  if (attrs.dataFormat === 'NCHW') return 'dataFormat NCHW';
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return `dtypes ${a.dtype} and ${b.dtype}`;
  if (xShape.length !== 4 || wShape.length !== 4 || xShape[3] !== wShape[2])
    throw new Error(`fprl wasm ${name}: input [${xShape}] and filter [${wShape}] do not fit (NHWC, HWIO)`);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as Shape4,
    wShape as Shape4,
    attrs.strides,
    dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const g = convGeometry(info);
  const dy = pass === 'forward' ? undefined : pass === 'inputGradient' ? a : b;
  if (dy && !sameShape(dy.shape, OUTPUT_SHAPE.forward(g)))
    throw new Error(`fprl wasm ${name}: dy is [${dy.shape}], the convolution's output is [${info.outShape}]`);
  return { pass, g, a, b };
}

let nativeRoute: { addon: NativeAddon; route: ConvRoute } | undefined;

/** The native addon's route when it is used (built, supported, not switched off), else XNNPACK's. */
function currentRoute(): ConvRoute {
  const addon = nativeMatMul();
  if (!addon) return fallbackConvRoute;
  if (nativeRoute?.addon !== addon) nativeRoute = { addon, route: nativeConvRoute(addon) };
  return nativeRoute.route;
}

function convConfig(
  name: ConvKernel,
  stock: tf.KernelConfig | undefined,
  enabled: () => boolean,
): tf.KernelConfig {
  function kernelFunc(args: KernelArgs): tf.TensorInfo {
    if (stock && !enabled()) return stock.kernelFunc(args) as tf.TensorInfo;
    const call = prepare(name, args);
    if (typeof call === 'string') {
      if (stock) return stock.kernelFunc(args) as tf.TensorInfo;
      throw new Error(`fprl wasm ${name}: ${call} is not supported (only NHWC float32)`);
    }
    const backend = asWasmBackend(args.backend);
    const { pass, g, a, b } = call;
    // An empty sum (no pixels, channels or taps): zeros, which no product would write.
    if (outputPixels(g) * patchSize(g) * g.O === 0)
      return computedOutput(backend, OUTPUT_SHAPE[pass](g), (out) => float32View(backend, out).fill(0));
    const route = currentRoute();
    // Without the addon XNNPACK's own convolution is faster (see the file comment).
    if (pass === 'forward' && route === fallbackConvRoute && stock)
      return stock.kernelFunc(args) as tf.TensorInfo;
    return route[pass](backend, g, a, b);
  }
  return { kernelName: name, backendName: 'wasm', setupFunc: stock?.setupFunc, kernelFunc };
}

const stockConfigs = new Map<string, tf.KernelConfig>();
const ours = new Set<tf.KernelConfig>();

/**
 * Register the three kernels on the wasm backend (called by `registerWasmKernels`), keeping the
 * stock configs. Idempotent; does nothing before tfjs-backend-wasm has registered its kernels (its
 * import would overwrite these). `enabled() === false` sends calls the stock kernels can take to
 * them. Returns the names registered by this call.
 */
export function registerConvKernels(enabled: () => boolean): string[] {
  if (!tf.getKernel(tf.Conv2D, 'wasm')) return [];
  const registered: string[] = [];
  for (const name of CONV_KERNELS) {
    const current = tf.getKernel(name, 'wasm');
    if (current && ours.has(current)) continue;
    if (current) {
      stockConfigs.set(name, current);
      tf.unregisterKernel(name, 'wasm');
    }
    const config = convConfig(name, current, enabled);
    ours.add(config);
    tf.registerKernel(config);
    // Setup functions run when a backend is selected; if wasm is already active, run the stock one now.
    if (tf.engine().backendName === 'wasm') config.setupFunc?.(tf.backend());
    registered.push(name);
  }
  return registered;
}

/** The names of the conv kernels currently registered from here on the wasm backend. */
export function convKernelsRegistered(): string[] {
  return CONV_KERNELS.filter((name) => {
    const k = tf.getKernel(name, 'wasm');
    return k !== undefined && ours.has(k);
  });
}

/** The stock wasm config that `name` replaced (none for `Conv2DBackpropFilter`: wasm had none). */
export function stockConvKernel(name: ConvKernel): tf.KernelConfig | undefined {
  return stockConfigs.get(name);
}
