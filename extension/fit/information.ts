// Standard errors from the observed information at a maximum, and the test for a
// flat likelihood. The information I = −∂²ℓ/∂θ² comes from central differences of
// exact gradients (fit.ts); here it is judged on the log scale, J = D I D with
// D = diag(θ), per segregating site (J / sites): an eigenvalue λ of that matrix is
// the information one site carries about a relative change of the parameters along
// its eigenvector. Directions with λ below FLAT_INFORMATION are flat: the data do not
// identify them (a parameter that does not enter the expected proportions gives
// exactly 0, up to rounding), and every parameter with weight in such a direction
// gets an infinite standard error instead of a number the data do not support. The
// other standard errors come from the inverse of J on the remaining directions, so
// cov(θ) = D J⁻¹ D exactly when nothing is flat. Symmetric eigenvalues by cyclic
// Jacobi rotations: the matrices are a few parameters wide.

/**
 * Per-site information (log scale) below which a direction is flat: at 1e-7 even
 * 10⁷ sites leave a standard error of log θ near 1, i.e. no estimate at all.
 */
export const FLAT_INFORMATION = 1e-7;
/** A parameter takes part in a flat direction when its weight in the eigenvector exceeds this. */
const WEIGHT = 1e-3;

export interface Eigen {
  values: number[];
  /** vectors[k] is the unit eigenvector of values[k]. */
  vectors: number[][];
}

/** Eigenvalues and eigenvectors of a symmetric matrix (cyclic Jacobi). */
export function symmetricEigen(a: readonly (readonly number[])[]): Eigen {
  const n = a.length;
  const m = a.map((row) => [...row]);
  const v: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p][q] * m[p][q];
    if (
      off <=
      1e-30 *
        Math.max(
          1e-300,
          m.reduce((s, row, i) => s + row[i] * row[i], 0),
        )
    )
      break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (m[p][q] === 0) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p];
          const mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k];
          const mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
  }
  return { values: m.map((row, i) => row[i]), vectors: m.map((_, k) => v.map((row) => row[k])) };
}

export interface StandardErrors {
  /** Per parameter, in the order given; Infinity where a flat direction involves it. */
  stderr: number[];
  /** Per flat direction, the indices of the parameters in it. */
  flat: number[][];
  /** The information has a clearly negative direction: the point is not a maximum. */
  notMaximum: boolean;
}

/**
 * `information` is −∂²ℓ/∂θ² on the natural scale at `theta` (all θ_j > 0); `sites`
 * the number of segregating sites the likelihood counts.
 */
export function standardErrors(
  information: readonly (readonly number[])[],
  theta: readonly number[],
  sites: number,
): StandardErrors {
  const n = theta.length;
  const perSite = information.map((row, i) =>
    row.map((x, j) => (((x + information[j][i]) / 2) * theta[i] * theta[j]) / sites),
  );
  const { values, vectors } = symmetricEigen(perSite);
  const flat: number[][] = [];
  const involved = new Set<number>();
  let notMaximum = false;
  const variance = new Array<number>(n).fill(0); // of log θ_j, per site
  values.forEach((lambda, k) => {
    if (lambda < -FLAT_INFORMATION) notMaximum = true;
    if (lambda < FLAT_INFORMATION) {
      const members = vectors[k].flatMap((w, j) => (Math.abs(w) > WEIGHT ? [j] : []));
      flat.push(members);
      for (const j of members) involved.add(j);
      return;
    }
    for (let j = 0; j < n; j++) variance[j] += (vectors[k][j] * vectors[k][j]) / lambda;
  });
  const stderr = theta.map((t, j) => (involved.has(j) ? Infinity : t * Math.sqrt(variance[j] / sites)));
  return { stderr, flat, notMaximum };
}
