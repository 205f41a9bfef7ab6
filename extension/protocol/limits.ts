// The engine's two limits as settings and command-line options: defaults, least and
// largest values. Neither has an "unlimited" value: a model's state space can be unbounded
// (a three-line birth process), so every run has a state limit and a memory budget.
// package.json's phasic.engine.maxStates / memoryBudgetMB schema repeats these numbers
// (test/unit/limits.test.ts checks that they agree). Beside them, the most moments a
// request may ask for. No Node or vscode imports: the webview bundle reaches this file.
export const DEFAULT_MAX_STATES = 2_000_000;
export const MIN_MAX_STATES = 1;
export const DEFAULT_MEMORY_BUDGET_MB = 4096;
export const MIN_MEMORY_BUDGET_MB = 16;
/** The addon takes counts up to 9e15 (native/binding/addon.cpp, count_or): larger ones are refused there. */
export const MAX_ENGINE_COUNT = 9e15;
export const MAX_MAX_STATES = MAX_ENGINE_COUNT;
export const MAX_MEMORY_BUDGET_MB = Math.floor(MAX_ENGINE_COUNT / 2 ** 20);
/** The most raw moments one request asks for (the addon refuses more: native/binding/addon.cpp, moments_of). */
export const MAX_MOMENTS = 16;

/**
 * A limit as a user wrote it in settings.json (VS Code does not enforce the schema's
 * minimum or maximum): an integer from `min` to `max`; the default when it is not a
 * finite number. Past `max` the addon would refuse every run, so it is read as `max`.
 */
export function limitSetting(value: unknown, min: number, max: number, fallback: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(value)));
}
