// Fitting a site frequency spectrum (docs/engine.md, "Fitting an SFS") through the
// real addon and the real CLI. Every number the fit reports is checked against one
// computed here without it: the log-likelihood and the expected spectrum from
// Kingman's closed form E[xi[k]] = 2 / ((k+1)·theta) and a Poisson likelihood written
// out in this file; the two-deme model's branch lengths against a dense solve of its
// exported graph; the likelihood gradient against central differences of that
// log-likelihood; estimates against the parameters a spectrum was made from; and
// the 95% intervals against their coverage over 100 spectra simulated here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { PublicFit } from '../../extension/cli/contract';
import { Engine } from '../../extension/engine/engine';
import { type FitEngine, type FitRequest, fitSfs, startingPoints } from '../../extension/fit/fit';
import { FitError, logFactorial as fitLogFactorial, SfsLikelihood } from '../../extension/fit/likelihood';
import { parseSfs, SfsFileError, type Spectrum } from '../../extension/fit/sfsFile';
import { compileModel } from '../../extension/language';
import { random } from '../random';
import { type PhasicGraph, reference } from './dense';
import {
  assertClose,
  assertOnlyCachesHoldMemory,
  CLI,
  ROOT,
  TWO_DEME_DATA,
  TWO_DEME_SFS,
  tempDir,
  twoDemeFitArgs,
} from './helpers';

const dir = tempDir('fit');
const cacheDir = tempDir('fit-cache');
const engine = new Engine();
engine.configure({ cacheDir: '' });
after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

const KINGMAN_SFS = join(ROOT, 'examples', 'kingman_sfs.phasic');

function compiled(file: string, overrides: Record<string, number> = {}): string {
  const { model, diagnostics } = compileModel(readFileSync(file, 'utf8'), 'model.phasic', overrides);
  assert.ok(model, diagnostics.map((d) => d.message).join('\n'));
  return JSON.stringify(model);
}

function spectrum(counts: number[], options: { folded?: boolean; mask?: boolean[] } = {}): Spectrum {
  const n = counts.length - 1;
  return {
    n,
    folded: options.folded ?? false,
    labels: [],
    counts,
    mask: options.mask ?? counts.map((_, i) => i === 0 || i === n),
  };
}

/** The .fs text of a spectrum, corners masked unless told otherwise. */
function fsText(counts: number[], options: { folded?: boolean; mask?: boolean[] } = {}): string {
  const n = counts.length - 1;
  const mask = options.mask ?? counts.map((_, i) => i === 0 || i === n);
  return `${n + 1} ${options.folded ? 'folded' : 'unfolded'}\n${counts.join(' ')}\n${mask.map((m) => (m ? 1 : 0)).join(' ')}\n`;
}

