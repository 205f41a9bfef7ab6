// A fit's result in its two forms and the one conversion between them. In process
// (extension/fit/fit.ts, the command line's text output) a standard error is a number,
// +∞ for a parameter the data do not identify and NaN where the information matrix is
// not finite; on every JSON boundary (`phasic/fit`, the Studio page, `phasic-trace fit
// --json`) it is decision 12's string form, "Infinity" or "NaN". Both the engine
// process and the command line convert here, so the two cannot write a NaN differently.
// The webview bundle may import this file: no Node or vscode imports.
import type { FitResult, FitStep, SpectrumSummary } from './engine';
import { jsonMoment, type NonFinite } from './moment';

/**
 * A fit as extension/fit/fit.ts computes it: the wire result (schema/engine.ts,
 * `fitResult`) with standard errors as numbers and without the steps, which whoever
 * watches the optimizer keeps.
 */
export type FitOutcome = Omit<FitResult, 'stderr' | 'steps'> & { stderr: Record<string, number> };

/** A standard error as JSON carries it. */
export type StandardError = FitResult['stderr'][string];

export function standardError(se: number): StandardError {
  const m = jsonMoment(se);
  // A standard error is ≥ 0: −∞ cannot arise, and would be a bug worth a loud "NaN".
  return m === '-Infinity' ? 'NaN' : (m as number | Exclude<NonFinite, '-Infinity'>);
}

/** The wire form of a fit: `steps` are the optimizer's steps in order, as `phasic/fitProgress` notified them. */
export function wireFit(f: FitOutcome, steps: FitStep[]): FitResult {
  const stderr = Object.create(null) as FitResult['stderr'];
  for (const [name, se] of Object.entries(f.stderr)) stderr[name] = standardError(se);
  return { ...f, stderr, steps };
}

/**
 * A parsed `.fs` spectrum (extension/fit/sfsFile.ts) as `phasic/spectrum` and the Fit
 * tab carry it: a masked entry's non-finite count is null (a spectrum's counts are data,
 * not moments: the page only shows them, and never a masked one).
 */
export function wireSpectrum(s: Omit<SpectrumSummary, 'counts'> & { counts: readonly number[] }): SpectrumSummary {
  return {
    n: s.n,
    folded: s.folded,
    labels: [...s.labels],
    counts: s.counts.map((c) => (Number.isFinite(c) ? c : null)),
    mask: [...s.mask],
  };
}

/** The standard normal's 97.5% quantile: a 95% interval is ±Z95 standard errors. */
const Z95 = 1.959963984540054;

/**
 * The 95% Wald interval on the log scale (the scale the fit works on): log θ̂ ± 1.96·SE(log θ̂),
 * SE(log θ̂) = SE(θ̂)/θ̂ by the delta method. It stays > 0, unlike θ̂ ± 1.96·SE, which gave a
 * rate a negative lower end. The command line and the Studio page both show this one; null
 * when there is no standard error.
 */
export function logWaldInterval(estimate: number, stderr: StandardError | number): [number, number] | null {
  const se = Number(stderr);
  if (Number.isNaN(se)) return null;
  if (se === Infinity) return [0, Infinity];
  const f = Math.exp((Z95 * se) / estimate);
  return [estimate / f, estimate * f];
}
