// The host/webview message validators: what each side accepts and the error it
// names for what it rejects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layoutCondensation } from '../../extension/host/panel/layout';
import { parseEngineReply } from '../../extension/protocol/validate';
import { parseHostMessage, parseWebviewMessage } from '../../extension/protocol/webview';
import {
  syntheticDecomposition,
  syntheticDistribution,
  syntheticRun,
  syntheticSession,
  TWO_LOCUS_MODEL,
} from './synthetic';

const rejects = (r: { ok: boolean; error?: string }, error: RegExp) => {
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, error);
};

test('webview messages: each type accepted with its fields', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { ok: true, value: { type: 'ready' } });
  assert.deepEqual(parseWebviewMessage({ type: 'tab', tab: 'scc' }), { ok: true, value: { type: 'tab', tab: 'scc' } });
  assert.deepEqual(
    parseWebviewMessage({ type: 'evaluate', requestId: 3, traceKey: 'ab', params: { coal: 2 }, extra: 'ignored' }),
    {
      ok: true,
      value: {
        type: 'evaluate',
        requestId: 3,
        traceKey: 'ab',
        params: Object.assign(Object.create(null), { coal: 2 }),
      },
    },
  );
  assert.deepEqual(parseWebviewMessage({ type: 'sccDetail', requestId: 1, traceKey: 'ab', scc: 4 }).ok, true);
  assert.deepEqual(
    parseWebviewMessage({ type: 'exportSvg', svg: '<svg xmlns="http://www.w3.org/2000/svg"></svg>' }).ok,
    true,
  );
});

test('webview messages: malformed ones are rejected with the field named', () => {
  rejects(parseWebviewMessage(null), /^message: expected an object/);
  rejects(parseWebviewMessage('ready'), /^message: expected an object/);
  rejects(parseWebviewMessage({ type: 'run' }), /^type: expected ready \| tab/);
  rejects(
    parseWebviewMessage({ type: 'tab', tab: 'settings' }),
    /^tab: expected memory \| scc \| moments \| distribution/,
  );
  rejects(
    parseWebviewMessage({ type: 'evaluate', requestId: 1, traceKey: 'ab', params: { coal: 'two' } }),
    /^params\.coal: expected a finite number/,
  );
  rejects(
    parseWebviewMessage({ type: 'evaluate', requestId: 1, traceKey: 'ab', params: { coal: Infinity } }),
    /^params\.coal: expected a finite number/,
  );
  rejects(
    parseWebviewMessage({ type: 'evaluate', requestId: -1, traceKey: 'ab', params: {} }),
    /^requestId: expected an integer ≥ 0/,
  );
  rejects(
    parseWebviewMessage({ type: 'evaluate', requestId: 1, traceKey: 'x'.repeat(201), params: {} }),
    /^traceKey: expected a string of at most 200/,
  );
  rejects(
    parseWebviewMessage({ type: 'sccDetail', requestId: 1, traceKey: 'ab', scc: 1.5 }),
    /^scc: expected an integer/,
  );
  rejects(
    parseWebviewMessage({ type: 'exportSvg', svg: '<script>alert(1)</script>' }),
    /^svg: expected an <svg> document/,
  );
  const fit = { type: 'fit', fitId: 1, sfsReward: 'sfs', start: {}, params: {} };
  rejects(parseWebviewMessage({ ...fit, fit: ['mig', 'mig'] }), /^fit: expected one or more distinct parameter names/);
  rejects(parseWebviewMessage({ ...fit, fit: [] }), /^fit: expected one or more distinct parameter names/);
  assert.equal(parseWebviewMessage({ ...fit, fit: ['mig', 'coal'] }).ok, true);
  const dist = { type: 'distribution', requestId: 1, traceKey: 'ab', params: {} };
  rejects(
    parseWebviewMessage({ ...dist, rewards: ['t', 't'] }),
    /^rewards: expected one or more distinct reward names/,
  );
});

