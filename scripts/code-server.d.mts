// Types of scripts/code-server.mjs, for the TypeScript e2e harness (test/e2e/workbench.ts),
// which loads the script at run time rather than bundling it.
import type { ChildProcess } from 'node:child_process';

export declare const VERSION: string;
export declare const repoRoot: string;
export declare const installRoot: string;
export declare const entry: string;

export declare function extensionFolderName(manifestDir: string): string;
export declare function isInstalled(): boolean;
export declare function installCodeServer(options?: { log?: (line: string) => void }): string;
export declare function freePort(preferred?: number): Promise<number>;
export declare function shippedPaths(folder: string): string[];
export declare function installExtension(extensionsDir: string, folder: string): string;
export declare function tail(file: string, lines?: number): string;

export interface StartOptions {
  userDataDir: string;
  extensionsDir: string;
  workspace: string;
  extensions?: string[];
  port?: number;
  settings?: Record<string, unknown>;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface CodeServer {
  url: string;
  port: number;
  workspaceUrl: string;
  logFile: string;
  userDataDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export declare function startCodeServer(options: StartOptions): Promise<CodeServer>;
