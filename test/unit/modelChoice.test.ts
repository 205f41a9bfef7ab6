// Which model "Phasic: Run Hierarchical Trace" runs without an argument: the active
// editor's model; with the Studio panel focused (no active text editor), the model
// whose run the panel shows; else the one .phasic editor in view; asked only when
// there is none. The panel's model comes from a real run held by a real StudioBuffer.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Engine } from '../../extension/engine/engine';
import { chooseModel, isModelUri, type ModelPrompts, modelToUse } from '../../extension/host/commands/modelChoice';
import { StudioBuffer } from '../../extension/host/panel/buffer';
import { PanelSession } from '../../extension/host/panel/session';
import { prepareModel } from '../../extension/server/models';

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples');
const uriOf = (name: string) => pathToFileURL(join(EXAMPLES, name)).toString();
const kingman = { uri: uriOf('kingman.phasic'), languageId: 'phasic' };
const rabbits = { uri: uriOf('rabbits.phasic'), languageId: 'phasic' };
const settings = { uri: pathToFileURL('/home/user/.vscode/settings.json').toString(), languageId: 'jsonc' };
const readme = { uri: pathToFileURL(join(EXAMPLES, '..', 'README.md')).toString(), languageId: 'markdown' };
const untitled = { uri: 'untitled:Untitled-1', languageId: 'phasic' };

/** The URI of the model the Studio panel shows after a real run of `name`. */
async function panelAfterRun(name: string): Promise<string | undefined> {
  const engine = new Engine();
  engine.configure({ cacheDir: '' });
  const prepared = prepareModel(uriOf(name), readFileSync(join(EXAMPLES, name), 'utf8'), {});
  const result = await engine.run(prepared.engineText, { moments: 1 });
  const buffer = new StudioBuffer();
  const session = new PanelSession(
    buffer,
    { evaluate: () => Promise.reject(new Error('unused')), exportSvg: async () => undefined },
    () => undefined,
  );
  session.runResult({ uri: prepared.spec.uri, name: prepared.spec.name, params: prepared.spec.params }, result);
  await engine.clearCaches();
  return buffer.currentRun()?.model.uri;
}

describe('the model a run without an argument is for', () => {
  it("is the active editor's model, whatever else is in view", async () => {
    const panelModel = await panelAfterRun('rabbits.phasic');
    assert.deepEqual(chooseModel({ active: kingman, panelModel, visible: [kingman, rabbits] }), {
      kind: 'run',
      uri: kingman.uri,
    });
    const graph = { uri: uriOf('graph.json'), languageId: 'json' };
    assert.deepEqual(chooseModel({ active: graph, visible: [graph] }), { kind: 'run', uri: graph.uri });
    assert.deepEqual(chooseModel({ active: untitled, visible: [untitled] }), { kind: 'run', uri: untitled.uri });
  });

  it('with the Studio panel focused, is the model the panel shows, not a file to pick', async () => {
    const panelModel = await panelAfterRun('rabbits.phasic');
    assert.equal(panelModel, rabbits.uri);
    // The panel focused beside the model's editor: no text editor is active.
    assert.deepEqual(chooseModel({ active: undefined, panelModel, visible: [rabbits] }), {
      kind: 'run',
      uri: rabbits.uri,
    });
    // Also when another model is open beside it: the panel's is the one in focus.
    assert.deepEqual(chooseModel({ active: undefined, panelModel, visible: [kingman] }), {
      kind: 'run',
      uri: rabbits.uri,
    });
    // A text editor that holds no model is active: the panel in view still names one.
    assert.deepEqual(chooseModel({ active: readme, panelModel, visible: [readme] }), { kind: 'run', uri: rabbits.uri });
  });

  it('without a panel model, is the one .phasic editor in view; several are offered to pick', () => {
    assert.deepEqual(chooseModel({ active: readme, visible: [readme, kingman, settings] }), {
      kind: 'run',
      uri: kingman.uri,
    });
    assert.deepEqual(chooseModel({ active: undefined, visible: [kingman, kingman] }), {
      kind: 'run',
      uri: kingman.uri,
    });
    assert.deepEqual(chooseModel({ active: undefined, visible: [kingman, settings, rabbits] }), {
      kind: 'pick',
      uris: [kingman.uri, rabbits.uri],
    });
  });

  it('is asked for only when nothing in view is a model (a JSON editor in view is not taken for one)', () => {
    assert.deepEqual(chooseModel({ active: undefined, visible: [] }), { kind: 'ask' });
    assert.deepEqual(chooseModel({ active: readme, visible: [readme, settings] }), { kind: 'ask' });
  });

  it('knows model files by their path, not their query', () => {
    assert.equal(isModelUri(kingman.uri), true);
    assert.equal(isModelUri('git:/repo/kingman.phasic?%7B%22ref%22%3A%22HEAD%22%7D'), true);
    assert.equal(isModelUri('file:///x/notes.phasic.md'), false);
    assert.equal(isModelUri('file:///x/a.md?b.phasic'), false);
  });

  it('is the same choice for Run and Fit, and asks only through the pickers handed in, titled for the command', async () => {
    const asked: string[] = [];
    const prompts = (answer: string | undefined): ModelPrompts => ({
      pick: async (uris, title) => {
        asked.push(`pick ${title}: ${uris.join(' ')}`);
        return answer;
      },
      open: async (title) => {
        asked.push(`open ${title}`);
        return answer;
      },
    });
    const panelModel = await panelAfterRun('rabbits.phasic');
    for (const use of ['run', 'fit'] as const) {
      assert.equal(
        await modelToUse({ active: undefined, panelModel, visible: [kingman] }, prompts('x'), use),
        rabbits.uri,
      );
      assert.equal(await modelToUse({ active: kingman, visible: [kingman, rabbits] }, prompts('x'), use), kingman.uri);
    }
    assert.deepEqual(asked, [], 'nothing is asked when the view names the model');
    const several = { active: undefined, visible: [kingman, settings, rabbits] };
    assert.equal(await modelToUse(several, prompts(rabbits.uri), 'fit'), rabbits.uri);
    assert.equal(await modelToUse(several, prompts(undefined), 'run'), undefined);
    assert.equal(await modelToUse({ active: readme, visible: [readme] }, prompts(kingman.uri), 'fit'), kingman.uri);
    assert.equal(await modelToUse({ active: undefined, visible: [] }, prompts(undefined), 'run'), undefined);
    assert.deepEqual(asked, [
      `pick Phasic: fit which model?: ${kingman.uri} ${rabbits.uri}`,
      `pick Phasic: run which model?: ${kingman.uri} ${rabbits.uri}`,
      'open Phasic: pick the model to fit',
      'open Phasic: pick a model',
    ]);
  });
});
