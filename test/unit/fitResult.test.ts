// A fit's result has one wire form (schema/engine.ts `fitResult`) and one conversion
// into it (protocol/fit.ts), shared by the engine process and `phasic-trace fit
// --json`: a parameter the data do not identify has the standard error "Infinity", a
// non-finite information matrix gives "NaN" (decision 12's strings, never null), the
// result passes the schema the host and the page check, and the command line prints
// it under its public names without the steps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publicFit } from '../../extension/cli/contract';
import { type FitOutcome, standardError, wireFit } from '../../extension/protocol/fit';
import { parseEngineReply } from '../../extension/protocol/validate';

const outcome = (stderr: Record<string, number>): FitOutcome => ({
  model: 'two_deme',
  estimates: Object.fromEntries(Object.keys(stderr).map((k) => [k, 0.5])),
  stderr,
  loglik: -33,
  scale: 131.9,
  iterations: 6,
  converged: true,
  expected: [null, 580.5, 320.25, null],
  observed: [null, 587, 314, null],
  params: { coal: 1, mig: 0.5 },
  sites: 901,
  warnings: [],
  timingsMs: { run: 4, optimize: 2, information: 1, total: 7 },
});

test('standard errors: finite numbers stay, ∞ is "Infinity", NaN is "NaN"', () => {
  assert.equal(standardError(0.0232), 0.0232);
  assert.equal(standardError(0), 0);
  assert.equal(standardError(Infinity), 'Infinity');
  assert.equal(standardError(Number.NaN), 'NaN');
  // A negative infinity is no standard error: reported as undefined rather than passed on.
  assert.equal(standardError(-Infinity), 'NaN');
});

test('the wire form passes the schema, with the steps, and survives JSON unchanged', () => {
  const steps = [
    { start: 1, iteration: 0, loglik: -40, estimates: { mig: 1 } },
    { start: 1, iteration: 1, loglik: -33, estimates: { mig: 0.5 } },
  ];
  const wire = wireFit(outcome({ mig: 0.02, coal: Infinity, other: Number.NaN }), steps);
  const json = JSON.parse(JSON.stringify(wire));
  assert.deepEqual(json.stderr, { mig: 0.02, coal: 'Infinity', other: 'NaN' });
  const parsed = parseEngineReply('phasic/fit', json);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  assert.deepEqual(JSON.parse(JSON.stringify(parsed.value.steps)), steps);
  // null is no longer a standard error: a reader would not tell it from a missing value.
  const withNull = parseEngineReply('phasic/fit', { ...json, stderr: { mig: null } });
  assert.equal(withNull.ok, false);
  // A parameter named like an Object.prototype member keeps its standard error.
  const proto = JSON.parse(JSON.stringify(wireFit(outcome({ constructor: Infinity }), [])));
  assert.deepEqual(Object.entries(proto.stderr), [['constructor', 'Infinity']]);
});

test('the command line prints the wire form under its public names, without steps', () => {
  const wire = wireFit(outcome({ mig: Number.NaN }), [{ start: 1, iteration: 0, loglik: -40, estimates: { mig: 1 } }]);
  const printed = JSON.parse(JSON.stringify(publicFit(wire)));
  assert.deepEqual(Object.keys(printed), [
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
  ]);
  assert.deepEqual(printed.stderr, { mig: 'NaN' });
  assert.deepEqual(printed.timings_ms, { run: 4, optimize: 2, information: 1, total: 7 });
  const warned = publicFit(wireFit({ ...outcome({ mig: Infinity }), warnings: ['mig is not identifiable'] }, []));
  assert.deepEqual(warned.warnings, ['mig is not identifiable']);
});
