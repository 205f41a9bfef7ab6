// Defaults of a distribution request (issue 13), shared by the engine wrapper, the
// language server, the command line and the panel so that each side asks the same
// question when the caller leaves something out. The engine applies the same values
// (native/src/engine/engine.hpp, DistributionRequest). No Node or vscode imports.

/** Probabilities whose quantiles are reported when the request names none. */
export const DEFAULT_QUANTILES: readonly number[] = [0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

/** Absolute error bound on every CDF and density value. */
export const DEFAULT_EPSILON = 1e-10;

/** Points of the grid from 0 to the 99.9% quantile when the request names no times. */
export const DEFAULT_GRID_POINTS = 200;

/** The range the engine accepts for epsilon (else an 'argument' failure). */
export const MIN_EPSILON = 1e-14;
export const MAX_EPSILON = 1e-3;

/** The range the engine accepts for gridPoints, and the most times one request may name. */
export const MIN_GRID_POINTS = 2;
export const MAX_GRID_POINTS = 100_000;
