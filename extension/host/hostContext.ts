// What every command needs: the engine, the output channel and the views. Commands
// receive this instead of reaching for globals, so each stays a small module.
import type { FitSource } from './panel/session';
import type * as vscode from 'vscode';
import type { ClearResult, Progress } from '../protocol/engine';
import type { RunReply } from '../protocol/requests';
import type { EngineClient } from './engineClient';

/**
 * A moment the commands put on the memory timeline. The panel's buffer places it on
 * its clock as a positioned TimelineMarker (extension/protocol/webview.ts).
 */
export type TimelineEvent =
  | { kind: 'runStart' | 'runEnd' | 'cancel'; label: string }
  | { kind: 'restart'; label: string }
  | { kind: 'clear'; label: string; freedBytes: number };

export interface Views {
  /** Opens (or reveals) the memory timeline. */
  showMemory(): void;
  /** Shows a finished run: SCC view and moments. */
  showRun(reply: RunReply): void;
  marker(event: TimelineEvent): void;
  cleared(result: ClearResult): void;
  /** The URI of the model the Studio panel shows, while the panel is in view. */
  shownModel(): string | undefined;
  /** Opens the Studio panel's Fit tab on this data (the model's run is already shown). */
  showFit(source: FitSource): void;
}

export interface HostContext {
  extension: vscode.ExtensionContext;
  engine: EngineClient;
  output: vscode.OutputChannel;
  views: Views;
  /** Listens to the progress of one run. */
  progressOf(runId: number, listener: (progress: Progress) => void): vscode.Disposable;
}
