#!/usr/bin/env node
// Records what the Studio panel's Fit tab receives during a real fit, for the webview
// test that also makes the README's screenshot (docs/images/studio-fit.png): compiles
// examples/two_deme_sfs.phasic with the real front end, runs it in the real engine as
// "Phasic: Fit Parameters to Data" does, reads examples/two_deme_sfs.fs with the fit's
// own parser, and drives the real host-side PanelSession with a `fit` message for mig,
// its engine side being extension/fit/fit.ts on that engine (what the engine process
// runs for `phasic/fit`). Writes the session's messages (the snapshot after `ready`,
// each step, the result) to test/fixtures/webview/two_deme_sfs-fit.json.
//
//   node scripts/record-fit-fixture.mjs
//
// Needs the addon (cd native && npx node-gyp rebuild).
import { loadRecorder, root } from './recorder.mjs';

const recorder = `
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModel } from './extension/language';
import { Engine } from './extension/engine/engine';
import { fitSfs } from './extension/fit/fit';
import { parseSfs } from './extension/fit/sfsFile';
import { StudioBuffer } from './extension/host/panel/buffer';
import { PanelSession } from './extension/host/panel/session';
import { wireFit, wireSpectrum } from './extension/protocol/fit';
import type { FitStep } from './extension/protocol/engine';
import type { HostMessage, PanelModel } from './extension/protocol/webview';

export async function record(root: string): Promise<string> {
  const modelPath = join(root, 'examples', 'two_deme_sfs.phasic');
  const dataPath = join(root, 'examples', 'two_deme_sfs.fs');
  const text = readFileSync(modelPath, 'utf8');
  const { model, diagnostics } = compileModel(text, modelPath, {});
  if (!model) throw new Error(modelPath + ': ' + diagnostics.map((d) => d.message).join('; '));
  const engineText = JSON.stringify(model);
  const engine = new Engine();
  engine.configure({ cacheDir: '' });
  const buffer = new StudioBuffer();
  buffer.setEngine({ version: engine.version(), pid: process.pid, startedAt: Date.now() - engine.memory().timeMs });
  const panelModel: PanelModel = {
    uri: 'file:///workspace/examples/two_deme_sfs.phasic',
    name: model.name,
    params: model.params.map((p) => ({ name: p.name, default: p.default, lo: p.lo, hi: p.hi })),
  };
  const messages: HostMessage[] = [];
  const session = new PanelSession(
    buffer,
    {
      evaluate: () => Promise.reject(new Error('not recorded')),
      exportSvg: async () => undefined,
      fit: async (request, onStep, signal) => {
        const steps: FitStep[] = [];
        const result = await fitSfs(engine, {
          engineText,
          spectrum: parseSfs(request.data),
          sfsReward: request.sfsReward,
          fit: request.fit,
          start: request.start,
          params: request.params,
          signal,
          onProgress: ({ start, iteration, loglik, estimates }) => {
            const step = { start, iteration, loglik, estimates };
            steps.push(step);
            onStep(step);
          },
        });
        return wireFit(result, steps);
      },
    },
    (m) => messages.push(JSON.parse(JSON.stringify(m))),
  );
  // As the command runs it: the model's run (moments 2, as Run does), then the data.
  const run = await engine.run(engineText, { moments: 2, covariances: [] });
  session.runResult(panelModel, run);
  const data = readFileSync(dataPath, 'utf8');
  session.showFit({
    data: { name: 'two_deme_sfs.fs', path: 'examples/two_deme_sfs.fs', modelUri: panelModel.uri, traceKey: run.traceKey, spectrum: wireSpectrum(parseSfs(data)) },
    text: data,
    overrides: {},
  });
  await session.receive({ type: 'ready' });
  const params = Object.fromEntries(model.params.map((p) => [p.name, p.default]));
  await session.receive({ type: 'fit', fitId: 1, sfsReward: 'xi', fit: ['mig'], start: { mig: params.mig }, params });
  const file = join(root, 'test', 'fixtures', 'webview', 'two_deme_sfs-fit.json');
  const about = 'Host messages of the Fit tab recorded from a real fit by scripts/record-fit-fixture.mjs: examples/two_deme_sfs.phasic run, examples/two_deme_sfs.fs fitted for mig from its default, coal fixed at its default, by extension/fit/fit.ts on the real engine through the real PanelSession. Engine ' + engine.version() + '.';
  writeFileSync(file, JSON.stringify({ _about: about, messages }) + '\\n');
  return file;
}
`;

const { record } = await loadRecorder('record-fit-fixture', recorder);

console.log(`wrote ${await record(root)}`);
