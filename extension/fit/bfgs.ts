// Unconstrained minimization by BFGS with a strong-Wolfe line search (Nocedal &
// Wright, Numerical Optimization, 2nd ed.: Algorithm 6.1 with the inverse-Hessian
// update (6.17) and the first-step scaling (6.20); line search Algorithms 3.5 and 3.6
// with cubic interpolation). Dense: the fits have a handful of parameters.
//
// Invariants: the inverse-Hessian approximation H stays symmetric positive definite
// (an update is skipped unless the curvature sᵀy is clearly positive, and H is reset
// to the identity when −Hg is not a descent direction); every accepted step lowers f
// beyond rounding (sufficient decrease, with the approximate-Wolfe allowance of
// Hager & Zhang for the last digits); a non-finite f or gradient counts as "too far"
// and the step shrinks; no step moves a coordinate by more than `maxStep`.
// `converged` is true only when the gradient test passed: a stop for any other
// reason (iteration limit, no acceptable step) is reported as not converged.
// Why our own and not a package: docs/decisions.md, "A small BFGS of our own".

export type Objective = (x: readonly number[]) => Promise<{ value: number; gradient: number[] }>;

export interface MinimizeOptions {
  /** Converged when every |∂f/∂x_j| is at most this. */
  gradientTolerance: number;
  maxIterations: number;
  /** Largest change of any coordinate in one step. */
  maxStep: number;
  signal?: AbortSignal;
  /** Called after each accepted step with its iteration number (1-based). */
  onIteration?: (iteration: number, x: readonly number[], value: number) => void;
}

export interface Minimum {
  x: number[];
  value: number;
  gradient: number[];
  iterations: number;
  evaluations: number;
  converged: boolean;
  /** Why it stopped, in words. */
  reason: string;
}

const C1 = 1e-4; // sufficient decrease
const C2 = 0.9; // curvature, loose as quasi-Newton methods want
/** f is trusted to this relative precision; lower changes are rounding. */
const F_PRECISION = 1e-13;
const LINE_SEARCH_STEPS = 30;

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, ai, i) => s + ai * b[i], 0);
const maxAbs = (a: readonly number[]) => a.reduce((m, ai) => Math.max(m, Math.abs(ai)), 0);
const finite = (v: { value: number; gradient: number[] }) =>
  Number.isFinite(v.value) && v.gradient.every(Number.isFinite);

function identity(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
}

function times(h: number[][], v: readonly number[]): number[] {
  return h.map((row) => dot(row, v));
}

/** H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ, with ρ = 1 / yᵀs. */
function updateInverse(h: number[][], s: number[], y: number[]): number[][] {
  const rho = 1 / dot(y, s);
  const hy = times(h, y);
  const yhy = dot(y, hy);
  const n = s.length;
  return Array.from({ length: n }, (_, i) =>
    Array.from(
      { length: n },
      (_, j) => h[i][j] - rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j],
    ),
  );
}

/** Minimum of the cubic through (a, fa, ga) and (b, fb, gb) inside [a, b], or the midpoint. */
function cubicMinimum(a: number, fa: number, ga: number, b: number, fb: number, gb: number): number {
  const d1 = ga + gb - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - ga * gb;
  if (disc >= 0) {
    const d2 = Math.sign(b - a) * Math.sqrt(disc);
    const t = b - (b - a) * ((gb + d2 - d1) / (gb - ga + 2 * d2));
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    // Keep away from the ends so that the interval shrinks.
    const margin = 0.1 * (hi - lo);
    if (Number.isFinite(t) && t > lo + margin && t < hi - margin) return t;
  }
  return (a + b) / 2;
}

interface Point {
  alpha: number;
  value: number;
  gradient: number[];
  slope: number; // directional derivative along p
}

