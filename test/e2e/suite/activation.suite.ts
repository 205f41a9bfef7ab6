// Opening a .phasic file activates Phasic Trace Studio, which registers its commands.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { extensionId, openExample, waitFor } from './workspace';

export function activationSuite(): void {
  suite('activation', () => {
    test('the extension is installed under its manifest id', () => {
      const extension = vscode.extensions.getExtension(extensionId);
      assert.ok(extension, `${extensionId} is not installed`);
      assert.equal(extension.packageJSON.displayName, 'Phasic Trace Studio');
    });

    test('opening examples/kingman.phasic gives it the phasic language and activates the extension', async () => {
      const editor = await openExample('kingman.phasic');
      assert.equal(editor.document.languageId, 'phasic');
      const extension = vscode.extensions.getExtension(extensionId)!;
      await waitFor('the extension to activate', () => extension.isActive);
    });

    test('the five Phasic commands are registered', async () => {
      const commands = new Set(await vscode.commands.getCommands(true));
      for (const id of [
        'phasic.runTrace',
        'phasic.showMemory',
        'phasic.clearCaches',
        'phasic.restartEngine',
        'phasic.fitData',
      ]) {
        assert.ok(commands.has(id), `command ${id} is not registered`);
      }
    });
  });
}
