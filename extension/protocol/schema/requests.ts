// The parameters the host sends with each engine request, declared once: the types
// in protocol/requests.ts are inferred from them and the engine process checks every
// request's parameters with them before acting (protocol/validate.ts,
// `parseEngineRequest`), so a request from another version of the host is refused
// with the field named rather than half-run. No Node or vscode imports.
import * as v from 'valibot';
import { MAX_GRID_POINTS } from '../distribution';
import { bool, count, list, momentCount, names, nameRecord, nonNeg, num, obj, str } from './base';

const overrides = nameRecord(num);
const covariances = list(
  v.pipe(
    list(str(), 2),
    v.check((p) => p.length === 2, 'a pair of reward names'),
    v.transform((p) => p as [string, string]),
  ),
);

export const describeParams = obj({ uri: str(), overrides });

export const runParams = obj({
  uri: str(),
  overrides,
  params: v.optional(nameRecord(num)),
  moments: momentCount,
  covariances,
  runId: count,
  /** Also the derivatives of every moment, variance and covariance by every parameter. */
  gradient: v.optional(bool),
});

export const evaluateParams = obj({
  traceKey: str(200),
  params: nameRecord(num),
  moments: momentCount,
  covariances,
  /** As runParams' gradient. */
  gradient: v.optional(bool),
});

/** Largest `.fs` text a fit request carries (a spectrum of 10⁵ samples is well under 1 MB). */
export const MAX_SFS_TEXT_CHARS = 4 * 1024 * 1024;
/** Parameters one fit may estimate at once. */
export const MAX_FIT_PARAMS = 64;

/**
 * Fits parameters of the model at `uri` to a site frequency spectrum (docs/protocol.md):
 * the model is run as `phasic/run` runs it, then extension/fit/fit.ts optimizes on
 * its cached trace. Progress comes as `phasic/fitProgress` with this `fitId`.
 */
/** A `.fs` file's text, to read (and check) before a fit. */
export const spectrumParams = obj({ data: str(MAX_SFS_TEXT_CHARS) });

export const fitParams = obj({
  uri: str(),
  overrides,
  /** The `.fs` file's text (dadi's format; the host reads the file, the engine parses it). */
  data: str(MAX_SFS_TEXT_CHARS),
  /** The reward family NAME[k] that is the spectrum's branch lengths. */
  sfsReward: str(200),
  fit: names(MAX_FIT_PARAMS, 'parameter names'),
  /** Start values of fitted parameters (> 0); else `params`, else the model's defaults. */
  start: v.optional(nameRecord(num)),
  /** Values of the other parameters (fixed) by name; else the model's defaults. */
  params: v.optional(nameRecord(num)),
  fitId: count,
});

/** One SCC of a run whose trace is still cached, for the panel's detail pane (docs/protocol.md). */
export const sccDetailParams = obj({
  traceKey: str(200),
  /** The SCC's id in the run's decomposition. */
  scc: count,
  /** Parameter values for the edges' rates, by name; others take the model's defaults. */
  params: nameRecord(num),
});

/** An integer of at least `min` (any size: the engine clamps what it cannot hold). */
const intAtLeast = (min: number) =>
  v.custom<number>((x) => Number.isInteger(x) && (x as number) >= min, `an integer ≥ ${min}`);

/**
 * The engine process's settings, from `initializationOptions` and `phasic/configure`
 * (server/settings.ts reads them leniently: a field that fails takes its default).
 */
export const engineSettingsFields = {
  maxStates: intAtLeast(1),
  memoryBudgetBytes: nonNeg,
  /** '' keeps traces in memory only. */
  cacheDirectory: str(),
  maxDiskBytes: nonNeg,
  minSccSize: intAtLeast(2),
};
export const engineSettings = obj(engineSettingsFields);
/** The distribution of a reward of a run whose trace is still cached (docs/protocol.md). */
export const distributionParams = obj({
  traceKey: str(200),
  /** "time" or a reward name of the model. */
  reward: str(200),
  /** Parameter values by name; others take the model's defaults. */
  params: nameRecord(num),
  /** Where to evaluate the CDF and density, in any order (the result's are ascending). */
  times: v.optional(list(num, MAX_GRID_POINTS)),
  /** Without `times`: this many points from 0 to the 99.9% quantile (DEFAULT_GRID_POINTS). */
  gridPoints: v.optional(num),
  /** Probabilities in (0, 1) whose quantiles are wanted (DEFAULT_QUANTILES, protocol/distribution.ts). */
  quantiles: v.optional(list(num, 1000)),
  /** Absolute error bound on every CDF and density value (DEFAULT_EPSILON). */
  epsilon: v.optional(num),
});
