// From a document to what the engine runs: the model's text (open editor or disk),
// prepared by the front end (extension/language/prepare.ts), as the CLI prepares it.
import { fileURLToPath } from 'node:url';
import type { TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { type Diagnostic, prepareModel as prepareText, withoutByteOrderMark } from '../language';
import { parse } from '../language/parser';
import type { Parse } from '../language/prepare';
import type { Site } from '../protocol/compiled-model';
import { readInputFileAsync } from '../engine/inputFile';
import type { ModelSpec } from '../protocol/requests';

export interface PreparedModel {
  /** A `.phasic` source (compiled here) or a JSON model (passed through). */
  kind: 'source' | 'compiled' | 'graph';
  spec: ModelSpec;
  /** The text the engine loads: compiled-model JSON or a phasic graph JSON. */
  engineText: string;
  /** Source ranges of compiled-model sites, for placing engine errors. */
  sites: Site[];
}

export class ModelError extends Error {
  constructor(
    message: string,
    readonly diagnostics: Diagnostic[] = [],
  ) {
    super(message);
  }
}

export async function sourceOf(uri: string, documents: TextDocuments<TextDocument>): Promise<string> {
  const open = documents.get(uri);
  if (open) return open.getText();
  try {
    // As the editor would show it: the sites of engine errors then fall on its columns.
    return withoutByteOrderMark(await readInputFileAsync(fileURLToPath(uri)));
  } catch (error) {
    throw new ModelError((error as Error).message);
  }
}

function fileName(uri: string): string {
  return decodeURIComponent(uri.split('/').pop() ?? uri);
}

export function prepareModel(
  uri: string,
  text: string,
  overrides: Record<string, number>,
  parseText: Parse = parse,
): PreparedModel {
  const name = fileName(uri);
  const prepared = prepareText(text, name, overrides, parseText);
  if (!prepared.ok) {
    const { message, at, moreErrors, diagnostics } = prepared.failure;
    const where = at ? `${name}:${at.line + 1}:${at.character + 1}: ` : '';
    throw new ModelError(`${where}${message}${moreErrors > 0 ? ` (and ${moreErrors} more errors)` : ''}`, diagnostics);
  }
  const { kind, outline, engineText, sites } = prepared.model;
  return { kind, spec: { uri, ...outline }, engineText, sites };
}

/**
 * The host describes a model (for the overrides input) right before it runs it. A
 * run takes the preparation its describe made when the text and the overrides are
 * the same, so that it parses the model once. Held from a describe to the next run
 * of that model, and only for `.phasic` sources: a JSON model is not parsed by the
 * front end, and a graph's text may be large.
 */
export class Preparations {
  private readonly described = new Map<string, { text: string; overrides: string; model: PreparedModel }>();

  constructor(private readonly parseText: Parse = parse) {}

  /** Prepares for phasic/describe, and holds a source model's preparation for its run. */
  describe(uri: string, text: string, overrides: Record<string, number>): PreparedModel {
    this.described.delete(uri);
    const model = prepareModel(uri, text, overrides, this.parseText);
    if (model.kind === 'source') this.described.set(uri, { text, overrides: key(overrides), model });
    return model;
  }

  /** Prepares for a run: the held preparation when it is of this text and these overrides. */
  run(uri: string, text: string, overrides: Record<string, number>): PreparedModel {
    const held = this.described.get(uri);
    this.described.delete(uri);
    if (held && held.text === text && held.overrides === key(overrides)) return held.model;
    return prepareModel(uri, text, overrides, this.parseText);
  }

  /** Prepares without holding (e.g. to explore again for the SCC detail). */
  once(uri: string, text: string, overrides: Record<string, number>): PreparedModel {
    return prepareModel(uri, text, overrides, this.parseText);
  }
}

function key(overrides: Record<string, number>): string {
  return JSON.stringify(Object.entries(overrides));
}
