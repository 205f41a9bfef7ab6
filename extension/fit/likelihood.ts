// The likelihood of an observed site frequency spectrum under a model whose reward
// family NAME[k] (k = 0..n-2) is the total length of branches ancestral to k+1 of the
// n samples. Under the infinite-sites model with mutation scale s, entry i = k+1 of
// the spectrum is Poisson with mean s·E[NAME[k]] (folded: entry i < n/2 sums the
// expectations of i and n−i derived alleles). The scale is profiled out (s =
// Σ D_i / Σ e_i over the used entries), which turns the Poisson likelihood into the
// multinomial of the proportions e_i / Σ e_j, as dadi's `ll_multinom` does; the
// log-likelihood reported is that Poisson one at the optimal scale, constant terms
// included, so its value compares with dadi's. The optimizer minimizes the same thing
// per site without the constants: the divergence of the expected proportions from the
// observed ones, which does not change when every count is scaled (counts of 1e-100
// fit as counts of 1 do). Entries 0 and n (monomorphic), masked entries and the upper
// half of a folded spectrum are not data.
import type { Spectrum } from './sfsFile';

/**
 * A fit that cannot start: `about` says whether the data (the spectrum, or how it
 * fits the model's sample size) or the model and the request (a parameter or reward
 * family that is not there, a bad start value) are to blame, so a caller can point
 * at the right file.
 */
export class FitError extends Error {
  constructor(
    message: string,
    readonly about: 'data' | 'model',
  ) {
    super(message);
    this.name = 'FitError';
  }
}

/**
 * The members of the reward family `name` among a run's reward names, in index
 * order: `name[0]`, `name[1]`, … with no gap. Throws when there is none.
 */
export function rewardFamily(rewardNames: readonly string[], name: string): string[] {
  const byIndex = new Map<number, string>();
  const prefix = `${name}[`;
  for (const r of rewardNames) {
    if (!r.startsWith(prefix) || !r.endsWith(']')) continue;
    const index = r.slice(prefix.length, -1);
    if (/^\d+$/.test(index)) byIndex.set(Number(index), r);
  }
  if (byIndex.size === 0) {
    const families = [...new Set(rewardNames.map((r) => r.replace(/\[\d+\]$/, '[k]')))].join(', ');
    throw new FitError(
      `the model has no reward family ${name}[k] to read the spectrum from (its rewards: ${families || 'none'})`,
      'model',
    );
  }
  const members: string[] = [];
  for (let k = 0; k < byIndex.size; k++) {
    const r = byIndex.get(k);
    if (r === undefined)
      throw new FitError(`the reward family ${name} has no ${name}[${k}]; an SFS family runs ${name}[0..n-2]`, 'model');
    members.push(r);
  }
  return members;
}

/**
 * log D! = log Γ(D + 1) for a count D ≥ 0: exact for D = 0 and 1, to full relative
 * precision below 1e-5 (where forming 1 + D would lose D itself), and within about
 * 1e-15 absolute above.
 */
export function logFactorial(d: number): number {
  if (d === 0 || d === 1) return 0;
  // log Γ(1 + d) = −γd + ζ(2)d²/2 − ζ(3)d³/3 + …: below 1e-5 the fourth term is under 1e-16 of the first.
  if (d < 1e-5) return d * (-EULER_GAMMA + d * (Math.PI ** 2 / 12 - d * (ZETA_3 / 3)));
  return logGamma(d + 1);
}

