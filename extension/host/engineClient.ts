// The engine process and its lifecycle. The engine (language server + native addon)
// runs as a child process started by vscode-languageclient, so that nothing it does,
// not even a crash in native code, can take the extension host down.
//
// States: starting → running → (stopped | crashed). A crash fails the pending
// requests with EngineStoppedError; the client restarts automatically at most
// MAX_AUTO_RESTARTS times within RESTART_WINDOW_MS, then waits for the user.
import * as vscode from 'vscode';
import {
  type CancellationToken,
  CloseAction,
  ErrorAction,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';
import type { EngineNotifications, EngineRequests, EngineSettings } from '../protocol/requests';
import { type EngineToHost, parseEngineNotification, parseEngineReply } from '../protocol/validate';

export type EngineState = 'starting' | 'running' | 'stopped' | 'crashed';

const MAX_AUTO_RESTARTS = 3;
const RESTART_WINDOW_MS = 3 * 60_000;

export class EngineStoppedError extends Error {
  constructor(reason: string) {
    super(`The engine stopped: ${reason}`);
  }
}

export class EngineClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly stateEmitter = new vscode.EventEmitter<EngineState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private currentState: EngineState = 'stopped';
  private readonly crashes: number[] = [];
  // vscode-jsonrpc keeps one handler per notification method (a second registration
  // replaces the first), so the client gets one dispatcher per method, which calls
  // every listener of that method.
  private readonly listeners = new Map<EngineToHost, Array<(params: unknown) => void>>();
  private lastExitReason = 'it exited';

  constructor(
    private readonly serverModule: string,
    private readonly output: vscode.LogOutputChannel,
    private readonly settings: () => EngineSettings,
  ) {}

  get state(): EngineState {
    return this.currentState;
  }

  async start(): Promise<void> {
    if (this.client && this.currentState !== 'crashed') return;
    if (this.client) {
      // A client that gave up restarting is replaced by a fresh one.
      const old = this.client;
      this.client = undefined;
      await old.dispose().catch(() => undefined);
    }
    const serverOptions: ServerOptions = {
      run: { module: this.serverModule, transport: TransportKind.ipc },
      debug: { module: this.serverModule, transport: TransportKind.ipc },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ language: 'phasic' }],
      outputChannel: this.output,
      initializationOptions: this.settings(),
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => this.onClosed(),
      },
    };
    const client = new LanguageClient('phasic', 'Phasic Engine', serverOptions, clientOptions);
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) this.setState('running');
      else if (e.newState === State.Starting) this.setState('starting');
    });
    for (const method of this.listeners.keys())
      client.onNotification(method, (params: unknown) => this.dispatch(method, params));
    this.client = client;
    this.setState('starting');
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      this.setState('crashed');
      throw error;
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.stop().catch(() => undefined);
    this.setState('stopped');
  }

  async restart(): Promise<void> {
    await this.stop();
    this.crashes.length = 0;
    await this.start();
  }

  /** A typed request; rejects with EngineStoppedError when the engine is down or dies. */
  async request<M extends keyof EngineRequests>(
    method: M,
    params: EngineRequests[M]['params'],
    token?: CancellationToken,
  ): Promise<EngineRequests[M]['result']> {
    if (!this.client || this.currentState === 'crashed') await this.start();
    const client = this.client;
    if (!client) throw new EngineStoppedError(this.lastExitReason);
    try {
      // The map above types both ends; the wire call itself is by method name.
      // A token is passed only when there is one: an explicit `undefined` would be sent
      // as a second positional parameter.
      const reply: unknown = await (token
        ? client.sendRequest(method, params, token)
        : client.sendRequest(method, params));
      // The engine is another process: what it says is checked before anything uses it.
      const parsed = parseEngineReply(method, reply);
      if (!parsed.ok) {
        this.output.error(`[host] malformed ${method} reply: ${parsed.error}`);
        throw new Error(`the engine sent a malformed reply (${parsed.error})`);
      }
      return parsed.value;
    } catch (error) {
      if (connectionLost(error)) throw new EngineStoppedError(this.lastExitReason);
      throw error;
    }
  }

  notify<M extends keyof EngineNotifications>(method: M, params: EngineNotifications[M]): void {
    if (this.currentState !== 'running' || !this.client) return;
    void this.client.sendNotification(method, params);
  }

  onNotification<M extends EngineToHost>(method: M, handler: (params: EngineNotifications[M]) => void): void {
    const untyped = handler as (params: unknown) => void;
    const existing = this.listeners.get(method);
    if (existing) {
      existing.push(untyped);
      return;
    }
    this.listeners.set(method, [untyped]);
    this.client?.onNotification(method, (params: unknown) => this.dispatch(method, params));
  }

  private dispatch(method: EngineToHost, params: unknown): void {
    const parsed = parseEngineNotification(method, params);
    if (!parsed.ok) {
      this.output.error(`[host] ignored a malformed ${method} notification: ${parsed.error}`);
      return;
    }
    for (const listener of this.listeners.get(method) ?? []) listener(parsed.value);
  }

  get lastExit(): string {
    return this.lastExitReason;
  }

  private onClosed(): { action: CloseAction; handled: boolean } {
    const now = Date.now();
    while (this.crashes.length && now - this.crashes[0] > RESTART_WINDOW_MS) this.crashes.shift();
    this.crashes.push(now);
    this.lastExitReason = 'the engine process exited unexpectedly';
    this.setState('crashed');
    this.output.appendLine(
      `[host] ${this.lastExitReason} (${this.crashes.length} in the last ${RESTART_WINDOW_MS / 60000} minutes)`,
    );
    if (this.crashes.length <= MAX_AUTO_RESTARTS) {
      return { action: CloseAction.Restart, handled: true };
    }
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  private setState(state: EngineState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.stateEmitter.fire(state);
  }

  dispose(): void {
    void this.stop();
    this.stateEmitter.dispose();
  }
}

// vscode-jsonrpc rejects pending requests with these codes when the connection
// closes: PendingResponseRejected and ConnectionInactive.
function connectionLost(error: unknown): boolean {
  const code = (error as { code?: number } | undefined)?.code;
  return code === -32097 || code === -32096;
}
