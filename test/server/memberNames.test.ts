// Names that are members of every JavaScript object (`constructor`, `__proto__`, …)
// through the real engine process: diagnostics, hover, completion, rename and a run
// with overrides and parameters of those names, each name in each role.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { RunReply } from '../../extension/protocol/requests';
import { memberNameModels, memberNameMoments, ownRecord } from '../language/memberNames';
import { LspClient, positionOf } from './lsp';

const COMPLETION_KIND = { const: 21, param: 6, state: 5 };

function close(actual: number | string, expected: number, what: string): void {
  assert.equal(typeof actual, 'number', `${what}: ${actual} is not a finite number`);
  assert.ok(
    Math.abs(Number(actual) - expected) <= 1e-12 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual}, expected ${expected}`,
  );
}

describe('member names through the language server', () => {
  let lsp: LspClient;
  const folder = mkdtempSync(join(tmpdir(), 'phasic-member-names-lsp-'));

  before(async () => {
    lsp = await LspClient.initialized();
  });

  after(() => lsp.stop());

  memberNameModels().forEach((m, i) => {
    const roles = `const ${m.constant}, param ${m.param}, state ${m.state}, rule ${m.rule}, reward ${m.reward}`;
    const path = join(folder, `m${i}.phasic`);
    const uri = pathToFileURL(path).toString();
    const at = (needle: string, occurrence = 0) => positionOf(m.text, needle, occurrence);
    const declared = {
      constant: at(`const ${m.constant}`, 0),
      param: at(`param ${m.param}`),
      state: at(`state ${m.state}`),
      rule: at(`rule ${m.rule}`),
      reward: at(`reward ${m.reward}`),
    };
    // The name itself: after the keyword and its space.
    const nameAt = (p: { line: number; character: number }, keyword: string) => ({
      line: p.line,
      character: p.character + keyword.length + 1,
    });

    it(`${roles}: no diagnostics, hovers that name each symbol`, async () => {
      writeFileSync(path, m.text);
      const clean = lsp.diagnosticsFor(uri);
      await lsp.open(uri, m.text);
      assert.deepEqual((await clean).diagnostics, []);
      const hover = async (p: { line: number; character: number }) =>
        (
          await lsp.request<{ contents: { value: string } }>('textDocument/hover', {
            textDocument: { uri },
            position: p,
          })
        ).contents.value;
      assert.match(await hover(nameAt(declared.constant, 'const')), new RegExp(`const ${m.constant} = 3\n`));
      assert.match(await hover(nameAt(declared.param, 'param')), new RegExp(`param ${m.param} = 2\n`));
      assert.match(await hover(nameAt(declared.state, 'state')), new RegExp(`state ${m.state}\n[^]*bounds 0\\.\\.3`));
      assert.match(await hover(nameAt(declared.rule, 'rule')), /run the model to see how often it fires/);
      assert.match(await hover(nameAt(declared.reward, 'reward')), new RegExp(`reward ${m.reward}\n`));
    });

    it(`${roles}: completion offers the values by kind, rename moves every use`, async () => {
      const items = await lsp.request<Array<{ label: string; kind: number; detail?: string }>>(
        'textDocument/completion',
        {
          textDocument: { uri },
          position: at('  do'),
        },
      );
      const kindOf = (label: string) => items.filter((x) => x.label === label).map((x) => x.kind);
      assert.deepEqual(kindOf(m.constant), [COMPLETION_KIND.const]);
      assert.deepEqual(kindOf(m.param), [COMPLETION_KIND.param]);
      assert.deepEqual(kindOf(m.state), [COMPLETION_KIND.state]);
      assert.deepEqual(kindOf(m.rule), []);
      assert.deepEqual(kindOf(m.reward), []);

      const uses: Array<[keyof typeof declared, string, number]> = [
        ['constant', 'const', 4],
        ['param', 'param', 2],
        ['state', 'state', 4],
        ['rule', 'rule', 1],
        ['reward', 'reward', 1],
      ];
      for (const [role, keyword, count] of uses) {
        const position = nameAt(declared[role], keyword);
        const prepared = await lsp.request<{ placeholder: string }>('textDocument/prepareRename', {
          textDocument: { uri },
          position,
        });
        assert.equal(prepared.placeholder, m[role]);
        const edit = await lsp.request<{ changes: Record<string, Array<{ newText: string }>> }>('textDocument/rename', {
          textDocument: { uri },
          position,
          newName: 'renamed',
        });
        assert.equal(edit.changes[uri].length, count, `${role} ${m[role]}`);
        // The other member names are taken in this file.
        const other = m[role === 'constant' ? 'param' : 'constant'];
        await assert.rejects(
          lsp.request('textDocument/rename', { textDocument: { uri }, position, newName: other }),
          new RegExp(`\`${other}\` is already declared`),
        );
      }
    });

    it(`${roles}: runs with overrides and parameters of those names`, async () => {
      const { model, result } = await lsp.request<RunReply>('phasic/run', {
        uri,
        overrides: ownRecord([[m.constant, 4]]),
        params: ownRecord([[m.param, 5]]),
        moments: 2,
        covariances: [],
        runId: i + 1,
      });
      assert.deepEqual(model.constants, [{ name: m.constant, value: 4, integer: true }]);
      assert.deepEqual(
        model.params.map((p) => p.name),
        [m.param],
      );
      const expected = memberNameMoments(4, 5);
      assert.deepEqual(Object.entries(result.params), [[m.param, 5]]);
      close(result.moments.time[0], expected.time[0], 'E[T]');
      close(result.moments[m.reward][0], expected.reward, `E[${m.reward}]`);
      assert.deepEqual(Object.entries(result.ruleFirings), [[m.rule, 4]]);
      const hover = await lsp.request<{ contents: { value: string } }>('textDocument/hover', {
        textDocument: { uri },
        position: nameAt(declared.rule, 'rule'),
      });
      assert.match(hover.contents.value, /fired 4 times in the last exploration/);

      // A rule added after the run, named like another member, has not fired yet.
      const added = `${m.text}rule toLocaleString when ${m.state} > 100 rate ${m.param} do ${m.state} -= 1\n`;
      const republished = lsp.diagnosticsFor(uri);
      await lsp.rpc.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [{ text: added }],
      });
      assert.deepEqual((await republished).diagnostics, []);
      const fresh = await lsp.request<{ contents: { value: string } }>('textDocument/hover', {
        textDocument: { uri },
        position: positionOf(added, 'toLocaleString'),
      });
      assert.match(fresh.contents.value, /run the model to see how often it fires/);
    });
  });

  it('renames a name to a member name that is free', async () => {
    const uri = pathToFileURL(join(folder, 'free.phasic')).toString();
    const text = 'const n = 2\nstate s in 0..n\nrule up when s < n rate 1 do s += 1\n';
    const clean = lsp.diagnosticsFor(uri);
    await lsp.open(uri, text);
    await clean;
    for (const newName of ['constructor', '__proto__', 'hasOwnProperty']) {
      const edit = await lsp.request<{ changes: Record<string, Array<{ newText: string }>> }>('textDocument/rename', {
        textDocument: { uri },
        position: positionOf(text, 'n = 2'),
        newName,
      });
      assert.deepEqual(
        edit.changes[uri].map((e) => e.newText),
        [newName, newName, newName],
      );
    }
  });
});
