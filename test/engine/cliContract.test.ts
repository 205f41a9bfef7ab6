// The command line's JSON output is a public contract (extension/cli/contract.ts,
// docs/engine.md "Command line"): scripts read its fields by name, so a renaming
// inside the protocol must never reach it. Every command's --json output, from the
// real CLI, has exactly the field names below: the names the CLI printed before the
// protocol went camelCase. Records keyed by the model's own names (params, moments,
// variance, covariance, ruleFirings, gradient, gradient_variance, gradient_covariance,
// and fit's estimates and stderr) are compared as records, not by their keys.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, ENGINE_FIXTURES, TWO_DEME_DATA, TWO_DEME_SFS, tempDir, twoDemeFitArgs } from './helpers';

const RECORDS = new Set([
  'params',
  'moments',
  'variance',
  'covariance',
  'ruleFirings',
  'gradient',
  'gradient_variance',
  'gradient_covariance',
  'estimates',
  'stderr',
]);

/** Every field path of a JSON value: `a.b`, `list[].c` (items merged), records not entered. */
function fieldNames(value: unknown, path = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) fieldNames(item, `${path}[]`, out);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = path === '' ? k : `${path}.${k}`;
      out.add(p);
      if (!RECORDS.has(k)) fieldNames(v, p, out);
    }
  }
  return out;
}

const RUN = [
  'model',
  'vertices',
  'edges',
  'absorbing',
  'reused',
  'sccs',
  'sccs.count',
  'sccs.largest',
  'sccs.blocks',
  'sccs.recorded',
  'sccs.cached',
  'trace',
  'trace.operations',
  'trace.commands',
  'trace.bytes',
  'params',
  'moments',
  'variance',
  'covariance',
  'timings_ms',
  'timings_ms.explore',
  'timings_ms.scc',
  'timings_ms.record',
  'timings_ms.evaluate',
  'timings_ms.total',
  'memory',
  'memory.accounted_bytes',
  'memory.accounted_bytes.graph',
  'memory.accounted_bytes.subgraphs',
  'memory.accounted_bytes.traces',
  'memory.accounted_bytes.cache',
  'memory.accounted_bytes.evaluation',
  'memory.accounted_bytes.workspace',
  'memory.peak_accounted_bytes',
  'memory.rss_bytes',
  'memory.rss_peak_bytes',
  'memory.blocks',
  'memory.blocks[].scc',
  'memory.blocks[].vertices',
  'memory.blocks[].bytes',
  'memory.blocks[].created_ms',
  'memory.blocks[].freed_ms',
  'traceKey',
  'ruleFirings',
  'warnings',
];
const WARNING = ['warnings[].message', 'warnings[].site'];
const CLEAR = [
  'freed_bytes',
  'freed_bytes.graph',
  'freed_bytes.subgraphs',
  'freed_bytes.traces',
  'freed_bytes.cache',
  'freed_bytes.evaluation',
  'freed_bytes.workspace',
  'traces',
  'subgraphs',
  'disk',
  'disk.files',
  'disk.bytes',
  'disk.failed',
  'rss_before',
  'rss_after',
  'time_ms',
];
const DIST = [
  'model',
  'reward',
  'params',
  'times',
  'cdf',
  'survival',
  'survival_floor',
  'pdf',
  'atom',
  'quantiles',
  'quantiles[].p',
  'quantiles[].value',
  'quantiles[].low',
  'quantiles[].high',
  'epsilon',
  'method',
  'method.name',
  'method.rate',
  'method.steps',
  'method.states',
  'method.eliminated',
  'timings_ms',
  'timings_ms.run',
  'timings_ms.transform',
  'timings_ms.uniformize',
  'timings_ms.quantiles',
  'timings_ms.total',
];
const FIT = [
  'model',
  'estimates',
  'stderr',
  'loglik',
  'scale',
  'iterations',
  'converged',
  'expected',
  'observed',
  'params',
  'sites',
  'timings_ms',
  'timings_ms.run',
  'timings_ms.optimize',
  'timings_ms.information',
  'timings_ms.total',
];
const CHECK = [
  'diagnostics',
  ...['file', 'line', 'column', 'endLine', 'endColumn', 'severity', 'code', 'message'].map((k) => `diagnostics[].${k}`),
];
const ERROR = ['error', 'error.message', 'error.file', 'error.line', 'error.column'];

function json(args: string[], status = 0): unknown {
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, status, r.stderr);
  return JSON.parse(r.stdout);
}

const sorted = (names: Iterable<string>) => [...names].sort();

