// `phasic-trace dist` (dist/cli.js as a child process): the distribution of the time
// to absorption and of rewards against closed forms computed here (an exponential,
// an Erlang, Kingman's T_MRCA as a hypoexponential, a reward with an atom at 0), the
// default grid, --grid and --times, the three model formats, the human form, the
// cache options, --timeout, and every bad input with its message and exit status.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PublicDistribution } from '../../extension/cli/contract';
import { assertClose, CLI, ENGINE_FIXTURES, ROOT, tempDir } from './helpers';

const dir = tempDir('cli-dist');
const cacheDir = tempDir('cli-dist-cache');

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function dist(args: string[]): PublicDistribution {
  const r = cli(['dist', ...args, '--json', '--cache-dir', cacheDir]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout) as PublicDistribution;
}

function model(name: string, text: string): string {
  const file = join(dir, `${name}.phasic`);
  writeFileSync(file, text);
  return file;
}

/** `stages` exponential sojourns of rate lambda in a row (stages = 1: an exponential). */
function erlangModel(stages: number): string {
  return model(
    `erlang${stages}`,
    `model erlang${stages}\nparam lambda = 2.0\nstate k in 0..${stages} = ${stages}\n` +
      'rule step\n  when k >= 1\n  rate lambda\n  do k -= 1\n',
  );
}

/**
 * From state 2 the process either ends at once (rate c) or moves to state 1 (rate a),
 * which it leaves at rate b. The reward `in_one` is 0 in state 2: it is 0 with
 * probability c / (a + c), else exponential of rate b.
 */
const branching = model(
  'branching',
  'model branching\nparam a = 3.0\nparam b = 0.5\nparam c = 1.0\nstate k in 0..2 = 2\n' +
    'rule move\n  when k == 2\n  rate a\n  do k -= 1\n' +
    'rule end\n  when k == 2\n  rate c\n  do k -= 2\n' +
    'rule leave\n  when k == 1\n  rate b\n  do k -= 1\n' +
    'reward in_one = if k == 1 then 1 else 0\n',
);

function factorial(m: number): number {
  return m <= 1 ? 1 : m * factorial(m - 1);
}

/** CDF and density of an Erlang(stages, lambda). */
function erlang(stages: number, lambda: number) {
  return {
    cdf: (t: number) => {
      let tail = 0;
      for (let j = 0; j < stages; j++) tail += (Math.exp(-lambda * t) * (lambda * t) ** j) / factorial(j);
      return 1 - tail;
    },
    pdf: (t: number) => (lambda ** stages * t ** (stages - 1) * Math.exp(-lambda * t)) / factorial(stages - 1),
  };
}

/** A sum of independent exponentials of distinct rates: its CDF and density by partial fractions. */
function hypoexponential(rates: number[]) {
  const weight = rates.map((ri, i) => rates.reduce((w, rj, j) => (j === i ? w : (w * rj) / (rj - ri)), 1));
  return {
    cdf: (t: number) => 1 - rates.reduce((s, r, i) => s + weight[i] * Math.exp(-r * t), 0),
    pdf: (t: number) => rates.reduce((s, r, i) => s + weight[i] * r * Math.exp(-r * t), 0),
  };
}

/** Kingman's T_MRCA for n samples at coalescence rate theta: rates theta C(k, 2), k = n..2. */
function kingmanRates(n: number, theta: number): number[] {
  return Array.from({ length: n - 1 }, (_, i) => (theta * (n - i) * (n - i - 1)) / 2);
}

