// The language features of the engine process, registered in one call. main.ts
// passes the connection, the documents and the last-run lookup, spreads the returned
// capabilities into its InitializeResult and hands `refresh` to the engine session.

import {
  CodeLensRefreshRequest,
  type Connection,
  type ServerCapabilities,
  type TextDocuments,
} from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { analysisCache } from './analysisCache';
import { registerCodeLens } from './codeLens';
import { registerCompletion } from './completion';
import type { FeatureContext, LanguageFeatureOptions } from './context';
import { registerDiagnostics } from './diagnostics';
import { registerHover } from './hover';
import { registerNavigation } from './navigation';
import { registerRename } from './rename';

export type { LanguageFeatureOptions, RunSummary } from './context';

export interface LanguageFeatures {
  capabilities: ServerCapabilities;
  /** Republishes a document's diagnostics and lenses, e.g. after a run finished. */
  refresh(uri: string): void;
}

export function registerLanguageFeatures(
  connection: Connection,
  documents: TextDocuments<TextDocument>,
  options: LanguageFeatureOptions,
): LanguageFeatures {
  const ctx: FeatureContext = { connection, documents, getAnalysis: analysisCache(documents), options };
  const publish = registerDiagnostics(ctx);
  registerHover(ctx);
  registerCompletion(ctx);
  registerNavigation(ctx);
  registerRename(ctx);
  registerCodeLens(ctx);
  const refresh = (uri: string) => {
    publish(uri);
    // Not every client supports lens refresh; a refused request changes nothing.
    connection.sendRequest(CodeLensRefreshRequest.type).catch(() => undefined);
  };
  const capabilities: ServerCapabilities = {
    hoverProvider: true,
    completionProvider: { triggerCharacters: [] },
    documentSymbolProvider: true,
    definitionProvider: true,
    referencesProvider: true,
    renameProvider: { prepareProvider: true },
    codeLensProvider: { resolveProvider: false },
  };
  return { capabilities, refresh };
}
