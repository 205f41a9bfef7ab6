// The reference models (test/fixtures/models, copied from the shared reference set)
// and a dense first-moment solver used to check compiled models end to end.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledModel } from '../../extension/protocol/compiled-model';
import { type Graph, run } from './vm';

// Tests run from out/test/language; the fixtures stay in the source tree.
export const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'models');

export const MODEL_FILES = ['kingman', 'kingman_sfs', 'rabbits', 'structured', 'two_locus'];

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.phasic`), 'utf8');
}

export function expected(): Record<
  string,
  {
    overrides: Record<string, number>;
    params: Record<string, number>;
    vertices?: number;
    edges?: number;
    moments?: Record<string, number[]>;
  }
> {
  return JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));
}

/** E[reward accumulated until absorption] by solving λ_u x_u − Σ w_uz x_z = r_u densely. */
export function meanReward(model: CompiledModel, g: Graph, rewardName: string, params: number[]): number {
  const reward = model.rewards.find((r) => r.name === rewardName);
  if (!reward) throw new Error(`no reward ${rewardName}`);
  const n = g.states.length;
  const A = Array.from({ length: n }, () => new Array<number>(n + 1).fill(0));
  for (let u = 1; u < n; u++) {
    const out = g.edges.get(u);
    if (!out || out.size === 0) {
      A[u][u] = 1; // absorbing: nothing more accumulates
      continue;
    }
    let lambda = 0;
    for (const [z, w] of out) {
      const rate = w[0] + w.slice(1).reduce((s, c, k) => s + c * params[k], 0);
      lambda += rate;
      A[u][z] -= rate;
    }
    A[u][u] += lambda;
    A[u][n] = run(reward.code, g.states[u], new Array(reward.locals).fill(0));
  }
  A[0][0] = 1;
  // Gaussian elimination with partial pivoting on rows 1..n-1.
  for (let c = 1; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
    [A[c], A[p]] = [A[p], A[c]];
    for (let r = 1; r < n; r++) {
      if (r === c || A[r][c] === 0) continue;
      const f = A[r][c] / A[c][c];
      for (let k = c; k <= n; k++) A[r][k] -= f * A[c][k];
    }
  }
  let mean = 0;
  for (const [z, w] of g.edges.get(0) ?? []) mean += w[0] * (A[z][n] / A[z][z]);
  return mean;
}
