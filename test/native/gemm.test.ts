import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { describeMatMul, nativeMatMul, type NativeAddon } from '../../src/native/index.js';
import { Rng } from '../../src/rng.js';
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

describe('native matMul (src/native/fprl_native.cc)', () => {
  it(`is built by npm install and used where a C++ toolchain exists (${buildable ? 'here: x64, c++, python3' : 'not here'})`, function () {
    if (!buildable) this.skip();
    expect(nativeMatMul(), describeMatMul()).to.not.equal(undefined);
    expect(describeMatMul()).to.match(/^native avx2\+fma/);
  });

  describe('on plain arrays', () => {
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
});
