import { expect } from 'chai';
import { nativeMatMul, type NativeAddon } from '../../src/native/index.js';
import { Rng } from '../../src/core/rng.js';
import {
  col2im,
  geometryArray,
  im2col,
  outputPixels,
  patchSize,
  type ConvGeometry,
} from '../../src/wasm/im2col.js';

/** A geometry with tfjs's output size for explicit paddings (top/left given, bottom/right = pad). */
function geometry(
  B: number,
  H: number,
  W: number,
  C: number,
  k: [number, number],
  stride: [number, number],
  dilation: [number, number],
  pad: [number, number],
  O = 4,
): ConvGeometry {
  const out = (n: number, kn: number, s: number, d: number, p: number) =>
    Math.floor((n + 2 * p - ((kn - 1) * d + 1)) / s) + 1;
  return {
    B,
    H,
    W,
    C,
    O,
    outH: out(H, k[0], stride[0], dilation[0], pad[0]),
    outW: out(W, k[1], stride[1], dilation[1], pad[1]),
    kH: k[0],
    kW: k[1],
    strideH: stride[0],
    strideW: stride[1],
    dilationH: dilation[0],
    dilationW: dilation[1],
    padTop: pad[0],
    padLeft: pad[1],
  };
}

const GEOMETRIES: [string, ConvGeometry][] = [
  ['3x3 stride 1 pad 1, 3 channels', geometry(2, 7, 9, 3, [3, 3], [1, 1], [1, 1], [1, 1])],
  ['7x7 stride 2 pad 3', geometry(2, 11, 10, 3, [7, 7], [2, 2], [1, 1], [3, 3])],
  ['3x5 strides [2,1], dilations [2,3]', geometry(1, 13, 14, 5, [3, 5], [2, 1], [2, 3], [2, 1])],
  ['padding wider than the input', geometry(1, 2, 3, 2, [5, 5], [1, 1], [1, 1], [4, 4])],
  ['1x1 stride 2', geometry(3, 6, 5, 8, [1, 1], [2, 2], [1, 1], [0, 0])],
];

