// The engine's sccDetail call, through the real addon, against an independent
// reference: the graph the engine exports in phasic's JSON, with the component found
// again by Tarjan's algorithm written here, the rates summed from the exported
// constant and parameter rows, and the cell names built from the compiled model's
// variables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Engine, EngineFailure } from '../../extension/engine/engine';
import type { SccDetail } from '../../extension/protocol/engine';
import { assertOnlyCachesHoldMemory, compiledModel, tempDir } from './helpers';

const engine = new Engine();
engine.configure({ cacheDir: tempDir('scc-detail') });
const MAX_STATES = 2_000_000;
const MAX_DETAIL_STATES = 5_000;

interface PhasicGraphJson {
  states: number[][];
  edges: Array<[number, number, number]>;
  param_edges: number[][];
}

interface CompiledModelJson {
  params: Array<{ name: string; default: number }>;
  variables: Array<{ name: string; dims: number[] }>;
}

/** The strongly connected component of `root` (iterative Tarjan restricted to what `root` reaches). */
function componentOf(n: number, successors: number[][], root: number): number[] {
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  let counter = 0;
  const work: Array<[node: number, next: number]> = [[root, 0]];
  index[root] = low[root] = counter++;
  stack.push(root);
  onStack[root] = 1;
  while (work.length) {
    const frame = work[work.length - 1];
    const [v, i] = frame;
    if (i < successors[v].length) {
      frame[1]++;
      const w = successors[v][i];
      if (index[w] < 0) {
        index[w] = low[w] = counter++;
        stack.push(w);
        onStack[w] = 1;
        work.push([w, 0]);
      } else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
      continue;
    }
    work.pop();
    if (work.length) {
      const parent = work[work.length - 1][0];
      low[parent] = Math.min(low[parent], low[v]);
    }
    if (low[v] === index[v]) {
      const members: number[] = [];
      let w: number;
      do {
        w = stack.pop()!;
        onStack[w] = 0;
        members.push(w);
      } while (w !== v);
      if (v === root) return members.sort((a, b) => a - b);
    }
  }
  return [root];
}

/** `c[1][0]`, … in cell order (row-major), as the source names cells. */
function cellNames(model: CompiledModelJson): string[] {
  const names: string[] = [];
  for (const v of model.variables) {
    const size = v.dims.reduce((a, b) => a * b, 1);
    for (let cell = 0; cell < size; cell++) {
      let rest = cell;
      const index = v.dims.map((_, k) => {
        const stride = v.dims.slice(k + 1).reduce((a, b) => a * b, 1);
        const i = Math.floor(rest / stride);
        rest %= stride;
        return `[${i}]`;
      });
      names.push(v.name + index.join(''));
    }
  }
  return names;
}

function reference(
  graph: PhasicGraphJson,
  model: CompiledModelJson,
  scc: number,
  firstVertex: number,
  theta: number[],
): SccDetail {
  const n = graph.states.length;
  const rate = new Map<string, number>();
  const successors: number[][] = Array.from({ length: n }, () => []);
  const add = (from: number, to: number, r: number) => {
    const key = `${from},${to}`;
    if (!rate.has(key)) successors[from].push(to);
    rate.set(key, (rate.get(key) ?? 0) + r);
  };
  for (const [from, to, w] of graph.edges) add(from, to, w);
  for (const [from, to, ...c] of graph.param_edges)
    add(
      from,
      to,
      c.reduce((s, ck, k) => s + ck * theta[k], 0),
    );
  const members = componentOf(n, successors, firstVertex);
  const shown = members.slice(0, MAX_DETAIL_STATES);
  const local = new Map(shown.map((v, i) => [v, i]));
  const edges: Array<[number, number, number]> = [];
  for (const v of shown) {
    for (const w of successors[v]) {
      const j = local.get(w);
      if (j !== undefined && w !== v) edges.push([local.get(v)!, j, rate.get(`${v},${w}`)!]);
    }
  }
  return {
    scc,
    variables: cellNames(model),
    states: shown.map((v) => graph.states[v]),
    edges,
    truncated: shown.length < members.length,
  };
}

const byEnds = (a: [number, number, number], b: [number, number, number]) => a[0] - b[0] || a[1] - b[1];

