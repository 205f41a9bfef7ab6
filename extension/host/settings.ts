// Reads the `phasic.*` settings into what the engine process is configured with.
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  DEFAULT_MAX_STATES,
  DEFAULT_MEMORY_BUDGET_MB,
  limitSetting,
  MAX_MAX_STATES,
  MAX_MEMORY_BUDGET_MB,
  MIN_MAX_STATES,
  MIN_MEMORY_BUDGET_MB,
} from '../protocol/limits';
import type { EngineSettings } from '../protocol/requests';

const MB = 1024 * 1024;

export function engineSettings(context: vscode.ExtensionContext): EngineSettings {
  const config = vscode.workspace.getConfiguration('phasic');
  // The cache never lives in the workspace by default: a workspace must not be able
  // to plant a trace the engine would trust (docs/security.md).
  const directory = config.get<string>('cache.directory', '').trim();
  return {
    // Below the schema's minimum is not "unlimited": it is the minimum; past its
    // maximum, the maximum.
    maxStates: limitSetting(config.get('engine.maxStates'), MIN_MAX_STATES, MAX_MAX_STATES, DEFAULT_MAX_STATES),
    memoryBudgetBytes:
      limitSetting(
        config.get('engine.memoryBudgetMB'),
        MIN_MEMORY_BUDGET_MB,
        MAX_MEMORY_BUDGET_MB,
        DEFAULT_MEMORY_BUDGET_MB,
      ) * MB,
    cacheDirectory: directory || path.join(context.globalStorageUri.fsPath, 'trace-cache'),
    maxDiskBytes: config.get<number>('cache.maxDiskMB', 512) * MB,
    minSccSize: config.get<number>('trace.minSccSize', 4),
  };
}

export function affectsEngine(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration('phasic');
}
