// The charts' shared interaction pieces (webview/chart/): pan/zoom state and
// hit-testing, checked against arithmetic and brute-force searches written here. The
// pointer and key wiring is driven through the real pages in memory.test.ts and
// scc.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiscGrid, lowerBound, nearestIndex, rowAt, spanAt } from '../../webview/chart/hitTest';
import { PlaneView, TimeWindow, wheelMagnification } from '../../webview/chart/viewport';
import { random } from '../random';

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} ≠ ${b}`);

test('a time window follows its extent until zoomed or panned, and zooms about its anchor', () => {
  let extent = { start: 0, end: 1000 };
  const w = new TimeWindow(() => extent, 20);
  assert.deepEqual(w.range(), { start: 0, end: 1000 });
  extent = { start: 0, end: 2000 };
  assert.deepEqual(w.range(), { start: 0, end: 2000 }, 'live data widens the whole view');
  assert.equal(w.isFixed, false);
  // Half the span about the time at a quarter of the window (500 ms): it stays at a quarter.
  w.zoom(0.5, 0.25);
  assert.deepEqual(w.range(), { start: 250, end: 1250 });
  assert.equal(w.isFixed, true);
  extent = { start: 0, end: 9000 };
  assert.deepEqual(w.range(), { start: 250, end: 1250 }, 'a zoomed window stays put');
  w.panBy(-100);
  assert.deepEqual(w.range(), { start: 150, end: 1150 });
  w.zoom(1e-6, 1);
  assert.deepEqual(w.range(), { start: 1130, end: 1150 }, 'no narrower than the least span, right edge kept');
  w.showAll();
  assert.deepEqual(w.range(), { start: 0, end: 9000 });
});

test('a plane zooms about the pointer within its bounds, and screen and plane coordinates invert', () => {
  const v = new PlaneView(0.5, 4);
  v.aspect = 3;
  v.tx = 10;
  v.ty = -20;
  const before = v.toPlane(200, 150);
  v.zoomAt(2, 200, 150);
  assert.equal(v.scale, 2);
  const after = v.toPlane(200, 150);
  close(after.x, before.x, 'x under the pointer');
  close(after.y, before.y, 'y under the pointer');
  v.zoomAt(100, 0, 0);
  assert.equal(v.scale, 4, 'clamped to the largest scale');
  v.zoomAt(1e-6, 0, 0);
  assert.equal(v.scale, 0.5, 'clamped to the smallest scale');
  // A layout point at (7, 5): 7 × 0.5 + tx, 5 × 0.5 × 3 + ty.
  const s = v.toScreen(7, 5);
  close(s.x, 7 * 0.5 + v.tx, 'screen x');
  close(s.y, 5 * 1.5 + v.ty, 'screen y');
  const back = v.toPlane(s.x, s.y);
  close(back.x, 7, 'plane x');
  close(back.y, 5, 'plane y');
});

test('the wheel magnifies by e per 500 px, in and out symmetrically', () => {
  close(wheelMagnification(-500), Math.E, 'rolled away');
  close(wheelMagnification(500), 1 / Math.E, 'rolled back');
  close(wheelMagnification(120) * wheelMagnification(-120), 1, 'there and back');
  assert.equal(wheelMagnification(0), 1);
});

test('the sample nearest a time, and the first at or after it, match a scan', () => {
  const next = random(5);
  for (let round = 0; round < 100; round++) {
    const length = Math.floor(next() * 40);
    const times = new Float64Array(length + 5); // spare capacity past `length` is ignored
    let t = 0;
    for (let i = 0; i < length; i++) times[i] = t += Math.floor(next() * 3); // repeats included
    times.fill(-1, length);
    for (const q of [-1, 0, t / 2, t, t + 1, Math.floor(next() * (t + 2))]) {
      let first = 0;
      while (first < length && times[first] < q) first++;
      assert.equal(lowerBound(times, length, q), first, `round ${round}, t ${q}`);
      let best = -1;
      for (let i = 0; i < length; i++) if (best < 0 || Math.abs(times[i] - q) < Math.abs(times[best] - q)) best = i;
      const got = nearestIndex(times, length, q);
      if (best < 0) assert.equal(got, -1);
      else assert.equal(Math.abs(times[got] - q), Math.abs(times[best] - q), `round ${round}, t ${q}`);
    }
  }
});

test('rows and spans under the pointer', () => {
  // Rows 13 px apart from y = 9, 10 px high with 3 px gaps; the gap's lower half belongs to the row below.
  assert.deepEqual(
    [7, 8, 9, 18, 20, 21, 22].map((y) => rowAt(y, 9, 13, 3)),
    [-1, 0, 0, 0, 0, 1, 1],
  );
  const bars = [
    { lane: 0, from: 0, to: 10 },
    { lane: 1, from: 5, to: 20 },
    { lane: 0, from: 30, to: 40 },
  ];
  const extent = (b: (typeof bars)[number]) => [b.from, b.to] as const;
  assert.equal(spanAt(bars, 0, 35, 0, extent), bars[2]);
  assert.equal(spanAt(bars, 0, 12, 1, extent), undefined);
  assert.equal(spanAt(bars, 0, 11, 1, extent), bars[0], 'slack widens each end');
  assert.equal(spanAt(bars, 1, 35, 0, extent), undefined, 'another lane');
});

test('the disc grid finds the disc a brute-force search finds', () => {
  const next = random(9);
  const discs = Array.from({ length: 400 }, (_, id) => ({
    id,
    x: next() * 1000,
    y: next() * 300,
    r: 1 + next() * 20,
  }));
  const grid = new DiscGrid(discs, 64);
  for (let q = 0; q < 2000; q++) {
    const x = next() * 1000;
    const y = next() * 300;
    const aspect = q % 2 ? 1 : 2.5;
    let best: number | null = null;
    let bestD = Number.POSITIVE_INFINITY;
    for (const d of discs) {
      const dist = Math.sqrt((d.x - x) ** 2 + ((d.y - y) * aspect) ** 2);
      if (dist <= d.r + 4 && dist < bestD) {
        best = d.id;
        bestD = dist;
      }
    }
    assert.equal(grid.nearest(x, y, 4, aspect), best, `query ${q} at (${x}, ${y})`);
  }
  assert.equal(new DiscGrid([], 64).nearest(0, 0, 4), null);
});
