// What every language feature module receives: the connection, the open documents,
// the analysis of a document (computed once per version) and the last run's results.

import type { Connection, Diagnostic as LspDiagnostic, TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Analysis } from '../../language';
import type { Moment, NonFiniteCause } from '../../protocol/moment';

/** The parts of a run's result the language features show (a subset of RunResult). */
export interface RunSummary {
  vertices: number;
  sccs: { count: number };
  moments: Record<string, Moment[]>;
  nonFiniteCause?: NonFiniteCause;
  ruleFirings: Record<string, number>;
}

export interface LanguageFeatureOptions {
  /** The last finished run of a document, if any. */
  lastRun(uri: string): RunSummary | undefined;
  /** Exploration errors and warnings of the last run, already placed on source ranges. */
  engineDiagnostics?(uri: string): LspDiagnostic[];
}

export type GetAnalysis = (uri: string) => Analysis | undefined;

export interface FeatureContext {
  connection: Connection;
  documents: TextDocuments<TextDocument>;
  getAnalysis: GetAnalysis;
  options: LanguageFeatureOptions;
}
