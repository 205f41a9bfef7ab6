// Maximum-likelihood fit of a site frequency spectrum: one run of the model (explore,
// record, cache the trace), then every step of the optimizer is one evaluation of the
// cached trace with its exact gradient, never a new run — unless Clear Caches (or
// the memory budget) drops the trace between two evaluations: then the model is
// recorded again, the same trace, and the fit goes on (decision 77). Editor-free: the
// command line calls it now and the engine process can host it (progress callbacks,
// an AbortSignal that stops it between evaluations), given anything with the
// Engine's run/evaluate/evaluateMany.
//
// The optimizer works on x = log θ (so θ > 0 with no bounds to handle) and on the
// log-likelihood per segregating site less its constants, the divergence of the
// expected proportions from the observed (so its tolerance means the same for 100
// and 10⁷ sites, and for counts of 1e-100). Standard errors come from the observed
// information on the natural scale, by central differences of exact gradients
// (information.ts). A gradient the engine does not trust even after recomputing it
// (EvaluateResult.impreciseGradient, decision 82) is never read silently: at the
// estimate it gets a warning, near it it withholds the standard errors.
// EvaluateResult.impreciseMoments is not read: it names variances and covariances, and
// the fit reads only first moments, which cannot cancel (sums of nonnegative terms,
// decision 112).
import { type Engine, EngineFailure } from '../engine/engine';
import type { EvaluateResult, Progress } from '../protocol/engine';
import type { FitOutcome } from '../protocol/fit';
import { minimize } from './bfgs';
import { outsideBounds, type ParamBounds } from './bounds';
import { standardErrors } from './information';
import { FitError, rewardFamily, SfsLikelihood, type SfsValue } from './likelihood';
import type { Spectrum } from './sfsFile';

export type FitEngine = Pick<Engine, 'run' | 'evaluate' | 'evaluateMany'>;

export interface FitRequest {
  /** The model as the engine loads it (compiled model or phasic graph JSON). */
  engineText: string;
  spectrum: Spectrum;
  /** The reward family NAME[k] that is the SFS's branch length ancestral to k+1 samples. */
  sfsReward: string;
  /** Parameters to estimate; the others stay at `params` or the model's defaults. */
  fit: string[];
  /** Start values of fitted parameters (else `params`, else the model's default); > 0. */
  start?: Record<string, number>;
  /** Parameter values by name (fixed ones, and start values of fitted ones). */
  params?: Record<string, number>;
  /** The bounds the model declares for its parameters: a start must lie within them. */
  bounds?: readonly ParamBounds[];
  /** Optimizer runs from this many starting points (the first is the start). */
  starts?: number;
  maxStates?: number;
  signal?: AbortSignal;
  /** The model run's own progress (explore, record). */
  onRunProgress?: (progress: Progress) => void;
  /** After each optimizer step. */
  onProgress?: (progress: FitProgress) => void;
}

export interface FitProgress {
  /** 1-based index of the starting point, of `starts`. */
  start: number;
  starts: number;
  iteration: number;
  loglik: number;
  estimates: Record<string, number>;
}

/** Optimizer tolerance on |∂(loglik per site)/∂ log θ|. */
const GRADIENT_TOLERANCE = 1e-9;
const MAX_ITERATIONS = 200;
/** At most a factor e³ ≈ 20 per step in any parameter. */
const MAX_LOG_STEP = 3;
/** Extra starting points lie within a factor 10 of the start, each way. */
const START_SPREAD = Math.log(10);
/** Relative step of the central differences for the information. */
const INFORMATION_STEP = 1e-5;
/** A flat parameter this far (log scale: a factor 100) from its start ran to a boundary. */
const BOUNDARY_LOG_DISTANCE = Math.log(100);
/**
 * A log-likelihood this much above the estimate's, one decade or more away along a
 * flat parameter's axis: the estimate is a plateau, not a maximum. A unit, not a
 * rounding margin: far out on a plateau the log-likelihood still creeps towards its
 * limit by amounts that say nothing about where the data are.
 */
const PLATEAU_RISE = 1;
/**
 * …or this fraction of the log-likelihood's terms (SfsValue.terms), when that is more:
 * its rounding. At 10¹⁶ sites the log-likelihood moves by multiples of 64 with no change
 * in the proportions, and a flat theta was refused as "higher at theta=1e+11". A real
 * plateau rises by a share of the sites (56 of 1996 in the example's), far above it.
 */
const PLATEAU_ROUNDING = 1e-12;
/**
 * Sites above which a gradient that is not finite is put down to the data's size: per
 * site the gradient is a few units or less, so only such sums carry it past 1.8e308.
 */
