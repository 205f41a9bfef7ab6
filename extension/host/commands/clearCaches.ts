// Phasic: Clear Caches — and say exactly what was freed, in the engine's own numbers.
import * as vscode from 'vscode';
import { MEMORY_CATEGORIES, type ClearResult } from '../../protocol/engine';
import { EngineStoppedError } from '../engineClient';
import { formatBytes, formatCount } from '../format';
import type { HostContext } from '../hostContext';
import { reportEngineStopped } from './engineStopped';

export function describeClear(r: ClearResult): string {
  const freed = MEMORY_CATEGORIES.reduce((sum, c) => sum + r.freed_bytes[c], 0);
  const plural = (n: number, word: string) => `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
  return (
    `Freed ${formatBytes(freed)} of engine memory (${plural(r.traces, 'trace')}, ${plural(r.subgraphs, 'subgraph')}) ` +
    `and ${formatBytes(r.disk.bytes)} on disk (${plural(r.disk.files, 'file')}); ` +
    `engine resident memory ${formatBytes(r.rss_before)} → ${formatBytes(r.rss_after)}`
  );
}

export async function clearCaches(ctx: HostContext): Promise<void> {
  try {
    const result = await ctx.engine.request('phasic/clearCaches', {});
    ctx.views.cleared(result);
    const message = describeClear(result);
    ctx.output.appendLine(`[clear] ${message}`);
    void vscode.window.showInformationMessage(message);
  } catch (error) {
    if (error instanceof EngineStoppedError) return reportEngineStopped(ctx, error);
    void vscode.window.showErrorMessage(`Phasic: could not clear the caches: ${(error as Error).message}`);
  }
}
