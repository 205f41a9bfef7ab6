// The one message a user sees when the engine process died under a command.
import * as vscode from 'vscode';
import type { EngineStoppedError } from '../engineClient';
import type { HostContext } from '../hostContext';

export async function reportEngineStopped(ctx: HostContext, error: EngineStoppedError): Promise<void> {
  ctx.output.appendLine(`[host] ${error.message}`);
  const choice = await vscode.window.showErrorMessage(error.message, 'Show Output', 'Restart Engine');
  if (choice === 'Show Output') ctx.output.show(true);
  if (choice === 'Restart Engine') await vscode.commands.executeCommand('phasic.restartEngine');
}
