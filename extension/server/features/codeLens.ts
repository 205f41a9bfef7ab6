// Code lenses on the `model` line: the command that runs the hierarchical trace,
// and after a run a one-line summary of what it found.

import type { CodeLens } from 'vscode-languageserver/node';
import type { Analysis } from '../../language';
import { formatShortNumber } from '../../protocol/format';
import { type Moment, type NonFiniteCause, nonFiniteWord } from '../../protocol/moment';
import type { FeatureContext, RunSummary } from './context';

/** `E[time] = x`, `E[time] = ∞`, `E[time] undefined` or `E[time] out of range`: a run whose mean is not finite keeps its lens. */
function meanText(mean: Moment, cause: NonFiniteCause | undefined): string {
  const word = nonFiniteWord(mean, cause);
  if (word === null) return `E[time] = ${formatShortNumber(mean as number)}`;
  if (word === 'undefined' || word === 'out of range') return `E[time] ${word}`;
  return `E[time] = ${word === 'infinite' ? '∞' : '−∞'}`;
}

/**
 * `N vertices · M SCCs · E[time] = x`. Vertices and SCCs count the starting vertex S
 * and its component, as the engine, the CLI, the panel and phasic itself count them,
 * so the lens and the panel never disagree.
 */
export function runSummary(run: RunSummary): string {
  const mean = run.moments.time?.[0];
  const parts = [
    `${run.vertices} vert${run.vertices === 1 ? 'ex' : 'ices'}`,
    `${run.sccs.count} SCC${run.sccs.count === 1 ? '' : 's'}`,
  ];
  if (mean !== undefined) parts.push(meanText(mean, run.nonFiniteCause));
  return parts.join(' · ');
}

export function codeLenses(analysis: Analysis, uri: string, run: RunSummary | undefined): CodeLens[] {
  const model = analysis.ast.declarations.find((d) => d.kind === 'model');
  const line = model ? model.range.start.line : 0;
  const range = { start: { line, character: 0 }, end: { line, character: 0 } };
  const lenses: CodeLens[] = [
    { range, command: { title: 'Run hierarchical trace', command: 'phasic.runTrace', arguments: [uri] } },
  ];
  if (run) lenses.push({ range, command: { title: runSummary(run), command: '' } });
  return lenses;
}

export function registerCodeLens(ctx: FeatureContext): void {
  ctx.connection.onCodeLens((params) => {
    const analysis = ctx.getAnalysis(params.textDocument.uri);
    return analysis ? codeLenses(analysis, params.textDocument.uri, ctx.options.lastRun(params.textDocument.uri)) : [];
  });
}
