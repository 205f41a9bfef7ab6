// Diagnostics of the front end: one shape for syntax, check and compile problems,
// each with a stable code so tests, docs and quick fixes can refer to a kind.

import type { Range, Span } from './syntax';

export type Severity = 'error' | 'warning' | 'information';

export interface Diagnostic {
  range: Range;
  severity: Severity;
  code: string;
  message: string;
}

/** A garbage file must not flood the editor: past this many, diagnostics are dropped. */
const MAX_DIAGNOSTICS = 1000;

/** Collects diagnostics; drops a second error at the exact same place (a cascade). */
export class DiagnosticSink {
  readonly list: Diagnostic[] = [];
  private lastErrorAt = -1;
  private errored = false;

  error(span: Span, code: string, message: string): void {
    if (span.start === this.lastErrorAt) return;
    this.lastErrorAt = span.start;
    this.errored = true;
    this.add({ range: span.range, severity: 'error', code, message });
  }

  warning(span: Span, code: string, message: string): void {
    this.add({ range: span.range, severity: 'warning', code, message });
  }

  information(span: Span, code: string, message: string): void {
    this.add({ range: span.range, severity: 'information', code, message });
  }

  private add(d: Diagnostic): void {
    if (this.list.length < MAX_DIAGNOSTICS) this.list.push(d);
  }

  get hasErrors(): boolean {
    return this.errored;
  }
}
