// An independent reference for the distribution tests: the matrix exponential of a
// small dense sub-generator by scaling and squaring with a Taylor series whose
// truncation is controlled, in float64. Nothing is shared with the engine's
// uniformization.
//
// For A = T·t / 2^s with ‖A‖₁ ≤ 1/2, the Taylor remainder after degree K is at most
// ‖A‖^(K+1)/(K+1)! · 2 (a geometric tail), and the series runs until that is below
// 1e-18; squaring s times then gives e^(T t) to about 1e-14 relative for the small,
// well-scaled matrices the tests use.

export type Matrix = number[][];

function multiply(a: Matrix, b: Matrix): Matrix {
  const n = a.length;
  const c = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const x = a[i][k];
      if (x === 0) continue;
      for (let j = 0; j < n; j++) c[i][j] += x * b[k][j];
    }
  return c;
}

function norm1(a: Matrix): number {
  let best = 0;
  for (let j = 0; j < a.length; j++)
    best = Math.max(
      best,
      a.reduce((s, row) => s + Math.abs(row[j]), 0),
    );
  return best;
}

/** e^(T t) for a square matrix T and t ≥ 0. */
export function expm(T: Matrix, t: number): Matrix {
  const n = T.length;
  const identity: Matrix = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  if (n === 0) return [];
  const norm = norm1(T) * t;
  const s = norm > 0.5 ? Math.ceil(Math.log2(norm / 0.5)) : 0;
  const A = T.map((row) => row.map((x) => (x * t) / 2 ** s));
  const a = norm / 2 ** s;
  let result = identity.map((row) => row.slice());
  let term = identity.map((row) => row.slice());
  let bound = 1;
  for (let k = 1; k < 60; k++) {
    term = multiply(term, A).map((row) => row.map((x) => x / k));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) result[i][j] += term[i][j];
    bound = (bound * a) / (k + 1);
    if (2 * bound < 1e-18) break;
  }
  for (let i = 0; i < s; i++) result = multiply(result, result);
  return result;
}

/** Row vector × matrix. */
export function rowTimes(x: number[], M: Matrix): number[] {
  const out = new Array<number>(M.length === 0 ? 0 : M[0].length).fill(0);
  x.forEach((xi, i) => {
    if (xi !== 0) M[i].forEach((m, j) => (out[j] += xi * m));
  });
  return out;
}

/**
 * A phase-type law (α, T) with defect 1 − α·1 (the atom at 0): P(Y > t) = α e^(Tt) 1
 * and f(t) = α e^(Tt) (−T 1).
 */
export class PhaseType {
  constructor(
    readonly alpha: number[],
    readonly T: Matrix,
  ) {}

  get atom(): number {
    return 1 - this.alpha.reduce((s, x) => s + x, 0);
  }

  survival(t: number): number {
    return rowTimes(this.alpha, expm(this.T, t)).reduce((s, x) => s + x, 0);
  }

  cdf(t: number): number {
    return 1 - this.survival(t);
  }

  pdf(t: number): number {
    const exit = this.T.map((row) => -row.reduce((s, x) => s + x, 0));
    return rowTimes(this.alpha, expm(this.T, t)).reduce((s, x, i) => s + x * exit[i], 0);
  }

  /** The smallest t with CDF(t) ≥ p, by plain bisection on this reference CDF. */
  quantile(p: number, relative = 1e-12): number {
    if (p <= this.atom) return 0;
    let lo = 0;
    let hi = 1;
    while (this.cdf(hi) < p) [lo, hi] = [hi, hi * 2];
    while (hi - lo > relative * hi) {
      const mid = (lo + hi) / 2;
      if (this.cdf(mid) >= p) hi = mid;
      else lo = mid;
    }
    return hi;
  }
}