export async function minimize(f: Objective, x0: readonly number[], options: MinimizeOptions): Promise<Minimum> {
  const n = x0.length;
  const throwIfAborted = () => options.signal?.throwIfAborted();
  let evaluations = 0;
  const evaluate = async (x: readonly number[]) => {
    throwIfAborted();
    evaluations++;
    return f(x);
  };

  let x = [...x0];
  let current = await evaluate(x);
  if (!finite(current))
    return {
      x,
      value: current.value,
      gradient: current.gradient,
      iterations: 0,
      evaluations,
      converged: false,
      reason: 'the objective is not finite at the start',
    };
  let h = identity(n);
  let firstUpdate = true;
  const done = (iterations: number, converged: boolean, reason: string): Minimum => ({
    x,
    value: current.value,
    gradient: current.gradient,
    iterations,
    evaluations,
    converged,
    reason,
  });

  for (let iteration = 0; ; iteration++) {
    if (maxAbs(current.gradient) <= options.gradientTolerance)
      return done(iteration, true, 'the gradient is below the tolerance');
    if (iteration >= options.maxIterations) return done(iteration, false, `no convergence in ${iteration} iterations`);

    let p = times(h, current.gradient).map((v) => -v);
    if (!(dot(p, current.gradient) < 0)) {
      h = identity(n);
      firstUpdate = true;
      p = current.gradient.map((v) => -v);
    }
    const longest = options.maxStep / maxAbs(p);
    const at = (alpha: number) => x.map((xi, i) => xi + alpha * p[i]);
    const probe = async (alpha: number): Promise<Point> => {
      const v = await evaluate(at(alpha));
      return { alpha, value: v.value, gradient: v.gradient, slope: dot(v.gradient, p) };
    };

    const start: Point = {
      alpha: 0,
      value: current.value,
      gradient: current.gradient,
      slope: dot(current.gradient, p),
    };
    const slack = F_PRECISION * Math.max(1, Math.abs(start.value));
    // A point whose gradient is not finite is too far even when its value is finite:
    // taken as the next iterate, its NaN gradient made the next step NaN.
    const sufficient = (q: Point) => finite(q) && q.value <= start.value + C1 * q.alpha * start.slope + slack;
    const curvature = (q: Point) => Math.abs(q.slope) <= -C2 * start.slope;

    // Algorithm 3.6: shrink [lo, hi] until a point meets both conditions.
    const zoom = async (lo: Point, hi: Point): Promise<Point | undefined> => {
      for (let k = 0; k < LINE_SEARCH_STEPS; k++) {
        const alpha = Number.isFinite(hi.value)
          ? cubicMinimum(lo.alpha, lo.value, lo.slope, hi.alpha, hi.value, hi.slope)
          : (lo.alpha + hi.alpha) / 2;
        const q = await probe(alpha);
        if (!sufficient(q) || q.value >= lo.value + slack) hi = q;
        else {
          if (curvature(q)) return q;
          if (q.slope * (hi.alpha - lo.alpha) >= 0) hi = lo;
          lo = q;
        }
        if (Math.abs(hi.alpha - lo.alpha) <= 1e-12 * Math.max(lo.alpha, hi.alpha))
          return lo.alpha > 0 && lo.value < start.value ? lo : undefined;
      }
      return lo.alpha > 0 && lo.value < start.value ? lo : undefined;
    };

    // Algorithm 3.5: grow the step until it brackets an acceptable point.
    let accepted: Point | undefined;
    let previous = start;
    let alpha = Math.min(1, longest);
    for (let k = 0; k < LINE_SEARCH_STEPS; k++) {
      const q = await probe(alpha);
      if (!sufficient(q) || (k > 0 && q.value >= previous.value)) {
        accepted = await zoom(previous, q);
        break;
      }
      if (curvature(q)) {
        accepted = q;
        break;
      }
      if (q.slope >= 0) {
        accepted = await zoom(q, previous);
        break;
      }
      previous = q;
      // The longest step is already at the cap: take it rather than go further.
      if (alpha >= longest) {
        accepted = q;
        break;
      }
      alpha = Math.min(2 * alpha, longest);
    }
    if (!accepted) return done(iteration, false, 'the line search found no lower point (rounding or a kink)');

    const s = p.map((pi) => accepted.alpha * pi);
    const y = accepted.gradient.map((gi, i) => gi - current.gradient[i]);
    x = at(accepted.alpha);
    current = { value: accepted.value, gradient: accepted.gradient };
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (firstUpdate) {
        const scale = sy / dot(y, y);
        h = identity(n).map((row) => row.map((v) => v * scale));
        firstUpdate = false;
      }
      h = updateInverse(h, s, y);
    }
    options.onIteration?.(iteration + 1, x, current.value);
  }
}
