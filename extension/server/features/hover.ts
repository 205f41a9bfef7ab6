// Hover: what a name is, with the numbers the engine uses for it (a constant's value,
// a parameter's index and default, a state variable's cells) and, for a rule, how
// often it fired in the last run.

import { MarkupKind, type Hover } from 'vscode-languageserver/node';
import type { FeatureContext } from './context';

export function registerHover(ctx: FeatureContext): void {
  ctx.connection.onHover((params): Hover | null => {
    const analysis = ctx.getAnalysis(params.textDocument.uri);
    const info = analysis?.hoverAt(params.position);
    if (!info) return null;
    let markdown = info.markdown;
    if (info.symbol.kind === 'rule') {
      const firings = ctx.options.lastRun(params.textDocument.uri)?.ruleFirings[info.symbol.name];
      markdown += firings === undefined
        ? '\nRule; run the model to see how often it fires.'
        : `\nRule; fired ${firings} time${firings === 1 ? '' : 's'} in the last exploration.`;
    }
    return { contents: { kind: MarkupKind.Markdown, value: markdown }, range: info.range };
  });
}
