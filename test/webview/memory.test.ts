// The memory timeline: what is drawn from a session's samples, blocks and markers,
// its table view, live streaming, zoom, theme repaint, and 100,000 samples without a
// freeze.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes } from '../../extension/protocol/format';
import type { StudioSnapshot, TimelineSample } from '../../extension/protocol/webview';
import { openStudio, type Studio, screenshotPath, type ThemeName, useBrowser } from './harness';
import { syntheticSession } from './synthetic';

const MB = 1024 * 1024;
const browser = useBrowser();

/** The RGB at a time and height (bytes above the baseline, or pixels when `px`) of the chart. */
async function pixelAt(studio: Studio, t: number, yFromBottom: number): Promise<string> {
  return studio.page.locator('canvas.chart-canvas').evaluate(
    (c: HTMLCanvasElement, [t, dy]) => {
      const [start, end] = c.dataset.window!.split(',').map(Number);
      const width = c.clientWidth;
      const x = 64 + ((t - start) / (end - start)) * (width - 64 - 14);
      const y = c.clientHeight - 22 - dy;
      const dpr = c.width / width;
      const d = c.getContext('2d')!.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
      if (d[3] === 0) return 'transparent';
      return `#${[d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
    },
    [t, yFromBottom] as [number, number],
  );
}

/** A sample in the middle of a stretch where `pick` holds for ±3 samples. */
function steady(snapshot: StudioSnapshot, pick: (s: TimelineSample) => boolean): TimelineSample {
  const s = snapshot.samples;
  for (let i = 3; i < s.length - 3; i++) if (s.slice(i - 3, i + 4).every(pick)) return s[i];
  throw new Error('no such stretch in the fixture');
}

for (const theme of ['dark', 'light', 'high-contrast'] as ThemeName[]) {
  test(`timeline screenshot, ${theme} theme`, async () => {
    const studio = await openStudio(browser(), theme);
    await studio.send({ type: 'snapshot', snapshot: syntheticSession() });
    await studio.page.screenshot({ path: screenshotPath(`memory-${theme}`), fullPage: true });
    assert.deepEqual(studio.problems(), []);
    await studio.page.close();
  });
}

test('stacked categories are drawn in their theme colours and repainted on a theme switch', async () => {
  const studio = await openStudio(browser(), 'dark');
  const snapshot = syntheticSession();
  await studio.send({ type: 'snapshot', snapshot });
  const exploring = steady(snapshot, (s) => s.accounted.graph === 48 * MB && s.accounted.subgraphs === 0);
  const idleWithCache = steady(snapshot, (s) => s.accounted.graph === 0 && s.accounted.cache > 10 * MB);
  assert.equal(await pixelAt(studio, exploring.t, 3), '#3794ff', 'graph: --vscode-charts-blue (dark)');
  assert.equal(await pixelAt(studio, idleWithCache.t, 3), '#b180d7', 'cache: --vscode-charts-purple (dark)');
  await studio.setTheme('light');
  assert.equal(await pixelAt(studio, exploring.t, 3), '#1a85ff', 'graph: --vscode-charts-blue (light)');
  assert.equal(await pixelAt(studio, idleWithCache.t, 3), '#652d90', 'cache: --vscode-charts-purple (light)');
  // Above the data the canvas is transparent: the page's theme background shows.
  assert.equal(await pixelAt(studio, exploring.t, 200), 'transparent');
  await studio.page.close();
});

test('the table view lists samples, block lifetimes (one still alive) and the markers', async () => {
  const studio = await openStudio(browser(), 'dark');
  const snapshot = syntheticSession();
  await studio.send({ type: 'snapshot', snapshot });
  const page = studio.page;
  await page.getByRole('button', { name: 'Show as table' }).click();
  await page.locator('#memory-tables table').first().waitFor();
  const captions = await page.locator('#memory-tables caption').allInnerTexts();
  assert.match(captions[0], new RegExp(`of ${snapshot.samples.length.toLocaleString('en-US')}, newest first`));
  assert.equal(captions[1], `Block subgraphs (${snapshot.blocks.length}, newest first)`);
  const events = await page.locator('#memory-tables table').nth(2).locator('tbody td').allInnerTexts();
  assert.deepEqual(events, [
    'Run two_locus',
    'Done',
    'Run two_locus',
    'Done',
    'Clear \u221213.1 MB',
    'Engine restarted',
    'Run two_locus',
  ]);
  const alive = await page
    .locator('#memory-tables table')
    .nth(1)
    .locator('tbody tr', { hasText: 'still alive' })
    .count();
  assert.equal(alive, 1);
  assert.match((await page.locator('canvas.gantt-canvas').getAttribute('aria-label'))!, /16 subgraphs, 1 still alive/);
  // Still building while the run goes on: no warning. Once the run has ended, the
  // subgraph that was not freed is called out.
  assert.equal(await page.locator('.leak').innerText(), '');
  const live = snapshot.blocks.find((b) => b.freed === null)!;
  await studio.send({ type: 'marker', marker: { kind: 'runEnd', t: live.created + 1000 } });
  assert.equal(
    await page.locator('.leak').innerText(),
    `1 block subgraph (${formatBytes(live.bytes)}) outlived its run: SCC ${live.scc}.`,
  );
  await page.close();
});

test('live samples update the figures and a followed window; keys zoom and fit', async () => {
  const studio = await openStudio(browser(), 'dark');
  const snapshot = syntheticSession();
  await studio.send({ type: 'snapshot', snapshot });
  const chart = studio.page.locator('canvas.chart-canvas');
  const windowOf = async () => (await chart.getAttribute('data-window'))!.split(',').map(Number);
  const last = snapshot.samples[snapshot.samples.length - 1];
  const next: TimelineSample = {
    t: last.t + 500,
    accounted: { graph: 5 * MB, subgraphs: 0, traces: 0, cache: 0, evaluation: 0, workspace: 0 },
    rss: 300 * MB,
  };
  await studio.send({ type: 'samples', samples: [next] });
  assert.equal(await studio.page.locator('[data-figure="graph"]').innerText(), '5.0 MB');
  assert.equal(await studio.page.locator('[data-figure="rss"]').innerText(), '300 MB');
  assert.equal((await windowOf())[1], next.t, 'the whole-session view follows the newest sample');

  const [s0, e0] = await windowOf();
  await chart.focus();
  await chart.press('+');
  await studio.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const [s1, e1] = await windowOf();
  assert.ok(Math.abs(e1 - s1 - (e0 - s0) / 2) < 1, 'zoomed to half the span');
  assert.equal(e1, next.t, 'following live keeps the right edge on the newest sample');
  await chart.press('ArrowLeft');
  await studio.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const [, e2] = await windowOf();
  assert.ok(e2 < e1, 'panning back in time stops following');
  await chart.press('0');
  await studio.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  assert.deepEqual(await windowOf(), [s0, e0]);

  // Hover read-out of the nearest sample.
  const box = (await chart.boundingBox())!;
  await studio.page.mouse.move(box.x + box.width - 20, box.y + 100);
  await studio.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const tip = await studio.page.locator('.chart-frame .tooltip').innerText();
  assert.match(tip, /Accounted/);
  assert.match(tip, /Resident\s+300 MB/);
  // Near the right edge the read-out turns to the left of the pointer, inside the frame.
  const tipBox = (await studio.page.locator('.chart-frame .tooltip').boundingBox())!;
  const frameBox = (await studio.page.locator('.chart-frame').boundingBox())!;
  assert.ok(
    tipBox.x >= frameBox.x && Math.abs(tipBox.x + tipBox.width - (box.x + box.width - 20 - 14)) < 1,
    `tooltip at ${tipBox.x}..${tipBox.x + tipBox.width}, pointer at ${box.x + box.width - 20}`,
  );
  assert.ok(Math.abs(tipBox.y - (box.y + 100 - 10)) < 1, 'ten pixels above the pointer');
  await studio.page.close();
});

test('100,000 samples render without freezing (min/max decimated to the canvas width)', async () => {
  const studio = await openStudio(browser(), 'dark');
  // Built inside the page so the measurement is the webview's, not the test's
  // transport: two hours at 72 ms, a sawtooth of runs with one single-sample spike,
  // posted as five host messages of 20,000 samples, then the frame that draws them.
  const { loadMs, peak } = await studio.page.evaluate(async () => {
    const MB = 1024 * 1024;
    const t0 = Date.UTC(2026, 10, 26, 12);
    const samples = [];
    let peak = 0;
    for (let i = 0; i < 100_000; i++) {
      const graph = Math.round(((i % 2000) / 2000) * 200 * MB);
      const spike = i === 61_234 ? 900 * MB : 0;
      peak = Math.max(peak, graph + spike + 20 * MB);
      samples.push({
        t: t0 + i * 72,
        accounted: { graph, subgraphs: spike, traces: 0, cache: 20 * MB, evaluation: 0, workspace: 0 },
        rss: 80 * MB + graph + spike,
      });
    }
    const began = performance.now();
    for (let i = 0; i < samples.length; i += 20_000)
      window.postMessage({ type: 'samples', samples: samples.slice(i, i + 20_000) }, '*');
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return { loadMs: performance.now() - began, peak };
  });
  const chart = studio.page.locator('canvas.chart-canvas');
  const points = Number(await chart.getAttribute('data-points'));
  const width = await chart.evaluate((c) => c.clientWidth);
  assert.ok(points <= width + 2, `${points} points drawn for ${width} px`);
  // The single-sample spike survives decimation: the y axis reaches it.
  assert.equal(await studio.page.locator('[data-figure="peak"]').innerText(), formatBytes(peak));
  const frames = await chart.evaluate(async (c) => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      c.dispatchEvent(
        new WheelEvent('wheel', {
          deltaY: i < 10 ? -120 : 120,
          clientX: 500,
          clientY: 100,
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
    `timeline, 100,000 samples: validated, stored and drawn in ${loadMs.toFixed(0)} ms; zoom frames mean ${mean.toFixed(2)} ms, max ${Math.max(...frames).toFixed(2)} ms`,
  );
  await studio.page.screenshot({ path: screenshotPath('memory-100k'), fullPage: false });
  assert.deepEqual(studio.problems(), []);
  await studio.page.close();
});

test('hovering a Gantt bar names its subgraph; dragging pans back in time', async () => {
  const studio = await openStudio(browser(), 'dark');
  const snapshot = syntheticSession();
  await studio.send({ type: 'snapshot', snapshot });
  const page = studio.page;
  const gantt = page.locator('canvas.gantt-canvas');
  const chart = page.locator('canvas.chart-canvas');
  const [start, end] = (await chart.getAttribute('data-window'))!.split(',').map(Number);
  const box = (await gantt.boundingBox())!;
  const finished = snapshot.blocks.find((b) => b.freed !== null && b.freed - b.created > 100)!;
  const mid = (finished.created + finished.freed!) / 2;
  await page.mouse.move(box.x + 64 + ((mid - start) / (end - start)) * (box.width - 78), box.y + 14);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const tip = await page.locator('.chart-frame .tooltip').innerText();
  assert.match(tip, new RegExp(`Block subgraph of SCC ${finished.scc}`));
  assert.match(tip, /freed after \d+ ms/);

  const c = (await chart.boundingBox())!;
  await page.mouse.move(c.x + c.width / 2, c.y + 100);
  await page.mouse.down();
  await page.mouse.move(c.x + c.width / 2 + 200, c.y + 100, { steps: 4 });
  await page.mouse.up();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const [s2, e2] = (await chart.getAttribute('data-window'))!.split(',').map(Number);
  const shift = (200 / (c.width - 78)) * (end - start);
  assert.ok(
    Math.abs(start - s2 - shift) < 5 && Math.abs(end - e2 - shift) < 5,
    `panned by ${start - s2} ms, expected ${shift}`,
  );
  assert.equal(
    await page.locator('.memory vscode-checkbox').evaluate((e) => (e as HTMLInputElement).checked),
    false,
    'panning back stops following',
  );
  await page.close();
});
