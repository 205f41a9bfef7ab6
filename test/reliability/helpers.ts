// Shared by the reliability tests: the repo's paths, the soak model, and a client for
// the engine process (dist/server.js) over its real stdio transport, spoken to as the
// extension host speaks to it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createMessageConnection,
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import { compileModel } from '../../extension/language';
import type { EngineRequests, EngineSettings } from '../../extension/protocol/requests';

// Tests run from out/test/reliability; sources, fixtures and bundles stay in the repo.
export const ROOT = join(__dirname, '..', '..', '..');
export const MODELS = join(ROOT, 'test', 'fixtures', 'models');
export const SERVER = join(ROOT, 'dist', 'server.js');
export const CLI = join(ROOT, 'dist', 'cli.js');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `phasic-${prefix}-`));
}

/** The soak model: two-locus with n = 6 (1044 vertices, 97 blocks). */
export const TWO_LOCUS = join(MODELS, 'two_locus.phasic');
export const TWO_LOCUS_N6 = { n: 6 };

/** A .phasic file compiled by the real front end into the engine's input text. */
export function compiledText(path: string, overrides: Record<string, number> = {}): string {
  const { model, diagnostics } = compileModel(readFileSync(path, 'utf8'), path, overrides);
  if (!model) throw new Error(`${path} does not compile: ${diagnostics.map((d) => d.message).join('; ')}`);
  return JSON.stringify(model);
}

/** Source text compiled from a string (hostile models are written inline). */
export function compileSource(text: string, fileName = 'hostile.phasic') {
  return compileModel(text, fileName, {});
}

export const MB = 1024 * 1024;

export function engineSettings(cacheDirectory: string, overrides: Partial<EngineSettings> = {}): EngineSettings {
  return {
    maxStates: 2_000_000,
    memoryBudgetBytes: 4096 * MB,
    cacheDirectory,
    maxDiskBytes: 512 * MB,
    minSccSize: 4,
    ...overrides,
  };
}

/** The engine process behind a JSON-RPC connection, as the extension host has it. */
export class EngineProcess {
  readonly child: ChildProcess;
  readonly connection: MessageConnection;
  private exited: Promise<void>;
  stderr = '';

  private constructor(child: ChildProcess) {
    this.child = child;
    const reader = new StreamMessageReader(child.stdout!);
    // A process killed in the middle of a message leaves the reader with a partial
    // message, and its partial-message timer then re-arms itself every 10 s forever,
    // keeping the test process alive. A killed engine's half message is not waited for.
    reader.partialMessageTimeout = 0;
    this.connection = createMessageConnection(reader, new StreamMessageWriter(child.stdin!));
    child.stderr!.on('data', (chunk) => (this.stderr += chunk));

    // A killed process closes its pipes; requests then fail instead of hanging.
    this.connection.onError(() => undefined);
    this.connection.onClose(() => undefined);
    this.connection.listen();
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /**
   * `fileSizeLimitBytes` starts the process under RLIMIT_FSIZE (util-linux `prlimit`):
   * a write past that size fails with EFBIG as a write to a full disk fails with
   * ENOSPC, without mount privileges. Node ignores SIGXFSZ, so the write returns the
   * error instead of the signal killing the process.
   */
  static async start(settings: EngineSettings, options: { fileSizeLimitBytes?: number } = {}): Promise<EngineProcess> {
    const command = [process.execPath, SERVER, '--stdio'];
    if (options.fileSizeLimitBytes !== undefined) command.unshift('prlimit', `--fsize=${options.fileSizeLimitBytes}`);
    const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const engine = new EngineProcess(child);
    await engine.connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      initializationOptions: settings,
    });
    await engine.connection.sendNotification('initialized', {});
    return engine;
  }

  request<M extends keyof EngineRequests>(
    method: M,
    params: EngineRequests[M]['params'],
  ): Promise<EngineRequests[M]['result']> {
    return this.connection.sendRequest(method, params) as Promise<EngineRequests[M]['result']>;
  }

  run(path: string, overrides: Record<string, number>, runId: number) {
    return this.request('phasic/run', {
      uri: pathToFileURL(path).href,
      overrides,
      moments: 2,
      covariances: [],
      runId,
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.alive) this.child.kill(signal);
    this.connection.dispose();
    return this.exited;
  }

  /** shutdown + exit, as the language client stops the server. */
  async stop(): Promise<void> {
    if (this.alive) {
      await this.connection.sendRequest('shutdown').catch(() => undefined);
      await this.connection.sendNotification('exit').catch(() => undefined);
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
    this.connection.dispose();
  }
}
