// Hover: what a name is, with the numbers the engine uses for it (a constant's value,
// a parameter's index and default, a state variable's cells) and, for a rule, how
// often it fired in the last run.

import { type Hover, MarkupKind } from 'vscode-languageserver/node';
import type { Analysis, Position } from '../../language';
import { entry } from '../../protocol/check';
import { FUNCTION_DOCS } from './completion';
import type { FeatureContext } from './context';

const FUNCTIONS = new Map(FUNCTION_DOCS);

/** Hover for a built-in function name under the cursor (it is no declared symbol). */
export function functionHover(analysis: Analysis, position: Position): Hover | null {
  const text = analysis.text;
  const offset = analysis.offsetAt(position);
  let start = offset;
  let end = offset;
  while (start > 0 && /\w/.test(text[start - 1])) start--;
  while (end < text.length && /\w/.test(text[end])) end++;
  const doc = FUNCTIONS.get(text.slice(start, end));
  if (!doc || text[end] !== '(') return null;
  const range = {
    start: { line: position.line, character: position.character - (offset - start) },
    end: { line: position.line, character: position.character + (end - offset) },
  };
  return { contents: { kind: MarkupKind.Markdown, value: `Built-in: \`${doc}\`` }, range };
}

export function registerHover(ctx: FeatureContext): void {
  ctx.connection.onHover((params): Hover | null => {
    const analysis = ctx.getAnalysis(params.textDocument.uri);
    if (!analysis) return null;
    const info = analysis.hoverAt(params.position);
    if (!info) return functionHover(analysis, params.position);
    let markdown = info.markdown;
    if (info.symbol.kind === 'rule') {
      const run = ctx.options.lastRun(params.textDocument.uri);
      const firings = run && entry(run.ruleFirings, info.symbol.name);
      markdown +=
        firings === undefined
          ? '\nRule; run the model to see how often it fires.'
          : `\nRule; fired ${firings} time${firings === 1 ? '' : 's'} in the last exploration.`;
    }
    return { contents: { kind: MarkupKind.Markdown, value: markdown }, range: info.range };
  });
}
