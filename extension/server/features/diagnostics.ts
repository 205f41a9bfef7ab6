// Publishes diagnostics: the front end's, a warning for every rule that never fired
// in the last run, and the engine's exploration errors. Publishing is debounced so
// that typing never waits for an analysis.

import { DiagnosticSeverity, type Diagnostic as LspDiagnostic } from 'vscode-languageserver/node';
import type { Analysis, Diagnostic } from '../../language';
import { entry } from '../../protocol/check';
import type { FeatureContext, RunSummary } from './context';

export const DIAGNOSTICS_DELAY_MS = 200;

const SEVERITY: Record<Diagnostic['severity'], DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
};

export function toLsp(d: Diagnostic): LspDiagnostic {
  return { range: d.range, severity: SEVERITY[d.severity], code: d.code, source: 'phasic', message: d.message };
}

/** Warnings for the rules that did not fire once in the last exploration. */
export function neverFired(analysis: Analysis, run: RunSummary | undefined): LspDiagnostic[] {
  if (!run) return [];
  const out: LspDiagnostic[] = [];
  for (const d of analysis.ast.declarations) {
    if (d.kind !== 'rule' || !d.name || entry(run.ruleFirings, d.name.name) !== 0) continue;
    out.push(
      toLsp({
        range: d.name.range,
        severity: 'warning',
        code: 'rule-never-fired',
        message: `Rule \`${d.name.name}\` never fired in the last exploration: its \`when\` clauses or rate exclude every reachable state.`,
      }),
    );
  }
  return out;
}

/** Registers debounced publishing; returns a function that republishes one document now. */
export function registerDiagnostics(ctx: FeatureContext): (uri: string) => void {
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const publish = (uri: string) => {
    timers.delete(uri);
    const analysis = ctx.getAnalysis(uri);
    if (!analysis) return;
    const diagnostics = [
      ...analysis.diagnostics.map(toLsp),
      ...neverFired(analysis, ctx.options.lastRun(uri)),
      ...(ctx.options.engineDiagnostics?.(uri) ?? []),
    ];
    void ctx.connection.sendDiagnostics({ uri, diagnostics });
  };
  const schedule = (uri: string) => {
    clearTimeout(timers.get(uri));
    timers.set(
      uri,
      setTimeout(() => publish(uri), DIAGNOSTICS_DELAY_MS),
    );
  };
  ctx.documents.onDidChangeContent((e) => schedule(e.document.uri));
  ctx.documents.onDidClose((e) => {
    clearTimeout(timers.get(e.document.uri));
    timers.delete(e.document.uri);
    void ctx.connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });
  return publish;
}
