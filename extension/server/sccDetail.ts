// The detail of one SCC for the panel, computed in the engine process from the
// run's explored graph as the engine exports it (phasic's Graph.serialize() JSON, `Engine.exportPhasicJson`): its states
// decoded into the model's state cells and its internal edges with their rates at the
// run's parameters. Vertex numbering is the engine's (row 0 is S), the one SccInfo's
// `firstVertex` uses; the component is found again here (Tarjan, iterative) and
// checked against the run's vertex count, so a graph from another exploration is
// reported instead of shown wrongly.
import type { SccInfo } from '../protocol/engine';
import type { SccDetail } from '../protocol/webview';

export interface PhasicGraphJson {
  states: number[][];
  edges: Array<[number, number, number]>;
  param_edges: number[][];
  param_length: number;
}

/** Largest SCC whose states are sent to the page (its table shows 100 rows, its drawing 300 vertices). */
export const MAX_DETAIL_VERTICES = 5_000;

/** The strongly connected component of `root` (iterative Tarjan restricted to what `root` reaches). */
export function componentOf(n: number, successors: number[][], root: number): number[] {
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

/**
 * @param variables names of the state cells (`c[1][0]`, …), in cell order
 * @param params the run's parameter values, in the model's parameter order
 */
export function sccDetailFromGraph(graph: PhasicGraphJson, scc: SccInfo, variables: string[], params: number[]): SccDetail {
  const n = graph.states.length;
  if (scc.firstVertex >= n) throw new Error(`SCC ${scc.id}: vertex ${scc.firstVertex} is not in the exported graph (${n} vertices)`);
  const rate = new Map<string, number>();
  const successors: number[][] = Array.from({ length: n }, () => []);
  const add = (from: number, to: number, r: number) => {
    const key = `${from},${to}`;
    if (!rate.has(key)) successors[from].push(to);
    rate.set(key, (rate.get(key) ?? 0) + r);
  };
  for (const [from, to, w] of graph.edges) add(from, to, w);
  for (const [from, to, ...c] of graph.param_edges) add(from, to, c.reduce((s, ck, k) => s + ck * (params[k] ?? 0), 0));
  const members = componentOf(n, successors, scc.firstVertex);
  if (members.length !== scc.vertices) {
    throw new Error(`SCC ${scc.id}: the exported graph has ${members.length} vertices in this component, the run had ${scc.vertices}; run the model again`);
  }
  const shown = members.slice(0, MAX_DETAIL_VERTICES);
  const local = new Map(shown.map((v, i) => [v, i]));
  const edges: Array<[number, number, number]> = [];
  for (const v of shown) {
    for (const w of successors[v]) {
      const j = local.get(w);
      if (j !== undefined && w !== v) edges.push([local.get(v)!, j, rate.get(`${v},${w}`)!]);
    }
  }
  const width = graph.states[scc.firstVertex].length;
  return {
    scc: scc.id,
    variables: variables.length === width ? variables : Array.from({ length: width }, (_, i) => `s${i}`),
    states: shown.map((v) => graph.states[v]),
    edges,
    truncated: shown.length < members.length,
  };
}
