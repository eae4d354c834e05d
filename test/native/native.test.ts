import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { describeMatMul, nativeMatMul, type NativeAddon } from '../../src/native/index.js';
import { Rng } from '../../src/core/rng.js';
import { maxAbsDiff, randomOperand, referenceMatMul } from '../wasm/reference.js';

const has = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
/** Where `npm install` can build the addon, it must have: a silent build failure is a bug. */
const buildable = process.arch === 'x64' && process.env.FPRL_NATIVE !== '0' && has('c++') && has('python3');

const FLAGS: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
/** The float32 next to `f` (a finite float32) towards +inf (dir 1) or -inf (dir -1). */
function nextFloat32(f: number, dir: 1 | -1): number {
  if (f === 0) return dir * 1.401298464324817e-45;
  F32[0] = f;
  U32[0] += f > 0 === dir > 0 ? 1 : -1;
  return F32[0];
}
/**
 * fma(x, y, c) rounded once to float32, for float32 x, y, c: x*y is exact in float64, the sum's
 * rounding error comes from TwoSum, and a float64 sum that lands on a float32 midpoint is settled by
 * the error's sign (the only case where rounding twice differs from rounding once).
 */
function fma32(x: number, y: number, c: number): number {
  const p = x * y;
  const s = p + c;
  const bv = s - p;
  const e = p - (s - bv) + (c - bv);
  const f = Math.fround(s);
  const d = s - f;
  if (e === 0 || d === 0) return f;
  const other = nextFloat32(f, d > 0 ? 1 : -1);
  if (Math.abs(d) * 2 !== Math.abs(other - f)) return f;
  // s is a midpoint between f and other: the exact value lies on other's side when e points there.
  return d > 0 === e > 0 ? other : f;
}

const all = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

/** The addon on plain arrays: one [M,K] x [K,N] product per batch slice (no broadcast). */
function run(
  addon: NativeAddon,
  a: Float32Array,
  b: Float32Array,
  dims: { M: number; N: number; K: number; batch?: number },
  tA: boolean,
  tB: boolean,
  epilogue: { bias?: Float32Array; activation?: number; alpha?: number } = {},
): Float32Array {
  const batch = dims.batch ?? 1;
  const c = new Float32Array(batch * dims.M * dims.N);
  addon.gemm(
    a,
    b,
    c,
    dims.M,
    dims.N,
    dims.K,
    tA,
    tB,
    all(batch),
    all(batch),
    epilogue.bias ?? null,
    epilogue.activation ?? 0,
    epilogue.alpha ?? 0,
  );
  return c;
}

