// One analysis per document version: hover, completion and the other features of a
// keystroke all share it instead of re-parsing.

import type { TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { analyze, type Analysis } from '../../language';

export function fileNameOf(uri: string): string {
  return decodeURIComponent(uri.split('/').pop() ?? uri);
}

export function analysisCache(documents: TextDocuments<TextDocument>): (uri: string) => Analysis | undefined {
  const cache = new Map<string, { version: number; analysis: Analysis }>();
  documents.onDidClose((e) => cache.delete(e.document.uri));
  return (uri) => {
    const doc = documents.get(uri);
    if (!doc) return undefined;
    const hit = cache.get(uri);
    if (hit && hit.version === doc.version) return hit.analysis;
    const analysis = analyze(doc.getText(), fileNameOf(uri));
    cache.set(uri, { version: doc.version, analysis });
    return analysis;
  };
}
