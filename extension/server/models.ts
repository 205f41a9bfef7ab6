// From a document to what the engine runs: the model's text (open editor or disk),
// prepared by the front end (extension/language/prepare.ts), as the CLI prepares it.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { prepareModel as prepareText, withoutByteOrderMark, type Diagnostic } from '../language';
import type { Site } from '../protocol/compiled-model';
import type { ModelSpec } from '../protocol/requests';

export interface PreparedModel {
  spec: ModelSpec;
  /** The text the engine loads: compiled-model JSON or a phasic graph JSON. */
  engineText: string;
  /** Source ranges of compiled-model sites, for placing engine errors. */
  sites: Site[];
}

export class ModelError extends Error {
  constructor(message: string, readonly diagnostics: Diagnostic[] = []) {
    super(message);
  }
}

export async function sourceOf(uri: string, documents: TextDocuments<TextDocument>): Promise<string> {
  const open = documents.get(uri);
  if (open) return open.getText();
  try {
    // As the editor would show it: the sites of engine errors then fall on its columns.
    return withoutByteOrderMark(await readFile(fileURLToPath(uri), 'utf8'));
  } catch (error) {
    throw new ModelError(`cannot read ${uri}: ${(error as Error).message}`);
  }
}

function fileName(uri: string): string {
  return decodeURIComponent(uri.split('/').pop() ?? uri);
}

export function prepareModel(uri: string, text: string, overrides: Record<string, number>): PreparedModel {
  const name = fileName(uri);
  const prepared = prepareText(text, name, overrides);
  if (!prepared.ok) {
    const { message, at, moreErrors, diagnostics } = prepared.failure;
    const where = at ? `${name}:${at.line + 1}:${at.character + 1}: ` : '';
    throw new ModelError(`${where}${message}${moreErrors > 0 ? ` (and ${moreErrors} more errors)` : ''}`, diagnostics);
  }
  const { outline, engineText, sites } = prepared.model;
  return { spec: { uri, ...outline }, engineText, sites };
}