function fsFile(name: string, text: string): string {
  const file = join(dir, `${name}.fs`);
  writeFileSync(file, text);
  return file;
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cliFit(args: string[]): PublicFit {
  const r = cli(['fit', ...args, '--json', '--cache-dir', cacheDir]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout) as PublicFit;
}

// ---- independent pieces: log n!, the Poisson likelihood at the profiled scale, Poisson draws ----

function logFactorial(d: number): number {
  assert.ok(Number.isInteger(d) && d >= 0);
  let s = 0;
  for (let k = 2; k <= d; k++) s += Math.log(k);
  return s;
}

/**
 * Σ over used entries of the Poisson log-probability of D_i with mean s·e_i, s the
 * scale that maximizes it (Σ D / Σ e), e_i folded from the branch lengths when asked.
 */
function poissonLoglik(branch: number[], counts: number[], used: number[], folded: boolean): number {
  const n = counts.length - 1;
  const e = (i: number) => (folded && i !== n - i ? branch[i - 1] + branch[n - i - 1] : branch[i - 1]);
  const D = used.reduce((a, i) => a + counts[i], 0);
  const s = D / used.reduce((a, i) => a + e(i), 0);
  return used.reduce((a, i) => a - s * e(i) + counts[i] * Math.log(s * e(i)) - logFactorial(counts[i]), 0);
}

/** Kingman's expected branch lengths ancestral to k+1 of n samples: 2 / ((k+1)·theta). */
function kingmanBranches(n: number, theta: number): number[] {
  return Array.from({ length: n - 1 }, (_, k) => 2 / ((k + 1) * theta));
}

/** A Poisson draw of mean `mean`, as a sum of draws of mean ≤ 20 (Knuth's method is exact for each). */
function poisson(rand: () => number, mean: number): number {
  let total = 0;
  for (let left = mean; left > 0; left -= 20) {
    const limit = Math.exp(-Math.min(left, 20));
    let k = 0;
    for (let p = rand(); p > limit; p *= rand()) k++;
    total += k;
  }
  return total;
}

/** E[NAME[k]] at `params` by the engine (one cached run per model text). */
async function branchesAt(text: string, params: Record<string, number>, n: number): Promise<number[]> {
  const run = await engine.run(text, { moments: 1, params });
  return Array.from({ length: n - 1 }, (_, k) => Number(run.moments[`xi[${k}]`][0]));
}

// ---- the .fs reader ----

describe('the .fs reader', () => {
  it('reads the header, counts and mask of every variant dadi writes', () => {
    const full = parseSfs('# written by dadi\n# second comment\n5 folded "pop A"\n0 3.5 2 0 0\n1 0 0 1 1\n');
    assert.deepEqual(full, {
      n: 4,
      folded: true,
      labels: ['pop A'],
      counts: [0, 3.5, 2, 0, 0],
      mask: [true, false, false, true, true],
    });
    // No label, no mask line: nothing masked.
    assert.deepEqual(parseSfs('4 unfolded\n1 2 3 4\n'), {
      n: 3,
      folded: false,
      labels: [],
      counts: [1, 2, 3, 4],
      mask: [false, false, false, false],
    });
    // dadi's older format: the number of entries alone means unfolded.
    assert.equal(parseSfs('4\n1 2 3 4\n').folded, false);
    // Comments and blank lines anywhere, CRLF line ends, a byte order mark, tabs, exponents.
    const messy = parseSfs(
      '\uFEFF# c\r\n\r\n4   unfolded\t"x"\r\n# between\r\n  1e2\t2 3E0 4  \r\n\r\n0 1 0 1\r\n# end\r\n',
    );
    assert.deepEqual(messy.counts, [100, 2, 3, 4]);
    assert.deepEqual(messy.mask, [false, true, false, true]);
    assert.deepEqual(messy.labels, ['x']);
    // A masked entry may hold numpy's nan or inf.
    assert.ok(Number.isNaN(parseSfs('3 unfolded\nnan 1 inf\n1 0 1\n').counts[0]));
    // A folded spectrum's upper half may be zero and unmasked.
    assert.deepEqual(parseSfs('5 folded\n0 1 2 0 0\n').counts, [0, 1, 2, 0, 0]);
  });

  const bad: Array<[string, string, RegExp, number | undefined]> = [
    ['an empty file', '# only a comment\n\n', /empty/, undefined],
    ['no counts line', '4 unfolded\n', /counts line is missing/, 1],
    ['too few counts', '4 unfolded\n1 2 3\n', /counts line has 3 entries, but the first line says 4/, 2],
    ['too many counts', '4 unfolded\n1 2 3 4 5\n', /has 5 entries/, 2],
    // Decision 115: no model has a family this large; the counts line is then never split.
    [
      'more entries than any reward family can have',
      `${2 ** 20 + 3} unfolded\n1 2 3\n`,
      /^the first line says 1048579 entries, more than the 1048578 a spectrum may have/,
      1,
    ],
    [
      'a first line of many words',
      `4 unfolded ${'"p" '.repeat(15)}\n1 2 3 4\n`,
      /^the first line has more than 16 words/,
      1,
    ],
    ['a non-numeric count', '4 unfolded\n1 2 x 4\n', /entry 2: 'x' is not a number/, 2],
    ['a count with trailing text', '4 unfolded\n1 2 3abc 4\n', /'3abc' is not a number/, 2],
    ['a negative count', '4 unfolded\n1 -2 3 4\n', /entry 1: the count -2 is negative/, 2],
    ['nan in an unmasked entry', '4 unfolded\n1 nan 3 4\n1 0 0 1\n', /entry 1: NaN is not a finite count/, 2],
    ['a mask value that is not 0 or 1', '4 unfolded\n1 2 3 4\n1 2 0 1\n', /mask entry 1: '2'/, 3],
    ['a short mask', '4 unfolded\n1 2 3 4\n1 0 1\n', /mask line has 3 entries/, 3],
    ['a two-population spectrum', '3 4 unfolded "a" "b"\n1 2 3\n', /2-population spectrum \(3 × 4\)/, 1],
    ['one sample', '2 unfolded\n1 2\n', /n ≥ 2/, 1],
    [
      'no entries, without inventing an n',
      '0 unfolded\n\n',
      /^the first line says 0 entries; a spectrum of n samples has n \+ 1 entries and needs n ≥ 2, so 3 or more$/,
      1,
    ],
    [
      'a size past 2^53, quoted as written',
      '99999999999999999999999 unfolded\n1 2 3\n',
      // Past every family's length since decision 115: refused on its own line, still as written.
      /^the first line says 99999999999999999999999 entries, more than the 1048578 a spectrum may have/,
      1,
    ],
    ['a size that is not a number', 'ten unfolded\n1 2\n', /'ten' is not a number of entries/, 1],
    ['two labels', '4 unfolded "a" "b"\n1 2 3 4\n', /2 population labels for one population/, 1],
    ['an unclosed label', '4 unfolded "pop\n1 2 3 4\n', /label is not closed/, 1],
    ['a word after the keyword', '4 unfolded pop\n1 2 3 4\n', /unexpected 'pop' after 'unfolded'/, 1],
    ['a line after the mask', '4 unfolded\n1 2 3 4\n1 0 0 1\n5 5 5 5\n', /unexpected line after the mask/, 4],
    [
      'a folded file with upper counts',
      '5 folded\n0 1 2 3 0\n1 0 0 0 1\n',
      /entry 3: a folded spectrum counts minor alleles, 0..2/,
      2,
    ],
  ];
  for (const [what, text, message, line] of bad)
    it(`refuses ${what}, naming the line`, () => {
      assert.throws(
        () => parseSfs(text),
        (e: unknown) => {
          assert.ok(e instanceof SfsFileError, String(e));
          assert.match(e.message, message);
          assert.equal(e.line, line);
          return true;
        },
      );
    });

  // Decision 96: a count is read as a typed number is (decision 86). 1e-400 read as 0 and
  // 1e400 as Infinity (masked: taken; unmasked: "Infinity is not a finite count"), with
  // no word of what was written; a UTF-16 file's first line read as '\ufffd\ufffd4\0'.
  const misread: Array<[string, string, RegExp, number, number]> = [
    [
      'a count that reads as 0',
      '4 unfolded\n1 2 1e-400 4\n',
      /^entry 2: '1e-400' is too small for a double .* write 0 if 0 is meant$/,
      2,
      5,
    ],
    [
      'a masked count that reads as 0',
      '4 unfolded\n  1e-400 2 3 4\n1 0 0 1\n',
      /^entry 0: '1e-400' is too small/,
      2,
      3,
    ],
    [
      'a count that reads as Infinity',
      '4 unfolded\n1\t1e400 3 4\n',
      /^entry 1: '1e400' is too large for a double/,
      2,
      3,
    ],
    [
      'a masked count that reads as Infinity',
      '4 unfolded\n1 2 3 -1e999\n0 0 0 1\n',
      /^entry 3: '-1e999' is too large/,
      2,
      7,
    ],
    ['a hexadecimal count', '4 unfolded\n1 0x10 3 4\n', /^entry 1: '0x10' is not a number$/, 2, 3],
    [
      'digits with separators',
      '4 unfolded\n1 1_000 3 4\n',
      /^entry 1: '1_000' is not a number \(digits are written without separators\)$/,
      2,
      3,
    ],
    ['a decimal comma', '4 unfolded\n1 2,5 3 4\n', /^entry 1: '2,5' is not a number \(the decimal point is '\.'/, 2, 3],
    ['a NUL in a count', '4 unfolded\n1 2\u0000 3 4\n', /NUL character.*save it as UTF-8/, 2, 4],
    [
      'a UTF-16 file',
      Buffer.from('\ufeff4 unfolded\n1 2 3 4\n', 'utf16le').toString('utf8'),
      /NUL character.*UTF-16/,
      1,
      4,
    ],
    ['a negative count', '4 unfolded\n1 2  -3 4\n', /^entry 2: the count -3 is negative$/, 2, 6],
    ['a mask value that is not 0 or 1', '4 unfolded\n1 2 3 4\n1 0 0 x\n', /^mask entry 3: 'x'/, 3, 7],
  ];
  for (const [what, text, message, line, column] of misread)
    it(`refuses ${what}, naming its line and column`, () => {
      assert.throws(
        () => parseSfs(text),
        (e: unknown) => {
          assert.ok(e instanceof SfsFileError, String(e));
          assert.match(e.message, message);
          assert.deepEqual([e.line, e.column], [line, column]);
          return true;
        },
      );
    });

  it('reads a count as numpy does where it reads as written: a sign, a bare point, a zero of any exponent', () => {
    assert.deepEqual(parseSfs('4 unfolded\n+5 5. .5 0e-400\n').counts, [5, 5, 0.5, 0]);
    assert.deepEqual(parseSfs('3 unfolded\n4.9e-324 1e308 0.000e-999\n').counts, [5e-324, 1e308, 0]);
    // Commas between entries make one word; the count's message says so.
    assert.throws(() => parseSfs('4 unfolded\n1,2,3,4\n'), /has 1 entries, .*separated by blanks, not commas/);
  });
});

// ---- the likelihood against the closed form ----

describe('the SFS likelihood', () => {
  const n = 6;
  const counts = [0, 40, 22, 13, 11, 7, 0];
  const used = [1, 2, 3, 4, 5];

  it('is the Poisson log-likelihood at the profiled scale, its expected spectrum s·E[xi[k]]', () => {
    const branch = kingmanBranches(n, 1);
    const v = new SfsLikelihood(spectrum(counts), 'xi', n - 1).evaluate(branch);
    assertClose(v.loglik, poissonLoglik(branch, counts, used, false), 1e-13, 'loglik');
    const sites = 93;
    const harmonic = 1 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5;
    assertClose(v.scale, sites / (2 * harmonic), 1e-14, 'scale');
    assert.deepEqual(
      v.expected.map((e) => (e === null ? null : Number((e * harmonic).toFixed(9)))),
      [null, sites, sites / 2, sites / 3, sites / 4, sites / 5, null].map((x) =>
        x === null ? null : Number(x.toFixed(9)),
      ),
    );
  });

  it('folds the expectation for folded data, and leaves masked entries out', () => {
    const branch = kingmanBranches(n, 1);
    const folded = [0, 47, 33, 13, 0, 0, 0];
    const v = new SfsLikelihood(spectrum(folded, { folded: true }), 'xi', n - 1).evaluate(branch);
    assertClose(v.loglik, poissonLoglik(branch, folded, [1, 2, 3], true), 1e-13, 'folded loglik');
    // Entry 1 folds 1 and 5 derived alleles, 2 folds 2 and 4, 3 is the middle once.
    const ratio = (v.expected[1] as number) / (v.expected[3] as number);
    assertClose(ratio, (1 + 1 / 5) / (1 / 3), 1e-13, 'folded proportions');
    assert.deepEqual([v.expected[0], v.expected[4], v.expected[5], v.expected[6]], [null, null, null, null]);
    const mask = [true, false, true, false, false, false, true];
    const m = new SfsLikelihood(spectrum(counts, { mask }), 'xi', n - 1).evaluate(branch);
    assertClose(m.loglik, poissonLoglik(branch, counts, [1, 3, 4, 5], false), 1e-13, 'masked loglik');
    assert.equal(
      [1, 3, 4, 5].reduce((a, i) => a + (m.expected[i] as number), 0),
      [1, 3, 4, 5].reduce((a, i) => a + counts[i], 0),
      'the profiled scale makes the expected sites of the used entries the observed ones',
    );
  });

  it('takes log D! exactly at 0 and 1, and to full precision for counts far below 1', () => {
    assert.equal(fitLogFactorial(0), 0);
    assert.equal(fitLogFactorial(1), 0);
    // log Γ(1 + d) by mpmath at 40 digits; below 1e-16 it is −γd to every digit a double holds.
    const reference: Array<[number, number]> = [
      [1e-300, -5.772156649015329e-301],
      [1e-100, -5.772156649015329e-101],
      [1e-7, -5.772155826548335e-8],
      [9.99e-6, -0.000005766302410473613],
      [1.1e-5, -0.000006349272795939126],
      [1e-3, -0.0005763935982833696],
      [0.5, -0.12078223763524522],
      [1.5, 0.2846828704729192],
      [2, Math.LN2],
      [100.5, 366.04569819527677],
      [1e6, 12815518.38465817],
    ];
    // The series is relative 1e-15; Lanczos, from 1e-5 up, about 1e-15 absolute near log Γ's zeros.
    for (const [d, value] of reference) {
      const error = Math.abs(fitLogFactorial(d) - value);
      const bound = d < 1e-5 ? 1e-15 * Math.abs(value) : 2e-15 * Math.max(1, Math.abs(value));
      assert.ok(error <= bound, `log ${d}!: ${fitLogFactorial(d)} is ${error} from ${value}`);
    }
  });

  it("stays finite where the scale overflows: branches near a double's bottom, counts near its top", () => {
    // At theta = 1e307 every branch is ≈ 1e-307 and s = D / Σ e overflowed to ∞: the
    // log-likelihood came out +∞, so the plateau probe of a kingman fit found theta = 1e307
    // "higher" and refused the fit. The proportions, and so the likelihood, are theta's.
    const tiny = new SfsLikelihood(spectrum(counts), 'xi', n - 1).evaluate(kingmanBranches(n, 1e307));
    assertClose(tiny.loglik, poissonLoglik(kingmanBranches(n, 1), counts, used, false), 1e-12, 'loglik at theta=1e307');
    assertClose(tiny.expected[1] as number, 93 / (1 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5), 1e-12, 'expected entry 1');
    const huge = [0, 1e300, 1e300, 1e300, 1e300, 1e300, 0];
    const h = new SfsLikelihood(spectrum(huge), 'xi', n - 1);
    const at1 = h.evaluate(kingmanBranches(n, 1));
    const at1e9 = h.evaluate(kingmanBranches(n, 1e9));
    assert.ok(Number.isFinite(at1.loglik) && Number.isFinite(at1e9.loglik), `${at1.loglik}, ${at1e9.loglik}`);
    assertClose(at1e9.loglik, at1.loglik, 1e-12, 'huge counts: the same proportions, the same loglik');
    assert.ok(at1e9.expected.every((e) => e === null || Number.isFinite(e)));
  });

  it("keeps the log-likelihood of counts near a double's top finite: 1e305 sites per entry", () => {
    // Σ log D_i! and Σ D_i log(s e_i) both passed the largest double: the fit printed
    // "log-likelihood: -Infinity" (NaN from 1e306) with status 0. Scaled by c, the
    // log-likelihood is c times the unscaled one less its saturated value, plus
    // Stirling's remainders (½ log(2π c D_i) each, some thousands: below its rounding).
    const c = 1e305;
    const branch = kingmanBranches(n, 1).map((b, k) => b * (1 + k / 10));
    const v = new SfsLikelihood(spectrum(counts.map((x) => x * c)), 'xi', n - 1).evaluate(branch);
    const saturated = used.reduce(
      (a, i) => a + counts[i] * Math.log(counts[i]) - counts[i] - logFactorial(counts[i]),
      0,
    );
    assertClose(
      v.loglik,
      c * (poissonLoglik(branch, counts, used, false) - saturated),
      1e-12,
      'loglik at 1e305 × counts',
    );
    // Below the top it is computed as before: terms some 10⁵ times its size cancel there
    // (SfsValue.terms), so it agrees to about 1e-11.
    const below = new SfsLikelihood(spectrum(counts.map((x) => x * 1e300)), 'xi', n - 1).evaluate(branch);
    assertClose(below.loglik, 1e300 * (poissonLoglik(branch, counts, used, false) - saturated), 1e-10, 'at 1e300 ×');
  });

  it('gives −∞ when an entry with data expects no sites', () => {
    const branch = [1, 0, 0.5, 0.2, 0.1];
    assert.equal(new SfsLikelihood(spectrum(counts), 'xi', n - 1).evaluate(branch).loglik, -Infinity);
  });

  it('refuses data that do not fit the model or carry no information', () => {
    const refuses = (s: Spectrum, size: number, message: RegExp) =>
      assert.throws(
        () => new SfsLikelihood(s, 'xi', size),
        (e: unknown) => e instanceof FitError && e.about === 'data' && message.test(e.message),
      );
    refuses(
      spectrum([0, 1, 2, 3, 4, 0]),
      5,
      /has 6 entries \(n = 5 samples\).*xi\[0\.\.4\], which is n = 6.*needs 7 entries/,
    );
    // Decision 115: the sample size's constant is the model's to name; "--set n=5" was given
    // as the thing to do, whatever the model called it.
    refuses(
      spectrum([0, 1, 2, 3, 4, 0]),
      5,
      /\(or give the model's sample size as 5: the constant that sets it, e\.g\. --set n=5 where it is called n\)$/,
    );
    refuses(spectrum(counts, { mask: counts.map(() => true) }), 5, /every polymorphic entry of the spectrum is masked/);
    refuses(spectrum(counts, { mask: counts.map((_, i) => i !== 2) }), 5, /only entry 2 .* is unmasked/);
    refuses(spectrum([5, 0, 0, 0, 0, 0, 9]), 5, /all 0: no segregating sites/);
    // At 1e-307 sites the information fell below the least normal double: the two-deme
    // example's mig was "not identifiable", and at 1e-320 its estimate moved.
    refuses(
      spectrum(counts.map((x) => x * 1e-210)),
      5,
      /add up to 9\.30e-209, below 1e-200: the fit's derivatives .* multiply every count by one factor/,
    );
  });
});

// ---- the fit through the engine ----

const twoDeme = compiled(TWO_DEME_SFS);

/** An engine that counts its calls: the fit must run the model once and then only evaluate. */
function counting(): { engine: FitEngine; calls: { run: number; evaluate: number; evaluateMany: number } } {
  const calls = { run: 0, evaluate: 0, evaluateMany: 0 };
  return {
    calls,
    engine: {
      run: (...a) => {
        calls.run++;
        return engine.run(...a);
      },
      evaluate: (...a) => {
        calls.evaluate++;
        return engine.evaluate(...a);
      },
      evaluateMany: (...a) => {
        calls.evaluateMany++;
        return engine.evaluateMany(...a);
      },
    },
  };
}

describe('the expected spectrum of the two-deme example', () => {
  it('is the dense solve of its exported graph', async () => {
    const graph = JSON.parse(await engine.exportPhasicJson(twoDeme)) as PhasicGraph;
    const dense = reference(graph, [1, 0.3], 1);
    const engineBranches = await branchesAt(twoDeme, { mig: 0.3 }, 10);
    // The exported graph's rewards are the state cells; s[i][k] is cell k + 10·i, and
    // xi[k] = s[0][k] + s[1][k] adds up by linearity of expectation.
    const cell = (c: number) => Number(dense.moments[`s${c}`][0]);
    engineBranches.forEach((b, k) => assertClose(b, cell(k) + cell(k + 10), 1e-10, `E[xi[${k}]]`));
  });
});

describe('fitting a spectrum', () => {
  const n = 10;

  it('fits a spectrum of rounded expected counts back to its parameter, with one run', async () => {
    const truth = 0.7;
    const branch = await branchesAt(twoDeme, { mig: truth }, n);
    const total = branch.reduce((a, b) => a + b, 0);
    const counts = [0, ...branch.map((b) => Math.round((1e6 * b) / total)), 0];
    const { engine: counted, calls } = counting();
    const progress: number[] = [];
    const r = await fitSfs(counted, {
      engineText: twoDeme,
      spectrum: spectrum(counts),
      sfsReward: 'xi',
      fit: ['mig'],
      start: { mig: 0.1 },
      onProgress: (p) => progress.push(p.loglik),
    });
    // Rounding moves each count by at most 0.5 of ~10⁵: the estimate by far less than 1e-4.
    assertClose(r.estimates.mig, truth, 1e-4, 'mig');
    assert.ok(r.converged);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.params.coal, 1, 'a parameter not fitted keeps its default');
    assert.equal(calls.run, 1, 'the model is explored once');
    assert.equal(calls.evaluateMany, 1, 'the information is one batch');
    assert.ok(calls.evaluate >= r.iterations, 'each step evaluates the cached trace');
    assert.ok(progress.length === r.iterations && progress.length > 0);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1] - 1e-9, 'loglik never falls');
    // Observed counts back; expected ones from the fitted proportions at the fitted scale.
    assert.deepEqual(r.observed, [null, ...counts.slice(1, n), null]);
    const fitted = await branchesAt(twoDeme, { mig: r.estimates.mig }, n);
    fitted.forEach((b, k) => assertClose(r.expected[k + 1] as number, r.scale * b, 1e-12, `expected[${k + 1}]`));
    // Sums of ~10⁷ in the loglik of −59 leave the last digits to rounding (logFactorial above).
    assertClose(
      r.loglik,
      poissonLoglik(
        fitted,
        counts,
        [...Array(n - 1).keys()].map((k) => k + 1),
        false,
      ),
      1e-7,
      'loglik',
    );
    // The standard error: 1 / sqrt(information), the information from differences of the loglik here.
    const h = 1e-3 * r.estimates.mig;
    const ll = async (m: number) =>
      poissonLoglik(
        await branchesAt(twoDeme, { mig: m }, n),
        counts,
        [...Array(n - 1).keys()].map((k) => k + 1),
        false,
      );
    const m0 = r.estimates.mig;
    const info = -((await ll(m0 + h)) - 2 * (await ll(m0)) + (await ll(m0 - h))) / (h * h);
    assertClose(r.stderr.mig, 1 / Math.sqrt(info), 1e-4, 'stderr');
    assertOnlyCachesHoldMemory(engine);
  });

  it('fits counts of 1e-100 as it fits the same counts unscaled: same estimate, standard error 1e50 times', async () => {
    const counts = [0, 587, 314, 245, 198, 260, 141, 100, 81, 70, 0];
    const c = 1e-100;
    const fitCounts = (k: number[]) =>
      fitSfs(engine, { engineText: twoDeme, spectrum: spectrum(k), sfsReward: 'xi', fit: ['mig'] });
    const whole = await fitCounts(counts);
    const tiny = await fitCounts(counts.map((x) => x * c));
    assert.ok(tiny.converged, 'the objective does not drown in the constant terms');
    assert.deepEqual(tiny.warnings, []);
    assertClose(tiny.estimates.mig, whole.estimates.mig, 1e-9, 'mig');
    assertClose(tiny.stderr.mig as number, (whole.stderr.mig as number) / Math.sqrt(c), 1e-6, 'stderr');
    // The Poisson log-likelihood at the profiled scale written out for these counts,
    // log Γ(1 + x) = −γx to double precision at x ≈ 1e-98.
    const branch = await branchesAt(twoDeme, { mig: tiny.estimates.mig }, n);
    const D = counts.reduce((a, x) => a + x * c, 0);
    const s = D / branch.reduce((a, b) => a + b, 0);
    const gamma = 0.5772156649015329;
    const expected = branch.reduce((a, b, k) => {
      const d = counts[k + 1] * c;
      return a + d * Math.log(s * b) - s * b + gamma * d;
    }, 0);
    assertClose(tiny.loglik, expected, 1e-9, 'loglik');
  });

  it('fits two parameters at once: asymmetric migration rates', async () => {
    // Samples 2 + 6, a lineage leaves deme 0 at rate out0 and deme 1 at rate out1: both
    // shape the spectrum, unlike a common scale of all rates.
    const asymmetric = JSON.stringify(
      compileModel(
        [
          'model asymmetric_sfs',
          'const n = 8',
          'param coal = 1.0',
          'param out0 = 1.0',
          'param out1 = 1.0',
          'state s[2][n]',
          'init s[0][0] = 2',
          'init s[1][0] = 6',
          'absorb when sum(s) <= 1',
          'rule coalesce',
          '  for i in 0..1, k1 in 0..n-1, k2 in k1..n-1',
          '  let same = if k1 == k2 then 1 else 0',
          '  when s[i][k1] >= 1 + same and s[i][k2] >= 1 and k1 + k2 + 1 <= n - 1',
          '  rate coal * s[i][k1] * (s[i][k2] - same) / (1 + same)',
          '  do s[i][k1] -= 1; s[i][k2] -= 1; s[i][k1 + k2 + 1] += 1',
          'rule migrate',
          '  for i in 0..1, k in 0..n-1',
          '  when s[i][k] >= 1',
          '  rate (if i == 0 then out0 else out1) * s[i][k]',
          '  do s[i][k] -= 1; s[1 - i][k] += 1',
          'reward xi[k in 0..n-2] = s[0][k] + s[1][k]',
        ].join('\n'),
        'asymmetric.phasic',
        {},
      ).model,
    );
    const truth = { out0: 0.3, out1: 1.2 };
    const branch = await branchesAt(asymmetric, truth, 8);
    const counts = [0, ...branch.map((b) => Math.round(1e6 * b)), 0];
    const r = await fitSfs(engine, {
      engineText: asymmetric,
      spectrum: spectrum(counts),
      sfsReward: 'xi',
      fit: ['out0', 'out1'],
    });
    assert.ok(r.converged);
    assert.deepEqual(r.warnings, []);
    assertClose(r.estimates.out0, truth.out0, 1e-3, 'out0');
    assertClose(r.estimates.out1, truth.out1, 1e-3, 'out1');
    assert.ok(r.stderr.out0 > 0 && r.stderr.out0 < 0.05 && r.stderr.out1 > 0 && r.stderr.out1 < 0.05);
  });

  it('spreads its starting points deterministically within a factor 10 of the start', () => {
    const points = startingPoints([Math.log(0.5), Math.log(2)], 6);
    assert.deepEqual(points, startingPoints([Math.log(0.5), Math.log(2)], 6), 'the same points every time');
    assert.deepEqual(points[0], [Math.log(0.5), Math.log(2)]);
    const keys = new Set(points.map((p) => p.join(',')));
    assert.equal(keys.size, 6, 'no point repeats another, nor the start');
    for (const p of points) {
      assert.ok(Math.abs(p[0] - Math.log(0.5)) <= Math.log(10) + 1e-12);
      assert.ok(Math.abs(p[1] - Math.log(2)) <= Math.log(10) + 1e-12);
    }
    // One parameter: the spread covers both sides of the start.
    const one = startingPoints([0], 5).map(([x]) => x);
    assert.ok(one.some((x) => x < 0) && one.some((x) => x > 0));
  });

  it('fits from several starting points to the same maximum', async () => {
    const branch = await branchesAt(twoDeme, { mig: 0.25 }, n);
    const counts = [0, ...branch.map((b) => Math.round(1e5 * b)), 0];
    const one = await fitSfs(engine, {
      engineText: twoDeme,
      spectrum: spectrum(counts),
      sfsReward: 'xi',
      fit: ['mig'],
    });
    const five = await fitSfs(engine, {
      engineText: twoDeme,
      spectrum: spectrum(counts),
      sfsReward: 'xi',
      fit: ['mig'],
      starts: 5,
    });
    assertClose(five.estimates.mig, one.estimates.mig, 1e-6, 'mig');
    assertClose(five.estimates.mig, 0.25, 1e-4, 'mig');
    assert.deepEqual(five.warnings, []);
  });

  it('gives the exact gradient of the log-likelihood, unfolded, folded and masked', async () => {
    const theta = { coal: 1.3, mig: 0.4 };
    const counts = [0, 500, 300, 220, 200, 240, 120, 90, 70, 60, 0];
    const cases: Array<[string, Spectrum, number[], boolean]> = [
      ['unfolded', spectrum(counts), [1, 2, 3, 4, 5, 6, 7, 8, 9], false],
      ['folded', spectrum([0, 560, 390, 310, 320, 240, 0, 0, 0, 0, 0], { folded: true }), [1, 2, 3, 4, 5], true],
      [
        'masked',
        spectrum(counts, { mask: counts.map((_, i) => i === 0 || i === 2 || i >= 9) }),
        [1, 3, 4, 5, 6, 7, 8],
        false,
      ],
    ];
    const run = await engine.run(twoDeme, { moments: 1, params: theta, gradient: true });
    const branch = Array.from({ length: n - 1 }, (_, k) => Number(run.moments[`xi[${k}]`][0]));
    for (const [what, s, used, folded] of cases) {
      const gradient = ['coal', 'mig'].map((p) =>
        Array.from({ length: n - 1 }, (_, k) => Number(run.gradient?.[`xi[${k}]`][p][0])),
      );
      const v = new SfsLikelihood(s, 'xi', n - 1).evaluate(branch, gradient);
      for (const [j, p] of ['coal', 'mig'].entries()) {
        // Richardson-extrapolated central differences of the loglik written out here.
        const ll = async (d: number) =>
          poissonLoglik(
            await branchesAt(twoDeme, { ...theta, [p]: theta[p as 'coal'] + d }, n),
            s.counts,
            used,
            folded,
          );
        const central = async (h: number) => ((await ll(h)) - (await ll(-h))) / (2 * h);
        const h = 1e-3;
        const diff = (4 * (await central(h / 2)) - (await central(h))) / 3;
        assertClose(v.gradient?.[j] as number, diff, 1e-7, `${what}: dloglik/d${p}`);
      }
    }
  });

  it('fits a folded and a masked spectrum', async () => {
    const truth = 1.5;
    const branch = await branchesAt(twoDeme, { mig: truth }, n);
    const counts = [0, ...branch.map((b) => 1e5 * b), 0];
    const folded = counts.map((_, i) =>
      i === 0 || i > n / 2 ? 0 : i === n / 2 ? counts[i] : counts[i] + counts[n - i],
    );
    const f = await fitSfs(engine, {
      engineText: twoDeme,
      spectrum: spectrum(folded.map(Math.round), { folded: true }),
      sfsReward: 'xi',
      fit: ['mig'],
    });
    assertClose(f.estimates.mig, truth, 1e-4, 'folded mig');
    assert.deepEqual(
      f.expected.map((e) => e === null),
      [true, false, false, false, false, false, true, true, true, true, true],
    );
    // Masking entries 1 and 9 (the ones a misidentified ancestral allele confuses).
    const mask = counts.map((_, i) => i <= 1 || i >= 9);
    const m = await fitSfs(engine, {
      engineText: twoDeme,
      spectrum: spectrum(counts.map(Math.round), { mask }),
      sfsReward: 'xi',
      fit: ['mig'],
    });
    assertClose(m.estimates.mig, truth, 1e-4, 'masked mig');
    assert.deepEqual(
      m.observed.map((o) => o === null),
      mask,
    );
  });

  it('covers the true value with its 95% interval in at least 90 of 100 simulated spectra', async () => {
    const truth = 0.5;
    const branch = await branchesAt(twoDeme, { mig: truth }, n);
    const total = branch.reduce((a, b) => a + b, 0);
    const rand = random(20261202);
    let covered = 0;
    const estimates: number[] = [];
    for (let rep = 0; rep < 100; rep++) {
      const counts = [0, ...branch.map((b) => poisson(rand, (800 * b) / total)), 0];
      const r = await fitSfs(engine, {
        engineText: twoDeme,
        spectrum: spectrum(counts),
        sfsReward: 'xi',
        fit: ['mig'],
      });
      assert.ok(r.converged, `replicate ${rep}: ${r.warnings.join('; ')}`);
      assert.ok(Number.isFinite(r.stderr.mig) && r.stderr.mig > 0);
      estimates.push(r.estimates.mig);
      // The interval shown (CLI and Studio): Wald on the log scale.
      if (Math.abs(Math.log(r.estimates.mig / truth)) <= (1.959963984540054 * r.stderr.mig) / r.estimates.mig)
        covered++;
    }
    assert.ok(covered >= 90, `the 95% interval covered the truth in ${covered} of 100`);
    // And the estimates are about the truth, not all on one side.
    const mean = estimates.reduce((a, b) => a + b, 0) / estimates.length;
    assert.ok(Math.abs(mean - truth) < 0.1, `mean estimate ${mean}`);
  });

  it('warns, with an infinite standard error, for a parameter the spectrum does not identify', async () => {
    // Kingman's theta scales every branch alike: the proportions do not depend on it.
    const kingman = compiled(KINGMAN_SFS);
    const k = await fitSfs(engine, {
      engineText: kingman,
      spectrum: spectrum([0, 40, 22, 13, 11, 7, 0]),
      sfsReward: 'xi',
      fit: ['theta'],
      start: { theta: 2 },
    });
    assert.equal(k.stderr.theta, Infinity);
    assert.match(k.warnings.join('\n'), /theta is not identifiable from the spectrum/);
    // Its loglik is the closed form's, whatever theta.
    assertClose(
      k.loglik,
      poissonLoglik(kingmanBranches(6, 1), [0, 40, 22, 13, 11, 7, 0], [1, 2, 3, 4, 5], false),
      1e-12,
      'loglik',
    );
    // Only mig / coal enters the two-deme proportions: the pair is flat along a ray.
    const branch = await branchesAt(twoDeme, { mig: 0.5 }, n);
    const both = await fitSfs(engine, {
      engineText: twoDeme,
      spectrum: spectrum([0, ...branch.map((b) => Math.round(1e4 * b)), 0]),
      sfsReward: 'xi',
      fit: ['coal', 'mig'],
    });
    assert.deepEqual(both.stderr, { coal: Infinity, mig: Infinity });
    assert.match(both.warnings.join('\n'), /coal, mig are not identifiable separately/);
    // Said once, however many directions of the pair are flat.
    assert.equal(both.warnings.filter((w) => /not identifiable separately/.test(w)).length, 1);
    assertClose(both.estimates.mig / both.estimates.coal, 0.5, 1e-3, 'the identified ratio');
    // From mig = 1000 the pair ran together to mig / coal = 5.7e6, 56 below the maximum,
    // and was printed (twice "not identifiable separately") with status 0.
    await assert.rejects(
      fitSfs(engine, {
        engineText: twoDeme,
        spectrum: parseSfs(readFileSync(TWO_DEME_DATA, 'utf8')),
        sfsReward: 'xi',
        fit: ['coal', 'mig'],
        start: { mig: 1000 },
      }),
      (e: unknown) =>
        e instanceof FitError &&
        /flat in coal, mig together around coal=[\d.e+-]+, mig=[\d.e+-]+ but higher at (coal|mig)=[\d.e+-]+, the others as they are: .* no estimate/.test(
          e.message,
        ),
    );
  });

  it('says when the best fit is at a boundary: a panmictic spectrum sends mig to ∞', async () => {
    // Kingman's proportions 1/i are the two-deme model's limit as mig grows.
    const counts = [0, ...Array.from({ length: n - 1 }, (_, k) => Math.round(5000 / (k + 1))), 0];
    const r = await fitSfs(engine, { engineText: twoDeme, spectrum: spectrum(counts), sfsReward: 'xi', fit: ['mig'] });
    assert.ok(r.estimates.mig > 50, `mig ${r.estimates.mig}`);
    assert.equal(r.stderr.mig, Infinity);
    assert.match(r.warnings.join('\n'), /mig has no finite estimate: .* at mig → ∞/);
  });

  it('refuses a request the model cannot answer, naming what is missing', async () => {
    const base: FitRequest = {
      engineText: twoDeme,
      spectrum: spectrum([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]),
      sfsReward: 'xi',
      fit: ['mig'],
    };
    const refuses = async (request: Partial<FitRequest>, about: 'data' | 'model', message: RegExp) =>
      assert.rejects(
        fitSfs(engine, { ...base, ...request }),
        (e: unknown) => e instanceof FitError && e.about === about && message.test(e.message),
      );
    await refuses({ sfsReward: 'sfs' }, 'model', /no reward family sfs\[k\].*its rewards: time, tmrca, xi\[k\]/);
    await refuses({ fit: ['growth'] }, 'model', /no parameter growth \(its parameters: coal, mig\)/);
    await refuses({ start: { coal: 1 } }, 'model', /start value is given for coal, which is not fitted/);
    await refuses({ params: { mig: 0 } }, 'model', /start value of mig is 0/);
    await refuses({ spectrum: spectrum([0, 1, 2, 3, 4, 5, 6, 0]) }, 'data', /has 8 entries \(n = 7 samples\)/);
  });

  it('goes on, with the same numbers, when Clear Caches drops its trace mid-fit', async () => {
    const request: FitRequest = {
      engineText: twoDeme,
      spectrum: spectrum([0, 500, 300, 220, 200, 240, 120, 90, 70, 60, 0]),
      sfsReward: 'xi',
      fit: ['coal', 'mig'],
      start: { mig: 0.05 },
    };
    const undisturbed = await fitSfs(engine, request);
    // Clear Caches between two optimizer steps and before the information's batch, as
    // the engine process runs it between two evaluations. It failed the fit with "trace
    // no longer cached; run again".
    const { engine: counted, calls } = counting();
    const cleared: number[] = [];
    const clearing: FitEngine = {
      ...counted,
      evaluate: async (...a) => {
        if (calls.evaluate === 3) cleared.push((await engine.clearCaches()).traces);
        return counted.evaluate(...a);
      },
      evaluateMany: async (...a) => {
        if (calls.evaluateMany === 0) cleared.push((await engine.clearCaches()).traces);
        return counted.evaluateMany(...a);
      },
    };
    const r = await fitSfs(clearing, request);
    assert.ok(cleared.length === 2 && cleared.every((traces) => traces > 0), 'each clear freed the fit’s traces');
    assert.equal(calls.run, 3, 'recorded again after each clear');
    assert.deepEqual(
      [r.estimates, r.stderr, r.loglik, r.expected, r.iterations, r.warnings],
      [
        undisturbed.estimates,
        undisturbed.stderr,
        undisturbed.loglik,
        undisturbed.expected,
        undisturbed.iterations,
        undisturbed.warnings,
      ],
    );
    assertOnlyCachesHoldMemory(engine);
  });

  it('stops when its signal aborts', async () => {
    const stop = new AbortController();
    const { engine: counted, calls } = counting();
    await assert.rejects(
      fitSfs(counted, {
        engineText: twoDeme,
        spectrum: spectrum([0, 500, 300, 220, 200, 240, 120, 90, 70, 60, 0]),
        sfsReward: 'xi',
        fit: ['mig'],
        start: { mig: 0.01 },
        signal: stop.signal,
        onProgress: () => stop.abort('cancelled by the test'),
      }),
      (e: unknown) => e === 'cancelled by the test',
    );
    assert.equal(calls.evaluateMany, 0, 'nothing after the abort');
  });
});

