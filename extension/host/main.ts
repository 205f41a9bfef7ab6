// Activation: the engine client, the status bar, the views and the commands. Each
// lives in its own module; this file only connects them.
import * as vscode from 'vscode';
import type { Progress } from '../protocol/engine';
import { clearCaches } from './commands/clearCaches';
import { restartEngine } from './commands/restartEngine';
import { runTrace } from './commands/runTrace';
import { EngineClient } from './engineClient';
import type { HostContext } from './hostContext';
import { affectsEngine, engineSettings } from './settings';
import { EngineStatusBar } from './statusBar';
import { createViews } from './views';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Phasic Trace Studio', { log: true });
  const engine = new EngineClient(context.asAbsolutePath('dist/server.js'), output, () => engineSettings(context));
  const statusBar = new EngineStatusBar();
  const progressListeners = new Map<number, (p: Progress) => void>();
  const views = createViews(context, engine, output);

  const ctx: HostContext = {
    extension: context,
    engine,
    output,
    views,
    progressOf(runId, listener) {
      progressListeners.set(runId, listener);
      return new vscode.Disposable(() => progressListeners.delete(runId));
    },
  };

  engine.onDidChangeState((state) => {
    statusBar.setState(state);
    if (state === 'crashed') views.marker({ kind: 'restart', label: 'engine stopped' });
  });
  engine.onNotification('phasic/progress', ({ runId, progress }) => {
    progressListeners.get(runId)?.(progress);
    statusBar.setRun(progress.phase === 'evaluating' && progress.done === progress.total ? undefined : progress);
  });
  engine.onNotification('phasic/memorySample', (sample) => {
    const total = Object.values(sample.accounted_bytes).reduce((a, b) => a + b, 0);
    statusBar.setAccounted(total);
  });

  context.subscriptions.push(
    output,
    engine,
    statusBar,
    vscode.commands.registerCommand('phasic.runTrace', async (arg?: unknown) => {
      try {
        await runTrace(ctx, arg);
      } finally {
        statusBar.setRun(undefined);
      }
    }),
    vscode.commands.registerCommand('phasic.showMemory', () => views.showMemory()),
    vscode.commands.registerCommand('phasic.clearCaches', () => clearCaches(ctx)),
    vscode.commands.registerCommand('phasic.restartEngine', () => restartEngine(ctx)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (affectsEngine(event)) engine.notify('phasic/configure', engineSettings(context));
    }),
  );

  await engine.start().catch((error: Error) => {
    output.appendLine(`[host] the engine did not start: ${error.message}`);
  });
}

export function deactivate(): void {
  // Disposables registered on the context stop the engine process.
}
