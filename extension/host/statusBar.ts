// The status bar item: engine state and accounted memory at a glance; a click opens
// the memory panel.
import * as vscode from 'vscode';
import { formatBytes } from '../protocol/format';
import type { EngineState } from './engineClient';

export class EngineStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('phasic.engine', vscode.StatusBarAlignment.Right, 100);
  private state: EngineState = 'stopped';
  private run: { done: number; total: number; phase: string } | undefined;
  private accounted = 0;

  constructor() {
    this.item.name = 'Phasic Engine';
    this.item.command = 'phasic.showMemory';
    this.render();
    this.item.show();
  }

  setState(state: EngineState): void {
    this.state = state;
    if (state !== 'running') this.run = undefined;
    this.render();
  }

  setRun(run: { done: number; total: number; phase: string } | undefined): void {
    this.run = run;
    this.render();
  }

  setAccounted(bytes: number): void {
    this.accounted = bytes;
    this.render();
  }

  private render(): void {
    const memory = formatBytes(this.accounted);
    if (this.state === 'crashed' || this.state === 'stopped') {
      this.item.text = '$(debug-stop) Phasic: stopped';
      this.item.backgroundColor =
        this.state === 'crashed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    } else if (this.state === 'starting') {
      this.item.text = '$(loading~spin) Phasic: starting';
      this.item.backgroundColor = undefined;
    } else if (this.run) {
      const count = this.run.total > 0 ? ` ${this.run.done}/${this.run.total}` : '';
      this.item.text = `$(loading~spin) Phasic: ${this.run.phase}${count} · ${memory}`;
      this.item.backgroundColor = undefined;
    } else {
      this.item.text = `$(pulse) Phasic: idle · ${memory}`;
      this.item.backgroundColor = undefined;
    }
    this.item.tooltip = `Phasic engine: ${this.state}. Accounted memory ${memory}. Click to open the memory panel.`;
  }

  dispose(): void {
    this.item.dispose();
  }
}