// ---- the command line ----

describe('phasic-trace fit', () => {
  it('fits the example, and prints the contract', () => {
    const r = cliFit(twoDemeFitArgs());
    assert.deepEqual(Object.keys(r).sort(), [
      'converged',
      'estimates',
      'expected',
      'iterations',
      'loglik',
      'model',
      'observed',
      'params',
      'scale',
      'sites',
      'stderr',
      'timings_ms',
    ]);
    assert.ok(r.converged);
    // The example was simulated at mig = 0.3.
    assert.ok(Math.abs(r.estimates.mig - 0.3) < 2 * (r.stderr.mig as number), `mig ${r.estimates.mig}`);
    assert.deepEqual(r.observed, [null, 587, 314, 245, 198, 260, 141, 100, 81, 70, null]);
    assert.equal(r.sites, 1996);
  });

  it('takes --set, --param and --start, and writes a readable summary', () => {
    const counts = [0, 40, 22, 13, 11, 7, 5, 0];
    const data = fsFile('kingman7', fsText(counts));
    const r = cli([
      'fit',
      KINGMAN_SFS,
      '--data',
      data,
      '--sfs-reward',
      'xi',
      '--fit',
      'theta',
      '--set',
      'n=7',
      '--start',
      'theta=3',
      '--no-cache',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^kingman_sfs: fit to .*kingman7\.fs \(n = 7, unfolded, 98 sites in 6 entries\)$/m);
    assert.match(r.stdout, /^ {2}theta = 3 \(not identifiable: no standard error\)$/m);
    assert.match(r.stdout, /^entry {2}observed {2}expected$/m);
    assert.match(r.stderr, /^phasic-trace: warning: theta is not identifiable/m);
    const j = cliFit([KINGMAN_SFS, '--data', data, '--sfs-reward', 'xi', '--fit', 'theta', '--set', 'n=7']);
    assert.equal(j.stderr.theta, 'Infinity');
    assert.ok(j.warnings && j.warnings.length === 1);
    const harmonic = [1, 2, 3, 4, 5, 6].reduce((a, i) => a + 1 / i, 0);
    j.expected.slice(1, 7).forEach((e, k) => assertClose(e as number, 98 / (k + 1) / harmonic, 1e-12, `expected ${k}`));
    const p = cliFit(twoDemeFitArgs('--param', 'coal=2'));
    assert.equal(p.params.coal, 2);
    assertClose(p.estimates.mig, 2 * 0.312929735, 1e-6, 'mig scales with coal');
  });

  it('stops at --timeout', () => {
    // A chain of 10^8 states: minutes of exploration, so the run is what the timeout stops.
    const chain = join(dir, 'long_chain.phasic');
    writeFileSync(
      chain,
      'model long_chain\nstate x in 0..100000000 = 0\nrule step\n  when x < 100000000\n  rate 1\n  do x += 1\n' +
        'reward xi[k in 0..1] = 1\n',
    );
    const data = fsFile('three', fsText([0, 5, 3, 0]));
    const r = cli([
      'fit',
      chain,
      '--data',
      data,
      '--sfs-reward',
      'xi',
      '--fit',
      'x',
      '--no-cache',
      '--max-states',
      '200000000',
      '--timeout',
      '0.5',
      '--json',
    ]);
    assert.equal(r.status, 1, r.stderr + r.stdout);
    assert.equal(JSON.parse(r.stdout).error.message, 'the run took longer than --timeout 0.5 s and was stopped');
  });

  it('refuses a count written as more than 0 that reads as 0, at its file, line and column', () => {
    const data = fsFile('underflow', '# one count too small for a double\n4 unfolded\n0 5 1e-400 0\n1 0 0 1\n');
    const r = cli(['fit', KINGMAN_SFS, '--data', data, '--sfs-reward', 'xi', '--fit', 'theta', '--set', 'n=3']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal(
      r.stderr,
      `phasic-trace: ${data}:3:5: entry 2: '1e-400' is too small for a double (the least is 4.9e-324): it would read as 0; write 0 if 0 is meant\n`,
    );
  });

  it('refuses a data or model file that is a FIFO or a directory at once, naming what it is', () => {
    const fifo = join(dir, 'pipe.fs');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    // A FIFO without a writer used to block the open for ever: the guard turns a hang into a failure.
    const guarded = (args: string[]) =>
      spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
    for (const [args, file, what] of [
      [['fit', ...twoDemeFitArgs('--data', fifo)], fifo, 'a FIFO \\(named pipe\\)'],
      [['fit', ...twoDemeFitArgs('--data', dir)], dir, 'a directory'],
      [['fit', fifo, ...twoDemeFitArgs().slice(1)], fifo, 'a FIFO \\(named pipe\\)'],
      [['run', fifo, '--no-cache'], fifo, 'a FIFO \\(named pipe\\)'],
    ] as const) {
      const r = guarded([...args, '--no-cache']);
      assert.equal(r.signal, null, `${args.join(' ')} did not end`);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot read ${file}: it is ${what}, not a regular file`));
    }
    // Two symbolic links naming each other: said in words, the code kept for a search.
    const [a, b] = [join(dir, 'loop-a.phasic'), join(dir, 'loop-b.phasic')];
    symlinkSync(b, a);
    symlinkSync(a, b);
    const r = guarded(['run', a, '--no-cache']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /cannot read .*loop-a\.phasic: its symbolic links form a loop \(ELOOP\)/);
  });

  // Decision 115. A counts line of 10⁷ words was split whole into 10⁷ objects before its
  // length was compared: a 100 MB line filled Node's 4 GB heap and crashed after six
  // minutes (here, with a 256 MB heap, at once). And a count of a million digits and a
  // letter was matched against a pattern that tried every split of the digits: it took
  // half an hour to refuse (the guard turns that hang into a failure).
  it('refuses a counts line of ten million words or a count of a million digits at once, quoting it short', () => {
    const guarded = (data: string) =>
      spawnSync(
        process.execPath,
        ['--max-old-space-size=256', CLI, 'fit', ...twoDemeFitArgs('--data', data), '--no-cache'],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
    const long = guarded(fsFile('long-line', `11 unfolded\n${'1 '.repeat(10_000_000)}\n`));
    assert.equal(long.signal, null, long.stderr);
    assert.equal(long.status, 1, long.stderr);
    assert.match(
      long.stderr,
      /long-line\.fs:2: the counts line has 10000000 entries, but the first line says 11 \(n \+ 1\)\n$/,
    );
    const digits = guarded(fsFile('long-count', `11 unfolded\n0 1 ${'1'.repeat(1_000_000)}x 1 1 1 1 1 1 1 0\n`));
    assert.equal(digits.signal, null, 'a million digits and a letter did not end');
    assert.equal(digits.status, 1, digits.stderr);
    assert.match(digits.stderr, /long-count\.fs:2:5: entry 2: '1{30}… \(1000001 characters\)' is not a number\n$/);
  });

  it('keeps to the bounds a model declares: a start or --param outside is refused, an estimate outside is said', () => {
    // `param mig = 0.1 in 0..0.2`: the data's maximum, 0.31293, lies above the bound. The
    // fit printed it with status 0 and no word, started from mig = 5 when asked, and
    // `run --param mig=5` ran; the panel alone refused a value outside.
    const bounded = join(dir, 'bounded.phasic');
    writeFileSync(
      bounded,
      readFileSync(TWO_DEME_SFS, 'utf8').replace(/^param mig = .*$/m, 'param mig = 0.1 in 0..0.2'),
    );
    const args = [bounded, ...twoDemeFitArgs().slice(1), '--no-cache'];
    const fitted = cli(['fit', ...args]);
    assert.equal(fitted.status, 0, fitted.stderr);
    assert.match(fitted.stdout, /mig = 0\.31293 ±/);
    assert.match(
      fitted.stderr,
      /warning: the estimate mig=0\.31293 is above the bound 0\.2 the model declares \(mig in 0\.\.0\.2\): the likelihood is highest outside/,
    );
    const started = cli(['fit', ...args, '--start', 'mig=5']);
    assert.equal(started.status, 1, started.stdout);
    assert.equal(started.stdout, '');
    assert.match(
      started.stderr,
      /the start value mig=5 is above the bound 0\.2 the model declares \(mig in 0\.\.0\.2\)/,
    );
    for (const command of ['run', 'dist']) {
      const r = cli([command, bounded, '--param', 'mig=5', '--no-cache']);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, /--param mig=5 is above the bound 0\.2 the model declares \(mig in 0\.\.0\.2\)/);
    }
    // Inside the bounds nothing changes: the bound itself is allowed.
    assert.equal(cli(['run', bounded, '--param', 'mig=0.2', '--no-cache']).status, 0);
  });

  /** The example's fit of mig from a given start, without a cache. */
  const fitExampleFrom = (start: string) => cli(['fit', ...twoDemeFitArgs('--start', `mig=${start}`, '--no-cache')]);

  it('refuses a start where the log-likelihood has no finite gradient, instead of reporting the start as an estimate', () => {
    // At mig = 1e-300 the demes almost never exchange lineages: the branch lengths are
    // finite, but their derivatives are not. The optimizer used to stop at once and the
    // start came out as "mig = 1e-300, did not converge" with status 0.
    const r = fitExampleFrom('1e-300');
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no finite gradient at the start values \(mig=1e-300\).*--start/);
  });

  it('does not call a limit the best fit when the log-likelihood is higher elsewhere along the axis', () => {
    // From mig = 1000 the log-likelihood rises towards its limit at mig → ∞ (panmixia),
    // 46 below the maximum at mig = 0.313 past a dip near mig = 10. The optimizer climbed
    // to mig = 5.7e6, and the fit printed it with status 0 and "the best fit is at mig → ∞".
    const r = fitExampleFrom('1000');
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /the log-likelihood rises as mig grows from mig=1000 and levels off at mig → ∞, but it is higher at mig=0\.\d+: the optimizer ran to a limit that is not the best fit, so there is no estimate; start nearer the data/,
    );
    // The maximum itself, from below: the same data, the same model.
    assert.match(fitExampleFrom('1e-3').stdout, /mig = 0\.31293 ±/);
  });

  it('never asks the engine for a NaN parameter: a step to a point whose gradient is not finite is too far', () => {
    // From mig = 1e-150 the line search reached points where the engine's derivatives are
    // NaN though the log-likelihood is finite; one was taken as the next iterate, its NaN
    // gradient made the next step NaN, and the fit failed with "parameter mig must be
    // finite and >= 0, got NaN", a value the user never gave.
    const r = fitExampleFrom('1e-150');
    assert.doesNotMatch(r.stderr, /NaN/);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^did not converge \(\d+ iterations\)$/m);
    assert.match(r.stderr, /^phasic-trace: warning: the optimizer did not converge/m);
  });

  it('tells a flat parameter from a plateau at 10^16 sites and more, where rounding moves the log-likelihood by far more than 1', () => {
    // The log-likelihood is a sum of terms of ≈ sites · log(sites) that cancel: at 1.37e16
    // sites it read -64 with steps of 64, and the plateau probe's rise of 1 took such a step
    // for evidence: "flat in theta around theta=1 … but higher at theta=100000000000".
    for (const factor of [1e14, 1e20]) {
      const data = fsFile(`kingman-x${factor}`, fsText([0, 60, 30, 20, 15, 12, 0].map((c) => c * factor)));
      const r = cli(['fit', KINGMAN_SFS, '--data', data, '--sfs-reward', 'xi', '--fit', 'theta', '--no-cache']);
      assert.equal(r.status, 0, `×${factor}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^phasic-trace: warning: theta is not identifiable/m);
    }
    // A real plateau still is one with 10^12 times the example's sites.
    const text = readFileSync(join(ROOT, 'examples', 'two_deme_sfs.fs'), 'utf8')
      .split('\n')
      .map((line) => (/^0 587 /.test(line) ? line.replace(/\d+/g, (c) => String(Number(c) * 1e12)) : line))
      .join('\n');
    const big = fsFile('two-deme-x1e12', text);
    const p = cli(['fit', ...twoDemeFitArgs('--data', big, '--start', 'mig=1e150', '--no-cache')]);
    assert.equal(p.status, 1, p.stdout + p.stderr);
    assert.match(
      p.stderr,
      /flat in mig around mig=1e\+150 .* but higher at mig=1: the optimizer stopped on that plateau/,
    );
  });

  it('blames the model for a branch that is infinite at the start, and the data for sites the model cannot have', () => {
    // coal = 0: the lineages never meet, every branch is infinite. That was reported at
    // the .fs file, as if the spectrum were wrong.
    const r = cli(['fit', ...twoDemeFitArgs('--param', 'coal=0', '--no-cache')]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal(
      r.stderr,
      `phasic-trace: ${TWO_DEME_SFS}: the model’s expected spectrum is not finite at the start values (a branch length is infinite or undefined there)\n`,
    );
    // A model whose xi[1] is 0 in every state: 3 sites in entry 2 are the data's fault.
    const model = join(dir, 'zero.phasic');
    writeFileSync(
      model,
      'model zero\nparam a = 1\nstate s in 0..1 = 0\nrule go\n  when s == 0\n  rate a\n  do s += 1\nreward xi[k in 0..1] = (1 - s) * (1 - k)\n',
    );
    const data = fsFile('zero', '4 unfolded\n0 5 3 0\n');
    const z = cli(['fit', model, '--data', data, '--sfs-reward', 'xi', '--fit', 'a', '--no-cache']);
    assert.equal(z.status, 1, z.stdout + z.stderr);
    assert.equal(
      z.stderr,
      `phasic-trace: ${data}: entry 2 of the spectrum has 3 sites, but the model expects none there at the start values\n`,
    );
  });

  it("reports a parameter the spectrum does not identify, not a plateau, when the branches reach a double's bottom", () => {
    // Kingman's theta scales every branch alike. The plateau probe reached theta = 1e307,
    // where the profiled scale overflowed and the log-likelihood read +∞: the fit was
    // refused as "flat in theta around theta=1 … but higher at theta=1e+307".
    const data = fsFile('kingman6', fsText([0, 60, 30, 20, 15, 12, 0]));
    const r = cli(['fit', KINGMAN_SFS, '--data', data, '--sfs-reward', 'xi', '--fit', 'theta', '--no-cache']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ {2}theta = 1 \(not identifiable: no standard error\)$/m);
    assert.match(r.stderr, /^phasic-trace: warning: theta is not identifiable/m);
    const j = cliFit([KINGMAN_SFS, '--data', data, '--sfs-reward', 'xi', '--fit', 'theta']);
    assertClose(
      j.loglik,
      poissonLoglik(kingmanBranches(6, 1), [0, 60, 30, 20, 15, 12, 0], [1, 2, 3, 4, 5], false),
      1e-12,
      'loglik',
    );
  });

  it('refuses a start on a plateau far from the data, instead of reporting it as a converged estimate', () => {
    // At mig = 1e150 the two demes are one population: the expected proportions do not
    // change with mig there, so the optimizer stopped at once and the start came out as
    // "mig = 1e+150, converged" with status 0, although mig ≈ 0.31 fits far better.
    // From 1e6 the log-likelihood still rises slowly towards its one-population limit:
    // the optimizer climbs to where that rise is below its tolerance (mig ≈ 4.6e6) and
    // stops on the plateau there.
    for (const [start, shown, higher] of [
      ['1e150', '1e\\+150', '1'],
      ['1e6', '4\\d{6}', '0\\.4\\d+'],
    ]) {
      const r = fitExampleFrom(start);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        new RegExp(
          `the log-likelihood is flat in mig around mig=${shown} .* but higher at mig=${higher}: the optimizer stopped on that plateau, so there is no estimate`,
        ),
      );
    }
  });

  it('never prints a standard error or a convergence claim on derivatives it does not trust (decision 82)', () => {
    // The example's fit keeps every digit it printed before its evaluations were judged.
    const ordinary = cliFit(twoDemeFitArgs());
    assert.equal(ordinary.estimates.mig, 0.3129297349990737);
    assert.equal(ordinary.stderr.mig, 0.02320991115668498);
    // Every site in entry 5 (the two demes' last lineages): the likelihood rises as mig → 0,
    // and from mig = 1e-30 the log-scale gradient per site (≈ 1e-31) is below the tolerance at
    // once. There terms of size E/mig = 1e30 cancel to dE[xi[0]]/dmig ≈ −5/12 (its limit as
    // mig → 0; −0.4166666666666667 at 1e-20 in gradient.test.ts's TWO_DEME_REFERENCE, from
    // mpmath at 120 digits): double gave −7e13 with no warning, and the information from such
    // gradients came out "not finite"; quadruple precision keeps 3 digits, too few for a
    // central difference, so the fit says so and gives no standard error.
    const data = fsFile('entry5', fsText([0, 0, 0, 0, 0, 1000, 0, 0, 0, 0, 0]));
    const r = cliFit(twoDemeFitArgs('--data', data, '--start', 'mig=1e-30'));
    assert.equal(r.estimates.mig, 1.0000000000000024e-30);
    assert.equal(r.stderr.mig, 'NaN');
    const warnings = r.warnings ?? [];
    const claim = warnings.find((w) => w.startsWith('the gradient by mig at the estimate is not trusted'));
    assert.ok(claim, warnings.join('\n'));
    // Which derivative is the least depends on the bound (decision 93): each one's limit as
    // mig → 0, from mpmath at 130 digits at mig = 1e-35 (xi[4] and the time grow as 1/mig).
    const limits: Record<string, number> = {
      'xi[0]': -5 / 12,
      'xi[1]': -1.126262626262626,
      'xi[2]': -2.858585858585859,
      'xi[3]': -10.10606060606061,
      'xi[5]': -7.560606060606061,
      'xi[6]': -1.585858585858586,
      'xi[7]': -0.4292929292929293,
      'xi[8]': -1 / 12,
    };
    const named = /the least dE\[(xi\[\d\])\]\/dmig = ([^,]+), known only to about ±([^:]+):/.exec(claim);
    assert.ok(named && named[1] in limits, claim);
    assert.ok(Math.abs(Number(named[2]) - limits[named[1]]) <= Number(named[3]), claim);
    assert.ok(
      warnings.some((w) =>
        /^no standard errors: the information matrix comes from derivatives by mig near the estimate that are not trusted: /.test(
          w,
        ),
      ),
      warnings.join('\n'),
    );
  });

  it('says what is wrong with bad data, pointing at the file and line', () => {
    const fails = (args: string[], status: number, message: RegExp) => {
      const r = cli(['fit', ...args, '--no-cache']);
      assert.equal(r.status, status, r.stdout + r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    };
    fails(
      twoDemeFitArgs('--data', fsFile('short', fsText([0, 1, 2, 3, 0]))),
      1,
      /short\.fs: the spectrum has 5 entries \(n = 4 samples\)/,
    );
    // 4.5e307 sites: the gradient (sites × its value per site) overflows, and the data's
    // size was blamed on the start values.
    fails(
      twoDemeFitArgs('--data', fsFile('huge', fsText([0, ...Array(9).fill(5e306), 0]))),
      1,
      /huge\.fs: the unmasked counts add up to 4\.50e\+307: the log-likelihood's gradient .* divide the counts by one/,
    );
    fails(
      twoDemeFitArgs('--data', fsFile('neg', '11 unfolded\n0 1 2 -3 4 5 6 7 8 9 0\n')),
      1,
      /neg\.fs:2:7: entry 3: the count -3 is negative/,
    );
    fails(
      twoDemeFitArgs('--data', fsFile('word', '11 unfolded\n0 1 2 three 4 5 6 7 8 9 0\n')),
      1,
      /word\.fs:2:7: entry 3: 'three' is not a number/,
    );
    fails(
      twoDemeFitArgs(
        '--data',
        fsFile('masked', fsText([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0], { mask: Array(11).fill(true) })),
      ),
      1,
      /every polymorphic entry of the spectrum is masked/,
    );
    fails(
      twoDemeFitArgs('--data', join(dir, 'missing.fs')),
      1,
      /cannot read .*missing\.fs: there is no such file \(ENOENT\)/,
    );
    fails(
      twoDemeFitArgs('--data', fsFile('huge', '11 unfolded\n0 1e308 1e308 3 4 5 6 7 8 9 0\n')),
      1,
      /huge\.fs: the unmasked counts add up to more than 1\.80e\+308/,
    );
    fails(
      [TWO_DEME_SFS, '--data', TWO_DEME_DATA, '--sfs-reward', 'sfs', '--fit', 'mig'],
      1,
      /two_deme_sfs\.phasic: the model has no reward family sfs\[k\]/,
    );
    fails([TWO_DEME_SFS, '--data', TWO_DEME_DATA, '--sfs-reward', 'xi', '--fit', 'rate'], 1, /no parameter rate/);
    fails([TWO_DEME_SFS, '--sfs-reward', 'xi', '--fit', 'mig'], 2, /fit needs --data FILE\.fs/);
    fails([TWO_DEME_SFS, '--data', 'x.fs', '--fit', 'mig'], 2, /fit needs --sfs-reward NAME/);
    fails([TWO_DEME_SFS, '--data', 'x.fs', '--sfs-reward', 'xi'], 2, /fit needs --fit P1,P2/);
    fails(twoDemeFitArgs('--data', 'x.fs', '--start', 'mig=0'), 2, /--start mig: 0 must be > 0/);
    fails(twoDemeFitArgs('--data', 'x.fs', '--starts', '0'), 2, /--starts: '0' must be an integer ≥ 1/);
    // It reached the fit, which failed with "Invalid array length".
    fails(
      twoDemeFitArgs('--data', 'x.fs', '--starts', '1e17'),
      2,
      /--starts: '1e17' must be an integer from 1 to 10000/,
    );
    fails([TWO_DEME_SFS, '--data', 'x.fs', '--sfs-reward', 'xi', '--fit', 'mig,mig'], 2, /--fit: mig is given twice/);
    const json = cli([
      'fit',
      ...twoDemeFitArgs('--data', fsFile('neg2', '11 unfolded\n0 1 2 -3 4 5 6 7 8 9 0\n'), '--json'),
    ]);
    assert.equal(json.status, 1);
    assert.deepEqual(JSON.parse(json.stdout).error.line, 2);
  });
});
