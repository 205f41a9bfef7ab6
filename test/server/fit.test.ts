// `phasic/fit` over the real transport (the engine process with the real addon): a
// spectrum equal to rounded expected counts at known parameters is fitted back to
// them, with progress notifications for each step; bad data and a reward family
// that is not there are refused with messages that say so; a fit that would take
// seconds is cancelled after its first step, the ledger keeps nothing of it, and the
// server goes on answering.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import { type FitProgressNotification, totalBytes } from '../../extension/protocol/engine';
import type { EngineRequests } from '../../extension/protocol/requests';
import { parseEngineNotification, parseEngineReply } from '../../extension/protocol/validate';
import { LspClient } from './lsp';

// Two demes, symmetric migration; the proportions of the spectrum depend on mig/coal
// only, so with coal fixed, mig is identifiable.
const TWO_DEMES = `model two_deme_fit
const n = 4
const a = 2
param coal = 1.0
param mig = 0.5
state s[2][n]
init s[0][0] = a
init s[1][0] = n - a
absorb when sum(s) <= 1
rule coalesce
  for i in 0..1, k1 in 0..n-1, k2 in k1..n-1
  let same = if k1 == k2 then 1 else 0
  when s[i][k1] >= 1 + same and s[i][k2] >= 1 and k1 + k2 + 1 <= n - 1
  rate coal * s[i][k1] * (s[i][k2] - same) / (1 + same)
  do s[i][k1] -= 1; s[i][k2] -= 1; s[i][k1 + k2 + 1] += 1
rule migrate
  for i in 0..1, k in 0..n-1
  when s[i][k] >= 1
  rate mig * s[i][k]
  do s[i][k] -= 1; s[1 - i][k] += 1
reward xi[k in 0..n-2] = s[0][k] + s[1][k]
`;

// Two demes of 8 samples each with their own coalescence rates and migration each way
// (5,823 states): each optimizer step is an evaluation of a large trace with its
// gradient, and three parameters started far from the data's optimum take tens of
// steps, seconds in all, so a cancel sent at the first step lands mid-fit.
const ASYMMETRIC = `model two_deme_asymmetric
const n = 16
const a = 8
param coal0 = 1.0
param coal1 = 1.0
param mig01 = 0.5
param mig10 = 0.5
state s[2][n]
init s[0][0] = a
init s[1][0] = n - a
absorb when sum(s) <= 1
rule coalesce0
  for k1 in 0..n-1, k2 in k1..n-1
  let same = if k1 == k2 then 1 else 0
  when s[0][k1] >= 1 + same and s[0][k2] >= 1 and k1 + k2 + 1 <= n - 1
  rate coal0 * s[0][k1] * (s[0][k2] - same) / (1 + same)
  do s[0][k1] -= 1; s[0][k2] -= 1; s[0][k1 + k2 + 1] += 1
rule coalesce1
  for k1 in 0..n-1, k2 in k1..n-1
  let same = if k1 == k2 then 1 else 0
  when s[1][k1] >= 1 + same and s[1][k2] >= 1 and k1 + k2 + 1 <= n - 1
  rate coal1 * s[1][k1] * (s[1][k2] - same) / (1 + same)
  do s[1][k1] -= 1; s[1][k2] -= 1; s[1][k1 + k2 + 1] += 1
rule migrate01
  for k in 0..n-1
  when s[0][k] >= 1
  rate mig01 * s[0][k]
  do s[0][k] -= 1; s[1][k] += 1
rule migrate10
  for k in 0..n-1
  when s[1][k] >= 1
  rate mig10 * s[1][k]
  do s[1][k] -= 1; s[0][k] += 1
reward xi[k in 0..n-2] = s[0][k] + s[1][k]
`;

