// The SCC decomposition view: nodes drawn at the host's layout in their trace
// source's colour, hover, click and keyboard selection with the detail request,
// the detail pane, SVG export, table view, and a 2,000-component graph.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layoutCondensation } from '../../extension/host/panel/layout';
import type { PanelRun, SccDetail, WebviewMessage } from '../../extension/protocol/webview';
import { openStudio, type Studio, screenshotPath, type ThemeName, useBrowser } from './harness';
import { syntheticDecomposition, syntheticRun, syntheticSession, TWO_LOCUS_MODEL } from './synthetic';

const browser = useBrowser();

function runOf(count: number): PanelRun {
  const d = syntheticDecomposition(count);
  const { decomposition, ...result } = syntheticRun(d);
  return { model: TWO_LOCUS_MODEL, result, decomposition, layout: layoutCondensation(decomposition) };
}

const frame = (studio: Studio) =>
  studio.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/** Page coordinates of an SCC's centre, from the drawn transform. */
async function nodePoint(studio: Studio, run: PanelRun, id: number): Promise<{ x: number; y: number }> {
  const canvas = studio.page.locator('canvas.scc-canvas');
  const [sx, sy, tx, ty] = (await canvas.getAttribute('data-transform'))!.split(',').map(Number);
  const box = (await canvas.boundingBox())!;
  const n = run.layout.nodes[id];
  // Above the centre, where the vertex count is not written.
  return { x: box.x + n.x * sx + tx, y: box.y + n.y * sy + ty - 0.6 * n.r * Math.min(sx, sy) };
}