const EULER_GAMMA = 0.5772156649015329;
const ZETA_3 = 1.2020569031595942;

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 1e-15 absolute near 1 and 2, relative elsewhere). */
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
    12.507343278686905, -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = c[0];
  for (let i = 1; i < 9; i++) sum += c[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

export interface SfsValue {
  /** Poisson log-likelihood at the profiled scale (−∞ when a used entry with data expects 0). */
  loglik: number;
  /**
   * Σ p_i log(p_i / q_i) over used entries with data, p the observed and q the expected
   * proportions: (saturated − profiled log-likelihood) / sites, the fit's objective.
   */
  divergence: number;
  /**
   * Σ of the absolute values of loglik's terms: loglik is their sum, so its rounding
   * error is some units in the last place of this, not of loglik (at 10¹⁶ sites terms
   * of 10¹⁸ cancel to −64).
   */
  terms: number;
  /** The mutation scale s: entry i expects s·e_i sites. */
  scale: number;
  /** Per entry 0..n: s·e_i where the model predicts the entry, null elsewhere. */
  expected: Array<number | null>;
  /** d loglik / dθ_j for each parameter j of `branchGradient`, when given. */
  gradient?: number[];
}

/**
 * The fewest segregating sites (Σ of the used counts) the fit takes. The gradient of
 * the log-likelihood is the sites times a per-site gradient, and the information the
 * difference of two such gradients 1e-5 apart: at 1e-307 sites it fell below the least
 * normal double, and the two-deme example's mig was called "not identifiable"; at
 * 1e-320 the estimate itself moved in its third digit. 1e-200 keeps a hundred orders
 * of magnitude of room; no spectrum is that small but by a scaling the fit ignores.
 */
const MIN_SITES = 1e-200;

/**
 * log Γ(d + 1) − d log d + d, Stirling's remainder, for d > 0: ½ log(2πd) + 1/(12d) −
 * 1/(360d³) from d = 1000 (the next term is below 1e-24 there), else directly.
 */
function stirlingRemainder(d: number): number {
  if (d < 1000) return logFactorial(d) - d * Math.log(d) + d;
  return 0.5 * Math.log(2 * Math.PI * d) + 1 / (12 * d) - 1 / (360 * d ** 3);
}

/** A spectrum checked against a model's SFS family, ready to be evaluated many times. */
export class SfsLikelihood {
  /** Entries (derived or minor allele counts) that are data. */
  readonly used: number[];
  /** Σ of the used counts: the number of segregating sites fitted. */
  readonly sites: number;
  private readonly constant: number;

  constructor(
    readonly spectrum: Spectrum,
    readonly family: string,
    familySize: number,
  ) {
    const n = spectrum.n;
    if (familySize !== n - 1)
      throw new FitError(
        `the spectrum has ${n + 1} entries (n = ${n} samples) but the model's reward family ${family} has ` +
          `${familySize} members, ${family}[0..${familySize - 1}], which is n = ${familySize + 1}: ` +
          `the .fs file needs ${familySize + 2} entries (or give the model's sample size as ${n}: the constant that sets it, e.g. --set n=${n} where it is called n)`,
        'data',
      );
    const last = spectrum.folded ? Math.floor(n / 2) : n - 1;
    this.used = [];
    for (let i = 1; i <= last; i++) if (!spectrum.mask[i]) this.used.push(i);
    if (this.used.length === 0)
      throw new FitError(
        `every polymorphic entry of the spectrum is masked (entries 0 and ${n} are monomorphic and never used): there is nothing to fit`,
        'data',
      );
    if (this.used.length === 1)
      throw new FitError(
        `only entry ${this.used[0]} of the spectrum is unmasked: with the scale profiled out one entry has proportion 1 whatever the parameters, so it carries no information`,
        'data',
      );
    this.sites = this.used.reduce((a, i) => a + spectrum.counts[i], 0);
    if (!(this.sites > 0))
      throw new FitError('the unmasked entries of the spectrum are all 0: no segregating sites to fit', 'data');
    if (!Number.isFinite(this.sites))
      throw new FitError(
        `the unmasked counts add up to more than ${Number.MAX_VALUE.toPrecision(3)}, the largest number a double holds`,
        'data',
      );
    if (this.sites < MIN_SITES)
      throw new FitError(
        `the unmasked counts add up to ${this.sites.toPrecision(3)}, below ${MIN_SITES}: the fit's derivatives ` +
          '(the sites times their values per site) would fall below what a double holds and its standard ' +
          'errors would be noise; multiply every count by one factor, e.g. 1e300, which changes no estimate',
        'data',
      );
    this.constant = this.used.reduce((a, i) => a + logFactorial(spectrum.counts[i]), 0);
  }

  /** e_i for entries 0..n from E[NAME[0..n-2]] (branch[k] belongs to entry k+1), folded when the data are. */
  entryExpectations(branch: readonly number[]): number[] {
    const n = this.spectrum.n;
    const e = new Array<number>(n + 1).fill(0);
    for (let k = 0; k < n - 1; k++) {
      const i = this.spectrum.folded ? Math.min(k + 1, n - k - 1) : k + 1;
      e[i] += branch[k];
    }
    return e;
  }

  /**
   * The log-likelihood at branch-length expectations `branch` (E[NAME[k]]), and its
   * gradient when `branchGradient[j][k]` = dE[NAME[k]]/dθ_j is given. Finite inputs
   * with a used entry that expects 0 but has data give loglik −∞.
   */
  evaluate(branch: readonly number[], branchGradient?: readonly (readonly number[])[]): SfsValue {
    const { counts, n } = this.spectrum;
    const e = this.entryExpectations(branch);
    let total = 0;
    let largest = 0;
    for (const i of this.used) {
      total += e[i];
      largest = Math.max(largest, e[i]);
    }
    const scale = this.sites / total;
    // loglik = Σ D_i log(s e_i) − s Σ e_i − Σ log D_i! with s Σ e_i = Σ D_i, and
    // s e_i = D p_i with the proportion p_i = e_i / Σ e_j. Written with p_i, taken
    // relative to the largest e_i: s itself overflows when the branches are tiny (a
    // rate near a double's top) or the counts huge, and log(∞) made such a θ look
    // infinitely likely, so that a fit was refused as a plateau.
    let relativeTotal = 0;
    for (const i of this.used) relativeTotal += e[i] / largest;
    const proportion = (i: number) => e[i] / largest / relativeTotal;
    const logSites = Math.log(this.sites);
    let loglik = -this.sites - this.constant;
    let divergence = 0;
    let terms = this.sites + Math.abs(this.constant);
    for (const i of this.used) {
      const d = counts[i];
      if (d === 0) continue;
      const term = d * (logSites + Math.log(proportion(i)));
      loglik += term;
      terms += Math.abs(term);
      // A ratio near 1 at the optimum: its log keeps the small differences a line search compares.
      const p = d / this.sites;
      divergence += p * Math.log(p / proportion(i));
    }
    if (Number.isNaN(loglik) || (loglik === -Infinity && Number.isFinite(divergence))) {
      // Counts near a double's top (1e305 each): Σ log D_i! and Σ D_i log(s e_i) pass the
      // largest double though their difference does not, and the log-likelihood came out
      // −∞ or NaN with status 0. Entry by entry, D_i log(s e_i) − s e_i − log D_i! is
      // D_i log(s e_i / D_i) + D_i − s e_i − R(D_i) with R Stirling's remainder; the middle
      // terms sum to 0 at the profiled scale and the first to −sites × divergence.
      // Only here, so that every other log-likelihood keeps its bits.
      loglik = -this.sites * divergence;
      terms = Math.abs(loglik);
      for (const i of this.used)
        if (counts[i] > 0) {
          const r = stirlingRemainder(counts[i]);
          loglik -= r;
          terms += Math.abs(r);
        }
    }
    const predicted = new Set(this.spectrum.folded ? range(1, Math.floor(n / 2)) : range(1, n - 1));
    const expected = e.map((_, i) => (predicted.has(i) ? this.sites * proportion(i) : null));
    if (!branchGradient) return { loglik, divergence, terms, scale, expected };
    // d/dθ: Σ D_i e_i'/e_i − D Σ e_i' / Σ e_i (the scale's own derivative cancels).
    const gradient = branchGradient.map((dBranch) => {
      const de = this.entryExpectations(dBranch);
      let dTotal = 0;
      let g = 0;
      for (const i of this.used) {
        dTotal += de[i];
        if (counts[i] > 0) g += (counts[i] * de[i]) / e[i];
      }
      return g - (this.sites * dTotal) / total;
    });
    return { loglik, divergence, terms, scale, expected, gradient };
  }
}

function range(from: number, to: number): number[] {
  const r: number[] = [];
  for (let i = from; i <= to; i++) r.push(i);
  return r;
}
