// Phasic: Restart Engine.
import * as vscode from 'vscode';
import type { HostContext } from '../hostContext';

export async function restartEngine(ctx: HostContext): Promise<void> {
  ctx.views.marker({ kind: 'restart', label: 'engine restarted' });
  try {
    await ctx.engine.restart();
    ctx.output.appendLine('[host] engine restarted');
  } catch (error) {
    void vscode.window
      .showErrorMessage(`Phasic: the engine did not start: ${(error as Error).message}`, 'Show Output')
      .then((choice) => choice && ctx.output.show(true));
  }
}
