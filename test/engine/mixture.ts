// The two-branch mixture whose covariance cancels (decisions 105, 110, 111), shared by
// the gradient's and the moments' accuracy tests.
import type { PhasicGraph } from './dense';

/**
 * Start to state 1 (A at rate t, then B at rate t) with probability 1/4, to state 2 (A at
 * rate 3t, then B at rate s·t + δ) with 3/4; t is p1 and, with `offset`, δ is p2 (else
 * δ = 0). Within a branch A and B are independent, so
 * Cov[A, B] = (1/4)(3/4)·(1/t − 1/(3t))·(1/t − 1/(s·t + δ)), which is small beside
 * E[A]·E[B] ≈ 3.65 (at t = 0.37) where s·t + δ is close to t.
 */
export function mixture(s: number, offset = false): PhasicGraph {
  const rate = (byT: number) => (offset ? [byT, 0] : [byT]);
  return {
    states: [
      [0, 0],
      [1, 0],
      [1, 0],
      [0, 1],
      [0, 1],
      [0, 0],
    ],
    n_vertices: 6,
    state_length: 2,
    param_length: offset ? 2 : 1,
    edges: [],
    start_edges: [
      [1, 0.25],
      [2, 0.75],
    ],
    param_edges: [
      [1, 3, ...rate(1)],
      [2, 4, ...rate(3)],
      [3, 5, ...rate(1)],
      [4, 5, ...(offset ? [s, 1] : [s])],
    ],
  };
}
