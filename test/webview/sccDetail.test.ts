// SCC details from the engine's exported graph: the component found again matches
// the run's decomposition for every SCC of a real model, with states and rates.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { componentOf, sccDetailFromGraph, type PhasicGraphJson } from '../../extension/server/sccDetail';
import { Engine } from '../../extension/engine/engine';
import { compileModel } from '../../extension/language';

test('componentOf finds a cycle and stops at its exits', () => {
  // 0 → 1 ⇄ 2 → 3 ⇄ 4; 2 → 5
  const succ = [[1], [2], [1, 3, 5], [4], [3], []];
  assert.deepEqual(componentOf(6, succ, 1), [1, 2]);
  assert.deepEqual(componentOf(6, succ, 4), [3, 4]);
  assert.deepEqual(componentOf(6, succ, 0), [0]);
});

test('every SCC of a real run is found again in the exported graph, with its states and internal rates', async () => {
  const text = readFileSync('test/fixtures/models/two_locus.phasic', 'utf8');
  const { model } = compileModel(text, 'two_locus.phasic', { n: 4 });
  assert.ok(model);
  const engine = new Engine();
  const json = JSON.stringify(model);
  const run = await engine.run(json, {});
  const graph = JSON.parse(await engine.exportPhasicJson(json)) as PhasicGraphJson;
  const names = Array.from({ length: model.stateLength }, (_, i) => `c[${Math.floor(i / 5)}][${i % 5}]`);
  const params = model.params.map((p) => run.params[p.name] ?? p.default);
  let internal = 0;
  for (const scc of run.decomposition.sccs) {
    const d = sccDetailFromGraph(graph, scc, names, params);
    assert.equal(d.states.length, scc.vertices, `SCC ${scc.id}`);
    assert.equal(d.edges.length, scc.internalEdges, `SCC ${scc.id} internal edges`);
    assert.ok(d.edges.every(([, , r]) => r > 0), 'rates at the run parameters are positive');
    internal += d.edges.length;
  }
  assert.ok(internal > 0, 'the model has cycles');
  const biggest = run.decomposition.sccs.reduce((a, b) => (b.vertices > a.vertices ? b : a));
  const d = sccDetailFromGraph(graph, biggest, names, params);
  assert.deepEqual(d.variables, names);
  assert.equal(d.states[0], graph.states[biggest.firstVertex]);
  // A graph from another exploration is refused, not shown.
  const other = JSON.parse(await engine.exportPhasicJson(JSON.stringify(compileModel(text, 'x', { n: 3 }).model))) as PhasicGraphJson;
  assert.throws(() => sccDetailFromGraph(other, biggest, names, params), /run the model again|not in the exported graph/);
});
