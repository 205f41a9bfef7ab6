// A client for the real engine process (`dist/server.js --stdio`, built by `node
// esbuild.mjs`), speaking JSON-RPC to it the way VS Code does: every server test
// starts, initializes and stops its server through it.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CancellationToken,
  createMessageConnection,
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import type { EngineRequests } from '../../extension/protocol/requests';

// Tests run from out/test/server; the bundle lives at the repository root.
export const SERVER = join(__dirname, '..', '..', '..', 'dist', 'server.js');

export interface Published {
  uri: string;
  diagnostics: Array<{
    range: { start: { line: number; character: number }; end: { line: number; character: number } };
    code: string;
    message: string;
    severity: number;
  }>;
}

/** The `initializationOptions` the host sends (extension/server/settings.ts reads them). */
export interface EngineOptions {
  maxStates: number;
  memoryBudgetBytes: number;
  cacheDirectory: string;
  maxDiskBytes: number;
  minSccSize: number;
}

/** Small engine settings the server tests share unless they say otherwise: no disk cache. */
const SMALL_ENGINE: EngineOptions = {
  maxStates: 100_000,
  memoryBudgetBytes: 256 << 20,
  cacheDirectory: '',
  maxDiskBytes: 0,
  minSccSize: 4,
};

interface Waiter {
  method: string;
  accept: (params: unknown) => boolean;
  resolve: (params: unknown) => void;
}

export class LspClient {
  /** Every notification the server sent, by method, in arrival order. */
  private readonly received = new Map<string, unknown[]>();
  private readonly waiters: Waiter[] = [];
  /** Resolves with the server's exit code when the process ends. */
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly rpc: MessageConnection,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    rpc.onNotification((method: string, params: unknown) => {
      const list = this.received.get(method) ?? [];
      list.push(params);
      this.received.set(method, list);
      for (const w of this.waiters.filter((w) => w.method === method && w.accept(params))) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(params);
      }
    });
    rpc.onRequest(() => null); // client-side requests (e.g. lens refresh) are acknowledged
    rpc.listen();
  }

  static start(): LspClient {
    assert.ok(existsSync(SERVER), `${SERVER} is missing: run node esbuild.mjs first`);
    const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    return new LspClient(
      child,
      createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!)),
    );
  }

  /**
   * A server past `initialize` and `initialized`, with the shared small engine settings
   * but for those in `options` (the host normally sends these).
   */
  static async initialized(options: Partial<EngineOptions> = {}): Promise<LspClient> {
    const lsp = LspClient.start();
    await lsp.initialize({ ...SMALL_ENGINE, ...options });
    return lsp;
  }

  /**
   * `initialize` then `initialized`; `initializationOptions` is left out when undefined,
   * as a client that has none sends it. Answers the server's capabilities.
   */
  async initialize(initializationOptions?: unknown): Promise<{ capabilities: Record<string, unknown> }> {
    const params: Record<string, unknown> = { processId: process.pid, rootUri: null, capabilities: {} };
    if (initializationOptions !== undefined) params.initializationOptions = initializationOptions;
    const result = await this.request<{ capabilities: Record<string, unknown> }>('initialize', params);
    await this.rpc.sendNotification('initialized', {});
    return result;
  }

  /** Every publishDiagnostics notification, in arrival order. */
  get published(): Published[] {
    return this.notifications<Published>('textDocument/publishDiagnostics');
  }

  /** Every notification of `method` received so far, in arrival order. */
  notifications<T>(method: string): T[] {
    return [...((this.received.get(method) as T[] | undefined) ?? [])];
  }

  /** The first notification of `method` that satisfies `accept`, already received or yet to come. */
  notified<T>(method: string, accept: (params: T) => boolean): Promise<T> {
    const found = this.notifications<T>(method).find(accept);
    if (found !== undefined) return Promise.resolve(found);
    return this.next(method, accept);
  }

  /** The next diagnostics published for `uri` that satisfy `accept` (earlier ones do not count). */
  diagnosticsFor(uri: string, accept: (p: Published) => boolean = () => true): Promise<Published> {
    return this.next<Published>('textDocument/publishDiagnostics', (p) => p.uri === uri && accept(p));
  }

  private next<T>(method: string, accept: (params: T) => boolean): Promise<T> {
    return new Promise((resolve) => {
      this.waiters.push({
        method,
        accept: (p) => accept(p as T),
        resolve: (p) => resolve(p as T),
      });
    });
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.rpc.sendRequest<R>(method, params);
  }

  /** An engine request of docs/protocol.md, typed by its declaration; cancelled through `token`. */
  engine<M extends keyof EngineRequests>(
    method: M,
    params: EngineRequests[M]['params'],
    token?: CancellationToken,
  ): Promise<EngineRequests[M]['result']> {
    // A token only when there is one: a trailing `undefined` would be sent as a parameter.
    return token ? this.rpc.sendRequest(method, params, token) : this.rpc.sendRequest(method, params);
  }

  async open(uri: string, text: string, languageId = 'phasic'): Promise<void> {
    await this.rpc.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version: 1, text } });
  }

  async stop(): Promise<void> {
    await this.rpc.sendRequest('shutdown').catch(() => undefined);
    await this.rpc.sendNotification('exit').catch(() => undefined);
    this.rpc.dispose();
    this.child.kill();
  }
}

/** Position of the `occurrence`-th appearance of `needle` in `text`. */
export function positionOf(text: string, needle: string, occurrence = 0): { line: number; character: number } {
  let offset = -1;
  for (let i = 0; i <= occurrence; i++) offset = text.indexOf(needle, offset + 1);
  assert.ok(offset >= 0, `${needle} not found`);
  const before = text.slice(0, offset);
  return { line: before.split('\n').length - 1, character: offset - before.lastIndexOf('\n') - 1 };
}
