// A client for the real engine process (`dist/server.js --stdio`, built by `node
// esbuild.mjs`), speaking JSON-RPC to it the way VS Code does, for the tests that
// need a server of their own (e.g. one initialized without options).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  createMessageConnection,
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';

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

export class LspClient {
  /** Every publishDiagnostics notification, in arrival order. */
  readonly published: Published[] = [];
  private readonly waiters: Array<(p: Published) => boolean> = [];
  /** Resolves with the server's exit code when the process ends. */
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly rpc: MessageConnection,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    rpc.onNotification('textDocument/publishDiagnostics', (p: Published) => {
      this.published.push(p);
      const i = this.waiters.findIndex((w) => w(p));
      if (i >= 0) this.waiters.splice(i, 1);
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
   * A server past `initialize` and `initialized`, with the small engine settings the
   * server tests share (no disk cache; the host normally sends these).
   */
  static async initialized(): Promise<LspClient> {
    const lsp = LspClient.start();
    await lsp.request('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      initializationOptions: {
        maxStates: 100_000,
        memoryBudgetBytes: 256 << 20,
        cacheDirectory: '',
        maxDiskBytes: 0,
        minSccSize: 4,
      },
    });
    await lsp.rpc.sendNotification('initialized', {});
    return lsp;
  }

  /** The next diagnostics published for `uri` that satisfy `accept`. */
  diagnosticsFor(uri: string, accept: (p: Published) => boolean = () => true): Promise<Published> {
    return new Promise((resolve) => {
      this.waiters.push((p) => {
        if (p.uri !== uri || !accept(p)) return false;
        resolve(p);
        return true;
      });
    });
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.rpc.sendRequest<R>(method, params);
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
