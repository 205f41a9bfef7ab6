// The engine process as any LSP client may start it: without initializationOptions
// (or with malformed ones) it starts on its defaults; and documents of other
// languages that the client syncs are not analysed as phasic.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { RunReply } from '../../extension/protocol/requests';
import { DEFAULT_ENGINE_SETTINGS, engineSettingsFrom } from '../../extension/server/settings';
import { LspClient } from './lsp';

const folder = mkdtempSync(join(tmpdir(), 'phasic-initialize-'));
/** Two steps at rate 2 and 1: E[T] = 1/2 + 1 = 1.5. */
const MODEL = 'model steps\nstate s in 0..2\nrule up when s < 2 rate if s == 0 then 2 else 1 do s += 1\n';

describe('initialize without initializationOptions', () => {
  let lsp: LspClient;
  before(() => {
    lsp = LspClient.start();
  });
  after(() => lsp.stop());

  it('answers with its capabilities, then analyses and runs models', async () => {
    const { capabilities } = await lsp.initialize();
    assert.equal(capabilities.hoverProvider, true);
    const uri = pathToFileURL(join(folder, 'open.phasic')).toString();
    const published = lsp.diagnosticsFor(uri);
    await lsp.open(uri, 'state s\nreward r = s + q\n');
    assert.deepEqual(
      (await published).diagnostics.map((d) => d.code),
      ['unknown-name'],
    );
    const path = join(folder, 'steps.phasic');
    writeFileSync(path, MODEL);
    const { result } = await lsp.request<RunReply>('phasic/run', {
      uri: pathToFileURL(path).toString(),
      overrides: {},
      moments: 1,
      covariances: [],
      runId: 1,
    });
    assert.deepEqual(result.moments.time, [1.5]);
  });

  it("reads a model with a byte order mark from disk, placing errors on the editor's columns", async () => {
    const path = join(folder, 'bom.phasic');
    writeFileSync(path, '\uFEFFstate s in 0..q\nrule up when s < 2 rate 1 do s += 1\n');
    await assert.rejects(
      lsp.request('phasic/run', {
        uri: pathToFileURL(path).toString(),
        overrides: {},
        moments: 1,
        covariances: [],
        runId: 2,
      }),
      /^Error: bom\.phasic:1:15: Unknown name `q`\./,
    );
    writeFileSync(path, `\uFEFF${MODEL}`);
    const { result } = await lsp.request<RunReply>('phasic/run', {
      uri: pathToFileURL(path).toString(),
      overrides: {},
      moments: 1,
      covariances: [],
      runId: 3,
    });
    assert.deepEqual(result.moments.time, [1.5]);
  });
});

describe('initialize with malformed initializationOptions', () => {
  it('takes the default of every field that is missing or of the wrong type', async () => {
    assert.deepEqual(engineSettingsFrom(undefined), DEFAULT_ENGINE_SETTINGS);
    assert.deepEqual(engineSettingsFrom('fast'), DEFAULT_ENGINE_SETTINGS);
    assert.deepEqual(
      engineSettingsFrom({
        maxStates: 'lots',
        memoryBudgetBytes: -1,
        cacheDirectory: 7,
        maxDiskBytes: Infinity,
        minSccSize: 1.5,
      }),
      DEFAULT_ENGINE_SETTINGS,
    );
    assert.deepEqual(engineSettingsFrom({ maxStates: 10, minSccSize: 3, cacheDirectory: '/tmp/x' }), {
      ...DEFAULT_ENGINE_SETTINGS,
      maxStates: 10,
      minSccSize: 3,
      cacheDirectory: '/tmp/x',
    });
    const lsp = LspClient.start();
    try {
      await lsp.initialize({ maxStates: 'lots', cacheDirectory: null });
      const path = join(folder, 'steps2.phasic');
      writeFileSync(path, MODEL);
      const { result } = await lsp.request<RunReply>('phasic/run', {
        uri: pathToFileURL(path).toString(),
        overrides: {},
        moments: 1,
        covariances: [],
        runId: 1,
      });
      assert.deepEqual(result.moments.time, [1.5]);
    } finally {
      await lsp.stop();
    }
  });
});

describe('documents of other languages', () => {
  let lsp: LspClient;
  before(async () => {
    lsp = await LspClient.initialized();
  });
  after(() => lsp.stop());

  it('get no diagnostics, hovers, completions, symbols, lenses or renames; phasic documents of any name do', async () => {
    const json = pathToFileURL(join(folder, 'graph.json')).toString();
    const plain = pathToFileURL(join(folder, 'notes.phasic')).toString(); // a .phasic file shown as plain text
    const untitled = 'untitled:Untitled-1'; // phasic, without a .phasic name
    await lsp.open(json, '{"states": [1, 2], "rate": theta}', 'json');
    await lsp.open(plain, 'state s\nreward r = s + q\n', 'plaintext');
    const published = lsp.diagnosticsFor(untitled);
    await lsp.open(untitled, 'state s\nreward r = s + q\n');
    assert.deepEqual(
      (await published).diagnostics.map((d) => d.code),
      ['unknown-name'],
    );
    // Publishing is debounced per document in the order documents changed: had the
    // two others been analysed, theirs would have come first.
    assert.deepEqual(
      lsp.published.map((p) => p.uri),
      [untitled],
    );

    const position = { line: 1, character: 7 };
    for (const uri of [json, plain]) {
      const textDocument = { uri };
      assert.equal(await lsp.request('textDocument/hover', { textDocument, position }), null, uri);
      assert.deepEqual(await lsp.request('textDocument/completion', { textDocument, position }), [], uri);
      assert.deepEqual(await lsp.request('textDocument/documentSymbol', { textDocument }), [], uri);
      assert.deepEqual(await lsp.request('textDocument/codeLens', { textDocument }), [], uri);
      assert.equal(await lsp.request('textDocument/definition', { textDocument, position }), null, uri);
      assert.equal(await lsp.request('textDocument/prepareRename', { textDocument, position }), null, uri);
      assert.equal(await lsp.request('textDocument/rename', { textDocument, position, newName: 'x' }), null, uri);
    }
    const hover = await lsp.request<{ contents: { value: string } }>('textDocument/hover', {
      textDocument: { uri: untitled },
      position,
    });
    assert.match(hover.contents.value, /reward r/);
  });
});
