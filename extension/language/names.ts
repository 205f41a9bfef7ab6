// Symbols: every declared name of a model, where it is declared and where it is used.
// Top-level names share one namespace; loop variables, `let` names and aggregate
// variables live in nested local scopes and may not reuse any visible name.

import type { Identifier, Span } from './syntax';

export type SymbolKind = 'model' | 'const' | 'param' | 'state' | 'rule' | 'reward' | 'loop' | 'let';

export interface SymbolInfo {
  name: string;
  kind: SymbolKind;
  /** The name at its declaration. */
  declaration: Identifier;
  /** The whole declaration (or binding / let clause), for document symbols. */
  span: Span;
  references: Identifier[];
  /** const: folded value and whether it is integer-typed (overrides must keep it so). */
  value?: number;
  integer?: boolean;
  /** param: 0-based index (θ_{index+1}), default and UI bounds. */
  index?: number;
  default?: number;
  /** state: first cell in the state vector, array dimensions, bounds, initial value. */
  offset?: number;
  dims?: number[];
  lo?: number;
  hi?: number | null;
  initial?: number;
  /** reward family: the expanded range. */
  family?: { lo: number; hi: number };
  /** let: the type of its value. */
  letType?: 'number' | 'boolean' | 'unknown';
  /** Locals: the rule or reward they belong to. */
  owner?: string;
}

/** Names a modeller may not declare: the built-in functions and the built-in reward. */
export const RESERVED_NAMES: ReadonlyMap<string, string> = new Map([
  ['min', 'a built-in function'],
  ['max', 'a built-in function'],
  ['abs', 'a built-in function'],
  ['floor', 'a built-in function'],
  ['ceil', 'a built-in function'],
  ['binom', 'a built-in function'],
  ['sum', 'a built-in aggregate'],
  ['count', 'a built-in aggregate'],
  ['any', 'a built-in aggregate'],
  ['all', 'a built-in aggregate'],
  ['time', 'the built-in reward (time until absorption)'],
]);

export const KIND_NOUN: Record<SymbolKind, string> = {
  model: 'the model name',
  const: 'a constant',
  param: 'a parameter',
  state: 'a state variable',
  rule: 'a rule',
  reward: 'a reward',
  loop: 'a loop variable',
  let: 'a `let` name',
};

/** A chain of local scopes over the top-level table. */
export class Scope {
  private readonly names = new Map<string, SymbolInfo>();

  constructor(
    private readonly parent: Scope | undefined,
    private readonly globals: Map<string, SymbolInfo>,
  ) {}

  child(): Scope {
    return new Scope(this, this.globals);
  }

  lookup(name: string): SymbolInfo | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const found = s.names.get(name);
      if (found) return found;
    }
    return this.globals.get(name);
  }

  define(symbol: SymbolInfo): void {
    this.names.set(symbol.name, symbol);
  }
}
