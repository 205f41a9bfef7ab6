// Layered drawing of the condensation DAG, computed in the extension host so the
// webview's main thread never lays out thousands of components (a Worker would need
// a blob or script source the panel's CSP forbids).
//
// Invariant: every edge goes from a lower layer to a higher one (left to right). Layers are longest
// paths from the sources (S's component is a source), so absorbing components sit
// at the bottom and a component's layer is the longest chain of components above it.
// Within a layer, nodes are ordered by the barycenter of their neighbours (one sweep
// down, one up), which removes most crossings at O(edges) per sweep.
import type { Decomposition } from '../../protocol/engine';
import type { SccLayout, SccNodeLayout } from '../../protocol/webview';

const GAP = 10;
const LAYER_GAP = 56;
const MARGIN = 24;

/** Radius by vertex count: area grows with the count, trivial components are dots. */
export function nodeRadius(vertices: number): number {
  return vertices <= 1 ? 3 : Math.min(40, 4 + 2.2 * Math.sqrt(vertices));
}

export function layoutCondensation(d: Decomposition): SccLayout {
  const n = d.sccs.length;
  const succ: number[][] = Array.from({ length: n }, () => []);
  const pred: number[][] = Array.from({ length: n }, () => []);
  const indegree = new Array<number>(n).fill(0);
  for (const [from, to] of d.edges) {
    if (from === to) continue;
    succ[from].push(to);
    pred[to].push(from);
    indegree[to]++;
  }

  // Kahn's order; a cycle (a malformed decomposition) leaves nodes unvisited, which
  // then stay in layer 0 instead of hanging the host.
  const layer = new Array<number>(n).fill(0);
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (indegree[i] === 0) queue.push(i);
  for (let head = 0; head < queue.length; head++) {
    const u = queue[head];
    for (const v of succ[u]) {
      layer[v] = Math.max(layer[v], layer[u] + 1);
      if (--indegree[v] === 0) queue.push(v);
    }
  }

  const layers = n === 0 ? 0 : Math.max(...layer) + 1;
  const rows: number[][] = Array.from({ length: layers }, () => []);
  for (let i = 0; i < n; i++) rows[layer[i]].push(i);

  const order = new Array<number>(n).fill(0);
  const setOrder = (row: number[]) => row.forEach((v, i) => (order[v] = i));
  rows.forEach(setOrder);
  const barycenter = (v: number, neighbours: number[][]) => {
    const ns = neighbours[v];
    if (ns.length === 0) return order[v];
    let s = 0;
    for (const u of ns) s += order[u];
    return s / ns.length;
  };
  for (let r = 1; r < layers; r++) {
    const key = new Map(rows[r].map((v) => [v, barycenter(v, pred)]));
    rows[r].sort((a, b) => key.get(a)! - key.get(b)! || a - b);
    setOrder(rows[r]);
  }
  for (let r = layers - 2; r >= 0; r--) {
    const key = new Map(rows[r].map((v) => [v, barycenter(v, succ)]));
    rows[r].sort((a, b) => key.get(a)! - key.get(b)! || a - b);
    setOrder(rows[r]);
  }

  // Layers run left to right (panels are wider than tall); a layer is a column.
  const radius = d.sccs.map((s) => nodeRadius(s.vertices));
  const heights = rows.map((row) => row.reduce((h, v) => h + 2 * radius[v], 0) + GAP * Math.max(0, row.length - 1));
  const height = n === 0 ? 0 : Math.max(0, ...heights) + 2 * MARGIN;
  const nodes: SccNodeLayout[] = new Array(n);
  let x = MARGIN;
  rows.forEach((row, r) => {
    const widest = Math.max(3, ...row.map((v) => radius[v]));
    x += widest;
    let y = (height - heights[r]) / 2;
    for (const v of row) {
      y += radius[v];
      nodes[v] = { id: v, layer: r, x, y, r: radius[v] };
      y += radius[v] + GAP;
    }
    x += widest + LAYER_GAP;
  });
  const width = n === 0 ? 0 : x - LAYER_GAP + MARGIN;
  return { nodes, width, height, layers };
}