describe('native kernels (src/native/kernels.cc)', () => {
  it(`is built by npm install and used where a C++ toolchain exists (${buildable ? 'here: x64, c++, python3' : 'not here'})`, function () {
    if (!buildable) this.skip();
    expect(nativeMatMul(), describeMatMul()).to.not.equal(undefined);
    expect(describeMatMul()).to.match(/^native avx2\+fma/);
  });

  describe('gemm on plain arrays', () => {
    let addon: NativeAddon;
    before(function () {
      const found = nativeMatMul();
      if (!found) this.skip();
      addon = found as NativeAddon;
    });

    // Sizes that cross every blocking boundary: MR = 6, NR = 16, KC = 256, MC = 120, NC = 3072.
    const SHAPES = [
      { name: 'smaller than one micro-tile', M: 5, K: 3, N: 7 },
      { name: 'row and column tails', M: 13, K: 17, N: 35 },
      { name: 'K over three depth blocks', M: 20, K: 600, N: 33 },
      { name: 'M over two row blocks', M: 250, K: 40, N: 18 },
      { name: 'N over two column blocks', M: 7, K: 9, N: 3100 },
      { name: 'a single row and a single column', M: 1, K: 300, N: 1 },
    ];
    for (const s of SHAPES) {
      for (const [tA, tB] of FLAGS) {
        it(`equals a float64 reference for ${s.name} (transposeA=${tA}, transposeB=${tB})`, () => {
          const rng = new Rng(`native/${s.name}/${tA}/${tB}`);
          const a = randomOperand(tA ? [s.K, s.M] : [s.M, s.K], rng);
          const b = randomOperand(tB ? [s.N, s.K] : [s.K, s.N], rng);
          const want = referenceMatMul(a, b, tA, tB).data;
          const got = run(addon, a.data, b.data, s, tA, tB);
          expect(maxAbsDiff(got, want)).to.be.below(1e-4 * Math.max(1, Math.sqrt(s.K) / 2));
        });
      }
    }

    // Every element is one float32 FMA chain over k in increasing order, whatever the blocking,
    // packing order or prefetching: results depend on the shapes alone (and blocking may change
    // without changing a bit of any result). Checked against an exact fma emulation.
    for (const s of [
      SHAPES[1],
      SHAPES[2],
      SHAPES[3],
      { name: 'transposed panels with tails', M: 131, K: 270, N: 45 },
      // Up to 64 columns the full row panels of A are read in place (microKernelDirectA) and only
      // a short last panel is packed; above that every panel is packed.
      { name: 'A read in place, no panel packed', M: 24, K: 40, N: 64 },
      { name: 'A packed (N above the in-place limit)', M: 20, K: 300, N: 80 },
    ]) {
      for (const [tA, tB] of FLAGS) {
        it(`is the float32 fma chain over k bit for bit for ${s.name} (transposeA=${tA}, transposeB=${tB})`, () => {
          const rng = new Rng(`native/chain/${s.name}/${tA}/${tB}`);
          const a = randomOperand(tA ? [s.K, s.M] : [s.M, s.K], rng).data;
          const b = randomOperand(tB ? [s.N, s.K] : [s.K, s.N], rng).data;
          const got = run(addon, a, b, s, tA, tB);
          const want = new Float32Array(s.M * s.N);
          for (let i = 0; i < s.M; i++)
            for (let j = 0; j < s.N; j++) {
              let acc = 0;
              for (let k = 0; k < s.K; k++) {
                const x = tA ? a[k * s.M + i] : a[i * s.K + k];
                const y = tB ? b[j * s.K + k] : b[k * s.N + j];
                acc = fma32(x, y, acc);
              }
              want[i * s.N + j] = acc;
            }
          expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).to.equal(true);
        });
      }
    }

    it('gives a slice of a batch bit for bit what the slice alone gives, twice', () => {
      const rng = new Rng('native/batch');
      const [M, K, N, batch] = [30, 70, 50, 3];
      const a = randomOperand([batch, M, K], rng).data;
      const b = randomOperand([batch, N, K], rng).data;
      const whole = run(addon, a, b, { M, N, K, batch }, false, true);
      expect(run(addon, a, b, { M, N, K, batch }, false, true)).to.deep.equal(whole);
      for (let i = 0; i < batch; i++) {
        const alone = run(
          addon,
          a.subarray(i * M * K, (i + 1) * M * K),
          b.subarray(i * N * K, (i + 1) * N * K),
          { M, N, K },
          false,
          true,
        );
        expect(whole.subarray(i * M * N, (i + 1) * M * N)).to.deep.equal(alone);
      }
    });

    it('reads broadcast slices through the slice indices', () => {
      const rng = new Rng('native/broadcast');
      const [M, K, N] = [4, 5, 6];
      const a = randomOperand([2, M, K], rng).data;
      const b = randomOperand([1, K, N], rng).data;
      const c = new Float32Array(3 * M * N);
      addon.gemm(a, b, c, M, N, K, false, false, Int32Array.of(1, 0, 1), Int32Array.of(0, 0, 0), null, 0, 0);
      const second = run(addon, a.subarray(M * K), b, { M, N, K }, false, false);
      const first = run(addon, a.subarray(0, M * K), b, { M, N, K }, false, false);
      expect(c.subarray(0, M * N)).to.deep.equal(second);
      expect(c.subarray(M * N, 2 * M * N)).to.deep.equal(first);
      expect(c.subarray(2 * M * N)).to.deep.equal(second);
    });

    it('adds the bias to every row, then applies each activation like tfjs', () => {
      const rng = new Rng('native/epilogue');
      const [M, K, N] = [9, 11, 21];
      const a = randomOperand([M, K], rng).data;
      const b = randomOperand([K, N], rng).data;
      const bias = randomOperand([N], rng).data;
      const plain = run(addon, a, b, { M, N, K }, false, false);
      const alpha = 0.2;
      const activations: [number, string, (x: number) => number][] = [
        [0, 'linear', (x) => x],
        [1, 'relu', (x) => Math.max(0, x)],
        [2, 'relu6', (x) => Math.min(6, Math.max(0, x))],
        [4, 'leakyrelu', (x) => (x < 0 ? alpha * x : x)],
        [5, 'sigmoid', (x) => 1 / (1 + Math.exp(-x))],
        [6, 'elu', (x) => (x < 0 ? Math.expm1(x) : x)],
      ];
      for (const [code, name, f] of activations) {
        const got = run(addon, a, b, { M, N, K }, false, false, { bias, activation: code, alpha });
        const want = plain.map((v, i) => f(Math.fround(v + bias[i % N])));
        expect(maxAbsDiff(got, want), name).to.be.below(1e-5);
      }
    });

    it('applies the bias and activation tile by tile after the last K block, bit for bit one pass over the product', () => {
      // Edge tiles (M, N not multiples of the 6 x 16 tile), several K blocks (K > 256: applied after
      // each block, the bias would be added more than once), A read in place (N <= 64), several
      // column blocks (N > 3072), and the transposed operands.
      const rng = new Rng('native/epilogue-tiles');
      const shapes: [number, number, number][] = [
        [13, 300, 37],
        [25, 40, 530],
        [7, 9, 3100],
        [6, 5, 16],
      ];
      for (const [M, K, N] of shapes) {
        for (const [tA, tB] of [
          [false, false],
          [true, true],
        ] as const) {
          const a = randomOperand([M, K], rng).data;
          const b = randomOperand([K, N], rng).data;
          const bias = randomOperand([N], rng).data;
          const plain = run(addon, a, b, { M, N, K }, tA, tB);
          for (const [code, f] of [
            [0, (x: number) => x],
            [1, (x: number) => (x > 0 ? x : 0)],
          ] as const) {
            const got = run(addon, a, b, { M, N, K }, tA, tB, { bias, activation: code, alpha: 0 });
            const want = Float32Array.from(plain, (v, i) => f(Math.fround(v + bias[i % N])));
            const bad = got.findIndex((v, i) => !Object.is(v, want[i]));
            expect(bad, `M=${M} K=${K} N=${N} tA=${tA} activation ${code}: element ${bad}`).to.equal(-1);
          }
          const reluOnly = run(addon, a, b, { M, N, K }, tA, tB, { activation: 1, alpha: 0 });
          expect(reluOnly.every((v, i) => Object.is(v, plain[i] > 0 ? plain[i] : 0))).to.equal(true);
        }
      }
    });

    it('writes zeros for an empty contraction (K = 0)', () => {
      const c = new Float32Array(6).fill(7);
      addon.gemm(
        new Float32Array(0),
        new Float32Array(0),
        c,
        2,
        3,
        0,
        false,
        false,
        all(1),
        all(1),
        null,
        0,
        0,
      );
      expect([...c]).to.deep.equal([0, 0, 0, 0, 0, 0]);
    });

    it('refuses out-of-bounds slices, short outputs and bad arguments without writing anything', () => {
      const a = new Float32Array(12).fill(1);
      const b = new Float32Array(12).fill(1);
      const c = new Float32Array(9).fill(5);
      const call =
        (over: Partial<Record<'aSlice' | 'bSlice' | 'c' | 'bias' | 'activation', unknown>>) => () =>
          addon.gemm(
            a,
            b,
            (over.c ?? c) as Float32Array,
            3,
            3,
            4,
            false,
            false,
            (over.aSlice ?? all(1)) as Int32Array,
            (over.bSlice ?? all(1)) as Int32Array,
            (over.bias ?? null) as Float32Array | null,
            (over.activation ?? 0) as number,
            0,
          );
      expect(call({ aSlice: Int32Array.of(1) })).to.throw(/aSlice points outside a/);
      expect(call({ bSlice: Int32Array.of(-1) })).to.throw(/bSlice points outside b/);
      expect(call({ aSlice: all(2), bSlice: all(1) })).to.throw(/same length/);
      expect(call({ c: new Float32Array(8) })).to.throw(/c is smaller than the result/);
      expect(call({ bias: new Float32Array(2) })).to.throw(/bias must have N elements/);
      expect(call({ bias: [1, 2, 3] })).to.throw(/bias must be a Float32Array or null/);
      expect(call({ activation: 3 })).to.throw(/unsupported activation/);
      expect(call({ c: new Float64Array(9) })).to.throw(/c must be a Float32Array/);
      expect([...c]).to.deep.equal(new Array(9).fill(5));
      call({})();
      expect([...c]).to.deep.equal(new Array(9).fill(4));
    });
  });

  describe('exp and sum on plain arrays', () => {
    let addon: NativeAddon;
    before(function () {
      const found = nativeMatMul();
      if (!found) this.skip();
      addon = found as NativeAddon;
    });

    const bits = new Int32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    const ulps = (a: number, b: number): number => {
      asFloat[0] = a;
      const x = bits[0];
      asFloat[0] = b;
      return Math.abs(x - bits[0]);
    };

    it('computes exp within 2 ulp over the normal range, at every position of the array', () => {
      const n = 100_003; // not a multiple of 8: the tail takes the same arithmetic
      const x = Float32Array.from({ length: n }, (_, i) => -87 + (175 * i) / n);
      const out = new Float32Array(n);
      addon.exp(x, out);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, ulps(out[i], Math.fround(Math.exp(x[i]))));
      expect(worst).to.be.at.most(2);
      const shifted = new Float32Array(n - 1);
      addon.exp(x.subarray(1), shifted);
      expect(shifted).to.deep.equal(out.subarray(1));
    });

    it('keeps NaN, gives +inf above 88.72, 0 below -87.34 and exact 1 at 0', () => {
      const x = Float32Array.of(NaN, Infinity, -Infinity, 0, -0, 88.8, -87.5, -200, 1);
      const out = new Float32Array(x.length);
      addon.exp(x, out);
      expect(Number.isNaN(out[0])).to.equal(true);
      expect([...out.subarray(1)]).to.deep.equal([Infinity, 0, 1, 1, Infinity, 0, 0, Math.fround(Math.E)]);
    });

    it('sums over the middle of [pre, R, post] like a float64 reference, for every row width', () => {
      const rng = new Rng('native/sum');
      for (const [pre, R, post] of [
        [1, 1000, 1],
        [7, 11, 1],
        [3, 5, 3],
        [2, 300, 8],
        [4, 9, 21],
        [1, 2048, 768],
      ]) {
        const x = Float32Array.from({ length: pre * R * post }, () => rng.normal());
        const out = new Float32Array(pre * post);
        addon.sum(x, out, pre, R, post, 0.5);
        for (let p = 0; p < pre; p++)
          for (let j = 0; j < post; j++) {
            let s = 0;
            for (let r = 0; r < R; r++) s += x[(p * R + r) * post + j];
            expect(out[p * post + j], `[${pre},${R},${post}] at ${p},${j}`).to.be.closeTo(0.5 * s, 1e-6 * R);
          }
      }
    });

    it('propagates NaN through a sum and refuses arrays shorter than the shape', () => {
      const out = new Float32Array(1);
      addon.sum(Float32Array.of(1, NaN, 2), out, 1, 3, 1, 1);
      expect(Number.isNaN(out[0])).to.equal(true);
      expect(() => addon.sum(new Float32Array(5), out, 1, 6, 1, 1)).to.throw(/x is shorter/);
      expect(() => addon.sum(new Float32Array(6), out, 2, 3, 1, 1)).to.throw(/out is shorter/);
      expect(() => addon.exp(new Float32Array(4), new Float32Array(3))).to.throw(/out is shorter than x/);
    });
  });
});
