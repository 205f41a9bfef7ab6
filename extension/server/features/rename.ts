// Rename: a declared name and every use of it, refused when the new name is not an
// identifier, is reserved, or is already taken in the file.

import { ErrorCodes, type Range, ResponseError, type WorkspaceEdit } from 'vscode-languageserver/node';
import type { Analysis, Position } from '../../language';
import { KEYWORDS } from '../../language/lexer';
import { RESERVED_NAMES } from '../../language/names';
import type { FeatureContext } from './context';

/** Why `newName` cannot replace the name at `position`, or undefined when it can. */
export function renameProblem(analysis: Analysis, position: Position, newName: string): string | undefined {
  const o = analysis.occurrenceAt(position);
  if (!o) return 'There is no declared name here to rename.';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(newName))
    return `\`${newName}\` is not a valid name (letters, digits and _, not starting with a digit).`;
  if (KEYWORDS.has(newName)) return `\`${newName}\` is a keyword.`;
  const reserved = RESERVED_NAMES.get(newName);
  if (reserved) return `\`${newName}\` is ${reserved}.`;
  if (newName === o.symbol.name) return undefined;
  const taken = analysis.symbols.find(
    (s) => s.name === newName && (s.owner === undefined || o.symbol.owner === undefined || s.owner === o.symbol.owner),
  );
  if (taken) return `\`${newName}\` is already declared (line ${taken.declaration.range.start.line + 1}).`;
  return undefined;
}

export function renameEdit(analysis: Analysis, uri: string, position: Position, newName: string): WorkspaceEdit {
  const o = analysis.occurrenceAt(position)!;
  const ranges = [o.symbol.declaration.range, ...o.symbol.references.map((r) => r.range)];
  return { changes: { [uri]: ranges.map((range) => ({ range, newText: newName })) } };
}

export function registerRename(ctx: FeatureContext): void {
  ctx.connection.onPrepareRename((params): { range: Range; placeholder: string } | null => {
    const o = ctx.getAnalysis(params.textDocument.uri)?.occurrenceAt(params.position);
    return o ? { range: o.range, placeholder: o.symbol.name } : null;
  });
  ctx.connection.onRenameRequest((params) => {
    const analysis = ctx.getAnalysis(params.textDocument.uri);
    if (!analysis) return null;
    const problem = renameProblem(analysis, params.position, params.newName);
    if (problem) throw new ResponseError(ErrorCodes.InvalidRequest, problem);
    return renameEdit(analysis, params.textDocument.uri, params.position, params.newName);
  });
}
