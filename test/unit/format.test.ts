// Numbers as the user reads them: one formatter module (extension/protocol/format.ts)
// for the host's notifications and status bar, the Studio panel, the code lens and
// the CLI, so that a value prints the same wherever it is shown. Expected strings are
// written out by hand.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeClear } from '../../extension/host/commands/describeClear';
import { parseOverrides } from '../../extension/host/commands/overrideText';
import type { ClearResult } from '../../extension/protocol/engine';
import {
  formatBytes,
  formatCount,
  formatFreed,
  formatMs,
  formatNumber,
  formatShortNumber,
  formatQuantile,
  readDecimal,
  underflowsToZero,
} from '../../extension/protocol/format';
import { runSummary } from '../../extension/server/features/codeLens';
import { markerLabel } from '../../webview/memory/markers';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A Clear Caches result that freed `freed` bytes of graph memory and nothing else. */
function cleared(freed: number): ClearResult {
  return {
    freedBytes: { graph: freed, subgraphs: 0, traces: 0, cache: 0, evaluation: 0, workspace: 0 },
    traces: 1,
    subgraphs: 2,
    disk: { files: 0, bytes: 0, failed: 0 },
    rssBefore: 0,
    rssAfter: 0,
    timeMs: 0,
  };
}

describe('number formatting', () => {
  it('prints bytes in binary units, three figures from 100 up', () => {
    const cases: Array<[number, string]> = [
      [0, '0 B'],
      [1023, '1023 B'],
      [1024, '1.0 KB'],
      [1536, '1.5 KB'],
      [5 * MiB, '5.0 MB'],
      [99.94 * MiB, '99.9 MB'],
      [412 * MiB, '412 MB'],
      [3 * 1024 * 1024 * MiB, '3.0 TB'],
      [1024 * 1024 * 1024 * MiB, '1024 TB'],
      [-2 * KiB, '-2.0 KB'],
    ];
    for (const [bytes, text] of cases) assert.equal(formatBytes(bytes), text, String(bytes));
    assert.equal(formatFreed(13.1 * MiB), '\u221213.1 MB');
  });

  it('prints values to ten figures, in exponent form outside 1e-4 to 1e7', () => {
    const cases: Array<[number, string]> = [
      [0, '0'],
      [42, '42'],
      [1.5, '1.5'],
      [1 / 3, '0.3333333333'],
      [-0.125, '-0.125'],
      [1e-4, '0.0001'],
      [9999999, '9999999'],
      [12345678.9, '1.234567890e+7'],
      [1.5e200, '1.500000000e+200'],
      [2.5e-7, '2.500000000e-7'],
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
    ];
    for (const [x, text] of cases) assert.equal(formatNumber(x), text, String(x));
  });

  it('prints a one-line summary value to six figures, integers whole, trailing zeros dropped', () => {
    const cases: Array<[number, string]> = [
      [0, '0'],
      [12345678, '12345678'],
      [5 / 3, '1.66667'],
      [0.75, '0.75'],
      [1.5e200, '1.5e+200'],
      [1e300, '1e+300'],
      [2.5e-7, '2.5e-7'],
    ];
    for (const [x, text] of cases) assert.equal(formatShortNumber(x), text, String(x));
  });

  it('prints counts with separators and durations with their unit', () => {
    assert.equal(formatCount(1234567), '1,234,567');
    assert.deepEqual([0.4125, 3.254, 41.25, 1200].map(formatMs), ['0.412 ms', '3.25 ms', '41.3 ms', '1.20 s']);
  });

  it("the host's Clear Caches notification and the panel's Clear marker print the bytes freed alike", () => {
    for (const freed of [812, 5 * MiB, 412 * MiB, 1.5 * 1024 * MiB]) {
      const host = /^Freed (.+?) of engine memory/.exec(describeClear(cleared(freed)))?.[1];
      const panel = /^Clear \u2212(.+)$/.exec(markerLabel({ kind: 'clear', t: 0, freedBytes: freed }))?.[1];
      assert.ok(host && panel);
      assert.equal(host, panel, String(freed));
    }
    // The host used to print "412.0 MB" where the panel printed "412 MB".
    assert.match(describeClear(cleared(412 * MiB)), /^Freed 412 MB /);
  });

  it('the lens prints the mean with the shared six-figure formatter', () => {
    const run = { vertices: 3, sccs: { count: 3 }, moments: { time: [1 / 3] }, ruleFirings: {} };
    assert.equal(runSummary(run as never), '3 vertices · 3 SCCs · E[time] = 0.333333');
  });
});

describe('readDecimal: numbers as the user types them', () => {
  it('reads decimals with sign and exponent, blanks around them ignored', () => {
    for (const [text, value] of [
      ['0.3', 0.3],
      ['-2', -2],
      ['+2', 2],
      ['.5', 0.5],
      ['5.', 5],
      ['1e-4', 1e-4],
      ['2E3', 2000],
      [' 7 ', 7],
      ['1e400', Infinity],
    ] as const)
      assert.equal(readDecimal(text), value, text);
  });
  it('refuses what Number would read but nobody means as a rate', () => {
    for (const text of ['', ' ', '0x10', '0b1', '0o7', 'Infinity', '-Infinity', 'NaN', '1_0', '1e', '1.5.2', '2x', '.'])
      assert.equal(readDecimal(text), undefined, text);
  });
  it('gives a quantile to the figures its interval fixes', () => {
    assert.equal(formatQuantile({ value: 49.66706464, low: 49.66706463, high: 49.66706465 }), '49.66706464');
    assert.equal(formatQuantile({ value: 17.58411538, low: 17.3, high: 17.83 }), '17.6 ± 0.3');
    assert.equal(formatQuantile({ value: 1234.5678, low: 1230, high: 1240 }), '1235 ± 6');
    assert.equal(formatQuantile({ value: 0.0513, low: 0.05, high: 0.0531 }), '0.051 ± 0.002');
    assert.equal(formatQuantile({ value: 0, low: 0, high: 0 }), '0');
    assert.equal(formatQuantile({ value: 0, low: 0, high: 3e-5 }), '0 ± 0.00003');
  });
  it('says which decimals are not 0 as written but read as 0', () => {
    for (const text of ['1e-400', '-1e-400', '2e-324', ' 1e-324 ', '000.0001e-330'])
      assert.equal(underflowsToZero(text), true, text);
    for (const text of ['0', '0.0', '-0', '0e-400', '0e5', '4.9e-324', '1e-300', '1e400', 'x', ''])
      assert.equal(underflowsToZero(text), false, text);
    const constants = [{ name: 'a', integer: false, value: 4 }];
    assert.equal(
      parseOverrides('a = 1e-400', constants),
      "constant a: '1e-400' is too small for a double (the least is 4.9e-324): it would read as 0; write 0 if 0 is meant",
    );
  });
  it('is how constant overrides are read', () => {
    const constants = [{ name: 'n', integer: true, value: 4 }];
    assert.deepEqual({ ...(parseOverrides('n = 6', constants) as object) }, { n: 6 });
    assert.equal(parseOverrides('n = 0x4', constants), '"0x4" is not a number (constant n)');
  });
});
