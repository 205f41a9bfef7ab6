// The host's validation of engine replies (extension/protocol/validate.ts): every
// reply and notification a real engine process sends passes, and a reply with any one
// field of the wrong type, or a structural lie (an SCC edge to a component that does
// not exist), is rejected with a message naming that field.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { EngineRequests } from '../../extension/protocol/requests';
import { parseEngineNotification, parseEngineReply } from '../../extension/protocol/validate';
import { EngineProcess, engineSettings, TWO_LOCUS, tempDir } from './helpers';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every leaf of a JSON value with its path in validate.ts's notation (first 3 items of each list). */
function leaves(
  value: Json,
  path: string,
  out: Array<{ path: string; set: (root: Json, v: Json) => Json }> = [],
  trail: Array<string | number> = [],
) {
  if (value !== null && typeof value === 'object') {
    const entries: Array<[string | number, Json]> = Array.isArray(value)
      ? value.slice(0, 3).map((v, i) => [i, v])
      : Object.entries(value);
    for (const [k, v] of entries)
      leaves(v, typeof k === 'number' ? `${path}[${k}]` : `${path}.${k}`, out, [...trail, k]);
  } else {
    out.push({
      path,
      set: (root, v) => {
        const copy = structuredClone(root) as Record<string | number, Json>;
        let at = copy as Record<string | number, Json>;
        for (const k of trail.slice(0, -1)) at = at[k] as Record<string | number, Json>;
        at[trail[trail.length - 1]] = v;
        return copy as Json;
      },
    });
  }
  return out;
}

function wrongTypeFor(v: Json): Json {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return 7;
  if (typeof v === 'boolean') return 'true';
  return '1'; // null (a parameter's missing bound) or a number
}

describe('validation of engine replies', () => {
  let engine: EngineProcess;
  let dir: string;
  const replies: Partial<{ [M in keyof EngineRequests]: Json }> = {};
  const notifications: Array<{
    method: 'phasic/progress' | 'phasic/blockEvent' | 'phasic/memorySample';
    params: unknown;
  }> = [];

  before(async () => {
    dir = tempDir('validate');
    engine = await EngineProcess.start(engineSettings(dir));
    for (const method of ['phasic/progress', 'phasic/blockEvent', 'phasic/memorySample'] as const) {
      engine.connection.onNotification(method, (params: unknown) => {
        notifications.push({ method, params });
      });
    }
    const uri = pathToFileURL(TWO_LOCUS).href;
    replies['phasic/engineInfo'] = (await engine.request('phasic/engineInfo', {})) as unknown as Json;
    replies['phasic/describe'] = (await engine.request('phasic/describe', {
      uri,
      overrides: { n: 4 },
    })) as unknown as Json;
    const run = await engine.run(TWO_LOCUS, { n: 4 }, 1);
    replies['phasic/run'] = run as unknown as Json;
    replies['phasic/evaluate'] = (await engine.request('phasic/evaluate', {
      traceKey: run.result.traceKey,
      params: { coal: 2 },
      moments: 2,
      covariances: [],
    })) as unknown as Json;
    replies['phasic/memory'] = (await engine.request('phasic/memory', {})) as unknown as Json;
    replies['phasic/clearCaches'] = (await engine.request('phasic/clearCaches', {})) as unknown as Json;
  });
  after(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts every reply and notification of a real engine process', () => {
    for (const [method, reply] of Object.entries(replies)) {
      const parsed = parseEngineReply(method as keyof EngineRequests, reply);
      assert.ok(parsed.ok, `${method}: ${parsed.ok ? '' : parsed.error}`);
    }
    assert.ok(
      notifications.some((n) => n.method === 'phasic/blockEvent'),
      'block events arrived',
    );
    assert.ok(
      notifications.some((n) => n.method === 'phasic/progress'),
      'progress arrived',
    );
    for (const n of notifications) {
      const parsed = parseEngineNotification(n.method, n.params);
      assert.ok(parsed.ok, `${n.method}: ${parsed.ok ? '' : parsed.error}`);
    }
  });

  it('rejects a reply with any one field of the wrong type, naming the field', () => {
    let checked = 0;
    for (const [method, reply] of Object.entries(replies)) {
      for (const leaf of leaves(reply!, `${method} reply`)) {
        const bad = leaf.set(reply!, wrongTypeFor(leafValue(reply!, leaf.path, `${method} reply`)));
        const parsed = parseEngineReply(method as keyof EngineRequests, bad);
        assert.ok(!parsed.ok, `${leaf.path} of the wrong type was accepted`);
        assert.ok(parsed.error.startsWith(`${leaf.path}: expected`), `error "${parsed.error}" names ${leaf.path}`);
        checked++;
      }
    }
    assert.ok(checked > 100, `${checked} fields checked`);
  });

  it('rejects negative counts, missing objects and SCC edges to components that do not exist', () => {
    const run = replies['phasic/run'] as {
      result: Record<string, Json> & { decomposition: { sccs: Json[]; edges: number[][] } };
    };
    const cases: Array<[string, (r: typeof run) => void, string]> = [
      [
        'negative vertex count',
        (r) => (r.result.vertices = -1),
        'phasic/run reply.result.vertices: expected an integer ≥ 0',
      ],
      ['fractional count', (r) => (r.result.edges = 1.5), 'phasic/run reply.result.edges: expected an integer ≥ 0'],
      ['a string for a flag', (r) => (r.result.reused = 'yes'), 'phasic/run reply.result.reused: expected a boolean'],
      ['missing result', (r) => delete (r as Partial<typeof r>).result, 'phasic/run reply.result: expected an object'],
      ['an array for an object', (r) => (r.result.memory = []), 'phasic/run reply.result.memory: expected an object'],
      [
        'edge beyond the SCCs',
        (r) => r.result.decomposition.edges.push([0, r.result.decomposition.sccs.length]),
        'expected a pair of SCC ids',
      ],
      ['SCCs out of order', (r) => r.result.decomposition.sccs.reverse(), 'components in id order'],
      [
        'unknown trace source',
        (r) => ((r.result.decomposition.sccs[0] as Record<string, Json>).source = 'network'),
        'recorded | memory | disk | trivial',
      ],
    ];
    for (const [what, mutate, expected] of cases) {
      const bad = structuredClone(run);
      mutate(bad);
      const parsed = parseEngineReply('phasic/run', bad);
      assert.ok(!parsed.ok, `${what} accepted`);
      assert.ok(parsed.error.includes(expected), `${what}: "${parsed.error}"`);
    }
    assert.equal(parseEngineReply('phasic/run', 'not json object').ok, false);
    assert.equal(parseEngineReply('phasic/memory', null).ok, false);
  });

  it('rejects malformed notifications and SCC details', () => {
    const progress = parseEngineNotification('phasic/progress', {
      runId: 1,
      progress: { phase: 'mining', done: 1, total: 2 },
    });
    assert.ok(!progress.ok && progress.error.startsWith('phasic/progress.progress.phase'));
    const event = parseEngineNotification('phasic/blockEvent', {
      kind: 'created',
      scc: 1,
      vertices: 4,
      bytes: -8,
      timeMs: 3,
    });
    assert.ok(!event.ok && event.error.startsWith('phasic/blockEvent.bytes'));
    const detail = { scc: 2, variables: ['x'], states: [[1], [2]], edges: [[0, 1, 0.5]], truncated: false };
    assert.ok(parseEngineReply('phasic/sccDetail', detail).ok);
    const outside = parseEngineReply('phasic/sccDetail', { ...detail, edges: [[0, 2, 0.5]] });
    assert.ok(!outside.ok && outside.error.startsWith('phasic/sccDetail reply.edges[0]'));
  });
});