describe('the command line JSON contract', () => {
  it('run --json keeps its field names, with and without non-finite moments and warnings', () => {
    const two = json(['run', join(ENGINE_FIXTURES, 'two_locus.json'), '--no-cache', '--covariance', 'time,time']);
    assert.deepEqual(sorted(fieldNames(two)), sorted(RUN));
    const infinite = json([
      'run',
      join(ENGINE_FIXTURES, 'structured.json'),
      '--param',
      'coal=0',
      '--min-scc',
      '2',
      '--no-cache',
    ]);
    assert.deepEqual(sorted(fieldNames(infinite)), sorted([...RUN, 'nonFinite', 'nonFiniteCause']));
    assert.equal((infinite as { nonFiniteCause?: string }).nonFiniteCause, 'notAbsorbed');
    const blocked = join(tempDir('contract-blocked'), 'file');
    writeFileSync(blocked, 'a file where the cache directory should be');
    const warned = json(['run', join(ENGINE_FIXTURES, 'structured_n8_d3.json'), '--cache-dir', join(blocked, 'cache')]);
    assert.deepEqual(sorted(fieldNames(warned)), sorted([...RUN, ...WARNING]));
    const repeated = json(['run', join(ENGINE_FIXTURES, 'two_locus.json'), '--no-cache', '--repeat', '2']);
    assert.deepEqual(sorted(fieldNames(repeated)), sorted(['runs', ...RUN.map((n) => `runs[].${n}`)]));
    const gradient = json([
      'run',
      join(ENGINE_FIXTURES, 'two_locus.json'),
      '--no-cache',
      '--gradient',
      '--covariance',
      'time,tmrca',
    ]) as {
      covariance: Record<string, unknown>;
      gradient: Record<string, Record<string, unknown[]>>;
      gradient_variance: Record<string, Record<string, unknown>>;
      gradient_covariance: Record<string, Record<string, unknown>>;
    };
    assert.deepEqual(
      sorted(fieldNames(gradient)),
      sorted([...RUN, 'gradient', 'gradient_variance', 'gradient_covariance', 'timings_ms.gradient']),
    );
    // Inside the records: reward → parameter → one derivative per moment (variance: one);
    // a covariance's derivatives are keyed as the covariance itself, then by parameter.
    assert.equal(gradient.gradient.time.rec.length, 2);
    assert.equal(typeof gradient.gradient_variance.time.rec, 'number');
    assert.deepEqual(Object.keys(gradient.gradient_covariance), Object.keys(gradient.covariance));
    assert.deepEqual(Object.keys(gradient.gradient_covariance['time,tmrca']).sort(), ['coal', 'rec']);
    assert.equal(typeof gradient.gradient_covariance['time,tmrca'].rec, 'number');
  });

  it('dist --json keeps its field names, and an engine error its error fields', () => {
    const kingman = join(ENGINE_FIXTURES, 'kingman.json');
    assert.deepEqual(sorted(fieldNames(json(['dist', kingman, '--reward', 'tmrca', '--no-cache']))), sorted(DIST));
    assert.deepEqual(sorted(fieldNames(json(['dist', kingman, '--reward', 'nope', '--no-cache'], 1))), [
      'error',
      'error.file',
      'error.message',
    ]);
  });

  it('fit --json keeps its field names, with warnings when there are any, and a data error its line and column', () => {
    const dir = tempDir('contract-fit');
    const fitted = json(['fit', ...twoDemeFitArgs('--no-cache')]) as {
      stderr: Record<string, unknown>;
      expected: unknown[];
    };
    assert.deepEqual(sorted(fieldNames(fitted)), sorted(FIT));
    assert.equal(typeof fitted.stderr.mig, 'number');
    assert.equal(fitted.expected.length, 11);
    const flat = json([
      'fit',
      TWO_DEME_SFS,
      '--data',
      TWO_DEME_DATA,
      '--sfs-reward',
      'xi',
      '--fit',
      'coal,mig',
      '--no-cache',
    ]) as {
      stderr: Record<string, unknown>;
      warnings: unknown[];
    };
    assert.deepEqual(sorted(fieldNames(flat)), sorted([...FIT, 'warnings']));
    assert.deepEqual(flat.stderr, { coal: 'Infinity', mig: 'Infinity' });
    assert.equal(typeof flat.warnings[0], 'string');
    const bad = join(dir, 'bad.fs');
    writeFileSync(bad, '11 unfolded\n0 1 2 x 4 5 6 7 8 9 0\n');
    // A count's column too (decision 96): the fields a model's error has.
    assert.deepEqual(
      sorted(fieldNames(json(['fit', ...twoDemeFitArgs('--data', bad, '--no-cache')], 1))),
      sorted(ERROR),
    );
  });

  it('clear-caches, check and errors keep their field names', () => {
    assert.deepEqual(
      sorted(fieldNames(json(['clear-caches', '--cache-dir', tempDir('contract-clear')]))),
      sorted(CLEAR),
    );
    const dir = tempDir('contract-check');
    const unused = join(dir, 'unused.phasic');
    writeFileSync(unused, 'model m\nconst unused = 3\nstate k = 1\nrule r\n  when k >= 1\n  rate 1\n  do k -= 1\n');
    assert.deepEqual(sorted(fieldNames(json(['check', unused]))), sorted(CHECK));
    const bad = join(dir, 'bad.phasic');
    writeFileSync(bad, 'model bad\nparam a = 1\nstate k = 2\nrule r\n  rate a * a\n  do k -= 1\n');
    assert.deepEqual(sorted(fieldNames(json(['run', bad], 1))), sorted(ERROR));
  });
});