test('distribution messages both ways', () => {
  const ask = { type: 'distribution', requestId: 2, traceKey: 'ab', rewards: ['time', 'tmrca'], params: { coal: 2 } };
  assert.equal(parseWebviewMessage(ask).ok, true);
  rejects(parseWebviewMessage({ ...ask, rewards: [] }), /^rewards: expected one or more distinct reward names/);
  rejects(parseWebviewMessage({ ...ask, rewards: ['time', 'time'] }), /^rewards: expected one or more distinct/);
  rejects(
    parseWebviewMessage({ ...ask, rewards: Array.from({ length: 65 }, (_, i) => `r${i}`) }),
    /^rewards: expected an array of at most 64/,
  );
  rejects(
    parseWebviewMessage({ type: 'exportPng', png: 'data:image/svg+xml;base64,PHN2Zy8+' }),
    /^png: expected a data:image\/png;base64 URL/,
  );
  rejects(
    parseWebviewMessage({ type: 'exportPng', png: 'data:image/png;base64,<b>' }),
    /^png: expected a data:image\/png;base64 URL/,
  );
  rejects(parseWebviewMessage({ type: 'exportCsv', csv: '' }), /^csv: expected CSV text/);
  assert.equal(parseWebviewMessage({ type: 'exportCsv', csv: 'reward,t,cdf,density\n' }).ok, true);

  const result = syntheticDistribution('time', 1);
  assert.equal(parseHostMessage({ type: 'distribution', requestId: 2, results: [result] }).ok, true);
  assert.equal(
    parseHostMessage({ type: 'distribution', requestId: 2, error: 'trace no longer cached; run again' }).ok,
    true,
  );
  rejects(parseHostMessage({ type: 'distribution', requestId: 2 }), /^message: expected results or an error/);
  rejects(
    parseHostMessage({ type: 'distribution', requestId: 2, results: [{ ...result, cdf: result.cdf.slice(1) }] }),
    /^results\[0\]\.cdf: expected one value per time \(200\)/,
  );
  rejects(
    parseHostMessage({ type: 'distribution', requestId: 2, results: [{ ...result, atom: 1.5 }] }),
    /^results\[0\]\.atom: expected a probability in \[0, 1\]/,
  );
  assert.equal(parseHostMessage({ type: 'exported', format: 'png', path: '/tmp/a.png' }).ok, true);
  rejects(
    parseHostMessage({ type: 'exported', format: 'gif', path: '/tmp/a.gif' }),
    /^format: expected svg \| png \| csv/,
  );
});

test('host messages: a whole session snapshot round-trips unchanged', () => {
  const snapshot = syntheticSession();
  const parsed = parseHostMessage(JSON.parse(JSON.stringify({ type: 'snapshot', snapshot })));
  assert.equal(parsed.ok, true);
  // Records keyed by model names come back without a prototype; compare their contents.
  assert.deepEqual(parsed.ok && JSON.parse(JSON.stringify(parsed.value)), {
    type: 'snapshot',
    snapshot: JSON.parse(JSON.stringify(snapshot)),
  });
});

test('host messages: malformed data is rejected, naming the field', () => {
  rejects(
    parseHostMessage({
      type: 'samples',
      samples: [{ t: 1, accounted: { graph: 1, subgraphs: 0, traces: 0, cache: 0 }, rss: 2 }],
    }),
    /^samples\[0\]\.accounted\.evaluation: expected a finite number/,
  );
  rejects(
    parseHostMessage({
      type: 'samples',
      samples: [
        { t: 1, accounted: { graph: -1, subgraphs: 0, traces: 0, cache: 0, evaluation: 0, workspace: 0 }, rss: 2 },
      ],
    }),
    /^samples\[0\]\.accounted\.graph: expected a number ≥ 0/,
  );
  rejects(
    parseHostMessage({ type: 'marker', marker: { kind: 'explode', t: 1 } }),
    /^marker\.kind: expected runStart \| runEnd/,
  );
  rejects(parseHostMessage({ type: 'evaluation', requestId: 1 }), /^message: expected a result or an error/);
  const d = syntheticDecomposition(10);
  const { decomposition, ...result } = syntheticRun(d);
  const run = { model: TWO_LOCUS_MODEL, result, decomposition, layout: layoutCondensation(decomposition) };
  assert.equal(parseHostMessage({ type: 'run', run }).ok, true);
  rejects(
    parseHostMessage({ type: 'run', run: { ...run, decomposition: { ...decomposition, edges: [[0, 10]] } } }),
    /^run\.decomposition\.edges\[0\]: expected a pair of SCC ids/,
  );
  rejects(
    parseHostMessage({ type: 'run', run: { ...run, layout: { ...run.layout, nodes: run.layout.nodes.slice(1) } } }),
    /^run\.layout\.nodes: expected one node per SCC/,
  );
  const swapped = [...decomposition.sccs];
  [swapped[1], swapped[2]] = [swapped[2], swapped[1]];
  rejects(
    parseHostMessage({ type: 'run', run: { ...run, decomposition: { ...decomposition, sccs: swapped } } }),
    /^run\.decomposition\.sccs\[1\]\.id: expected 1/,
  );
  rejects(
    parseHostMessage({
      type: 'sccDetail',
      requestId: 2,
      detail: { scc: 1, variables: ['a'], states: [[1]], edges: [[0, 3, 1]], truncated: false },
    }),
    /^detail\.edges\[0\]: expected local vertex indices/,
  );
});

