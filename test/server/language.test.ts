// The language features over the real transport: spawns the engine process
// (`dist/server.js --stdio`, built by `node esbuild.mjs`) and speaks JSON-RPC to it
// the way VS Code does.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { LspClient, positionOf } from './lsp';

// Tests run from out/test/server; the fixtures live at the repository root.
const ROOT = join(__dirname, '..', '..', '..');
const KINGMAN = readFileSync(join(ROOT, 'test', 'fixtures', 'models', 'kingman.phasic'), 'utf8');

describe('language server over stdio', () => {
  let lsp: LspClient;
  const uri = pathToFileURL(join(tmpdir(), 'kingman.phasic')).toString();

  before(async () => {
    lsp = LspClient.start();
    const { capabilities } = await lsp.initialize({
      maxStates: 100_000,
      memoryBudgetBytes: 256 << 20,
      cacheDirectory: mkdtempSync(join(tmpdir(), 'phasic-lsp-test-')),
      maxDiskBytes: 0,
      minSccSize: 4,
    });
    assert.equal(capabilities.hoverProvider, true);
    assert.deepEqual(capabilities.renameProvider, { prepareProvider: true });
  });

  after(() => lsp.stop());

  it('publishes diagnostics for an opened document, and again after an edit', async () => {
    const broken = KINGMAN.replace('rate theta * k', 'rate theta * kk');
    const first = lsp.diagnosticsFor(uri);
    await lsp.open(uri, broken);
    const { diagnostics } = await first;
    const at = positionOf(broken, 'kk');
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.message, d.range.start, d.range.end, d.severity]),
      [['unknown-name', 'Unknown name `kk`.', at, { line: at.line, character: at.character + 2 }, 1]],
    );
    const fixed = lsp.diagnosticsFor(uri, (p) => p.diagnostics.length === 0);
    await lsp.rpc.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ text: KINGMAN }],
    });
    await fixed;
  });

  it("hovers with a constant's value and a parameter's index", async () => {
    const constant = await lsp.request<{ contents: { value: string } }>('textDocument/hover', {
      textDocument: { uri },
      position: positionOf(KINGMAN, 'n = 4'),
    });
    assert.match(constant.contents.value, /const n = 4/);
    const param = await lsp.request<{ contents: { value: string } }>('textDocument/hover', {
      textDocument: { uri },
      position: positionOf(KINGMAN, 'theta', 1),
    });
    assert.match(param.contents.value, /Parameter θ₁ \(index 0\), default 1/);
  });

  it('completes keywords, names and snippets', async () => {
    const items = await lsp.request<Array<{ label: string; kind: number; insertText?: string }>>(
      'textDocument/completion',
      {
        textDocument: { uri },
        position: positionOf(KINGMAN, 'rate theta'),
      },
    );
    const labels = items.map((i) => i.label);
    for (const expected of ['theta', 'n', 'k', 'rule', 'binom']) assert.ok(labels.includes(expected), expected);
    assert.match(items.find((i) => i.label === 'rule' && i.insertText)!.insertText!, /^rule \$\{1:name\}/);
  });

  it('renames a parameter everywhere and refuses keywords and taken names', async () => {
    const position = positionOf(KINGMAN, 'theta');
    const edit = await lsp.request<{ changes: Record<string, Array<{ range: unknown; newText: string }>> }>(
      'textDocument/rename',
      {
        textDocument: { uri },
        position,
        newName: 'lambda',
      },
    );
    assert.deepEqual(
      edit.changes[uri].map((e) => e.range),
      [
        { start: position, end: { line: position.line, character: position.character + 5 } },
        {
          start: positionOf(KINGMAN, 'theta', 1),
          end: { ...positionOf(KINGMAN, 'theta', 1), character: positionOf(KINGMAN, 'theta', 1).character + 5 },
        },
      ],
    );
    await assert.rejects(
      lsp.request('textDocument/rename', { textDocument: { uri }, position, newName: 'rule' }),
      /`rule` is a keyword/,
    );
    await assert.rejects(
      lsp.request('textDocument/rename', { textDocument: { uri }, position, newName: 'n' }),
      /`n` is already declared \(line 5\)/,
    );
  });

  it('offers the run lens on the model line, and navigates to definitions', async () => {
    const lenses = await lsp.request<
      Array<{ range: { start: { line: number } }; command: { command: string; arguments: unknown[] } }>
    >('textDocument/codeLens', { textDocument: { uri } });
    assert.equal(lenses[0].range.start.line, positionOf(KINGMAN, 'model kingman').line);
    assert.deepEqual(lenses[0].command, {
      title: 'Run hierarchical trace',
      command: 'phasic.runTrace',
      arguments: [uri],
    });
    const definition = await lsp.request<{ range: { start: unknown } }>('textDocument/definition', {
      textDocument: { uri },
      position: positionOf(KINGMAN, 'k -= 1'),
    });
    assert.deepEqual(definition.range.start, positionOf(KINGMAN, 'k in 1..n'));
    const symbols = await lsp.request<Array<{ name: string }>>('textDocument/documentSymbol', {
      textDocument: { uri },
    });
    assert.deepEqual(
      symbols.map((s) => s.name),
      ['kingman', 'n', 'theta', 'k', 'coalesce', 'tmrca', 'total_length'],
    );
  });

  it('keeps the run summary lens after a run whose mean is infinite, and after a finite one', async () => {
    // Issue 11, point 15: a run whose E[time] was not finite made every lens request
    // fail (toPrecision of null) and the lens disappear.
    type Lens = { command: { title: string } };
    const lensTitles = async (target: string) =>
      (await lsp.request<Lens[]>('textDocument/codeLens', { textDocument: { uri: target } })).map(
        (l) => l.command.title,
      );
    const opened = pathToFileURL(join(tmpdir(), `infinite-${process.pid}.phasic`)).toString();
    await lsp.open(opened, KINGMAN);
    const run = (params: Record<string, number>) =>
      lsp.request<{ result: { moments: Record<string, unknown[]> } }>('phasic/run', {
        uri: opened,
        overrides: {},
        params,
        moments: 2,
        covariances: [],
        runId: 9000 + Math.floor(Math.random() * 1000),
      });
    // θ = 0: nothing ever coalesces, so E[time] is infinite.
    assert.deepEqual((await run({ theta: 0 })).result.moments.time, ['Infinity', 'Infinity']);
    assert.deepEqual(await lensTitles(opened), ['Run hierarchical trace', '5 vertices · 5 SCCs · E[time] = ∞']);
    assert.equal((await run({ theta: 2 })).result.moments.time[0], 0.75);
    assert.deepEqual(await lensTitles(opened), ['Run hierarchical trace', '5 vertices · 5 SCCs · E[time] = 0.75']);
  });
});
