// The host-side layered layout of the condensation DAG.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderStudioPage } from '../../extension/host/panel/html';
import { layoutCondensation, nodeRadius } from '../../extension/host/panel/layout';
import type { Decomposition, SccInfo } from '../../extension/protocol/engine';
import { syntheticDecomposition } from './synthetic';

const scc = (id: number, vertices = 1): SccInfo => ({
  id,
  vertices,
  internalEdges: 0,
  exitEdges: 0,
  absorbing: false,
  source: 'trivial',
  operations: 0,
  bytes: 0,
  recordMs: 0,
  key: '',
  firstVertex: id,
});

test('layers are longest paths from S, left to right, and every edge points right', () => {
  // 0 → 1 → 3, 0 → 2 → 3, 0 → 3, 1 → 2: longest path to 3 is 0-1-2-3.
  const d: Decomposition = {
    sccs: [0, 1, 2, 3].map((i) => scc(i, i === 2 ? 25 : 1)),
    edges: [
      [0, 1],
      [0, 2],
      [0, 3],
      [1, 2],
      [1, 3],
      [2, 3],
    ],
  };
  const l = layoutCondensation(d);
  assert.deepEqual(
    l.nodes.map((n) => n.layer),
    [0, 1, 2, 3],
  );
  assert.equal(l.layers, 4);
  for (const [a, b] of d.edges) assert.ok(l.nodes[a].x < l.nodes[b].x);
  assert.equal(l.nodes[2].r, nodeRadius(25));
  assert.ok(nodeRadius(25) > nodeRadius(4) && nodeRadius(4) > nodeRadius(1));
});

test('nodes of a layer do not overlap and stay inside the drawing', () => {
  const d = syntheticDecomposition(500);
  const l = layoutCondensation(d);
  for (const n of l.nodes) {
    assert.ok(n.x - n.r >= 0 && n.x + n.r <= l.width && n.y - n.r >= 0 && n.y + n.r <= l.height);
  }
  const byLayer = new Map<number, typeof l.nodes>();
  for (const n of l.nodes) byLayer.set(n.layer, [...(byLayer.get(n.layer) ?? []), n]);
  for (const row of byLayer.values()) {
    const sorted = row.sort((a, b) => a.y - b.y);
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i].y - sorted[i].r >= sorted[i - 1].y + sorted[i - 1].r);
  }
});

test('a cycle (a malformed decomposition) does not hang the host', () => {
  const l = layoutCondensation({
    sccs: [scc(0), scc(1), scc(2)],
    edges: [
      [0, 1],
      [1, 2],
      [2, 1],
    ],
  });
  assert.equal(l.nodes.length, 3);
});

test('2,000 components lay out quickly enough for the host', () => {
  const d = syntheticDecomposition(2000);
  const began = performance.now();
  const l = layoutCondensation(d);
  const ms = performance.now() - began;
  console.log(`layout of 2,000 SCCs and ${d.edges.length} edges: ${ms.toFixed(1)} ms, ${l.layers} layers`);
  assert.equal(l.nodes.length, 2000);
});

test('the page allows only its own nonce-bearing script and the extension stylesheet', () => {
  const html = renderStudioPage({
    cspSource: 'https://x.vscode-cdn.net',
    scriptUri: 'https://x.vscode-cdn.net/dist/webview.js',
    styleUri: 'https://x.vscode-cdn.net/dist/webview.css',
    nonce: 'abc123',
    tab: 'scc',
  });
  const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)![1];
  assert.equal(
    csp,
    "default-src 'none'; script-src 'nonce-abc123'; style-src https://x.vscode-cdn.net 'nonce-abc123'; img-src https://x.vscode-cdn.net data:; font-src https://x.vscode-cdn.net",
  );
  assert.match(html, /<script nonce="abc123" src="https:\/\/x\.vscode-cdn\.net\/dist\/webview\.js"><\/script>/);
  assert.doesNotMatch(html, /unsafe-|style="/);
  assert.match(html, /data-initial-tab="scc"/);
});
