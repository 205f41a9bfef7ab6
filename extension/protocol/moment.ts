// Moments, variances and covariances as the engine reports them. JSON has no
// infinite or undefined number, so the engine writes a non-finite value as one of
// the protobuf JSON mapping's strings (docs/protocol.md): "Infinity" is an infinite
// value (a reward that accumulates without end with positive probability, or a value
// beyond the largest double), "NaN" an undefined one (∞ − ∞, or a moment the engine
// cannot determine because absorption is not certain). Which of the two causes holds is
// the result's nonFiniteCause: where the process is absorbed with certainty every moment
// is finite, so "Infinity" and "NaN" there mean beyond a double's range and read "out of
// range", never "infinite" or "undefined". Values keep this form on every
// JSON boundary (engine → engine process → host → webview, and `phasic-trace run
// --json`), so every reader formats them through the functions here and an infinite
// value never reads like an undefined one. This file is imported by the webview
// bundle: no Node or vscode imports.
import type { EvaluateResult } from './engine';
import type { Moment } from './schema/base';

export type { Moment, NonFinite } from './schema/base';

/** Why the non-finite values of a result are so (schema/engine.ts, nonFiniteCause). */
export type NonFiniteCause = NonNullable<EvaluateResult['nonFiniteCause']>;

/** A number in its JSON form: a non-finite one as its string (JSON has no ∞ or NaN). */
export function jsonMoment(x: number): Moment {
  if (Number.isFinite(x)) return x;
  return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
}

type NonFiniteWord = 'infinite' | 'minus infinite' | 'undefined' | 'out of range';

/** What a non-finite value of a result with `cause` means, in the word every view uses; null when finite. */
export function nonFiniteWord(m: Moment, cause: NonFiniteCause | undefined): NonFiniteWord | null {
  if (typeof m === 'number' && Number.isFinite(m)) return null;
  if (cause === 'outOfRange') return 'out of range';
  if (typeof m === 'number') return Number.isNaN(m) ? 'undefined' : m > 0 ? 'infinite' : 'minus infinite';
  return m === 'Infinity' ? 'infinite' : m === '-Infinity' ? 'minus infinite' : 'undefined';
}

/** A value for display: finite numbers through `format`, else ∞, −∞, "undefined" or "out of range". */
export function formatMoment(m: Moment, format: (x: number) => string, cause: NonFiniteCause | undefined): string {
  const word = nonFiniteWord(m, cause);
  if (word === null) return format(m as number);
  return word === 'infinite' ? '∞' : word === 'minus infinite' ? '−∞' : word;
}

/** The moments block of a run or an evaluation, as schema/engine.ts declares it. */
export type MomentsBlock = Pick<EvaluateResult, 'moments' | 'variance' | 'covariance' | 'nonFinite' | 'nonFiniteCause'>;

/**
 * One sentence per kind naming the values that are not finite, e.g.
 * `E[tmrca], E[tmrca²] and Var(tmrca) are infinite`; empty when all are finite.
 */
export function nonFiniteSummary(r: MomentsBlock): string[] {
  const byWord = new Map<string, string[]>();
  const add = (name: string, m: Moment) => {
    const word = nonFiniteWord(m, r.nonFiniteCause);
    if (word !== null) byWord.set(word, [...(byWord.get(word) ?? []), name]);
  };
  for (const [reward, ms] of Object.entries(r.moments))
    ms.forEach((m, i) => add(i === 0 ? `E[${reward}]` : `E[${reward}^${i + 1}]`, m));
  for (const [reward, v] of Object.entries(r.variance)) add(`Var(${reward})`, v);
  for (const [pair, v] of Object.entries(r.covariance)) add(`Cov(${pair.replace(',', ', ')})`, v);
  return [...byWord].map(([word, names]) => {
    const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
    return `${list} ${names.length === 1 ? 'is' : 'are'} ${word}`;
  });
}

/**
 * The run's warning from the engine's moment screen (engine/moment_accuracy.hpp: "N value(s)
 * keep(s) fewer than 6 digits: Var(x) = … (about d digits, ±u), …"), the one an
 * evaluation at the run's parameters carries as `impreciseMoments` (decision 112); undefined
 * when the run has none. A run has no member for it (its warnings are one list), so it is
 * the siteless warning in that form.
 */
export function runMomentWarning(warnings: ReadonlyArray<{ message: string; site: number }>): string | undefined {
  return warnings.find(
    (w) => w.site === -1 && /^\d+ values? keeps? fewer than \d+ digits: (?:Var|Cov)\(/.test(w.message),
  )?.message;
}

/**
 * What a moment warning (`impreciseMoments` or runMomentWarning) says about one value,
 * `name` as it names it ("Var(x)", "Cov(a, b)"): e.g. "Var(x) = 1e-14 (about 0.9 digits,
 * ±1.6e-15)"; undefined when it does not name that value.
 */
export function momentDoubt(warning: string | undefined, name: string): string | undefined {
  if (!warning) return undefined;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?:: |, )(${escaped} = \\S+ \\((?:about [0-9.]+ digits|no digit left), ±[^)]*\\))`).exec(
    warning,
  )?.[1];
}
