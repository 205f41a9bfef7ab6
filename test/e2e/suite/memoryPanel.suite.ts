// "Phasic: Show Memory Panel" opens the Studio webview on its memory tab. What the
// page renders is checked from the browser side (test/e2e/code-server.test.ts); here,
// that the command runs and leaves exactly one Studio webview tab, and that Run
// Hierarchical Trace with the panel focused runs the panel's model without asking.
import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { RunResult } from '../../../extension/protocol/engine';
import { STUDIO_VIEW_TYPE } from '../../../extension/protocol/webview';
import { openExample, waitFor } from './workspace';

// VS Code prefixes a webview tab's viewType with its own namespace.
function isStudioTab(tab: vscode.Tab | undefined): boolean {
  return tab?.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith(STUDIO_VIEW_TYPE);
}

function studioTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter(isStudioTab);
}

/** The Studio tab is the active tab of the active group: it has the focus. */
function studioInFront(): boolean {
  return isStudioTab(vscode.window.tabGroups.activeTabGroup.activeTab);
}

export function memoryPanelSuite(): void {
  suite('memory panel', () => {
    suiteSetup(async () => {
      await openExample('kingman.phasic');
    });

    test('phasic.showMemory opens one Studio webview tab', async () => {
      await vscode.commands.executeCommand('phasic.showMemory');
      const tabs = await waitFor('the Studio webview tab', () => (studioTabs().length > 0 ? studioTabs() : undefined));
      assert.equal(tabs.length, 1);
    });

    test('running it again reveals the same panel instead of opening a second one', async () => {
      // Focus goes to the model's editor first, so that the panel coming back to the
      // front is the event that shows the second command was handled.
      await openExample('kingman.phasic');
      await waitFor('the editor to take focus from the panel', () => !studioInFront() || undefined);
      await vscode.commands.executeCommand('phasic.showMemory');
      await waitFor('the Studio panel to be revealed', () => studioInFront() || undefined);
      assert.equal(studioTabs().length, 1);
    });

    test('Run Hierarchical Trace with the panel focused runs the model the panel shows', async () => {
      // No constants, so the run asks nothing; two steps at rates 2 and 1: E[T] = 1.5.
      const dir = mkdtempSync(join(tmpdir(), 'phasic-e2e-panel-run-'));
      const model = vscode.Uri.file(join(dir, 'steps.phasic'));
      writeFileSync(
        model.fsPath,
        'model steps\nstate s in 0..2\nrule up when s < 2 rate if s == 0 then 2 else 1 do s += 1\n',
      );
      const first = await vscode.commands.executeCommand<RunResult | undefined>('phasic.runTrace', {
        uri: model,
        overrides: {},
      });
      assert.equal(first?.model, 'steps');
      // Showing the run focuses the panel: no text editor is active then.
      await waitFor('the Studio panel in focus', () => {
        const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
        return (
          input instanceof vscode.TabInputWebview &&
          input.viewType.endsWith(STUDIO_VIEW_TYPE) &&
          !vscode.window.activeTextEditor
        );
      });
      const again = await vscode.commands.executeCommand<RunResult | undefined>('phasic.runTrace');
      assert.equal(again?.model, 'steps');
      assert.deepEqual(again?.moments.time.slice(0, 1), [1.5]);
    });
  });
}
