/**
 * Exact quantities of a tiny per-pixel bandit by enumeration: P pixels, C classes, a
 * factorised policy pi(a) = prod_p softmax(z_p)[a_p]. Used to check the REINFORCE estimators.
 */
export function softmaxRows(z: number[][]): number[][] {
  return z.map((row) => {
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}

/** Every labelling of P pixels with C classes (C^P of them). */
export function allActions(P: number, C: number): Int32Array[] {
  const out: Int32Array[] = [];
  const n = C ** P;
  for (let i = 0; i < n; i++) {
    const a = new Int32Array(P);
    let r = i;
    for (let p = 0; p < P; p++) {
      a[p] = r % C;
      r = Math.floor(r / C);
    }
    out.push(a);
  }
  return out;
}

/**
 * E[R] and its exact gradient with respect to the logits z [P][C]:
 * dE/dz_pc = sum_a pi(a) R(a) (1[a_p = c] - pi_pc).
 */
export function exactGradient(
  z: number[][],
  reward: (a: Int32Array) => number,
): { value: number; grad: number[][] } {
  const P = z.length;
  const C = z[0].length;
  const pi = softmaxRows(z);
  const grad = z.map((row) => row.map(() => 0));
  let value = 0;
  for (const a of allActions(P, C)) {
    let prob = 1;
    for (let p = 0; p < P; p++) prob *= pi[p][a[p]];
    const r = reward(a);
    value += prob * r;
    for (let p = 0; p < P; p++)
      for (let c = 0; c < C; c++) grad[p][c] += prob * r * ((a[p] === c ? 1 : 0) - pi[p][c]);
  }
  return { value, grad };
}