describe('native im2col / col2im (src/native/conv.cc)', () => {
  let addon: NativeAddon;
  before(function () {
    const found = nativeMatMul();
    if (!found?.im2col || !found.col2im) this.skip();
    addon = found as NativeAddon;
  });

  for (const [name, g] of GEOMETRIES) {
    it(`give the TypeScript loops' bits for ${name}, whole and in chunks`, () => {
      const rng = new Rng(name);
      const P = outputPixels(g);
      const K = patchSize(g);
      const x = Float32Array.from({ length: g.B * g.H * g.W * g.C }, () => rng.normal());
      const geo = geometryArray(g);
      const want = new Float32Array(P * K).fill(NaN);
      im2col(x, want, g, 0, P);
      const got = new Float32Array(P * K).fill(NaN);
      addon.im2col?.(x, got, geo, 0, P);
      expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).to.equal(true);

      // col2im of random rows, in two chunks, onto a random start: additions in the same order.
      const cols = Float32Array.from({ length: P * K }, () => rng.normal());
      const start = Float32Array.from(x, (v) => v / 3);
      const [dxTs, dxNative] = [new Float32Array(start), new Float32Array(start)];
      const half = Math.floor(P / 2);
      col2im(cols, dxTs, g, 0, half);
      col2im(cols.subarray(half * K), dxTs, g, half, P - half);
      addon.col2im?.(cols, dxNative, geo, 0, half);
      addon.col2im?.(cols.subarray(half * K), dxNative, geo, half, P - half);
      expect(Buffer.from(dxNative.buffer).equals(Buffer.from(dxTs.buffer))).to.equal(true);
    });
  }

  it('col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>', () => {
    const g = GEOMETRIES[2][1];
    const rng = new Rng('adjoint');
    const n = g.B * g.H * g.W * g.C;
    const P = outputPixels(g);
    const K = patchSize(g);
    const x = Float32Array.from({ length: n }, () => rng.normal());
    const c = Float32Array.from({ length: P * K }, () => rng.normal());
    const cols = new Float32Array(P * K);
    const back = new Float32Array(n);
    addon.im2col?.(x, cols, geometryArray(g), 0, P);
    addon.col2im?.(c, back, geometryArray(g), 0, P);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
    expect(dot(cols, c)).to.be.closeTo(dot(x, back), 1e-3);
  });

  it('check every length, index and size, and throw instead of reading or writing outside an array', () => {
    const g = GEOMETRIES[0][1];
    const P = outputPixels(g);
    const K = patchSize(g);
    const x = new Float32Array(g.B * g.H * g.W * g.C);
    const cols = new Float32Array(P * K);
    const geo = geometryArray(g);
    const im =
      (args: Partial<{ x: unknown; cols: unknown; geo: unknown; p0: unknown; rows: unknown }>) => () =>
        (addon.im2col as (...a: unknown[]) => void)(
          args.x ?? x,
          args.cols ?? cols,
          args.geo ?? geo,
          args.p0 ?? 0,
          args.rows ?? P,
        );
    expect(im({})).to.not.throw();
    expect(im({ x: x.subarray(1) })).to.throw(/im2col: the image is shorter than B\*H\*W\*C/);
    expect(im({ cols: cols.subarray(1) })).to.throw(/cols is shorter/);
    expect(im({ p0: 1 })).to.throw(/past the last output pixel/);
    expect(im({ p0: -1 })).to.throw(/non-negative integers/);
    expect(im({ rows: 1.5 })).to.throw(/non-negative integers/);
    expect(im({ x: new Float64Array(x.length) })).to.throw(/expected two Float32Arrays/);
    expect(im({ geo: geo.subarray(1) })).to.throw(/geometry must be an Int32Array of 14/);
    const zeroStride = Int32Array.from(geo);
    zeroStride[8] = 0;
    expect(im({ geo: zeroStride })).to.throw(/strides, dilations >= 1/);
    const negativePad = Int32Array.from(geo);
    negativePad[12] = -1;
    expect(im({ geo: negativePad })).to.throw(/geometry/);
    const huge = Int32Array.from(geo);
    huge.set([1 << 30, 1 << 30], 0);
    expect(im({ geo: huge })).to.throw(/geometry/);
    expect(() => (addon.col2im as (...a: unknown[]) => void)(cols, x.subarray(2), geo, 0, P)).to.throw(
      /col2im: the image is shorter/,
    );
    expect(() => (addon.col2im as (...a: unknown[]) => void)(cols, x, geo, 0)).to.throw(
      /expected 5 arguments/,
    );
  });
});

/** The three convolution sums as plain loops (double accumulators): y, and dx, dw for a given dy. */
function naiveConv(g: ConvGeometry, x: Float32Array, w: Float32Array, dy: Float32Array) {
  const y = new Float64Array(g.B * g.outH * g.outW * g.O);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let b = 0; b < g.B; b++)
    for (let oy = 0; oy < g.outH; oy++)
      for (let ox = 0; ox < g.outW; ox++)
        for (let ky = 0; ky < g.kH; ky++)
          for (let kx = 0; kx < g.kW; kx++) {
            const iy = oy * g.strideH - g.padTop + ky * g.dilationH;
            const ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
            if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
            for (let c = 0; c < g.C; c++)
              for (let o = 0; o < g.O; o++) {
                const xi = ((b * g.H + iy) * g.W + ix) * g.C + c;
                const wi = ((ky * g.kW + kx) * g.C + c) * g.O + o;
                const yi = ((b * g.outH + oy) * g.outW + ox) * g.O + o;
                y[yi] += x[xi] * w[wi];
                dx[xi] += dy[yi] * w[wi];
                dw[wi] += x[xi] * dy[yi];
              }
          }
  return { y, dx, dw };
}