describe('phasic/fit over stdio', () => {
  let lsp: LspClient;
  const folder = mkdtempSync(join(tmpdir(), 'phasic-fit-'));
  /** The progress notifications of fit `fitId`, each checked by the host's schema. */
  const progressOf = (fitId: number): FitProgressNotification[] =>
    lsp
      .notifications<FitProgressNotification>('phasic/fitProgress')
      .filter((p) => p.fitId === fitId)
      .map((p) => {
        const parsed = parseEngineNotification('phasic/fitProgress', p);
        assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
        return parsed.value;
      });
  /** Resolves at the first progress notification of the fit `fitId`: it is optimizing. */
  const firstStep = (fitId: number) =>
    lsp.notified<FitProgressNotification>('phasic/fitProgress', (p) => p.fitId === fitId);
  let uri = '';

  const request = <M extends keyof EngineRequests>(method: M, params: EngineRequests[M]['params']) =>
    lsp.engine(method, params);

  before(async () => {
    lsp = await LspClient.initialized({ cacheDirectory: join(folder, 'cache'), maxDiskBytes: 64 << 20 });
    const path = join(folder, 'two_deme_fit.phasic');
    writeFileSync(path, TWO_DEMES);
    uri = pathToFileURL(path).toString();
  });

  after(() => lsp.stop());

  it('fits a spectrum of rounded expected counts back to the parameter that made it', async () => {
    // The data: the expected branch lengths at mig = 0.3, scaled to 100,000 sites and rounded.
    const truth = await request('phasic/evaluate', {
      traceKey: (await request('phasic/run', { uri, overrides: {}, moments: 1, covariances: [], runId: 1 })).result
        .traceKey,
      params: { coal: 1, mig: 0.3 },
      moments: 1,
      covariances: [],
    });
    const lengths = [0, 1, 2].map((k) => Number(truth.moments[`xi[${k}]`][0]));
    const total = lengths.reduce((a, b) => a + b, 0);
    const counts = lengths.map((l) => Math.round((1e5 * l) / total));
    const data = `# made in the test\n5 unfolded\n0 ${counts.join(' ')} 0\n1 0 0 0 1\n`;

    const raw = await request('phasic/fit', {
      uri,
      overrides: {},
      data,
      sfsReward: 'xi',
      fit: ['mig'],
      start: { mig: 1 },
      params: { coal: 1 },
      fitId: 7,
    });
    const parsed = parseEngineReply('phasic/fit', raw);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    const r = parsed.value;
    assert.ok(r.converged, r.warnings.join('; '));
    assert.ok(Math.abs(r.estimates.mig - 0.3) < 0.003, `mig = ${r.estimates.mig}`);
    assert.equal(r.params.coal, 1);
    const se = r.stderr.mig;
    assert.ok(typeof se === 'number' && se > 0 && se < 0.05, `stderr ${se}`);
    assert.deepEqual(r.observed, [null, ...counts, null]);
    // The expected counts sum to the observed sites (the profiled scale makes them so).
    const expected = r.expected.slice(1, 4) as number[];
    assert.ok(Math.abs(expected.reduce((a, b) => a + b, 0) - 1e5) < 1, expected.join(' '));
    assert.deepEqual(r.warnings, []);
    // Progress: one notification per step, for this fit, the same steps the result keeps.
    const mine = progressOf(7).map((p) => p.step);
    assert.ok(mine.length > 0 && mine.length === r.steps.length);
    assert.deepEqual(mine, r.steps);
    assert.equal(mine[mine.length - 1].iteration, r.iterations);
    // BFGS with a line search only accepts steps that do not lower the log-likelihood.
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i].loglik >= mine[i - 1].loglik - 1e-9);
  });

  it('refuses a spectrum of the wrong length, bad data and a missing reward family, saying why', async () => {
    const base = {
      uri,
      overrides: {},
      sfsReward: 'xi',
      fit: ['mig'],
      fitId: 8,
    };
    const refusal = async (params: EngineRequests['phasic/fit']['params'], pattern: RegExp) => {
      await assert.rejects(request('phasic/fit', params), (e: unknown) => {
        assert.ok(e instanceof ResponseError);
        assert.match(e.message, pattern);
        return true;
      });
    };
    await refusal({ ...base, data: '7 unfolded\n0 5 4 3 2 1 0\n' }, /sample|length|entries|n = /i);
    await refusal({ ...base, data: '5 unfolded\n0 5 -4 3 0\n' }, /line 2/);
    // A count that reads as 0 but is not 0 as written (decision 96), at its line and column.
    await refusal(
      { ...base, data: '5 unfolded\n0 5 1e-400 3 0\n' },
      /^the data: line 2, column 5: entry 2: '1e-400' is too small for a double/,
    );
    await refusal({ ...base, data: '5 unfolded\n0 5 4 3 0\n', sfsReward: 'eta' }, /eta/);
    await refusal({ ...base, data: '5 unfolded\n0 5 4 3 0\n', fit: ['nope'] }, /no parameter nope/);
    // Refused by the request schema before anything runs.
    await refusal({ ...base, data: '5 unfolded\n0 5 4 3 0\n', fit: [] }, /fit/);
    // A start outside the bounds the model declares: the panel refused fixed values
    // there, yet a start of 5 was fitted from.
    const bounded = join(folder, 'two_deme_bounded.phasic');
    writeFileSync(bounded, TWO_DEMES.replace('param mig = 0.5', 'param mig = 0.1 in 0..0.2'));
    await refusal(
      { ...base, uri: pathToFileURL(bounded).toString(), data: '5 unfolded\n0 5 4 3 0\n', start: { mig: 5 } },
      /the start value mig=5 is above the bound 0\.2 the model declares \(mig in 0\.\.0\.2\)/,
    );
  });

  it('cancels a fit on $/cancelRequest after its first step; the ledger keeps nothing of it; the server answers on', {
    timeout: 300_000,
  }, async () => {
    const path = join(folder, 'two_deme_asymmetric.phasic');
    writeFileSync(path, ASYMMETRIC);
    // A spectrum that is not the model's at the start values: 1/k sites per entry.
    const counts = Array.from({ length: 15 }, (_, k) => Math.round(3000 / (k + 1)));
    const data = `17 unfolded\n0 ${counts.join(' ')} 0\n1 ${'0 '.repeat(15)}1\n`;
    const token = new CancellationTokenSource();
    const pending = lsp.engine(
      'phasic/fit',
      {
        uri: pathToFileURL(path).toString(),
        overrides: {},
        data,
        sfsReward: 'xi',
        fit: ['coal1', 'mig01', 'mig10'],
        start: { coal1: 5, mig01: 0.01, mig10: 3 },
        params: { coal0: 1 },
        fitId: 21,
      },
      token.token,
    );
    // Cancelled once the optimizer has taken a step, not after a delay a faster machine could outlast.
    await firstStep(21);
    token.cancel();
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof ResponseError, String(error));
      assert.equal(error.code, -32800);
      assert.equal((error.data as { kind?: string } | undefined)?.kind, 'cancelled');
      return true;
    });
    const stepsBefore = progressOf(21).length;

    // Nothing of the fit is held but its model's cached trace: no evaluation buffers, no subgraphs.
    const memory = await request('phasic/memory', {});
    assert.equal(memory.accountedBytes.evaluation, 0);
    assert.equal(memory.accountedBytes.subgraphs, 0);
    // The server answers, and fits, as before.
    const small = await request('phasic/fit', {
      uri,
      overrides: {},
      data: '5 unfolded\n0 60 25 15 0\n1 0 0 0 1\n',
      sfsReward: 'xi',
      fit: ['mig'],
      params: { coal: 1 },
      fitId: 22,
    });
    assert.ok(small.converged, small.warnings.join('; '));
    // The cancelled fit stopped: no step of it came after its cancel was answered.
    assert.equal(progressOf(21).length, stepsBefore);
    // And clearing the caches leaves nothing accounted: the cancelled fit left nothing outside them.
    await request('phasic/clearCaches', {});
    assert.equal(totalBytes((await request('phasic/memory', {})).accountedBytes), 0);
  });
});
