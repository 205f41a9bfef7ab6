// The engine requests of docs/protocol.md over the real transport: spawns the engine
// process (`dist/server.js --stdio`, with the real addon) and speaks JSON-RPC to it as
// the extension host does: run with progress and block events, re-evaluate, SCC
// detail, distributions, cancel, supersede, memory samples, engine findings as diagnostics, and
// Clear Caches returning what the engine held.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { type BlockEvent, type MemorySnapshot, type Progress, totalBytes } from '../../extension/protocol/engine';
import type { EngineRequests, RunParams } from '../../extension/protocol/requests';
import { parseEngineReply } from '../../extension/protocol/validate';
import { LspClient, type Published } from './lsp';

const ROOT = join(__dirname, '..', '..', '..');
const fixture = (name: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'models', name), 'utf8');

describe('engine requests over stdio', () => {
  let lsp: LspClient;
  const folder = mkdtempSync(join(tmpdir(), 'phasic-engine-requests-'));
  /** Resolves on the first progress notification of the run: it is under way. */
  const underWay = (runId: number) =>
    lsp.notified<{ runId: number; progress: Progress }>('phasic/progress', (p) => p.runId === runId);
  const progress = () => lsp.notifications<{ runId: number; progress: Progress }>('phasic/progress');
  const blocks = () => lsp.notifications<BlockEvent>('phasic/blockEvent');
  const samples = () => lsp.notifications<MemorySnapshot>('phasic/memorySample');
  /** The first diagnostic published for `uri` that satisfies `accept` (they are debounced, so may follow a reply). */
  const publishedDiagnostic = async (uri: string, accept: (d: Published['diagnostics'][number]) => boolean) =>
    (
      await lsp.notified<Published>(
        'textDocument/publishDiagnostics',
        (p) => p.uri === uri && p.diagnostics.some(accept),
      )
    ).diagnostics.find(accept)!;

  function request<M extends keyof EngineRequests>(
    method: M,
    params: EngineRequests[M]['params'],
    token?: CancellationTokenSource,
  ): Promise<EngineRequests[M]['result']> {
    return lsp.engine(method, params, token?.token);
  }

  function model(name: string, text: string): string {
    const path = join(folder, name);
    writeFileSync(path, text);
    return pathToFileURL(path).toString();
  }

  let nextRunId = 1;
  function run(uri: string, overrides: Record<string, number> = {}, extra: Partial<RunParams> = {}) {
    return { uri, overrides, moments: 2, covariances: [] as Array<[string, string]>, runId: nextRunId++, ...extra };
  }

  before(async () => {
    lsp = await LspClient.initialized({
      maxStates: 1_000_000,
      memoryBudgetBytes: 2048 * 1024 * 1024,
      cacheDirectory: join(folder, 'cache'),
      maxDiskBytes: 64 << 20,
    });
  });

  after(() => lsp.stop());

  it('runs a model with progress and block events, and answers with the reference numbers', async () => {
    const uri = model('two_locus.phasic', fixture('two_locus.phasic'));
    const params = run(uri, { n: 5 });
    const { model: spec, result } = await request('phasic/run', params);
    assert.equal(spec.name, 'two_locus');
    assert.deepEqual(
      spec.params.map((p) => p.name),
      ['coal', 'rec'],
    );
    assert.equal(result.vertices, 340);
    assert.equal(result.edges, 2151);
    assert.equal(result.sccs.count, 51);
    assert.equal(result.sccs.largest, 17);
    assert.equal(result.decomposition.sccs.length, 51);
    const phases = new Set(
      progress()
        .filter((p) => p.runId === params.runId)
        .map((p) => p.progress.phase),
    );
    for (const phase of ['exploring', 'decomposing', 'recording', 'evaluating'])
      assert.ok(phases.has(phase as Progress['phase']), phase);
    // Every block subgraph that was created was freed, with its size.
    const created = blocks().filter((b) => b.kind === 'created');
    assert.ok(created.length > 0);
    assert.equal(blocks().filter((b) => b.kind === 'freed').length, created.length);
    assert.deepEqual(result.memory.blocks.map((b) => b.scc).sort(), created.map((b) => b.scc).sort());
  });

  it('re-evaluates the cached trace at new parameters without recording', async () => {
    const uri = model('kingman.phasic', fixture('kingman.phasic'));
    const { result } = await request('phasic/run', run(uri, { n: 4 }));
    assert.ok(Math.abs(Number(result.moments.tmrca[0]) - 1.5) < 1e-12);
    const twice = await request('phasic/evaluate', {
      traceKey: result.traceKey,
      params: { theta: 2 },
      moments: 2,
      covariances: [],
    });
    // E[T_MRCA] scales as 1/θ.
    assert.ok(Math.abs(Number(twice.moments.tmrca[0]) - 0.75) < 1e-12, String(twice.moments.tmrca[0]));
    assert.ok(Math.abs(Number(twice.moments.tmrca[1]) - 3.388888888888889 / 4) < 1e-12);
  });

  it('passes the gradient option through to the engine, for a run and for an evaluation', async () => {
    // Kingman: every rate is θ·k(k−1)/2, so E[T^k] ∝ θ^−k and dE[T^k]/dθ = −k·E[T^k]/θ;
    // a covariance of two rewards scales as θ^−2, so dCov/dθ = −2·Cov/θ.
    const uri = model('kingman.phasic', fixture('kingman.phasic'));
    const covariances: Array<[string, string]> = [['tmrca', 'total_length']];
    const plain = await request('phasic/run', run(uri, { n: 4 }, { covariances }));
    assert.equal(plain.result.gradient, undefined, 'no gradient unless asked for');
    const { result } = await request('phasic/run', run(uri, { n: 4 }, { covariances, gradient: true }));
    assert.equal(parseEngineReply('phasic/run', { model: plain.model, result }).ok, true);
    const close = (actual: unknown, expected: number, what: string) =>
      assert.ok(
        typeof actual === 'number' && Math.abs(actual - expected) <= 1e-12 * Math.abs(expected),
        `${what}: ${actual} should be ${expected}`,
      );
    const theta = 1;
    close(result.gradient?.tmrca.theta[0], -Number(result.moments.tmrca[0]) / theta, 'run: dE[T]/dθ');
    close(result.gradientVariance?.tmrca.theta, (-2 * Number(result.variance.tmrca)) / theta, 'run: dVar(T)/dθ');
    const cov = Number(result.covariance['tmrca,total_length']);
    close(result.gradientCovariance?.['tmrca,total_length'].theta, (-2 * cov) / theta, 'run: dCov/dθ');
    const at2 = await request('phasic/evaluate', {
      traceKey: result.traceKey,
      params: { theta: 2 },
      moments: 2,
      covariances,
      gradient: true,
    });
    assert.equal(parseEngineReply('phasic/evaluate', at2).ok, true);
    close(at2.gradient?.tmrca.theta[1], (-2 * Number(at2.moments.tmrca[1])) / 2, 'evaluate: dE[T²]/dθ');
    close(
      at2.gradientCovariance?.['tmrca,total_length'].theta,
      (-2 * Number(at2.covariance['tmrca,total_length'])) / 2,
      'evaluate: dCov/dθ',
    );
  });

  it('names a covariance that cancelled in the evaluation at that θ and in the run diagnostic there (decision 112)', async () => {
    // The mixture of test/engine/moment_accuracy.test.ts in the language: A then B at rate
    // t on one branch (probability 1/4), A at 3t then B at u = t + d on the other, so
    // Cov[a, b] = d/(8·t²·u), against E[a]·E[b] ≈ 1/(2t²): it cancels as d → 0. Down to
    // d ≈ 1e-30·t the engine recomputes it in quadruple precision (decision 111); at
    // d = 1e-40 no digit is left even there, and it is named.
    const t = 0.37;
    const text = [
      'model mixture',
      `param t = ${t}`,
      `param d = ${t}`,
      'state branch in 0..2 = 0',
      'state stage in 0..3 = 0',
      'absorb when stage == 3',
      'rule pick_slow when stage == 0 rate 0.25 do branch = 1; stage = 1',
      'rule pick_fast when stage == 0 rate 0.75 do branch = 2; stage = 1',
      'rule a_slow when stage == 1 and branch == 1 rate t do stage = 2',
      'rule a_fast when stage == 1 and branch == 2 rate 3 * t do stage = 2',
      'rule b_slow when stage == 2 and branch == 1 rate t do stage = 3',
      'rule b_fast when stage == 2 and branch == 2 rate t + d do stage = 3',
      'reward a = if stage == 1 then 1 else 0',
      'reward b = if stage == 2 then 1 else 0',
      '',
    ].join('\n');
    const uri = model('mixture.phasic', text);
    // Diagnostics are published for open documents, as the editor has them.
    await lsp.open(uri, text);
    const covariances: Array<[string, string]> = [['a', 'b']];
    const { result } = await request('phasic/run', run(uri, {}, { covariances }));
    const closed = (d: number) => d / (8 * t * t * (t + d));
    assert.ok(Math.abs(Number(result.covariance['a,b']) - closed(t)) <= 1e-14 * closed(t));
    assert.ok(!result.warnings.some((w) => /nearly equal moments/.test(w.message)), JSON.stringify(result.warnings));
    const evaluate = (d: number) =>
      request('phasic/evaluate', { traceKey: result.traceKey, params: { t, d }, moments: 2, covariances });
    const ordinary = await evaluate(t);
    assert.equal(ordinary.impreciseMoments, undefined);
    const recomputed = await evaluate(t * 2 ** -46);
    assert.equal(recomputed.impreciseMoments, undefined);
    const cov = Number(recomputed.covariance['a,b']);
    assert.ok(Math.abs(cov - closed(t * 2 ** -46)) <= 1e-13 * closed(t * 2 ** -46), `Cov = ${cov}`);
    const cancelling = await evaluate(1e-40);
    assert.equal(parseEngineReply('phasic/evaluate', cancelling).ok, true);
    assert.match(
      cancelling.impreciseMoments ?? '',
      /^1 value keeps fewer than 6 digits: Cov\(a, b\) = \S+ \((no digit left|about [0-9.]+ digits), ±/,
    );

    // A run at that θ says the same, as a diagnostic on the model's first line.
    const there = await request('phasic/run', run(uri, {}, { covariances, params: { t, d: 1e-40 } }));
    assert.ok(there.result.warnings.some((w) => w.message === cancelling.impreciseMoments));
    const diagnostic = await publishedDiagnostic(uri, (d) => d.message === cancelling.impreciseMoments);
    assert.equal(diagnostic.range.start.line, 0);
  });

  it("answers every run and evaluation with the edited model's own labels: edit, run, undo, run", async () => {
    // One file edited in place, as in daily use: the graph stays the same, the labels change.
    const original = fixture('kingman.phasic');
    const uri = model('kingman_edited.phasic', original);
    const path = join(folder, 'kingman_edited.phasic');
    const edit = (text: string) => writeFileSync(path, text);
    // E[T_MRCA] for n = 4 is 1.5/θ; E[total length] = 2·(1 + 1/2 + 1/3)/θ = 11/(3θ).
    const close = (actual: number | string, expected: number, what: string) =>
      assert.ok(
        typeof actual === 'number' && Math.abs(actual - expected) <= 1e-12 * expected,
        `${what}: ${actual}, expected ${expected}`,
      );

    const first = (await request('phasic/run', run(uri, { n: 4 }))).result;
    edit(original.replace('param theta = 1.0', 'param theta = 2.0'));
    const doubled = (await request('phasic/run', run(uri, { n: 4 }))).result;
    close(doubled.moments.tmrca[0], 0.75, 'default 2');
    edit(original);
    const undone = (await request('phasic/run', run(uri, { n: 4 }))).result;
    assert.equal(undone.reused, true);
    assert.deepEqual(undone.params, { theta: 1 });
    close(undone.moments.tmrca[0], 1.5, 'undone default');

    edit(original.replace('param theta', 'param rho').replace('rate theta', 'rate rho'));
    const renamed = (await request('phasic/run', run(uri, { n: 4 }, { params: { rho: 4 } }))).result;
    assert.deepEqual(renamed.params, { rho: 4 });
    close(renamed.moments.tmrca[0], 1.5 / 4, 'renamed parameter');
    edit(original);
    const back = (await request('phasic/run', run(uri, { n: 4 }, { params: { theta: 3 } }))).result;
    assert.deepEqual(back.params, { theta: 3 });
    close(back.moments.tmrca[0], 0.5, 'parameter name undone');

    edit(original.replace('reward tmrca', 'reward height'));
    const reward = (await request('phasic/run', run(uri, { n: 4 }))).result;
    assert.deepEqual(Object.keys(reward.moments), ['time', 'height', 'total_length']);
    edit(original);
    const last = (await request('phasic/run', run(uri, { n: 4 }))).result;
    assert.deepEqual(Object.keys(last.moments), ['time', 'tmrca', 'total_length']);

    // Each trace key re-evaluates with its own model's labels and defaults.
    const evaluate = (traceKey: string, params: Record<string, number>) =>
      request('phasic/evaluate', { traceKey, params, moments: 2, covariances: [] });
    const e1 = await evaluate(first.traceKey, {});
    assert.deepEqual(e1.params, { theta: 1 });
    close(e1.moments.tmrca[0], 1.5, 'evaluate the first');
    const e2 = await evaluate(doubled.traceKey, {});
    assert.deepEqual(e2.params, { theta: 2 });
    close(e2.moments.total_length[0], 11 / 6, 'evaluate the edited default');
    const e3 = await evaluate(renamed.traceKey, { rho: 2 });
    assert.deepEqual(e3.params, { rho: 2 });
    close(e3.moments.tmrca[0], 0.75, 'evaluate the renamed parameter');
    const e4 = await evaluate(reward.traceKey, {});
    assert.deepEqual(Object.keys(e4.moments), ['time', 'height', 'total_length']);
    const e5 = await evaluate(last.traceKey, { theta: 2 });
    assert.deepEqual(Object.keys(e5.moments), ['time', 'tmrca', 'total_length']);
    close(e5.moments.tmrca[0], 0.75, 'evaluate the last');
  });

  it('answers the states and internal edges of one SCC', async () => {
    const uri = model('structured.phasic', fixture('structured.phasic'));
    const reply = await request('phasic/run', run(uri));
    const largest = reply.result.decomposition.sccs.reduce((a, b) => (b.vertices > a.vertices ? b : a));
    const detail = await request('phasic/sccDetail', {
      traceKey: reply.result.traceKey,
      scc: largest.id,
      params: reply.result.params,
    });
    assert.equal(detail.states.length, largest.vertices);
    assert.deepEqual(detail.variables, ['x[0]', 'x[1]']);
    // Two lineages in two demes: (2,0), (1,1), (0,2) migrate into each other.
    assert.deepEqual(detail.states.map((s) => s.join(',')).sort(), ['0,2', '1,1', '2,0']);
    assert.equal(detail.edges.length, largest.internalEdges);
  });

  it('answers the distribution of a reward from the cached run, checked by the host schema', async () => {
    const uri = model('kingman-dist.phasic', fixture('kingman.phasic'));
    const { result } = await request('phasic/run', run(uri, { n: 4 }));
    const times = [0, 0.25, 1, 3];
    const reply = await request('phasic/distribution', {
      traceKey: result.traceKey,
      reward: 'tmrca',
      params: { theta: 2 },
      times,
      quantiles: [0.5],
    });
    assert.equal(parseEngineReply('phasic/distribution', reply).ok, true);
    assert.deepEqual(reply.params, { theta: 2 });
    // T_MRCA for n = 4 is Exp(6θ) + Exp(3θ) + Exp(θ): hypoexponential.
    const rates = [12, 6, 2];
    const survival = (t: number) =>
      rates.reduce(
        (s, r, k) => s + rates.reduce((p, q, j) => (j === k ? p : (p * q) / (q - r)), 1) * Math.exp(-r * t),
        0,
      );
    times.forEach((t, i) => assert.ok(Math.abs(reply.cdf[i] - (1 - survival(t))) <= reply.epsilon, `CDF(${t})`));
    assert.ok(Math.abs(survival(reply.quantiles[0].value) - 0.5) < 1e-9);
    const unknown = await request('phasic/distribution', {
      traceKey: result.traceKey,
      reward: 'height',
      params: {},
    }).then(
      () => undefined,
      (error: { message: string; data?: { kind: string } }) => error,
    );
    assert.equal(unknown?.data?.kind, 'argument');
    assert.match(unknown?.message ?? '', /unknown reward 'height'; the model has time, tmrca/);
  });

  it('cancels a distribution on $/cancelRequest', async () => {
    // A ring of 100,000 states walked at rate 1e4 and left at 1e-6: the series would
    // take its 4,000,000-step limit, each step a pass over the ring (minutes in all),
    // so the cancel arrives first however loaded the machine (two states made the
    // limit in milliseconds, sometimes before the cancel).
    const uri = model(
      'stiff.phasic',
      `model stiff
const m = 100000
param fast = 10000.0
param slow = 0.000001
state j in 0..m = 0
rule walk
  when j < m - 1
  rate fast
  do j += 1
rule wrap
  when j == m - 1
  rate fast
  do j = 0
rule leave
  when j < m
  rate slow
  do j = m
`,
    );
    const { result } = await request('phasic/run', run(uri));
    const token = new CancellationTokenSource();
    const pending = request('phasic/distribution', { traceKey: result.traceKey, reward: 'time', params: {} }, token);
    token.cancel();
    await assert.rejects(
      pending,
      (error: { code: number; data?: { kind: string } }) => error.code === -32800 && error.data?.kind === 'cancelled',
    );
  });

  it('answers a run of a model file that is a FIFO with an error naming it, and keeps answering', async () => {
    // Reading a FIFO without a writer used to block one of Node's file threads for
    // ever: the run never answered.
    const fifo = join(folder, 'pipe.phasic');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    await assert.rejects(request('phasic/run', run(pathToFileURL(fifo).toString())), (error: Error) => {
      assert.match(error.message, /cannot read .*pipe\.phasic: it is a FIFO \(named pipe\), not a regular file/);
      return true;
    });
    const kingman = await request('phasic/run', run(model('kingman_after_fifo.phasic', fixture('kingman.phasic'))));
    assert.ok(kingman.result.vertices > 0);
  });

  it("puts exploration warnings and errors on the model's source", async () => {
    const text = fixture('kingman.phasic') + '\nrule stay\n  when k >= 2\n  rate theta\n  do k = k\n';
    const uri = model('kingman_stay.phasic', text);
    // Diagnostics are published for open documents, as the editor has them.
    await lsp.open(uri, text);
    await request('phasic/run', run(uri));
    const stayLine = text.split('\n').findIndex((l) => l.startsWith('rule stay'));
    const warned = await publishedDiagnostic(uri, (d) => d.code === 'exploration-warning');
    assert.ok(
      warned.range.start.line >= stayLine,
      `on the rule (line ${warned.range.start.line}, rule at ${stayLine})`,
    );
    assert.equal(warned.severity, 2);

    // A warning about the whole model has no rule to point at: it goes on the first line.
    const stuck = fixture('kingman.phasic').replace('when k >= 2', 'when k >= 1000');
    const stuckUri = model('kingman_stuck.phasic', stuck);
    await lsp.open(stuckUri, stuck);
    const answer = await request('phasic/run', run(stuckUri));
    assert.equal(Number(answer.result.moments.tmrca[0]), 0);
    const absorbed = await publishedDiagnostic(stuckUri, (d) => /absorbed at once/.test(d.message));
    assert.deepEqual(absorbed.range.start, { line: 0, character: 0 });
    assert.equal(absorbed.severity, 2);

    // A model that declares where it absorbs and reaches a state where no rule fires and
    // none of its conditions holds (decision 95): the warning goes on the absorb condition.
    const trap =
      'model trap\nparam mu = 1.0\nstate k in 0..4 = 4\nabsorb when k == 0\nrule down\n  when k >= 2\n  rate mu\n  do k -= 1\nreward t = 1\n';
    const trapUri = model('trap.phasic', trap);
    await lsp.open(trapUri, trap);
    await request('phasic/run', run(trapUri));
    const trapped = await publishedDiagnostic(trapUri, (d) => /no rule fires there/.test(d.message));
    assert.equal(trapped.range.start.line, 3);
    assert.equal(trapped.severity, 2);

    const negative = fixture('kingman.phasic').replace('rate theta * k * (k - 1) / 2', 'rate theta * (3 - k)');
    const bad = model('kingman_negative.phasic', negative);
    await assert.rejects(
      request('phasic/run', run(bad)),
      (error: { message: string; data?: { kind: string; range?: unknown } }) => {
        assert.match(error.message, /coalesce/);
        assert.equal(error.data?.kind, 'model');
        assert.ok(error.data?.range, 'the error points into the source');
        return true;
      },
    );
  });

  it("shows the engine's findings only on the text the run read: an edit, even mid-run, takes them away", async () => {
    // A rate that divides by zero at k = 2: the error's range is that rate's, in this text.
    const text = fixture('kingman.phasic').replace('rate theta * k * (k - 1) / 2', 'rate theta / (k - 2)');
    const uri = model('kingman_zero.phasic', text);
    // The opening's own publication is let through first: debounced, on a loaded machine
    // it could otherwise arrive after the run and pass for the edit's below.
    const opened = lsp.diagnosticsFor(uri);
    await lsp.open(uri, text);
    await opened;
    const found = (p: Published) => p.diagnostics.find((d) => d.code === 'exploration');
    const shown = lsp.diagnosticsFor(uri, (p) => found(p) !== undefined);
    await assert.rejects(request('phasic/run', run(uri)));
    const rateLine = text.split('\n').findIndex((l) => l.includes('rate theta / (k - 2)'));
    assert.equal(found(await shown)?.range.start.line, rateLine);
    // Two lines above it: the error stayed on its line, now a blank one, until the next run.
    const edited = `// a\n// b\n${text}`;
    // Nothing else publishes for it meanwhile: the next publication is the edit's.
    const onEdited = lsp.diagnosticsFor(uri);
    await lsp.rpc.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ text: edited }],
    });
    assert.equal(found(await onEdited), undefined);
    // Undone, the text is the run's again, and so is its finding.
    const back = lsp.diagnosticsFor(uri);
    await lsp.rpc.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 3 },
      contentChanges: [{ text }],
    });
    assert.equal(found(await back)?.range.start.line, rateLine);

    // Edited while the run is under way (n = 9 explores for about a second): the
    // warning it ends with is about the text it read, so it is not shown on the new one.
    const slow = `${fixture('two_locus.phasic')}\nrule stay\n  when c[1][1] == n\n  rate coal\n  do c[1][1] = c[1][1]\n`;
    const slowUri = model('two_locus_edited.phasic', slow);
    await lsp.open(slowUri, slow);
    const params = run(slowUri, { n: 9 });
    const running = request('phasic/run', params);
    await underWay(params.runId);
    await lsp.rpc.sendNotification('textDocument/didChange', {
      textDocument: { uri: slowUri, version: 2 },
      contentChanges: [{ text: `// edited\n${slow}` }],
    });
    const answer = await running;
    assert.ok(answer.result.warnings.length > 0, 'the run warned');
    // The run's publication came before its answer, the edit's may come before or after
    // it: the same edited text sent again publishes what the document shows now, with no
    // fixed wait a loaded machine could outlast.
    const settled = lsp.diagnosticsFor(slowUri);
    await lsp.rpc.sendNotification('textDocument/didChange', {
      textDocument: { uri: slowUri, version: 3 },
      contentChanges: [{ text: `// edited\n${slow}` }],
    });
    assert.deepEqual(
      (await settled).diagnostics.filter((d) => d.code.startsWith('exploration')),
      [],
    );
  });

  it('cancels a run on $/cancelRequest and a newer run of the same model supersedes an older one', async () => {
    // Each run that must be stopped explores a state space it has not seen (n = 9, then
    // n = 10: about a second of work), so it cannot finish before the cancel or the newer
    // request arrives, however loaded the machine; a smaller or repeated one could be
    // answered from the caches in milliseconds, and rightly not be superseded.
    const uri = model('two_locus_big.phasic', fixture('two_locus.phasic'));
    const source = new CancellationTokenSource();
    const params = run(uri, { n: 9 });
    const cancelled = request('phasic/run', params, source);
    // Cancelled once the engine reports the run under way, not after a fixed delay
    // that a faster machine could outlast.
    await underWay(params.runId);
    source.cancel();
    await assert.rejects(cancelled, (error: { code: number }) => error.code === -32800);

    const olderParams = run(uri, { n: 10 });
    const older = request('phasic/run', olderParams);
    await underWay(olderParams.runId);
    const newer = request('phasic/run', run(uri, { n: 3 }));
    await assert.rejects(
      older,
      (error: { code: number; message: string }) => error.code === -32800 && /superseded/.test(error.message),
    );
    assert.equal((await newer).result.vertices, 32);
  });

  it('supersedes in the order the requests arrived, not the order their models were read', async () => {
    // The first request reads the file from disk; the document is opened before the
    // second, which then has its text at once. The second must still be the newer run.
    const text = fixture('two_locus.phasic');
    const uri = model('two_locus_order.phasic', text);
    const older = request('phasic/run', run(uri, { n: 10 }));
    await lsp.open(uri, text);
    const newer = request('phasic/run', run(uri, { n: 3 }));
    await assert.rejects(
      older,
      (error: { code: number; message: string }) => error.code === -32800 && /superseded/.test(error.message),
    );
    assert.equal((await newer).result.vertices, 32);
  });

  it('samples memory and clears exactly what the caches held', async () => {
    assert.ok(samples().length > 0, 'memory samples were pushed');
    const before = await request('phasic/memory', {});
    const held = totalBytes(before.accountedBytes);
    assert.ok(held > 0, "the caches hold the runs' traces");
    // Between runs only the caches hold memory: traces, and under graph the parametric
    // graphs kept beside them for distributions.
    for (const c of ['subgraphs', 'evaluation'] as const) assert.equal(before.accountedBytes[c], 0, c);
    assert.ok(before.accountedBytes.graph > 0, 'parametric graphs are cached');
    const cleared = await request('phasic/clearCaches', {});
    const freed = totalBytes(cleared.freedBytes);
    assert.equal(freed, held);
    assert.ok(cleared.traces > 0);
    assert.ok(cleared.disk.files > 0 && cleared.disk.bytes > 0);
    const afterwards = await request('phasic/memory', {});
    assert.equal(totalBytes(afterwards.accountedBytes), 0);
  });
});
