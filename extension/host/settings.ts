// Reads the `phasic.*` settings into what the engine process is configured with.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineSettings } from '../protocol/requests';

const MB = 1024 * 1024;

export function engineSettings(context: vscode.ExtensionContext): EngineSettings {
  const config = vscode.workspace.getConfiguration('phasic');
  // The cache never lives in the workspace by default: a workspace must not be able
  // to plant a trace the engine would trust (docs/security.md).
  const directory = config.get<string>('cache.directory', '').trim();
  return {
    maxStates: config.get<number>('engine.maxStates', 2_000_000),
    memoryBudgetBytes: config.get<number>('engine.memoryBudgetMB', 4096) * MB,
    cacheDirectory: directory || path.join(context.globalStorageUri.fsPath, 'trace-cache'),
    maxDiskBytes: config.get<number>('cache.maxDiskMB', 512) * MB,
    minSccSize: config.get<number>('trace.minSccSize', 4),
  };
}

export function affectsEngine(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration('phasic');
}