describe('validation of host requests in the engine process', () => {
  let engine: EngineProcess;
  let dir: string;
  before(async () => {
    dir = tempDir('validate-requests');
    engine = await EngineProcess.start(engineSettings(dir));
  });
  after(async () => {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a request whose parameters do not have their type, naming the field, and keeps serving', async () => {
    const uri = pathToFileURL(TWO_LOCUS).href;
    const good = { uri, overrides: { n: 3 }, moments: 2, covariances: [] as Array<[string, string]>, runId: 1 };
    const cases: Array<[string, unknown, string]> = [
      ['phasic/run', { ...good, moments: 'two' }, 'phasic/run params.moments: expected an integer from 1 to 16'],
      ['phasic/run', { ...good, moments: 0 }, 'phasic/run params.moments: expected an integer from 1 to 16'],
      [
        'phasic/evaluate',
        { traceKey: 'ab', params: {}, moments: 17, covariances: [] },
        'phasic/evaluate params.moments: expected an integer from 1 to 16',
      ],
      ['phasic/run', { ...good, overrides: { n: '3' } }, 'phasic/run params.overrides.n: expected a finite number'],
      [
        'phasic/run',
        { ...good, covariances: [['time']] },
        'phasic/run params.covariances[0]: expected a pair of reward names',
      ],
      ['phasic/run', { ...good, uri: undefined }, 'phasic/run params.uri: expected a string'],
      [
        'phasic/evaluate',
        { traceKey: 'ab', params: [], moments: 2, covariances: [] },
        'phasic/evaluate params.params: expected an object',
      ],
      ['phasic/describe', null, 'phasic/describe params: expected an object'],
    ];
    for (const [method, params, expected] of cases) {
      await assert.rejects(
        engine.request(method as 'phasic/run', params as never),
        (error: { code?: number; message: string }) => error.code === -32602 && error.message.startsWith(expected),
        `${method} ${JSON.stringify(params)}`,
      );
    }
    const run = await engine.request('phasic/run', good);
    assert.equal(run.result.vertices > 0, true, 'the engine still answers a well-formed request');
  });
});

function leafValue(root: Json, path: string, prefix: string): Json {
  let at: Json = root;
  for (const m of path.slice(prefix.length).matchAll(/\.([^.[]+)|\[(\d+)\]/g)) {
    at = m[1] !== undefined ? (at as Record<string, Json>)[m[1]] : (at as Json[])[Number(m[2])];
  }
  return at;
}
