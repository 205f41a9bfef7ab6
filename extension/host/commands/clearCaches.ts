// Phasic: Clear Caches — and say exactly what was freed, in the engine's own numbers,
// and what of the disk cache could not be removed.
import * as vscode from 'vscode';
import { EngineStoppedError } from '../engineClient';
import type { HostContext } from '../hostContext';
import { describeClear } from './describeClear';
import { reportEngineStopped } from './engineStopped';

export async function clearCaches(ctx: HostContext): Promise<void> {
  try {
    const result = await ctx.engine.request('phasic/clearCaches', {});
    ctx.views.cleared(result);
    const message = describeClear(result);
    ctx.output.appendLine(`[clear] ${message}`);
    if (result.disk.error === undefined) void vscode.window.showInformationMessage(message);
    else void vscode.window.showWarningMessage(`Phasic: ${message}`);
  } catch (error) {
    if (error instanceof EngineStoppedError) return reportEngineStopped(ctx, error);
    void vscode.window.showErrorMessage(`Phasic: could not clear the caches: ${(error as Error).message}`);
  }
}