describe('native direct convolutions (src/native/direct-conv.cc)', () => {
  let addon: NativeAddon;
  before(function () {
    const found = nativeMatMul();
    if (!found?.convForward || !found.convInputGradient || !found.convFilterGradient) this.skip();
    addon = found as NativeAddon;
  });

  const random = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const close = (got: Float32Array, want: Float64Array, what: string) => {
    let scale = 1e-30;
    for (const v of want) scale = Math.max(scale, Math.abs(v));
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
    expect(diff, what).to.be.at.most(1e-5 * scale);
  };

  // Dilations, asymmetric strides and padding wider than the input (tfjs has no dilated gradients
  // to compare with, so the reference is the sum itself); O = 24 and 8: blocks of 16 and of 8.
  const CASES: [string, ConvGeometry][] = [
    ...GEOMETRIES.map(([name, g]): [string, ConvGeometry] => [name, { ...g, O: 24 }]),
    ['3x3 dilation 2, stride 1', geometry(2, 9, 8, 5, [3, 3], [1, 1], [2, 2], [2, 2], 8)],
    ['3x5 dilations [2,1], stride 1, 13 outputs', geometry(1, 8, 11, 4, [3, 5], [1, 1], [2, 1], [1, 3], 13)],
  ];
  for (const [name, g] of CASES)
    it(`equal the plain sums for ${name}`, () => {
      const rng = new Rng(name);
      const x = random(g.B * g.H * g.W * g.C, rng);
      const w = random(g.kH * g.kW * g.C * g.O, rng);
      const dy = random(g.B * g.outH * g.outW * g.O, rng);
      const want = naiveConv(g, x, w, dy);
      const geo = geometryArray(g);
      const y = new Float32Array(want.y.length).fill(NaN);
      addon.convForward?.(x, w, y, geo, g.O);
      close(y, want.y, 'y');
      if (g.O % 8 === 0) {
        const dw = new Float32Array(w.length).fill(NaN);
        addon.convFilterGradient?.(x, dy, dw, geo, g.O);
        close(dw, want.dw, 'dw');
      }
      if (g.strideH === 1 && g.strideW === 1) {
        const dx = new Float32Array(x.length).fill(NaN);
        addon.convInputGradient?.(dy, w, dx, geo, g.O);
        close(dx, want.dx, 'dx');
      }
    });

  it('check every length and refuse what they do not take', () => {
    const g = geometry(1, 5, 5, 3, [3, 3], [1, 1], [1, 1], [1, 1], 8);
    const geo = geometryArray(g);
    const x = new Float32Array(75);
    const w = new Float32Array(9 * 3 * 8);
    const y = new Float32Array(25 * 8);
    const call =
      (name: 'convForward' | 'convInputGradient' | 'convFilterGradient', ...a: unknown[]) =>
      () =>
        (addon[name] as (...v: unknown[]) => void)(...a);
    expect(call('convForward', x, w, y, geo, 8)).to.not.throw();
    expect(call('convForward', x, w, y.subarray(1), geo, 8)).to.throw(/convForward: an array is shorter/);
    expect(call('convForward', x.subarray(1), w, y, geo, 8)).to.throw(/shorter than its shape/);
    expect(call('convForward', x, w, y, geo)).to.throw(/expected 5 arguments/);
    expect(call('convForward', x, w, y, geo.subarray(1), 8)).to.throw(/geometry must be an Int32Array of 14/);
    expect(call('convInputGradient', y, w, x, geo, 8)).to.not.throw();
    const strided = geometryArray(geometry(1, 5, 5, 3, [3, 3], [2, 2], [1, 1], [1, 1], 8));
    expect(call('convInputGradient', y, w, x, strided, 8)).to.throw(/stride 1 only/);
    expect(call('convFilterGradient', x, y, w, geo, 8)).to.not.throw();
    expect(call('convFilterGradient', x, y, w, geo, 6)).to.throw(/multiple of 8/);
    expect(call('convFilterGradient', x, new Float64Array(200), w, geo, 8)).to.throw(/three Float32Arrays/);
  });
});
