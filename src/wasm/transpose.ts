/**
 * A cache-blocked N-d transpose on flat arrays, used by the wasm `Transpose` kernel replacement.
 *
 * Why: the stock C++ Transpose walks the output element by element with strided reads; for rank 5
 * (the attention head split `[B,T,3,H,hd] -> [3,B,H,T,hd]`) it recomputes a coordinate vector per
 * element (~75 ns/element: 230 ms per call at ti16-256 batch 8), and even its 2-D case writes with a
 * power-of-two stride (`[2048,192]`: ~6 ns/element). Here the shape is first simplified (size-1
 * dimensions dropped, dimensions that stay adjacent merged), then either contiguous runs are
 * copied (the innermost dimension stays innermost) or 2-D tiles are transposed in cache.
 */

/** Shape and permutation with size-1 dims dropped and dims adjacent in both orders merged. */
export function simplifyTranspose(
  shape: readonly number[],
  perm: readonly number[],
): { shape: number[]; perm: number[] } {
  const keep = shape.map((d) => d !== 1);
  // Output order of the input dims that are kept.
  const order = perm.filter((p) => keep[p]);
  // Merge runs p, p+1, ... (skipping dropped dims in between) that appear consecutively in `order`.
  const groups: number[][] = [];
  for (const p of order) {
    const last = groups[groups.length - 1];
    if (last && nextKept(keep, last[last.length - 1]) === p) last.push(p);
    else groups.push([p]);
  }
  // Renumber the groups by their position in the input.
  const byInput = [...groups].sort((a, b) => a[0] - b[0]);
  const outShape = byInput.map((g) => g.reduce((s, p) => s * shape[p], 1));
  const outPerm = groups.map((g) => byInput.indexOf(g));
  return { shape: outShape, perm: outPerm };
}

function nextKept(keep: boolean[], p: number): number {
  let q = p + 1;
  while (q < keep.length && !keep[q]) q++;
  return q;
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** 4-byte elements moved as int32 bits (exact for float32 too, NaN payloads included). */
type Flat = Int32Array;

const TILE = 16;

/**
 * out[srcIndex permuted] = x: writes the transpose of `shape`-shaped data at `src[srcOff..]` to
 * `dst[dstOff..]` (both row-major). `src` and `dst` may be views of the same buffer but must not
 * overlap in the ranges used.
 */
export function transposeFlat(
  src: Flat,
  srcOff: number,
  dst: Flat,
  dstOff: number,
  shapeIn: readonly number[],
  permIn: readonly number[],
): void {
  const { shape, perm } = simplifyTranspose(shapeIn, permIn);
  const size = shape.reduce((a, b) => a * b, 1);
  const r = shape.length;
  if (size === 0) return;
  if (r <= 1) {
    dst.set(src.subarray(srcOff, srcOff + size), dstOff);
    return;
  }
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const outStrides = stridesOf(outShape);
  // Stride in the output of each input dim.
  const outStrideOfIn = new Array<number>(r);
  for (let i = 0; i < r; i++) outStrideOfIn[perm[i]] = outStrides[i];

  if (perm[r - 1] === r - 1) {
    copyRuns(src, srcOff, dst, dstOff, shape, perm, inStrides);
    return;
  }
  // 2-D tiles between the input's innermost dim (c, contiguous in src) and the input dim that
  // becomes the output's innermost (p, contiguous in dst); odometer over the other dims.
  const p = perm[r - 1];
  const c = r - 1;
  const rows = shape[p];
  const cols = shape[c];
  const rowStrideIn = inStrides[p];
  const colStrideOut = outStrideOfIn[c];
  const others: number[] = [];
  for (let i = 0; i < r; i++) if (i !== p && i !== c) others.push(i);
  const idx = new Array<number>(others.length).fill(0);
  let sBase = srcOff;
  let dBase = dstOff;
  const outer = size / (rows * cols);
  for (let o = 0; o < outer; o++) {
    for (let i0 = 0; i0 < rows; i0 += TILE) {
      const i1 = Math.min(i0 + TILE, rows);
      for (let j0 = 0; j0 < cols; j0 += TILE) {
        const j1 = Math.min(j0 + TILE, cols);
        for (let j = j0; j < j1; j++) {
          // dst runs over i contiguously; src reads one element per row of the tile.
          let s = sBase + i0 * rowStrideIn + j;
          let d = dBase + j * colStrideOut + i0;
          for (let i = i0; i < i1; i++) {
            dst[d++] = src[s];
            s += rowStrideIn;
          }
        }
      }
    }
    // Advance the odometer over the other dims.
    for (let k = others.length - 1; k >= 0; k--) {
      const dim = others[k];
      idx[k]++;
      sBase += inStrides[dim];
      dBase += outStrideOfIn[dim];
      if (idx[k] < shape[dim]) break;
      sBase -= inStrides[dim] * shape[dim];
      dBase -= outStrideOfIn[dim] * shape[dim];
      idx[k] = 0;
    }
  }
}

/** The innermost dim stays innermost: copy runs of shape[r-1] elements in output order. */
function copyRuns(
  src: Flat,
  srcOff: number,
  dst: Flat,
  dstOff: number,
  shape: number[],
  perm: number[],
  inStrides: number[],
): void {
  const r = shape.length;
  const run = shape[r - 1];
  const outerDims = perm.slice(0, r - 1);
  const idx = new Array<number>(r - 1).fill(0);
  const count = shape.reduce((a, b) => a * b, 1) / run;
  let s = srcOff;
  let d = dstOff;
  for (let o = 0; o < count; o++) {
    if (run >= 32) {
      dst.set(src.subarray(s, s + run), d);
    } else {
      for (let k = 0; k < run; k++) dst[d + k] = src[s + k];
    }
    d += run;
    for (let k = r - 2; k >= 0; k--) {
      const dim = outerDims[k];
      idx[k]++;
      s += inStrides[dim];
      if (idx[k] < shape[dim]) break;
      s -= inStrides[dim] * shape[dim];
      idx[k] = 0;
    }
  }
}
