#!/usr/bin/env node
// Records what the Studio panel receives during a real session, for the webview
// tests: compiles a reference model with the real front end, runs it twice in the
// real engine (a recording run, then a rerun that reuses it), clears the caches, re-evaluates at
// other parameters, and feeds every engine report through the real host-side buffer
// (extension/host/panel/buffer.ts), and adds the detail of one SCC from the exported
// graph (extension/server/sccDetail.ts) and the distribution of every reward at the
// run's parameters. Writes the resulting host messages to
// test/fixtures/webview/<model>-session.json.
//
//   node scripts/record-webview-fixture.mjs [model.phasic] [name=value ...]
//
// Needs the addon (cd native && npx node-gyp rebuild).
import { join, resolve } from 'node:path';
import { loadRecorder, root } from './recorder.mjs';

// The recorder itself is TypeScript over the project's modules; bundled on the fly.
const recorder = `
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { compileModel } from './extension/language';
import { Engine } from './extension/engine/engine';
import { StudioBuffer } from './extension/host/panel/buffer';
import { totalBytes } from './extension/protocol/memory';
import type { PanelModel, HostMessage } from './extension/protocol/webview';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function record(root: string, modelPath: string, overrides: Record<string, number>): Promise<string> {
  const text = readFileSync(modelPath, 'utf8');
  const { model, diagnostics } = compileModel(text, modelPath, overrides);
  if (!model) throw new Error(modelPath + ': ' + diagnostics.map((d) => d.message).join('; '));
  const engine = new Engine();
  engine.configure({ cacheDir: '' });
  const first = engine.memory();
  const buffer = new StudioBuffer();
  buffer.setEngine({ version: engine.version(), pid: process.pid, startedAt: Date.now() - first.timeMs });
  const sampler = setInterval(() => buffer.addSample(engine.memory()), 10);
  const at = () => engine.memory().timeMs;
  const panelModel: PanelModel = {
    uri: 'file:///models/' + basename(modelPath),
    name: model.name,
    params: model.params.map((p) => ({ name: p.name, default: p.default, lo: p.lo, hi: p.hi })),
  };
  const options = { moments: 3, covariances: [] as Array<[string, string]>, onBlockEvent: (e: any) => buffer.addBlockEvent(e) };
  const json = JSON.stringify(model);
  await sleep(200);
  buffer.addMarker({ kind: 'runStart', timeMs: at(), label: model.name });
  const result = await engine.run(json, options);
  buffer.addMarker({ kind: 'runEnd', timeMs: at() });
  buffer.setRun(panelModel, result);
  await sleep(300);
  buffer.addMarker({ kind: 'runStart', timeMs: at(), label: model.name });
  const again = await engine.run(json, options);
  buffer.addMarker({ kind: 'runEnd', timeMs: at() });
  buffer.setRun(panelModel, again);
  await sleep(300);
  const params = Object.fromEntries(model.params.map((p) => [p.name, p.default * 2]));
  const evaluation = await engine.evaluate(again.traceKey, params, 3);
  // The detail of the largest SCC up to 300 vertices (the pane draws those), while the
  // run's trace is still cached.
  const drawable = again.decomposition.sccs.filter((s) => s.vertices <= 300);
  const largest = drawable.reduce((a, b) => (b.vertices > a.vertices ? b : a));
  const detail = await engine.sccDetail(again.traceKey, largest.id, again.params, 2_000_000);
  // The Distribution view's reply at the run's parameters: every reward, in the
  // view's order (time first), from the cached run.
  const rewards = ['time', ...Object.keys(again.moments).filter((k) => k !== 'time')];
  const distribution: unknown[] = [];
  for (const reward of rewards) distribution.push(await engine.distribution(again.traceKey, { reward, params: again.params }));
  await sleep(200);
  const cleared = await engine.clearCaches();
  buffer.addMarker({ kind: 'clear', freedBytes: totalBytes(cleared.freedBytes) });
  await sleep(300);
  clearInterval(sampler);
  const messages: HostMessage[] = [
    { type: 'snapshot', snapshot: { ...buffer.snapshot(), tab: 'memory' } },
    { type: 'evaluation', requestId: 1, result: evaluation },
    { type: 'sccDetail', requestId: 1, detail },
    { type: 'distribution', requestId: 1, results: distribution },
  ];
  const file = join(root, 'test', 'fixtures', 'webview', model.name + '-session.json');
  const about = 'Host messages recorded from a real session by scripts/record-webview-fixture.mjs: ' +
    basename(modelPath) + ' ' + JSON.stringify(overrides) + ' run twice (record, then reuse), evaluated at ' +
    JSON.stringify(params) + ' (the evaluation message), caches cleared; the distribution message is every reward at the run parameters; the sccDetail message is the largest SCC of at most 300 vertices, from the engine. Engine ' + engine.version() + '.';
  writeFileSync(file, JSON.stringify({ _about: about, first: { vertices: result.vertices, sccs: result.sccs }, messages }) + '\\n');
  return file;
}
`;

const { record } = await loadRecorder('record-webview-fixture', recorder);

const args = process.argv.slice(2);
const modelPath = resolve(
  args.find((a) => a.endsWith('.phasic')) ?? join(root, 'test', 'fixtures', 'models', 'two_locus.phasic'),
);
const overrides = Object.fromEntries(
  args
    .filter((a) => a.includes('='))
    .map((a) => {
      const [k, v] = a.split('=');
      return [k, Number(v)];
    }),
);
console.log(`wrote ${await record(root, modelPath, overrides)}`);