async function pixel(studio: Studio, p: { x: number; y: number }): Promise<string> {
  return studio.page.locator('canvas.scc-canvas').evaluate((c: HTMLCanvasElement, p) => {
    const box = c.getBoundingClientRect();
    const dpr = c.width / box.width;
    const d = c
      .getContext('2d')!
      .getImageData(Math.round((p.x - box.x) * dpr), Math.round((p.y - box.y) * dpr), 1, 1).data;
    return `#${[d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  }, p);
}

const detailRequests = async (studio: Studio) =>
  (await studio.posted()).filter((m): m is Extract<WebviewMessage, { type: 'sccDetail' }> => m.type === 'sccDetail');

for (const theme of ['dark', 'light', 'high-contrast'] as ThemeName[]) {
  test(`SCC view screenshot, ${theme} theme`, async () => {
    const studio = await openStudio(browser(), theme, 'scc');
    await studio.send({ type: 'snapshot', snapshot: { ...syntheticSession(), tab: 'scc' } });
    await studio.page.screenshot({ path: screenshotPath(`scc-${theme}`), fullPage: true });
    assert.deepEqual(studio.problems(), []);
    await studio.page.close();
  });
}

test('every SCC is drawn, in the colour of its trace source', async () => {
  const studio = await openStudio(browser(), 'dark', 'scc');
  const run = runOf(60);
  await studio.send({ type: 'run', run });
  assert.equal(await studio.page.locator('canvas.scc-canvas').getAttribute('data-drawn'), '60');
  const colours = { recorded: '#d18616', memory: '#89d185', disk: '#3794ff' } as const;
  for (const source of ['recorded', 'memory', 'disk'] as const) {
    const biggest = run.decomposition.sccs
      .filter((s) => s.source === source)
      .sort((a, b) => b.vertices - a.vertices)[0];
    assert.equal(
      await pixel(studio, await nodePoint(studio, run, biggest.id)),
      colours[source],
      `SCC ${biggest.id} (${source})`,
    );
  }
  // A theme switch repaints in the new theme's colours.
  const biggestRecorded = run.decomposition.sccs
    .filter((s) => s.source === 'recorded')
    .sort((a, b) => b.vertices - a.vertices)[0];
  await studio.setTheme('high-contrast');
  assert.equal(await pixel(studio, await nodePoint(studio, run, biggestRecorded.id)), '#d18616');
  await studio.setTheme('light');
  const disk = run.decomposition.sccs.filter((s) => s.source === 'disk').sort((a, b) => b.vertices - a.vertices)[0];
  assert.equal(
    await pixel(studio, await nodePoint(studio, run, disk.id)),
    '#1a85ff',
    'disk: --vscode-charts-blue (light)',
  );
  const legend = await studio.page.locator('.scc .legend').innerText();
  const count = (s: string) => run.decomposition.sccs.filter((c) => c.source === s).length;
  assert.match(legend, new RegExp(`Recorded now \\(${count('recorded')}\\)`));
  assert.match(legend, new RegExp(`Trivial \\(no trace\\) \\(${count('trivial')}\\)`));
  await studio.page.close();
});

test('hover shows the figures; click requests the states and the pane shows them', async () => {
  const studio = await openStudio(browser(), 'dark', 'scc');
  const run = runOf(60);
  await studio.send({ type: 'run', run });
  const target = run.decomposition.sccs
    .filter((s) => s.source === 'recorded')
    .sort((a, b) => b.vertices - a.vertices)[0];
  const p = await nodePoint(studio, run, target.id);
  await studio.page.mouse.move(p.x, p.y);
  await frame(studio);
  const tip = await studio.page.locator('.scc-frame .tooltip').innerText();
  assert.match(tip, new RegExp(`SCC ${target.id}`));
  assert.match(tip, new RegExp(`${target.vertices} vertices`));
  assert.match(tip, new RegExp(`${target.internalEdges} internal, ${target.exitEdges} exit edges`));
  assert.match(tip, new RegExp(`cache key ${target.key}`));

  await studio.page.mouse.click(p.x, p.y);
  await frame(studio);
  const requests = await detailRequests(studio);
  assert.equal(requests.length, 1);
  assert.deepEqual(
    { ...requests[0], requestId: 0 },
    { type: 'sccDetail', requestId: 0, traceKey: run.result.traceKey, scc: target.id },
  );
  const pane = studio.page.locator('.scc-detail');
  assert.match(await pane.locator('h3').innerText(), new RegExp(`^SCC ${target.id}$`));
  assert.match(await pane.innerText(), /Loading states/);

  const n = target.vertices;
  const detail: SccDetail = {
    scc: target.id,
    variables: ['c[0][1]', 'c[1][0]', 'c[1][1]'],
    states: Array.from({ length: n }, (_, i) => [i % 3, (i + 1) % 4, i % 5]),
    edges: Array.from({ length: n }, (_, i) => [i, (i + 1) % n, 1.5] as [number, number, number]),
    truncated: false,
  };
  await studio.send({ type: 'sccDetail', requestId: requests[0].requestId, detail });
  assert.equal(await pane.locator('canvas.scc-mini').count(), 1, 'a drawing of the SCC graph');
  const rows = await pane.locator('table tbody tr').count();
  assert.equal(rows, Math.min(100, n));
  assert.deepEqual(await pane.locator('table thead th').allInnerTexts(), ['#', 'c[0][1]', 'c[1][0]', 'c[1][1]']);
  await studio.page.screenshot({ path: screenshotPath('scc-detail-dark'), fullPage: true });
  await studio.page.keyboard.press('Escape');
  await studio.page.locator('canvas.scc-canvas').press('Escape');
  assert.equal(await pane.isHidden(), true);
  assert.deepEqual(studio.problems(), []);
  await studio.page.close();
});

test('a drag pans the graph without selecting; a press that jitters less than 3 px still selects', async () => {
  const studio = await openStudio(browser(), 'dark', 'scc');
  const run = runOf(60);
  await studio.send({ type: 'run', run });
  await frame(studio);
  const canvas = studio.page.locator('canvas.scc-canvas');
  const transform = async () => (await canvas.getAttribute('data-transform'))!.split(',').map(Number);
  const [sx, sy, tx, ty] = await transform();
  const box = (await canvas.boundingBox())!;
  const mouse = studio.page.mouse;
  await mouse.move(box.x + 300, box.y + 200);
  await mouse.down();
  await mouse.move(box.x + 380, box.y + 170, { steps: 5 });
  await mouse.up();
  await frame(studio);
  assert.deepEqual(await transform(), [sx, sy, tx + 80, ty - 30], 'moved with the pointer, same scale');
  assert.equal((await detailRequests(studio)).length, 0, 'a drag selects nothing');

  // The wheel zooms about the pointer: the layout point under it stays under it.
  const at = { x: 250, y: 260 };
  const [s0, a0, x0, y0] = await transform();
  const layout = { x: (at.x - x0) / s0, y: (at.y - y0) / a0 };
  await mouse.move(box.x + at.x, box.y + at.y);
  await mouse.wheel(0, -250);
  await frame(studio);
  const [s1, a1, x1, y1] = await transform();
  assert.ok(Math.abs(s1 / s0 - Math.exp(0.5)) < 1e-9, `scale ×${s1 / s0}, expected e^0.5`);
  assert.ok(Math.abs(layout.x * s1 + x1 - at.x) < 1e-6 && Math.abs(layout.y * a1 + y1 - at.y) < 1e-6);

  const target = run.decomposition.sccs.filter((s) => s.vertices > 1)[0];
  const p = await nodePoint(studio, run, target.id);
  await mouse.move(p.x, p.y);
  await mouse.down();
  await mouse.move(p.x + 1, p.y + 1);
  await mouse.up();
  await frame(studio);
  const requests = await detailRequests(studio);
  assert.deepEqual(
    requests.map((r) => r.scc),
    [target.id],
  );
  assert.deepEqual(studio.problems(), []);
  await studio.page.close();
});

test('keyboard walks the DAG; an engine without details says so', async () => {
  const studio = await openStudio(browser(), 'light', 'scc');
  const run = runOf(60);
  await studio.send({ type: 'run', run });
  const canvas = studio.page.locator('canvas.scc-canvas');
  await canvas.focus();
  await canvas.press('ArrowRight'); // nothing selected yet: selects S's component
  await canvas.press('ArrowRight'); // along an edge out of it
  const requests = await detailRequests(studio);
  assert.deepEqual(
    requests.map((r) => r.scc),
    [
      0,
      run.decomposition.edges
        .filter(([a]) => a === 0)
        .map(([, b]) => b)
        .sort(
          (a, b) =>
            Math.abs(run.layout.nodes[a].y - run.layout.nodes[0].y) -
            Math.abs(run.layout.nodes[b].y - run.layout.nodes[0].y),
        )[0],
    ],
  );
  await studio.send({
    type: 'sccDetail',
    requestId: requests[1].requestId,
    error: 'This engine does not report the states of a component.',
  });
  assert.match(await studio.page.locator('.scc-detail').innerText(), /does not report the states/);
  assert.match((await canvas.getAttribute('aria-label'))!, new RegExp(`Selected SCC ${requests[1].scc}`));
  await studio.page.close();
});

test('Export SVG posts a standalone SVG of every component; the table lists them', async () => {
  const studio = await openStudio(browser(), 'dark', 'scc');
  const run = runOf(60);
  await studio.send({ type: 'run', run });
  await studio.page.getByRole('button', { name: 'Export the decomposition as SVG' }).click();
  const exported = (await studio.posted()).find((m) => m.type === 'exportSvg');
  assert.ok(exported && exported.type === 'exportSvg');
  const parsed = await studio.page.evaluate((svg) => {
    const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
    return {
      error: doc.querySelector('parsererror') !== null,
      circles: doc.querySelectorAll('circle').length,
      paths: doc.querySelectorAll('path').length,
      fill: doc.querySelector('g.recorded')?.getAttribute('fill'),
    };
  }, exported.svg);
  assert.deepEqual(parsed, { error: false, circles: 60, paths: run.decomposition.edges.length, fill: '#d18616' });
  await studio.send({ type: 'exported', path: '/tmp/two_locus-scc.svg' });
  assert.match(await studio.page.locator('.scc .toolbar').innerText(), /Saved \/tmp\/two_locus-scc\.svg/);

  await studio.page.getByRole('button', { name: 'Show as table' }).click();
  assert.equal(await studio.page.locator('#scc-tables tbody tr').count(), 60);
  await studio.page.getByRole('button', { name: 'Show SCC 7', exact: true }).click();
  assert.equal((await detailRequests(studio)).at(-1)!.scc, 7);
  assert.equal(await studio.page.locator('#scc-tables tr.selected').getAttribute('data-scc'), '7');
  await studio.page.close();
});

test('2,000 components render without freezing (level of detail)', async () => {
  const studio = await openStudio(browser(), 'dark', 'scc');
  const began = Date.now();
  const run = runOf(2000);
  const layoutMs = Date.now() - began;
  // Measured in the page: validation, drawing, the first frame.
  const firstMs = await studio.page.evaluate(
    async (json) => {
      const began = performance.now();
      window.postMessage(JSON.parse(json), '*');
      await new Promise((r) => setTimeout(r, 0));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return performance.now() - began;
    },
    JSON.stringify({ type: 'run', run }),
  );
  const canvas = studio.page.locator('canvas.scc-canvas');
  assert.equal(await canvas.getAttribute('data-drawn'), '2000');
  const frames = await canvas.evaluate(async (c) => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      c.dispatchEvent(
        new WheelEvent('wheel', {
          deltaY: i < 10 ? -200 : 200,
          clientX: 400,
          clientY: 250,
          bubbles: true,
          cancelable: true,
        }),
      );
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      times.push(Number(c.dataset.renderMs));
    }
    return times;
  });
  const mean = frames.reduce((a, b) => a + b, 0) / frames.length;
  console.log(
    `SCC view, 2,000 components and ${run.decomposition.edges.length} edges: host layout ${layoutMs} ms, message to first frame ${firstMs.toFixed(0)} ms; ` +
      `zoom frames mean ${mean.toFixed(2)} ms, max ${Math.max(...frames).toFixed(2)} ms`,
  );
  await studio.page.screenshot({ path: screenshotPath('scc-2000'), fullPage: false });
  assert.deepEqual(studio.problems(), []);
  await studio.page.close();
});
