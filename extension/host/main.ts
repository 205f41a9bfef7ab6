// Activation: the engine client, the status bar, the views and the commands. Each
// lives in its own module; this file only connects them.
import * as vscode from 'vscode';
import type { Progress } from '../protocol/engine';
import { totalBytes } from '../protocol/memory';
import { clearCaches } from './commands/clearCaches';
import { fitData } from './commands/fitData';
import { restartEngine } from './commands/restartEngine';
import { runTrace } from './commands/runTrace';
import { EngineClient } from './engineClient';
import type { HostContext } from './hostContext';
import { affectsEngine, engineSettings } from './settings';
import { EngineStatusBar } from './statusBar';
import { createViews } from './views';

let engine: EngineClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Phasic Trace Studio', { log: true });
  const client = new EngineClient(context.asAbsolutePath('dist/server.js'), output, () => engineSettings(context));
  engine = client;
  const statusBar = new EngineStatusBar();
  const progressListeners = new Map<number, (p: Progress) => void>();
  const views = createViews(context, client, output);

  const ctx: HostContext = {
    extension: context,
    engine: client,
    output,
    views,
    progressOf(runId, listener) {
      progressListeners.set(runId, listener);
      return new vscode.Disposable(() => progressListeners.delete(runId));
    },
  };

  client.onDidChangeState((state) => {
    statusBar.setState(state);
    if (state === 'crashed') views.marker({ kind: 'restart', label: 'engine stopped' });
  });
  client.onNotification('phasic/progress', ({ runId, progress }) => {
    progressListeners.get(runId)?.(progress);
    statusBar.setRun(progress.phase === 'evaluating' && progress.done === progress.total ? undefined : progress);
  });
  client.onNotification('phasic/memorySample', (sample) => {
    statusBar.setAccounted(totalBytes(sample.accountedBytes));
  });

  context.subscriptions.push(
    output,
    client,
    statusBar,
    vscode.commands.registerCommand('phasic.runTrace', async (arg?: unknown) => {
      try {
        return await runTrace(ctx, arg);
      } finally {
        statusBar.setRun(undefined);
      }
    }),
    // Not in the palette: the engine's accounted memory for scripts and the end-to-end
    // soak, the numbers the memory view draws.
    vscode.commands.registerCommand('phasic.engineMemory', () => client.request('phasic/memory', {})),
    vscode.commands.registerCommand('phasic.showMemory', () => views.showMemory()),
    vscode.commands.registerCommand('phasic.clearCaches', () => clearCaches(ctx)),
    vscode.commands.registerCommand('phasic.fitData', async (arg?: unknown) => {
      try {
        return await fitData(ctx, arg);
      } finally {
        statusBar.setRun(undefined);
      }
    }),
    vscode.commands.registerCommand('phasic.restartEngine', () => restartEngine(ctx)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (affectsEngine(event)) client.notify('phasic/configure', engineSettings(context));
    }),
  );

  await client.start().catch((error: Error) => {
    output.appendLine(`[host] the engine did not start: ${error.message}`);
  });
}

/** Stops the engine process; VS Code waits for the returned promise on shutdown. */
export function deactivate(): Promise<void> | undefined {
  return engine?.stop();
}