test('host messages: a non-finite moment is one of the strings "Infinity", "-Infinity", "NaN", never null', () => {
  // Issue 11, point 3: JSON has no Infinity, and null read the same for infinite and
  // undefined. The strings pass unchanged; null and other strings are rejected.
  const result = (moments: unknown, variance: unknown = 1) => ({
    type: 'evaluation',
    requestId: 1,
    result: {
      params: { coal: 0 },
      moments: { time: moments },
      variance: { time: variance },
      covariance: { 'time,time': 'NaN' },
      nonFinite: 'why',
      evaluateMs: 0.1,
    },
  });
  const parsed = parseHostMessage(result(['Infinity', '-Infinity', 'NaN', 1.5e200], 'Infinity'));
  assert.equal(parsed.ok, true);
  const value = (parsed as { value: { result: { moments: unknown; variance: unknown; nonFinite: unknown } } }).value
    .result;
  // Records keyed by reward names have no prototype (issue 11, point 11).
  const bare = (o: object) => Object.assign(Object.create(null), o);
  assert.deepEqual(value.moments, bare({ time: ['Infinity', '-Infinity', 'NaN', 1.5e200] }));
  assert.deepEqual(value.variance, bare({ time: 'Infinity' }));
  assert.equal(value.nonFinite, 'why');
  rejects(
    parseHostMessage(result([null])),
    /^result\.moments\.time\[0\]: expected a finite number or one of "Infinity", "-Infinity", "NaN"/,
  );
  rejects(parseHostMessage(result(['infinite'])), /^result\.moments\.time\[0\]: expected a finite number or one of/);
  rejects(parseHostMessage(result([1], null)), /^result\.variance\.time: expected a finite number or one of/);
});

test('a run is one shape at both boundaries: what the host accepts from the engine, the page accepts from the host, field for field', () => {
  // The host's and the page's run parsers used to differ: the page let ruleFirings and
  // warnings be missing, accepted a negative block time and dropped a warning's rule.
  const d = syntheticDecomposition(12);
  const base = syntheticRun(d);
  const run = {
    ...base,
    memory: { ...base.memory, blocks: [{ scc: 1, vertices: 4, bytes: 512, createdMs: 10, freedMs: 12 }] },
    warnings: [{ message: 'rule never fired', site: 3, rule: 'recombine' }],
  };
  const spec = { ...TWO_LOCUS_MODEL, constants: [], rewards: ['time'], stateVariables: [] };
  const fromEngine = parseEngineReply('phasic/run', JSON.parse(JSON.stringify({ model: spec, result: run })));
  assert.ok(fromEngine.ok, fromEngine.ok ? '' : fromEngine.error);
  const { decomposition, ...result } = fromEngine.value.result;
  const fromHost = parseHostMessage(
    JSON.parse(
      JSON.stringify({
        type: 'run',
        run: { model: TWO_LOCUS_MODEL, result, decomposition, layout: layoutCondensation(decomposition) },
      }),
    ),
  );
  assert.ok(fromHost.ok, fromHost.ok ? '' : fromHost.error);
  assert.equal(fromHost.value.type, 'run');
  const panel = (fromHost.value as Extract<typeof fromHost.value, { type: 'run' }>).run;
  assert.deepEqual(JSON.parse(JSON.stringify(panel.result)), JSON.parse(JSON.stringify(result)));
  assert.equal(panel.result.warnings[0].rule, 'recombine');
  // The same faults are refused on both sides, naming the same field.
  const faults: Array<[string, (r: Record<string, unknown>) => void]> = [
    ['ruleFirings', (r) => delete r.ruleFirings],
    ['warnings', (r) => delete r.warnings],
    [
      'memory.blocks[0].createdMs',
      (r) => ((r.memory as { blocks: Array<{ createdMs: number }> }).blocks[0].createdMs = -1),
    ],
  ];
  for (const [field, mutate] of faults) {
    const bad = JSON.parse(JSON.stringify(run)) as Record<string, unknown>;
    mutate(bad);
    const engineSide = parseEngineReply('phasic/run', { model: spec, result: bad });
    assert.ok(
      !engineSide.ok && engineSide.error.startsWith(`phasic/run reply.result.${field}: expected`),
      `engine side, ${field}: ${JSON.stringify(engineSide)}`,
    );
    const { decomposition: _d, ...badResult } = bad;
    const hostSide = parseHostMessage({
      type: 'run',
      run: { model: TWO_LOCUS_MODEL, result: badResult, decomposition, layout: layoutCondensation(decomposition) },
    });
    assert.ok(
      !hostSide.ok && hostSide.error.startsWith(`run.result.${field}: expected`),
      `host side, ${field}: ${JSON.stringify(hostSide)}`,
    );
  }
});
