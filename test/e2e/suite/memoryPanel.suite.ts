// "Phasic: Show Memory Panel" opens the Studio webview on its memory tab. What the
// page renders is checked from the browser side (test/e2e/code-server.test.ts); here,
// that the command runs and leaves exactly one Studio webview tab.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
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
  });
}