function assertSameDetail(actual: SccDetail, expected: SccDetail, what: string): void {
  assert.equal(actual.scc, expected.scc, what);
  assert.deepEqual(actual.variables, expected.variables, `${what}: variables`);
  assert.deepEqual(actual.states, expected.states, `${what}: states`);
  assert.equal(actual.truncated, expected.truncated, `${what}: truncated`);
  const got = [...actual.edges].sort(byEnds);
  const want = [...expected.edges].sort(byEnds);
  assert.deepEqual(
    got.map(([f, t]) => [f, t]),
    want.map(([f, t]) => [f, t]),
    `${what}: edge ends`,
  );
  for (let e = 0; e < got.length; e++) {
    const [f, t, r] = got[e];
    const x = want[e][2];
    assert.ok(
      Math.abs(r - x) <= 1e-12 * Math.max(Math.abs(r), Math.abs(x)),
      `${what}: edge ${f}→${t} rate ${r}, expected ${x}`,
    );
  }
}

describe('sccDetail through the real addon', () => {
  for (const name of ['kingman', 'two_locus', 'structured', 'rabbits', 'kingman_sfs', 'structured_n8_d3']) {
    it(`matches an independent Tarjan over the exported graph for ${name}`, async () => {
      const text = compiledModel(name);
      const model = JSON.parse(text) as CompiledModelJson;
      // Parameters away from their defaults, so the rates must use the ones given.
      const params = Object.fromEntries(model.params.map((p) => [p.name, p.default + 0.75]));
      const theta = model.params.map((p) => params[p.name]);
      const result = await engine.run(text, { params });
      const graph = JSON.parse(await engine.exportPhasicJson(text, MAX_STATES)) as PhasicGraphJson;
      const sccs = [...result.decomposition.sccs].sort((a, b) => b.vertices - a.vertices || a.id - b.id);
      // The largest components, and the last (an absorbing state's) and a middle one.
      const picked = new Set([...sccs.slice(0, 3), sccs[sccs.length - 1], sccs[Math.floor(sccs.length / 2)]]);
      for (const scc of picked) {
        const detail = await engine.sccDetail(result.traceKey, scc.id, params, MAX_STATES);
        assert.equal(detail.states.length, Math.min(scc.vertices, MAX_DETAIL_STATES), `${name} SCC ${scc.id}: size`);
        assertSameDetail(detail, reference(graph, model, scc.id, scc.firstVertex, theta), `${name} SCC ${scc.id}`);
      }
      assertOnlyCachesHoldMemory(engine);
    });
  }

  it('finds every SCC of a run with its size and internal edge count', async () => {
    const result = await engine.run(compiledModel('two_locus'));
    let internal = 0;
    for (const scc of result.decomposition.sccs) {
      const detail = await engine.sccDetail(result.traceKey, scc.id, {}, MAX_STATES);
      assert.equal(detail.states.length, scc.vertices, `SCC ${scc.id}`);
      assert.equal(detail.edges.length, scc.internalEdges, `SCC ${scc.id} internal edges`);
      assert.ok(
        detail.edges.every(([, , r]) => r > 0),
        `SCC ${scc.id}: rates at the defaults are positive`,
      );
      internal += detail.edges.length;
    }
    assert.ok(internal > 0, 'the model has cycles');
  });

  it("takes parameters not given from the model's defaults", async () => {
    const text = compiledModel('rabbits');
    const model = JSON.parse(text) as CompiledModelJson;
    const result = await engine.run(text);
    const graph = JSON.parse(await engine.exportPhasicJson(text, MAX_STATES)) as PhasicGraphJson;
    const largest = [...result.decomposition.sccs].sort((a, b) => b.vertices - a.vertices)[0];
    const detail = await engine.sccDetail(result.traceKey, largest.id, {}, MAX_STATES);
    const theta = model.params.map((p) => p.default);
    assertSameDetail(detail, reference(graph, model, largest.id, largest.firstVertex, theta), 'rabbits at defaults');
  });

  it('refuses a component the model does not have, an unknown parameter, and a trace no longer cached', async () => {
    const text = compiledModel('kingman');
    const result = await engine.run(text);
    const failure = async (p: Promise<unknown>) =>
      p.then(
        () => assert.fail('the call succeeded'),
        (e: unknown) => {
          assert.ok(e instanceof EngineFailure, String(e));
          return e;
        },
      );
    const missing = await failure(engine.sccDetail(result.traceKey, result.decomposition.sccs.length, {}, MAX_STATES));
    assert.equal(missing.kind, 'argument', missing.message);
    assert.match(missing.message, /does not exist/);
    const unknown = await failure(engine.sccDetail(result.traceKey, 1, { nope: 1 }, MAX_STATES));
    assert.equal(unknown.kind, 'argument', unknown.message);
    await engine.clearCaches();
    const cleared = await failure(engine.sccDetail(result.traceKey, 1, {}, MAX_STATES));
    assert.equal(cleared.kind, 'cache', cleared.message);
    assertOnlyCachesHoldMemory(engine);
  });
});
