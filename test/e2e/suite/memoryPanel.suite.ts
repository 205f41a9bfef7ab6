// "Phasic: Show Memory Panel" opens the Studio webview on its memory tab. What the
// page renders is checked from the browser side (test/e2e/code-server.test.ts); here,
// that the command runs and leaves exactly one Studio webview tab.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { STUDIO_VIEW_TYPE } from '../../../extension/protocol/webview';
import { openExample, waitFor } from './workspace';

// VS Code prefixes a webview tab's viewType with its own namespace.
function studioTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith(STUDIO_VIEW_TYPE));
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
      await vscode.commands.executeCommand('phasic.showMemory');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(studioTabs().length, 1);
    });
  });
}
