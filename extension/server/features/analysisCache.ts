// One analysis per document version: hover, completion and the other features of a
// keystroke all share it instead of re-parsing. Only documents in the phasic language
// are analysed: a client may sync others (JSON graphs, plain text), and every feature
// answers nothing for them.

import type { TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { type Analysis, analyze } from '../../language';

export const PHASIC_LANGUAGE = 'phasic';

export function fileNameOf(uri: string): string {
  return decodeURIComponent(uri.split('/').pop() ?? uri);
}

export function analysisCache(documents: TextDocuments<TextDocument>): (uri: string) => Analysis | undefined {
  const cache = new Map<string, { version: number; analysis: Analysis }>();
  documents.onDidClose((e) => cache.delete(e.document.uri));
  return (uri) => {
    const doc = documents.get(uri);
    if (!doc || doc.languageId !== PHASIC_LANGUAGE) return undefined;
    const hit = cache.get(uri);
    if (hit && hit.version === doc.version) return hit.analysis;
    const analysis = analyze(doc.getText(), fileNameOf(uri));
    cache.set(uri, { version: doc.version, analysis });
    return analysis;
  };
}