const HUGE_SITES = 1e300;
const PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47];

/** Element `index` of the van der Corput sequence in `base`, in [0, 1). */
function radicalInverse(index: number, base: number): number {
  let r = 0;
  let f = 1 / base;
  for (let i = index; i > 0; i = Math.floor(i / base), f /= base) r += f * (i % base);
  return r;
}

/**
 * Starting points on the log scale: the start itself, then a Halton spread within
 * START_SPREAD of it, so that `--starts N` is the same N points every time.
 */
export function startingPoints(start: readonly number[], count: number): number[][] {
  return Array.from({ length: count }, (_, k) =>
    // From index 2: index 1 of base 2 is 1/2, which would repeat the start itself.
    start.map((x, j) => (k === 0 ? x : x + START_SPREAD * (2 * radicalInverse(k + 1, PRIMES[j % PRIMES.length]) - 1))),
  );
}

function numbers(m: ReadonlyArray<number | string>): number[] {
  return m.map((v) => Number(v));
}

export async function fitSfs(engine: FitEngine, request: FitRequest): Promise<FitOutcome> {
  const started = performance.now();
  const { spectrum, fit, signal } = request;
  const starts = request.starts ?? 1;
  if (!Number.isInteger(starts) || starts < 1) throw new RangeError(`starts must be an integer ≥ 1 (got ${starts})`);
  if (fit.length === 0) throw new FitError('name at least one parameter to fit', 'model');
  if (new Set(fit).size !== fit.length) throw new FitError(`a parameter is named twice in ${fit.join(',')}`, 'model');
  for (const name of Object.keys(request.start ?? {}))
    if (!fit.includes(name)) throw new FitError(`a start value is given for ${name}, which is not fitted`, 'model');

  const record = () =>
    engine.run(request.engineText, {
      maxStates: request.maxStates,
      moments: 1,
      params: request.params,
      signal,
      onProgress: request.onRunProgress,
    });
  const run = await record();
  let runMs = performance.now() - started;
  /**
   * `evaluate` of the run's trace. A trace no longer cached (Clear Caches ran between two
   * steps, or the budget evicted it) is recorded again from the same text: the same
   * trace, so the same numbers. Gone again at once, it fails as before.
   */
  let traceKey = run.traceKey;
  const cached = async <T>(evaluate: (key: string) => Promise<T>): Promise<T> => {
    try {
      return await evaluate(traceKey);
    } catch (error) {
      if (!(error instanceof EngineFailure && error.kind === 'cache')) throw error;
      const again = performance.now();
      traceKey = (await record()).traceKey;
      runMs += performance.now() - again;
      return await evaluate(traceKey);
    }
  };
  const paramNames = Object.keys(run.params);
  for (const name of fit)
    if (!paramNames.includes(name))
      throw new FitError(
        `the model has no parameter ${name} (its parameters: ${paramNames.join(', ') || 'none'})`,
        'model',
      );
  const family = rewardFamily(Object.keys(run.moments), request.sfsReward);
  const likelihood = new SfsLikelihood(spectrum, request.sfsReward, family.length);
  const sites = likelihood.sites;

  const startValues = fit.map((name) => request.start?.[name] ?? run.params[name]);
  const declared = (name: string) => request.bounds?.find((b) => b.name === name);
  const start = fit.map((name, j) => {
    const v = startValues[j];
    if (!(v > 0) || !Number.isFinite(v))
      throw new FitError(
        `the start value of ${name} is ${v}; a fitted parameter starts > 0 (the fit works on log ${name}): give --start ${name}=V`,
        'model',
      );
    const outside = outsideBounds(v, declared(name));
    if (outside) throw new FitError(`the start value ${name}=${v} is ${outside}`, 'model');
    return Math.log(v);
  });
  const paramsAt = (theta: readonly number[]) => {
    const p: Record<string, number> = { ...run.params };
    fit.forEach((name, j) => {
      p[name] = theta[j];
    });
    return p;
  };
  const branches = (r: EvaluateResult) => numbers(family.map((m) => r.moments[m][0]));
  const branchGradient = (r: EvaluateResult) =>
    fit.map((name) => numbers(family.map((m) => r.gradient?.[m]?.[name]?.[0] ?? Number.NaN)));
  const atTheta = (r: EvaluateResult): SfsValue => likelihood.evaluate(branches(r), branchGradient(r));
  /**
   * The fitted parameters whose derivatives the engine could not give with trusted digits
   * at this θ, even in quadruple precision (decision 82), with its reason.
   */
  const doubtsOf = (r: EvaluateResult): Doubt[] =>
    fit.flatMap((name) => {
      const message = r.impreciseGradient?.[name];
      return message === undefined ? [] : [{ name, message }];
    });

  // The last values of the objective, so the result needs no evaluation of its own.
  const seen = new Map<string, { value: SfsValue; doubts: Doubt[] }>();
  const objective = async (x: readonly number[]) => {
    const theta = x.map(Math.exp);
    const r = await cached((key) => engine.evaluate(key, paramsAt(theta), 1, [], true));
    const v = atTheta(r);
    seen.set(x.join(','), { value: v, doubts: doubtsOf(r) });
    const gradient = (v.gradient ?? []).map((g, j) => (-g * theta[j]) / sites);
    return { value: v.divergence, gradient };
  };

  const first = await objective(start);
  if (!Number.isFinite(first.value)) {
    const why = notFiniteAtStart(seen.get(start.join(','))?.value, likelihood);
    throw new FitError(why.message, why.about);
  }
  // The optimizer cannot take a first step: without this, the start itself would be
  // reported as an estimate that "did not converge".
  if (!first.gradient.every(Number.isFinite)) {
    // The gradient is the sites times its value per site: near a double's top it is the
    // data's size that overflows it, not the start (4.5e307 sites blamed mig = 0.5).
    if (sites > HUGE_SITES)
      throw new FitError(
        `the unmasked counts add up to ${sites.toPrecision(3)}: the log-likelihood's gradient (the sites times its value per site) passes the largest number a double holds; a common factor changes no estimate, so divide the counts by one`,
        'data',
      );
    throw new FitError(
      `the log-likelihood has no finite gradient at the start values (${fit.map((name, j) => `${name}=${startValues[j]}`).join(', ')}): the expected spectrum there is beyond what double precision resolves; start nearer the data with --start`,
      'model',
    );
  }

  const optimizeStarted = performance.now();
  const points = startingPoints(start, starts);
  const results = [];
  for (let k = 0; k < points.length; k++) {
    const m = await minimize(objective, points[k], {
      gradientTolerance: GRADIENT_TOLERANCE,
      maxIterations: MAX_ITERATIONS,
      maxStep: MAX_LOG_STEP,
      signal,
      onIteration: (iteration, x) =>
        request.onProgress?.({
          start: k + 1,
          starts,
          iteration,
          loglik: seen.get(x.join(','))?.value.loglik ?? Number.NaN,
          estimates: Object.fromEntries(fit.map((name, j) => [name, Math.exp(x[j])])),
        }),
    });
    results.push(m);
  }
  const finiteResults = results.filter((m) => Number.isFinite(m.value));
  const best = (finiteResults.length > 0 ? finiteResults : results).reduce((a, b) => (b.value < a.value ? b : a));
  const optimizeMs = performance.now() - optimizeStarted;

  // The run's own (a cache directory that cannot be written, …) come first.
  const warnings: string[] = run.warnings.map((w) => w.message);
  if (!best.converged) warnings.push(`the optimizer did not converge: ${best.reason}`);
  const converged = finiteResults.filter((m) => m.converged);
  const spread = Math.max(...converged.map((m) => m.value)) - best.value;
  if (converged.length > 1 && spread * sites > 1e-3)
    warnings.push(
      `the ${starts} starting points reached different maxima (log-likelihoods differ by up to ${(spread * sites).toPrecision(3)}); the best is reported`,
    );

  const theta = best.x.map(Math.exp);
  const estimated = async () => {
    const r = await cached((key) => engine.evaluate(key, paramsAt(theta), 1, [], true));
    return { value: atTheta(r), doubts: doubtsOf(r) };
  };
  const atEstimate = seen.get(best.x.join(',')) ?? (await estimated());
  const value = atEstimate.value;
  // The convergence test read the gradient at the estimate: say when it rests on digits
  // the engine does not trust.
  for (const { name, message } of atEstimate.doubts)
    warnings.push(
      `the gradient by ${name} at the estimate is not trusted, and neither is the convergence test that reads it: ${message}`,
    );

  // Observed information by central differences of the exact gradient, all 2P points in one batch.
  const informationStarted = performance.now();
  const shifted: number[][] = [];
  for (let j = 0; j < fit.length; j++)
    for (const sign of [1, -1]) shifted.push(theta.map((t, i) => (i === j ? t * (1 + sign * INFORMATION_STEP) : t)));
  signal?.throwIfAborted();
  const shiftedResults = await cached((key) => engine.evaluateMany(key, shifted.map(paramsAt), 1, [], true));
  const gradients = shiftedResults.map((r) => atTheta(r).gradient ?? []);
  const information = fit.map((_, i) =>
    fit.map((_, j) => -(gradients[2 * j][i] - gradients[2 * j + 1][i]) / (2 * INFORMATION_STEP * theta[j])),
  );
  // A central difference divides the gradients' error by 2·INFORMATION_STEP: an
  // untrusted derivative at any of the points leaves the information nothing to
  // trust, and every standard error reads all of it (J⁻¹), so none is given.
  const informationDoubt = shiftedResults.flatMap(doubtsOf)[0];
  const errors =
    informationDoubt === undefined && informationIsFinite(information)
      ? standardErrors(information, theta, sites)
      : { stderr: theta.map(() => Number.NaN), flat: [], notMaximum: false };
  if (informationDoubt !== undefined)
    warnings.push(
      `no standard errors: the information matrix comes from derivatives by ${informationDoubt.name} near the estimate that are not trusted: ${informationDoubt.message}`,
    );
  else if (!informationIsFinite(information))
    warnings.push('the information matrix is not finite at the estimate: no standard errors');
  const bestStart = points[results.indexOf(best)];
  /**
   * A value of fitted parameter j, the others at the estimate, where the log-likelihood
   * is higher by `rise`: probed a decade at a time each way, nearest first, over
   * the doubles' range.
   */
  const rise = Math.max(PLATEAU_RISE, PLATEAU_ROUNDING * value.terms);
  const higherAlongAxis = async (j: number): Promise<number | undefined> => {
    for (let decade = 1; decade <= 616; decade++) {
      let inRange = false;
      for (const probe of [theta[j] * 10 ** decade, theta[j] / 10 ** decade]) {
        if (!(probe >= Number.MIN_VALUE * 2 ** 52) || !Number.isFinite(probe)) continue;
        inRange = true;
        signal?.throwIfAborted();
        let r: EvaluateResult;
        try {
          r = await cached((key) =>
            engine.evaluate(key, paramsAt(theta.map((t, i) => (i === j ? probe : t))), 1, [], false),
          );
        } catch (error) {
          // A rate beyond a double there is no evidence either way.
          if (error instanceof EngineFailure && error.kind === 'argument') continue;
          throw error;
        }
        if (likelihood.evaluate(branches(r)).loglik > value.loglik + rise) return probe;
      }
      if (!inRange) break;
    }
    return undefined;
  };
  for (const members of errors.flat) {
    const names = members.map((j) => fit[j]);
    if (names.length > 1) {
      // Together they may also have run to a limit below the maximum (coal, mig from
      // mig = 1000: mig / coal → ∞, 56 below it), which no single direction shows: each
      // member's own axis changes what the data identify, so it finds the way back.
      for (const j of members) {
        const higher = await higherAlongAxis(j);
        if (higher !== undefined)
          throw new FitError(
            `the log-likelihood is flat in ${names.join(', ')} together around ${names.map((name, i) => `${name}=${short(theta[members[i]])}`).join(', ')} but higher at ${fit[j]}=${short(higher)}, the others as they are: the optimizer stopped on a plateau, so there is no estimate; start nearer the data with --start, or try --starts`,
            'model',
          );
      }
      const warning = `${names.join(', ')} are not identifiable separately from the spectrum: the log-likelihood is flat along a direction that changes them together (e.g. only their ratio enters the expected proportions); their standard errors are infinite`;
      // Two flat directions of the same parameters are one thing to say.
      if (!warnings.includes(warning)) warnings.push(warning);
      continue;
    }
    // Far from where it started, a flat parameter ran towards a boundary: the
    // likelihood rises until it levels off there, so the data favour 0 or ∞.
    const [j] = members;
    const moved = best.x[j] - bestStart[j];
    const name = names[0];
    // Near its start, it may be flat everywhere (not identifiable) or only there, on a
    // plateau far from the data (mig = 1e150: the demes are one population): a start
    // on a plateau used to come out as "converged" with the start as the estimate. Far
    // from it, the limit it ran to may be below a maximum elsewhere: the two-deme
    // example from mig = 1000 climbed to mig → ∞, 46 below the maximum at 0.313, and
    // the fit called ∞ the best fit.
    const higher = await higherAlongAxis(j);
    if (higher !== undefined)
      throw new FitError(
        Math.abs(moved) <= BOUNDARY_LOG_DISTANCE
          ? `the log-likelihood is flat in ${name} around ${name}=${short(theta[j])} (the expected proportions do not change with it there) but higher at ${name}=${short(higher)}: the optimizer stopped on that plateau, so there is no estimate; start nearer the data with --start, or try --starts`
          : `the log-likelihood rises as ${name} ${moved > 0 ? 'grows' : 'shrinks'} from ${name}=${short(Math.exp(bestStart[j]))} and levels off at ${name} ${moved > 0 ? '→ ∞' : '→ 0'}, but it is higher at ${name}=${short(higher)}: the optimizer ran to a limit that is not the best fit, so there is no estimate; start nearer the data with --start, or try --starts`,
        'model',
      );
    warnings.push(
      moved > BOUNDARY_LOG_DISTANCE
        ? `${name} has no finite estimate: the log-likelihood rises as ${name} grows and levels off (the best fit is at ${name} → ∞); the value is where the optimizer stopped and its standard error is infinite`
        : moved < -BOUNDARY_LOG_DISTANCE
          ? `${name} has no finite estimate: the log-likelihood rises as ${name} shrinks and levels off (the best fit is at ${name} → 0); the value is where the optimizer stopped and its standard error is infinite`
          : `${name} is not identifiable from the spectrum: the log-likelihood is flat in it (the expected proportions do not depend on it), so its estimate is just where the optimizer stopped and its standard error is infinite`,
    );
  }
  // Without a trusted information there is no flat direction to read, but an optimizer
  // that stopped near its start on untrusted derivatives may sit on a plateau all the
  // same (mig = 1e150): the log-likelihood's own values decide, as for a flat parameter.
  const doubted = new Set([...atEstimate.doubts, ...shiftedResults.flatMap(doubtsOf)].map((d) => d.name));
  for (const name of doubted) {
    const j = fit.indexOf(name);
    if (Math.abs(best.x[j] - bestStart[j]) > BOUNDARY_LOG_DISTANCE) continue;
    const higher = await higherAlongAxis(j);
    if (higher !== undefined)
      throw new FitError(
        `the log-likelihood is flat in ${name} around ${name}=${short(theta[j])} (as far as its derivatives there, which are not trusted, tell) but higher at ${name}=${short(higher)}: the optimizer stopped on that plateau, so there is no estimate; start nearer the data with --start, or try --starts`,
        'model',
      );
  }
  fit.forEach((name, j) => {
    const outside = outsideBounds(theta[j], declared(name));
    if (outside)
      warnings.push(
        `the estimate ${name}=${short(theta[j])} is ${outside}: the likelihood is highest outside the range the model allows (the fit does not keep to it)`,
      );
  });
  if (errors.notMaximum)
    warnings.push(
      'the estimate is not a maximum of the likelihood (the information matrix has a negative eigenvalue); try other --start values or --starts',
    );
  const informationMs = performance.now() - informationStarted;

  return {
    model: run.model,
    estimates: Object.fromEntries(fit.map((name, j) => [name, theta[j]])),
    stderr: Object.fromEntries(fit.map((name, j) => [name, errors.stderr[j]])),
    loglik: value.loglik,
    scale: value.scale,
    iterations: best.iterations,
    converged: best.converged,
    expected: value.expected,
    observed: spectrum.counts.map((c, i) => (likelihood.used.includes(i) ? c : null)),
    params: paramsAt(theta),
    sites,
    warnings,
    timingsMs: { run: runMs, optimize: optimizeMs, information: informationMs, total: performance.now() - started },
  };
}

/** A fitted parameter whose derivatives the engine does not trust at some θ, and why. */
interface Doubt {
  name: string;
  message: string;
}

/** A value for a message: six significant digits, without trailing zeros. */
function short(x: number): string {
  return String(Number(x.toPrecision(6)));
}

function informationIsFinite(m: number[][]): boolean {
  return m.every((row) => row.every(Number.isFinite));
}

/**
 * Why the likelihood cannot be evaluated at the start, in words, and whose it is: an
 * entry with sites the model cannot produce is the data's; a branch length that is
 * infinite there (coal = 0: the lineages never meet) is the model's at those values.
 */
function notFiniteAtStart(
  v: SfsValue | undefined,
  likelihood: SfsLikelihood,
): { message: string; about: 'data' | 'model' } {
  const counts = likelihood.spectrum.counts;
  const empty = likelihood.used.find((i) => counts[i] > 0 && v?.expected[i] === 0);
  if (empty !== undefined)
    return {
      message: `entry ${empty} of the spectrum has ${counts[empty]} sites, but the model expects none there at the start values`,
      about: 'data',
    };
  return {
    message:
      'the model’s expected spectrum is not finite at the start values (a branch length is infinite or undefined there)',
    about: 'model',
  };
}
