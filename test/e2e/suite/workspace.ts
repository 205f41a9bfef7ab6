// What the suites share: the examples workspace VS Code was opened on, and the
// installed Phasic Trace Studio extension.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

export const extensionId = 'phasic.phasic-trace-studio';

export function examplesFolder(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'VS Code was opened without a workspace folder (expected examples/)');
  return folder.uri;
}

export async function openExample(name: string): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(examplesFolder(), name));
  return vscode.window.showTextDocument(document);
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
