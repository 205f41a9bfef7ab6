// An independent reference for the engine's moments: the generator of a phasic graph
// (phasic's Graph.serialize() JSON, as `phasic-trace export` writes it and the engine
// imports it) at θ, reduced to the states the process reaches at θ, and dense solves
// of (−S) x = g with partial pivoting. Written from the definitions, sharing nothing
// with the engine: E[R^k] = k!·α x_k with x_1 = U r, x_k = U(r ∘ x_(k−1)), U = (−S)⁻¹.
//
// Zero rates: a state the process reaches with positive probability and that cannot
// reach absorption at θ makes absorption uncertain. Then a reward positive in every
// state has infinite moments; the engine calls every other reward's moments and every
// covariance undefined (docs/engine.md, "Infinite and undefined moments").

export interface PhasicGraph {
  states: number[][];
  n_vertices: number;
  state_length: number;
  param_length: number;
  edges: number[][]; // [from, to, w]
  start_edges: number[][]; // [to, w]
  param_edges: number[][]; // [from, to, c1 … cP]
}

/** What a moment should be: a number, or the engine's string for a non-finite one. */
export type Expected = number | 'Infinity' | 'NaN';

export interface Reference {
  absorptionCertain: boolean;
  /** Non-absorbing states that cannot reach absorption at θ (reached or not). */
  trapped: number;
  /** By reward name (`time`, `s0`, …), raw moments 1..K. */
  moments: Record<string, Expected[]>;
  variance: Record<string, Expected>;
  covariance: Record<string, Expected>;
}

/** Rates at θ: rate[i][j] summed over rows, self-loops dropped (as phasic does). */
function rates(g: PhasicGraph, theta: number[]): number[][] {
  const n = g.n_vertices;
  const rate = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const [from, to, w] of g.edges) if (from !== to) rate[from][to] += w;
  for (const [from, to, ...c] of g.param_edges)
    if (from !== to) rate[from][to] += c.reduce((s, ci, i) => s + ci * theta[i], 0);
  return rate;
}

/** Solves A x = b in place by Gaussian elimination with partial pivoting. */
export function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const a = A.map((row) => row.slice());
  const x = b.slice();
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    if (a[p][c] === 0) throw new Error('singular system');
    [a[c], a[p]] = [a[p], a[c]];
    [x[c], x[p]] = [x[p], x[c]];
    for (let r = c + 1; r < n; r++) {
      const f = a[r][c] / a[c][c];
      if (f === 0) continue;
      for (let k = c; k < n; k++) a[r][k] -= f * a[c][k];
      x[r] -= f * x[c];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let k = r + 1; k < n; k++) s -= a[r][k] * x[k];
    x[r] = s / a[r][r];
  }
  return x;
}

/** Rewards as the importer names them: `time`, then `s<i>` for cells never negative. */
function rewards(g: PhasicGraph): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [['time', g.states.map(() => 1)]];
  for (let c = 0; c < g.state_length; c++) {
    if (g.states.some((s) => s[c] < 0)) continue;
    out.push([`s${c}`, g.states.map((s) => s[c])]);
  }
  return out;
}

export function reference(g: PhasicGraph, theta: number[], K: number, pairs: Array<[string, string]> = []): Reference {
  const n = g.n_vertices;
  const rate = rates(g, theta);
  // Structurally absorbing: no out-edge at all (the engine's notion; it never sees θ).
  const absorbing = rate.map(
    (_, v) =>
      v !== 0 &&
      !g.edges.some((e) => e[0] === v && e[0] !== e[1]) &&
      !g.param_edges.some((e) => e[0] === v && e[0] !== e[1]),
  );
  const reached = new Array<boolean>(n).fill(false);
  const stack: number[] = [];
  const reach = (v: number) => {
    reached[v] = true;
    stack.push(v);
  };
  for (const [to, w] of g.start_edges) if (w > 0 && !reached[to]) reach(to);
  while (stack.length) {
    const v = stack.pop()!;
    for (let t = 1; t < n; t++) if (rate[v][t] > 0 && !reached[t]) reach(t);
  }
  // States that reach absorption at θ: backwards from the absorbing ones.
  const leaves = absorbing.slice();
  for (let changed = true; changed; ) {
    changed = false;
    for (let v = 1; v < n; v++) {
      if (leaves[v] || !rate[v].some((r, t) => r > 0 && leaves[t])) continue;
      leaves[v] = true;
      changed = true;
    }
  }
  const transient = [...Array(n).keys()].filter((v) => v !== 0 && reached[v] && !absorbing[v]);
  const certain = transient.every((v) => leaves[v]);
  const named = rewards(g);
  const trapped = [...Array(n).keys()].filter((v) => v !== 0 && !leaves[v]).length;
  const out: Reference = { absorptionCertain: certain, trapped, moments: {}, variance: {}, covariance: {} };
  if (!certain) {
    for (const [name, r] of named) {
      const positive = r.every((x, v) => v === 0 || absorbing[v] || x > 0);
      out.moments[name] = new Array<Expected>(K).fill(positive ? 'Infinity' : 'NaN');
      out.variance[name] = positive ? 'Infinity' : 'NaN';
    }
    for (const [a, b] of pairs) out.covariance[`${a},${b}`] = 'NaN';
    return out;
  }
  const index = new Map(transient.map((v, i) => [v, i]));
  const m = transient.length;
  const A = transient.map((v) => transient.map((t) => (t === v ? 0 : -rate[v][t])));
  transient.forEach((v, i) => (A[i][i] = rate[v].reduce((s, x, t) => (t === v ? s : s + x), 0)));
  const alpha = new Array<number>(m).fill(0);
  for (const [to, w] of g.start_edges) if (index.has(to)) alpha[index.get(to)!] += w;
  const dot = (x: number[]) => x.reduce((s, xi, i) => s + alpha[i] * xi, 0);
  const U = (h: number[]) => solve(A, h);
  const rewardOf = new Map(named.map(([name, r]) => [name, transient.map((v) => r[v])]));
  const first = new Map<string, number[]>();
  for (const [name] of named) {
    const r = rewardOf.get(name)!;
    let x = U(r);
    first.set(name, x);
    const raw: number[] = [];
    let factorial = 1;
    for (let k = 1; k <= K; k++) {
      if (k > 1) x = U(r.map((ri, i) => ri * x[i]));
      factorial *= k;
      raw.push(factorial * dot(x));
    }
    out.moments[name] = raw;
    out.variance[name] = raw[1] - raw[0] * raw[0];
  }
  for (const [a, b] of pairs) {
    const ra = rewardOf.get(a)!,
      rb = rewardOf.get(b)!;
    const cross = dot(U(ra.map((x, i) => x * first.get(b)![i]))) + dot(U(rb.map((x, i) => x * first.get(a)![i])));
    out.covariance[`${a},${b}`] = cross - (out.moments[a][0] as number) * (out.moments[b][0] as number);
  }
  return out;
}
