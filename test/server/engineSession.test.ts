// The engine session of the engine process, with the real addon and no connection:
// what it needs from the language features (republishing a document's diagnostics
// and lenses) is handed to it, and it asks for it once a run has new engine findings,
// after a success as after a failure that points into the model.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource, TextDocuments } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { EngineSession } from '../../extension/server/engineSession';

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
    const uri = model('line.phasic', 'model line\nparam r = 1\nstate k in 0..2 = 0\nrule up when k < 2 rate r do k += 1\n');
    const reply = await session.run({ uri, overrides: {}, moments: 1, covariances: [], runId: 1 }, new CancellationTokenSource().token);
    assert.equal(reply.result.moments.time[0], 2);
    assert.deepEqual(refreshed, [uri]);
    assert.deepEqual(session.diagnosticsFor(uri), []);

    // A rule that leaves the state as it is: the engine's error lands on the rule, and the document is refreshed again.
    const big = model('stay.phasic', 'model stay\nparam r = 1\nstate k in 0..2 = 0\nrule up when k < 2 rate r do k += 1\nrule stay when k >= 1 rate r do k = k\n');
    await assert.rejects(session.run({ uri: big, overrides: {}, moments: 1, covariances: [], runId: 2 }, new CancellationTokenSource().token));
    assert.deepEqual(refreshed, [uri, big]);
    assert.deepEqual(session.diagnosticsFor(big).map((d) => [d.range.start.line, d.severity]), [[4, 1]]);
  });
});
