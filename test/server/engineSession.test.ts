// The engine session of the engine process, with the real addon and no connection:
// what it needs from the language features (republishing a document's diagnostics
// and lenses) is handed to it, and it asks for it once a run has new engine findings,
// after a success as after a failure that points into the model. And the host's
// describe-then-run of a model parses it once, never at the cost of a stale text.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource, TextDocuments } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parse } from '../../extension/language/parser';
import { EngineSession } from '../../extension/server/engineSession';
import { Preparations } from '../../extension/server/models';

const folder = mkdtempSync(join(tmpdir(), 'phasic-engine-session-'));
function model(name: string, text: string): string {
  writeFileSync(join(folder, name), text);
  return pathToFileURL(join(folder, name)).toString();
}

describe('the engine session', () => {
  const refreshed: string[] = [];
  const session = new EngineSession(
    { maxStates: 1000, memoryBudgetBytes: 256 << 20, cacheDirectory: '', maxDiskBytes: 0, minSccSize: 4 },
    new TextDocuments(TextDocument),
    () => undefined,
    (uri) => refreshed.push(uri),
  );
  after(() => session.dispose());

  it('refreshes a document through the function it was given, after each run', async () => {
    // One rate-1 step out of each of states 0 and 1: E[T] = 2.
    const uri = model(
      'line.phasic',
      'model line\nparam r = 1\nstate k in 0..2 = 0\nrule up when k < 2 rate r do k += 1\n',
    );
    const reply = await session.run(
      { uri, overrides: {}, moments: 1, covariances: [], runId: 1 },
      new CancellationTokenSource().token,
    );
    assert.equal(reply.result.moments.time[0], 2);
    assert.deepEqual(refreshed, [uri]);
    assert.deepEqual(session.diagnosticsFor(uri), []);

    // A rule that leaves the state as it is: the engine's error lands on the rule, and the document is refreshed again.
    const big = model(
      'stay.phasic',
      'model stay\nparam r = 1\nstate k in 0..2 = 0\nrule up when k < 2 rate r do k += 1\nrule stay when k >= 1 rate r do k = k\n',
    );
    await assert.rejects(
      session.run(
        { uri: big, overrides: {}, moments: 1, covariances: [], runId: 2 },
        new CancellationTokenSource().token,
      ),
    );
    assert.deepEqual(refreshed, [uri, big]);
    assert.deepEqual(
      session.diagnosticsFor(big).map((d) => [d.range.start.line, d.severity]),
      [[4, 1]],
    );
  });

  it('parses a model once for a describe and the run that follows it, and again when the text or overrides changed', async () => {
    let parses = 0;
    const counting = new EngineSession(
      { maxStates: 1000, memoryBudgetBytes: 256 << 20, cacheDirectory: '', maxDiskBytes: 0, minSccSize: 4 },
      new TextDocuments(TextDocument),
      () => undefined,
      () => undefined,
      new Preparations((text, sink) => {
        parses++;
        return parse(text, sink);
      }),
    );
    const chain = (n: number) =>
      `model chain\nconst n = ${n}\nparam r = 1\nstate k in 0..n = 0\nrule up when k < n rate r do k += 1\n`;
    const uri = model('chain.phasic', chain(2));
    const run = async (overrides: Record<string, number>) =>
      (
        await counting.run(
          { uri, overrides, moments: 1, covariances: [], runId: 3 },
          new CancellationTokenSource().token,
        )
      ).result.moments.time[0];
    try {
      // The host's sequence: describe (for the overrides input), then run. E[T] = n steps of rate 1.
      assert.deepEqual((await counting.describe(uri, {})).constants, [{ name: 'n', value: 2, integer: true }]);
      assert.equal(await run({}), 2);
      assert.equal(parses, 1);
      // Nothing held any more: a second run prepares again.
      assert.equal(await run({}), 2);
      assert.equal(parses, 2);
      // Other overrides than the describe's: prepared for the run's own.
      await counting.describe(uri, {});
      assert.equal(await run({ n: 4 }), 4);
      assert.equal(parses, 4);
      // The file changed between describe and run: the run uses the new text.
      await counting.describe(uri, {});
      model('chain.phasic', chain(3));
      assert.equal(await run({}), 3);
      assert.equal(parses, 6);
    } finally {
      counting.dispose();
    }
  });
});