/** The smallest t with cdf(t) ≥ p, by bisection to the last bit. */
function quantile(cdf: (t: number) => number, p: number): number {
  let lo = 0;
  let hi = 1;
  while (cdf(hi) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * Every CDF and density value within the stated bound of the closed form, and every
 * quantile within what that bound allows: a CDF off by ε moves its root by ε / density
 * (plus the root finder's 1e-9 relative).
 */
function assertMatches(d: PublicDistribution, exact: { cdf(t: number): number; pdf(t: number): number }): void {
  assert.equal(d.cdf.length, d.times.length);
  assert.equal(d.pdf.length, d.times.length);
  const bound = d.epsilon + 1e-13; // the closed forms' own rounding
  d.times.forEach((t, i) => {
    assert.ok(Math.abs(d.cdf[i] - exact.cdf(t)) <= bound, `CDF(${t}) = ${d.cdf[i]}, exact ${exact.cdf(t)}`);
    assert.ok(Math.abs(d.pdf[i] - exact.pdf(t)) <= bound, `density(${t}) = ${d.pdf[i]}, exact ${exact.pdf(t)}`);
  });
  for (const q of d.quantiles) {
    const expected = quantile(exact.cdf, q.p);
    const slack = bound / exact.pdf(expected) + 1e-9 * expected;
    assert.ok(Math.abs(q.value - expected) <= slack, `q${q.p} = ${q.value}, exact ${expected}`);
    // The interval the CDF's bound leaves holds the exact quantile, and is no wider than that
    // bound makes it. (At an atom the bisection above halves towards 0 to 2^-200: that is 0.)
    const exactValue = expected < 1e-50 ? 0 : expected;
    assert.ok(
      q.low <= exactValue * (1 + 1e-9) && exactValue <= q.high * (1 + 1e-9),
      `q${q.p} = ${exactValue} in [${q.low}, ${q.high}]`,
    );
    assert.ok(q.high - q.low <= 2 * slack + 2e-9 * expected, `q${q.p}: [${q.low}, ${q.high}] wider than the bound`);
  }
}

describe('phasic-trace dist: closed forms', () => {
  it('an exponential: CDF 1 − e^{−λt}, density λe^{−λt}, median ln 2 / λ', () => {
    const lambda = 2;
    const d = dist([erlangModel(1), '--times', '0,0.1,0.5,1,2,5', '--quantiles', '0.5,0.9']);
    assert.equal(d.model, 'erlang1');
    assert.equal(d.reward, 'time');
    assert.deepEqual(d.params, { lambda });
    assert.deepEqual(d.times, [0, 0.1, 0.5, 1, 2, 5]);
    assert.equal(d.atom, 0);
    assertMatches(d, { cdf: (t) => 1 - Math.exp(-lambda * t), pdf: (t) => lambda * Math.exp(-lambda * t) });
    assert.deepEqual(
      d.quantiles.map((q) => q.p),
      [0.5, 0.9],
    );
    assertClose(d.quantiles[0].value, Math.LN2 / lambda, 1e-8, 'median');
    assertClose(d.quantiles[1].value, Math.log(10) / lambda, 1e-8, 'q0.9');
    assert.equal(d.epsilon, 1e-10);
    assert.equal(d.method.name, 'uniformization');
  });

  it("a quantile where the density is small is given with the interval the CDF's bound leaves, and printed to its figures", () => {
    // Erlang(50, λ = 2) at p = 2e-10, ε = 1e-10: the density there is ≈ 7.5e-10, so the
    // CDF's error leaves it anywhere in about 8.61 to 8.90. It came out 8.79205769 (exact 8.78183),
    // printed to ten figures beside "error bound: 1e-10 on every CDF and density value".
    const erlang = erlangModel(50);
    // P(T ≤ t) = Σ_{k ≥ 50} e^{−x} x^k / k!, x = λt: the tail itself, nothing cancels.
    const cdf = (t: number) => {
      const x = 2 * t;
      let logTerm = -x + 50 * Math.log(x);
      for (let k = 2; k <= 50; k++) logTerm -= Math.log(k);
      let sum = 0;
      for (let k = 50; k < 400; k++, logTerm += Math.log(x) - Math.log(k)) sum += Math.exp(logTerm);
      return sum;
    };
    const d = dist([erlang, '--quantiles', '2e-10,0.5', '--times', '1']);
    const [tail, median] = d.quantiles;
    const exact = quantile(cdf, 2e-10);
    assert.ok(tail.low <= exact && exact <= tail.high, `${exact} in [${tail.low}, ${tail.high}]`);
    assert.ok(tail.high - tail.low > 0.05 && tail.high - tail.low < 1, `[${tail.low}, ${tail.high}]`);
    assert.ok(median.high - median.low < 1e-8 * median.value, `[${median.low}, ${median.high}]`);
    const text = cli(['dist', erlang, '--quantiles', '2e-10,0.5', '--times', '1', '--cache-dir', cacheDir]).stdout;
    const row = (p: string) => text.split('\n').find((l) => l.trim().startsWith(p)) ?? '';
    assert.match(row('2.000000000e-10'), /^ +2\.000000000e-10 +8\.\d{1,2} ± 0\.\d$/);
    assert.match(row('0.5'), /^ +0\.5 +24\.8335323\d$/);
  });

  it('quantiles of p near 0 and 1 that --epsilon can still tell apart: the CDF reaches p there', () => {
    // Kingman's T_MRCA for n = 4, Exp(6) + Exp(3) + Exp(1): its CDF is 3t³ near 0 and
    // 1 − 1.8·e^{−t} in the tail, so the quantile of p = 1e-300 is 6.9e-101 where an
    // answer read from a CDF known to 1e-10 was 4.5e-5; such a p is refused (below).
    const rates = [6, 3, 1];
    const cdf = (t: number) =>
      1 -
      rates.reduce(
        (s, r, k) => s + rates.reduce((p, q, j) => (j === k ? p : (p * q) / (q - r)), 1) * Math.exp(-r * t),
        0,
      );
    const kingman = join(ROOT, 'examples', 'kingman.phasic');
    const ps = [2e-14, 1e-12, 0.5, 1 - 1e-12];
    const d = dist([kingman, '--reward', 'tmrca', '--epsilon', '1e-14', '--quantiles', ps.join(',')]);
    assert.deepEqual(
      d.quantiles.map((q) => q.p),
      ps,
    );
    // The bisection stops within 1e-9 relative of the time the CDF, known to epsilon, reaches p.
    for (const { p, value } of d.quantiles)
      assert.ok(
        cdf(value) >= p - 2e-14 && cdf(value * (1 - 2e-9)) <= p + 2e-14,
        `CDF(${value}) = ${cdf(value)} for p = ${p}`,
      );
  });

  it('an Erlang of 4 stages at --param lambda=0.5 and --epsilon 1e-12', () => {
    const d = dist([erlangModel(4), '--param', 'lambda=0.5', '--grid', '0:30:61', '--epsilon', '1e-12']);
    assert.deepEqual(d.params, { lambda: 0.5 });
    assert.equal(d.epsilon, 1e-12);
    assertMatches(d, erlang(4, 0.5));
  });

  it('a --grid up to the largest double: every point a time, none Infinity', () => {
    // (TO − FROM)·i passed the largest double at i = 2: the engine refused "times[2]".
    const max = Number.MAX_VALUE;
    const d = dist([erlangModel(1), '--grid', `0:${max}:4`]);
    assert.equal(d.times.length, 4);
    d.times.forEach((t, i) => assertClose(t, (max / 3) * i, 1e-15, `grid point ${i}`));
    assert.equal(d.times[3], max);
    // e^{−2t} at t ≥ 6e307: the CDF is 1, the survival below the floor (null).
    assert.deepEqual(d.cdf, [0, 1, 1, 1]);
    assert.deepEqual(d.survival, [1, null, null, null]);
  });
  it("Kingman's T_MRCA (n = 4): the hypoexponential of rates C(k, 2), and the default grid and quantiles", () => {
    const d = dist([join(ROOT, 'examples', 'kingman.phasic'), '--reward', 'tmrca']);
    const exact = hypoexponential(kingmanRates(4, 1));
    assert.equal(d.model, 'kingman');
    assert.equal(d.reward, 'tmrca');
    // The default grid: 200 equally spaced points from 0 to the 99.9% quantile.
    assert.equal(d.times.length, 200);
    assert.equal(d.times[0], 0);
    const top = quantile(exact.cdf, 0.999);
    assert.ok(Math.abs(d.times[199] - top) <= 1e-10 / exact.pdf(top) + 1e-9 * top, `last point ${d.times[199]}`);
    for (let i = 1; i < 200; i++) assertClose(d.times[i] - d.times[i - 1], top / 199, 1e-6, `spacing at ${i}`);
    assert.deepEqual(
      d.quantiles.map((q) => q.p),
      [0.05, 0.25, 0.5, 0.75, 0.95, 0.99],
    );
    assertMatches(d, exact);
    // The density integrates to 1 over [0, ∞): the trapezoid rule up to q0.999 gives 0.999.
    let area = 0;
    for (let i = 1; i < 200; i++) area += ((d.pdf[i] + d.pdf[i - 1]) / 2) * (d.times[i] - d.times[i - 1]);
    assert.ok(Math.abs(area - 0.999) < 1e-3, `area ${area}`);
  });

  it('--set overrides a constant: Kingman n = 6 at --param theta=2', () => {
    const d = dist([
      join(ROOT, 'examples', 'kingman.phasic'),
      '--set',
      'n=6',
      '--param',
      'theta=2',
      '--grid',
      '0.5:3:26',
    ]);
    // FROM, FROM + 0.1, ..., TO: both ends exact.
    assert.equal(d.times.length, 26);
    assert.equal(d.times[0], 0.5);
    assert.equal(d.times[25], 3);
    d.times.forEach((t, i) => assertClose(t, 0.5 + i / 10, 1e-15, `grid point ${i}`));
    assertMatches(d, hypoexponential(kingmanRates(6, 2)));
  });

  it('a reward that is 0 in the first state: the atom P(R = 0) and CDF(0)', () => {
    const [a, b, c] = [3, 0.5, 1];
    const atom = c / (a + c);
    const d = dist([branching, '--reward', 'in_one', '--times', '0,0.5,1,4,10']);
    assert.equal(d.reward, 'in_one');
    assert.ok(Math.abs(d.atom - atom) <= 1e-12, `atom ${d.atom}`);
    assert.ok(Math.abs(d.cdf[0] - atom) <= d.epsilon, `CDF(0) = ${d.cdf[0]}`);
    assertMatches(d, {
      cdf: (t) => atom + (1 - atom) * (1 - Math.exp(-b * t)),
      pdf: (t) => (1 - atom) * b * Math.exp(-b * t),
    });
    // A probability at or below the atom has the quantile 0.
    const low = dist([branching, '--reward', 'in_one', '--times', '1', '--quantiles', '0.1,0.5']);
    assert.equal(low.quantiles[0].value, 0);
    assertClose(low.quantiles[1].value, -Math.log((1 - 0.5) / (1 - atom)) / b, 1e-8, 'q0.5');
  });
});

describe('phasic-trace dist: model formats', () => {
  it('a compiled-model .json, by parameter name', () => {
    const d = dist([join(ENGINE_FIXTURES, 'kingman.json'), '--reward', 'tmrca', '--param', 'theta=0.5']);
    assert.deepEqual(d.params, { theta: 0.5 });
    assertMatches(d, hypoexponential(kingmanRates(4, 0.5)));
  });

  it('a phasic graph .json, its parameters named p1, p2, ...', () => {
    const graph = join(dir, 'kingman5.json');
    const exported = cli([
      'export',
      join(ROOT, 'examples', 'kingman.phasic'),
      '--format',
      'phasic-json',
      '--set',
      'n=5',
      '--out',
      graph,
    ]);
    assert.equal(exported.status, 0, exported.stderr);
    const d = dist([graph, '--param', 'p1=1.5', '--grid', '0:4:41']);
    assert.deepEqual(d.params, { p1: 1.5 });
    assertMatches(d, hypoexponential(kingmanRates(5, 1.5)));
  });
});

describe('phasic-trace dist: output', () => {
  it('is in --help', () => {
    const r = cli(['--help']);
    assert.equal(r.status, 0);
    assert.match(
      r.stdout,
      /^ {2}phasic-trace dist MODEL \[--reward NAME\] \[--times T1,T2,\.\.\. \| --grid FROM:TO:N\]$/m,
    );
  });

  it('prints a readable summary: quantiles, the bound and every point up to 50', () => {
    const r = cli(['dist', erlangModel(1), '--times', '0,1,2', '--no-cache']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'erlang1: distribution of time');
    assert.ok(lines.includes('params: lambda=2'), r.stdout);
    assert.ok(!r.stdout.includes('atom'), 'no atom line when there is no atom');
    // The median ln 2 / 2 in formatNumber's ten figures.
    assert.match(r.stdout, /^ +0\.5 +0\.3465735903$/m);
    assert.match(
      r.stdout,
      /^error bound: 1e-10 on every CDF value, 1e-10 × itself on every survival and density value \(uniformization: /m,
    );
    const header = lines.findIndex((l) => /^ *t +CDF +survival +density$/.test(l));
    assert.ok(header > 0, r.stdout);
    const rows = lines.slice(header + 1).map((l) => l.trim().split(/ +/).map(Number));
    assert.deepEqual(
      rows.map((row) => row[0]),
      [0, 1, 2],
    );
    rows.forEach(([t, cdf, survival, pdf]) => {
      assert.ok(Math.abs(cdf - (1 - Math.exp(-2 * t))) < 1e-9, `CDF(${t})`);
      assert.ok(Math.abs(survival / Math.exp(-2 * t) - 1) < 1e-9, `survival(${t})`);
      assert.ok(Math.abs(pdf - 2 * Math.exp(-2 * t)) < 1e-9, `density(${t})`);
    });
  });

  it('shows the atom, and every k-th of many points with a note', () => {
    const r = cli(['dist', branching, '--reward', 'in_one', '--no-cache']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^atom: P\(in_one = 0\) = 0\.25$/m);
    assert.match(r.stdout, /^200 points, one in 4 shown; --json for all$/m);
    const lines = r.stdout.trimEnd().split('\n');
    const header = lines.findIndex((l) => /^ *t +CDF +survival +density$/.test(l));
    // Points 0, 4, ..., 196 and the last one.
    assert.equal(lines.length - 1 - header - 1, 51);
    assert.match(lines[header + 1], /^ +0 +0\.25 +/);
  });

  it('shows a repeated time once: a reward that is 0 with probability 1', () => {
    const zero = model(
      'zero',
      'model zero\nstate k in 0..1 = 1\nrule leave\n  when k >= 1\n  rate 1\n  do k -= 1\nreward nothing = 0\n',
    );
    const d = dist([zero, '--reward', 'nothing', '--times', '0,1,1,2']);
    assert.equal(d.atom, 1);
    assert.deepEqual(d.cdf, [1, 1, 1, 1]);
    assert.deepEqual(d.pdf, [0, 0, 0, 0]);
    assert.ok(d.quantiles.every((q) => q.value === 0));
    const r = cli(['dist', zero, '--reward', 'nothing', '--times', '0,1,1,2', '--no-cache']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    const header = lines.findIndex((l) => /^ *t +CDF +survival +density$/.test(l));
    assert.deepEqual(
      lines.slice(header + 1).map((l) => l.trim().split(/ +/)),
      [
        ['0', '1', '0', '0'],
        ['1', '1', '0', '0'],
        ['2', '1', '0', '0'],
        ['4', 'points', '(3', 'distinct);', '--json', 'for', 'all'],
      ],
    );
  });

  it('writes a large --json result whole through a pipe', async () => {
    const child = spawn(process.execPath, [
      CLI,
      'dist',
      erlangModel(3),
      '--grid',
      '0:20:20000',
      '--json',
      '--no-cache',
    ]);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    assert.equal(status, 0, err);
    assert.ok(out.length > 65536, 'more than a pipe buffer');
    const d = JSON.parse(out) as PublicDistribution;
    assert.equal(d.times.length, 20000);
    assert.equal(d.times[19999], 20);
    assertMatches(d, erlang(3, 2));
  });
});

describe('phasic-trace dist: caches', () => {
  it('--cache-dir keeps the run on disk, --no-cache writes nothing, and both give the same distribution', () => {
    const fixture = join(ENGINE_FIXTURES, 'two_locus.json');
    const cached = tempDir('cli-dist-dir');
    const first = cli(['dist', fixture, '--cache-dir', cached, '--json']);
    assert.equal(first.status, 0, first.stderr);
    assert.ok(
      readdirSync(cached).some((f) => f.endsWith('.trace')),
      'the run wrote its blocks',
    );
    const home = tempDir('cli-dist-xdg');
    const uncached = cli(['dist', fixture, '--no-cache', '--json'], { XDG_CACHE_HOME: home });
    assert.equal(uncached.status, 0, uncached.stderr);
    assert.ok(!existsSync(join(home, 'phasic-trace')), 'no default cache directory was made');
    const a = JSON.parse(first.stdout) as PublicDistribution;
    const b = JSON.parse(uncached.stdout) as PublicDistribution;
    assert.deepEqual(b.cdf, a.cdf);
    assert.deepEqual(b.pdf, a.pdf);
    assert.deepEqual(b.quantiles, a.quantiles);
    // The CDF of a time to absorption: from 0, non-decreasing, in [0, 1], to 0.999.
    assert.equal(a.cdf[0], 0);
    for (let i = 1; i < a.cdf.length; i++) assert.ok(a.cdf[i] >= a.cdf[i - 1] - a.epsilon, `monotone at ${i}`);
    assert.ok(a.cdf.every((x) => x >= -a.epsilon && x <= 1 + a.epsilon));
    assert.ok(Math.abs(a.cdf[a.cdf.length - 1] - 0.999) <= 1e-8);
  });
});

describe('phasic-trace dist: bad input', () => {
  const exponential = erlangModel(1);

  it('rejects bad options with a usage error, status 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /dist needs exactly one MODEL/],
      [[''], /dist: the MODEL path is empty/],
      [[exponential, '--moments', '2'], /dist: unknown option --moments/],
      [[exponential, '--times'], /--times needs a value/],
      [[exponential, '--times', '1,-2'], /--times: '-2' is negative; times are ≥ 0/],
      [[exponential, '--times', '1,two'], /--times: 'two' is not a decimal number/],
      [[exponential, '--times', 'Infinity'], /--times: 'Infinity' is not a decimal number/],
      [[exponential, '--times', '1e400'], /--times: '1e400' is not a finite number/],
      // Read as 0 before: a rate typed as 1e-400 was a rate of 0, and E[T] "infinite".
      [[exponential, '--times', '1,1e-400'], /--times: '1e-400' is too small for a double .* would read as 0/],
      [[exponential, '--param', 'lambda=1e-400'], /--param lambda: '1e-400' is too small for a double/],
      [[exponential, '--times', '0x10'], /--times: '0x10' is not a decimal number/],
      [[exponential, '--times', 'NaN'], /--times: 'NaN' is not a decimal number/],
      [[exponential, '--times', '1,,2'], /--times: empty item in '1,,2'/],
      [[exponential, '--times', '2,1'], /--times: times must be in ascending order \(1 after 2\)/],
      [[exponential, '--quantiles', '0.5,1'], /--quantiles: '1' is not a probability in \(0, 1\)/],
      [[exponential, '--quantiles', '0'], /--quantiles: '0' is not a probability in \(0, 1\)/],
      [[exponential, '--quantiles', '-0.5'], /--quantiles: '-0.5' is not a probability in \(0, 1\)/],
      [[exponential, '--quantiles', '0.5,1e-300'], /--quantiles: '1e-300' is within --epsilon \(1e-10\) of 0/],
      [[exponential, '--quantiles', '0.0005', '--epsilon', '1e-3'], /'0.0005' is within --epsilon \(0.001\) of 0/],
      [[exponential, '--grid', '0:1'], /--grid: expected FROM:TO:N, got '0:1'/],
      [[exponential, '--grid', '2:1:5'], /--grid: FROM must be less than TO \(got '2:1:5'\)/],
      [[exponential, '--grid', '1:1:5'], /--grid: FROM must be less than TO/],
      [[exponential, '--grid', '-1:1:5'], /--grid: FROM '-1' is negative; times are ≥ 0/],
      [[exponential, '--grid', '0:1:1'], /--grid N: '1' must be an integer ≥ 2/],
      [[exponential, '--grid', '0:1:2.5'], /--grid N: '2.5' must be an integer ≥ 2/],
      [[exponential, '--grid', '0:x:5'], /--grid TO: 'x' is not a decimal number/],
      [[exponential, '--grid', '0:1:100000000'], /--grid N: at most 100000 points \(got 100000000\)/],
      [[exponential, '--times', '1', '--grid', '0:1:3'], /--times and --grid exclude each other/],
      [[exponential, '--epsilon', '0.1'], /--epsilon: '0.1' is outside \[1e-14, 0.001\]/],
      [[exponential, '--epsilon', '1e-15'], /--epsilon: '1e-15' is outside \[1e-14, 0.001\]/],
      [[exponential, '--epsilon', 'small'], /--epsilon: 'small' is not a decimal number/],
      [[exponential, '--param', 'lambda'], /--param: expected NAME=VALUE, got 'lambda'/],
      [[exponential, '--no-cache', '--cache-dir', dir], /--cache-dir and --no-cache exclude each other/],
      [[exponential, '--reward', ''], /--reward needs a reward name/],
    ];
    for (const [args, message] of cases) {
      const r = cli(['dist', ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, /usage:\n/);
      assert.equal(r.stdout, '');
    }
  });

  it('stops at --timeout, the run and the distribution alike', () => {
    // A chain of 10^8 states: minutes of exploration, well within the state limit given.
    const chain = model(
      'long_chain',
      'model long_chain\nstate x in 0..100000000 = 0\nrule step\n  when x < 100000000\n  rate 1\n  do x += 1\n',
    );
    const r = cli(['dist', chain, '--no-cache', '--max-states', '200000000', '--timeout', '0.5', '--json']);
    assert.equal(r.status, 1, r.stderr + r.stdout);
    const { error } = JSON.parse(r.stdout) as { error: { message: string; file: string } };
    assert.equal(error.message, 'the run took longer than --timeout 0.5 s and was stopped');
    assert.equal(error.file, chain);
    // The distribution's points: a tail of mean 10^6 reached with probability 10^-3 keeps
    // 10^5 points up to t = 3e6 summing Poisson windows of ~10^4 weights each (seconds).
    // Points were not checked for a cancel: this ran to the end and exited 0.
    const slowTail = model(
      'slow_tail',
      'model slow_tail\nstate s in 0..2 = 0\nrule fast\n  when s == 0\n  rate 1\n  do s = 2\nrule branch\n  when s == 0\n  rate 0.001\n  do s = 1\nrule crawl\n  when s == 1\n  rate 0.000001\n  do s = 2\n',
    );
    const d = cli(['dist', slowTail, '--no-cache', '--grid', '0:3e6:100000', '--timeout', '0.5', '--json']);
    assert.equal(d.status, 1, d.stderr + d.stdout.slice(0, 300));
    const stopped = JSON.parse(d.stdout) as { error: { message: string; file: string } };
    assert.equal(stopped.error.message, 'the run took longer than --timeout 0.5 s and was stopped');
  });

  it('reports an unknown reward and an uncertain absorption as engine errors, status 1', () => {
    const unknown = cli(['dist', exponential, '--reward', 'length', '--no-cache']);
    assert.equal(unknown.status, 1, unknown.stderr);
    assert.match(unknown.stderr, /^phasic-trace: .*erlang1\.phasic: unknown reward 'length'; the model has time\b/);
    const json = cli(['dist', join(ROOT, 'examples', 'kingman.phasic'), '--reward', 'tmcra', '--json', '--no-cache']);
    assert.equal(json.status, 1);
    const { error } = JSON.parse(json.stdout) as { error: { message: string; file: string } };
    assert.match(error.message, /unknown reward 'tmcra'; the model has time, tmrca, total_length/);
    // At lambda = 0 the process never leaves its first state.
    const stuck = cli(['dist', exponential, '--param', 'lambda=0', '--json', '--no-cache']);
    assert.equal(stuck.status, 1, stuck.stderr);
    assert.match((JSON.parse(stuck.stdout) as { error: { message: string } }).error.message, /absorption/);
    const param = cli(['dist', exponential, '--param', 'mu=1', '--no-cache']);
    assert.equal(param.status, 1);
    assert.match(param.stderr, /\bmu\b/);
  });
});
