// The soak through the extension host: 20 runs of two-locus n = 6 by the real
// "phasic.runTrace" command, each on the model as if just edited (leading blank
// lines move its source positions, so every run explores, decomposes and composes
// instead of reusing the last one), with Clear Caches after every tenth. After every
// run the engine's accounted memory is exactly what its caches hold; after every
// Clear Caches it is back to the baseline; the engine's resident set from run 10 to
// run 20 stays within the short form's bound (test/reliability/soak.test.ts explains
// the 25%: one graph leaked per run would add about 31% over ten runs).
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { MemorySnapshot, RunResult } from '../../../extension/protocol/engine';
import { mb, onlyCachesHold, totalAccounted } from '../../memory';
import { examplesFolder } from './workspace';

const RUNS = 20;
const CLEAR_EVERY = 10;
const REFERENCE_RUN = 10;
const TOLERANCE = 0.25;

export function soakSuite(): void {
  suite('soak through the extension host', () => {
    let dir: string;
    suiteSetup(() => {
      dir = mkdtempSync(join(tmpdir(), 'phasic-e2e-soak-'));
    });
    suiteTeardown(() => rmSync(dir, { recursive: true, force: true }));

    test(`${RUNS} runs of two-locus n = 6 leave only the caches holding memory`, async function () {
      this.timeout(600_000);
      const source = new TextDecoder().decode(
        await vscode.workspace.fs.readFile(vscode.Uri.joinPath(examplesFolder(), 'two_locus.phasic')),
      );
      const model = join(dir, 'two_locus.phasic');
      const memory = () => vscode.commands.executeCommand<MemorySnapshot>('phasic.engineMemory');

      await vscode.commands.executeCommand('phasic.clearCaches');
      const baseline = await memory();
      assert.equal(totalAccounted(baseline), 0, 'the engine holds nothing after Clear Caches');
      const rss: number[] = [];
      for (let i = 1; i <= RUNS; i++) {
        if (i > 1 && (i - 1) % CLEAR_EVERY === 0) {
          await vscode.commands.executeCommand('phasic.clearCaches');
          assert.deepEqual(
            (await memory()).accountedBytes,
            baseline.accountedBytes,
            `after Clear Caches before run ${i}`,
          );
        }
        writeFileSync(model, '\n'.repeat(i % CLEAR_EVERY) + source);
        const result = await vscode.commands.executeCommand<RunResult | undefined>('phasic.runTrace', {
          uri: vscode.Uri.file(model),
          overrides: { n: 6 },
        });
        assert.ok(result, `run ${i} gave a result`);
        assert.equal(result.reused, false, `run ${i} explored`);
        assert.equal(result.vertices, 1044, `run ${i}: vertices`);
        assert.equal(result.sccs.blocks, 97, `run ${i}: blocks`);
        const m = await memory();
        assert.equal(onlyCachesHold(m), undefined, `after run ${i}`);
        rss.push(m.rssBytes);
      }
      await vscode.commands.executeCommand('phasic.clearCaches');
      assert.deepEqual((await memory()).accountedBytes, baseline.accountedBytes, 'after the last Clear Caches');

      const growth = (rss[RUNS - 1] - rss[REFERENCE_RUN - 1]) / rss[REFERENCE_RUN - 1];
      console.log(
        `# soak (extension host): ${RUNS} runs of two_locus n=6; engine rss run 1 ${mb(rss[0])}, ` +
          `run ${REFERENCE_RUN} ${mb(rss[REFERENCE_RUN - 1])}, run ${RUNS} ${mb(rss[RUNS - 1])}, ` +
          `growth ${(growth * 100).toFixed(2)}% (bound ${TOLERANCE * 100}%)`,
      );
      assert.ok(
        growth <= TOLERANCE,
        `the engine's resident set grew ${(growth * 100).toFixed(2)}% from run ${REFERENCE_RUN} to run ${RUNS}`,
      );
    });
  });
}
