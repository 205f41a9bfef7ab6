// The README's command-line examples work as written in a clone: every line of a
// ```sh block that calls the CLI runs from the repository root and succeeds, and
// none goes through npx (in a clone npx finds no `phasic-trace` and asks the registry).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunResult } from '../../extension/protocol/engine';
import { assertClose, ROOT, tempDir } from './helpers';

/** The lines of the ```sh blocks of a Markdown text. */
function shellLines(markdown: string): string[] {
  const lines: string[] = [];
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm))
    lines.push(...block[1].split('\n').filter((l) => l.trim()));
  return lines;
}

const callsCli = (line: string) => /\bphasic-trace\b|\bdist\/cli\.js\b/.test(line.replace(/#.*$/, ''));

/** E[T^1..3] of a sum of independent exponentials with these rates, from its cumulants. */
function sumOfExponentialsMoments(rates: number[]): number[] {
  // The j-th cumulant of an exponential of rate r is (j-1)! / r^j.
  const k1 = rates.reduce((s, r) => s + 1 / r, 0);
  const k2 = rates.reduce((s, r) => s + 1 / r ** 2, 0);
  const k3 = rates.reduce((s, r) => s + 2 / r ** 3, 0);
  return [k1, k2 + k1 ** 2, k3 + 3 * k2 * k1 + k1 ** 3];
}

/** CDF and density at t of a sum of independent exponentials of distinct rates (partial fractions). */
function hypoexponential(rates: number[], t: number): { cdf: number; pdf: number } {
  let tail = 0;
  let pdf = 0;
  rates.forEach((ri, i) => {
    const w = rates.reduce((p, rj, j) => (j === i ? p : (p * rj) / (rj - ri)), 1);
    tail += w * Math.exp(-ri * t);
    pdf += w * ri * Math.exp(-ri * t);
  });
  return { cdf: 1 - tail, pdf };
}

describe("the README's command-line examples", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const lines = shellLines(readme).filter(callsCli);

  it('show the CLI, and never through npx', () => {
    assert.ok(lines.length > 0, 'the README shows how to run the CLI');
    for (const line of lines) assert.doesNotMatch(line, /\bnpx\b/, line);
    // The docs may say why npx does not work; they must not show it as a command.
    const usage = /\bnpx\s+phasic-trace\s+(run|dist|fit|check|export|clear-caches)\b/;
    for (const doc of [
      'README.md',
      ...readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => join('docs', f)),
    ]) {
      const found = usage.exec(readFileSync(join(ROOT, doc), 'utf8'));
      assert.equal(found, null, `${doc} shows ${found?.[0]}`);
    }
  });

  it('run as written from the repository root', () => {
    const cache = tempDir('cli-readme');
    let checked = false;
    let distChecked = false;
    let fitChecked = false;
    for (const line of lines) {
      // A refused npx line is reported by the test above; running it would ask the registry.
      if (/\bnpx\b/.test(line)) continue;
      const r = spawnSync('sh', ['-c', line], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, XDG_CACHE_HOME: cache },
      });
      assert.equal(r.status, 0, `${line}\n${r.stderr}`);
      if (/examples\/kingman\.phasic --set n=6 --moments 3 --json/.test(line)) {
        // Kingman, n = 6, theta = 1: T_MRCA is a sum of exponentials of rates k(k-1)/2.
        const result = JSON.parse(r.stdout) as RunResult;
        const expected = sumOfExponentialsMoments([2, 3, 4, 5, 6].map((k) => (k * (k - 1)) / 2));
        expected.forEach((m, i) => assertClose(result.moments.tmrca[i], m, 1e-12, `E[T_MRCA^${i + 1}]`));
        checked = true;
      }
      if (/dist examples\/kingman\.phasic --reward tmrca --grid 0:6:13$/.test(line)) {
        // Kingman, n = 4: T_MRCA is hypoexponential with rates 6, 3, 1.
        const rows = r.stdout
          .split('\n')
          .map((l) => l.trim().split(/ +/).map(Number))
          .filter((row) => row.length === 4 && row.every(Number.isFinite));
        assert.deepEqual(
          rows.map(([t]) => t),
          Array.from({ length: 13 }, (_, i) => i / 2),
        );
        for (const [t, cdf, survival, density] of rows) {
          const exact = hypoexponential([6, 3, 1], t);
          assert.ok(Math.abs(cdf - exact.cdf) < 1e-9, `CDF(${t}) = ${cdf}, exact ${exact.cdf}`);
          const tail = 1 - exact.cdf;
          assert.ok(Math.abs(survival - tail) <= 1e-9 * tail, `survival(${t}) = ${survival}, exact ${tail}`);
          assert.ok(Math.abs(density - exact.pdf) < 1e-9, `density(${t}) = ${density}, exact ${exact.pdf}`);
        }
        distChecked = true;
      }
      if (
        /fit examples\/two_deme_sfs\.phasic --data examples\/two_deme_sfs\.fs --sfs-reward xi --fit mig$/.test(line)
      ) {
        // The README shows the estimate, its standard error and interval: they must be what the line prints.
        const shown = /^ {2}mig = .*$/m.exec(readme)?.[0];
        assert.ok(shown, 'the README shows the estimate line');
        assert.match(r.stdout, new RegExp(`^${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
        // The interval is Wald on the log scale, as in the Studio page: estimate · exp(±1.96 se / estimate).
        const parts = /mig = (\S+) ± (\S+) {2}\(95% interval (\S+) to (\S+)\)/.exec(shown);
        assert.ok(parts, shown);
        const [estimate, se, low, high] = parts.slice(1).map(Number);
        assertClose(low, estimate * Math.exp((-1.959963984540054 * se) / estimate), 1e-5, 'interval low');
        assertClose(high, estimate * Math.exp((1.959963984540054 * se) / estimate), 1e-5, 'interval high');
        fitChecked = true;
      }
    }
    assert.ok(checked, "the README's kingman example (n=6, 3 moments, --json) was run and its moments checked");
    assert.ok(distChecked, "the README's dist example was run and its CDF and density checked");
    assert.ok(fitChecked, "the README's fit example was run and its printed estimate checked");
  });
});
