// Checks a parsed model declaration by declaration: the symbol table, constants (with
// run overrides), parameters, the state layout and initial states, then every rule,
// absorb condition and reward. What it computes (constant values, state offsets,
// initial state vectors) is what the compiler and the hovers use.

import { fold, isIntegral } from './constants';
import type { DiagnosticSink } from './diagnostics';
import { type ExprContext, ExpressionChecker, type ExprInfo } from './expressions';
import { KIND_NOUN, RESERVED_NAMES, Scope, type SymbolInfo } from './names';
import { rateCoefficients } from './rates';
import {
  type Assignment,
  type Declaration,
  type Expr,
  type Identifier,
  type ModelFile,
  positionAt,
  type RuleDecl,
  type Span,
  type StartDecl,
} from './syntax';

/** The state vector may not have more cells than this (the engine stores one per state). */
export const MAX_STATE_LENGTH = 1 << 20;
export const MAX_REWARDS = 1 << 20;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export interface InitialState {
  probability: number;
  state: number[];
  /** The `start` block, absent for the single default initial state. */
  decl?: StartDecl;
}

export interface CheckResult {
  globals: Map<string, SymbolInfo>;
  /** Every symbol, top-level and local, in declaration order. */
  symbols: SymbolInfo[];
  modelName?: string;
  params: SymbolInfo[];
  states: SymbolInfo[];
  stateLength: number;
  starts: InitialState[];
}

export function check(
  file: ModelFile,
  text: string,
  sink: DiagnosticSink,
  overrides: ReadonlyMap<string, number> = new Map(),
): CheckResult {
  return new Checker(file, text, sink, overrides).run();
}

class Checker {
  private readonly globals = new Map<string, SymbolInfo>();
  private readonly exprs: ExpressionChecker;
  private readonly topScope: Scope;
  private readonly params: SymbolInfo[] = [];
  private readonly states: SymbolInfo[] = [];
  private stateLength = 0;
  /** Rewards so far, `time` and each family member counted. */
  private rewardCount = 1;
  /** State variables whose written initial value was already reported out of bounds. */
  private readonly outOfBounds = new Set<SymbolInfo>();
  /** Declarations whose symbol is the first with that name (later duplicates are skipped). */
  private readonly owned = new Map<Declaration, SymbolInfo>();

  constructor(
    private readonly file: ModelFile,
    text: string,
    private readonly sink: DiagnosticSink,
    private readonly overrides: ReadonlyMap<string, number>,
  ) {
    const lineOf = (offset: number) => positionAt(file.lineStarts, offset).line;
    this.exprs = new ExpressionChecker(text, sink, this.globals, lineOf);
    this.topScope = new Scope(undefined, this.globals);
  }

  run(): CheckResult {
    const decls = this.file.declarations;
    this.declareGlobals(decls);
    for (const d of decls) if (d.kind === 'const') this.constant(d);
    this.checkOverrides(decls);
    for (const d of decls) {
      if (d.kind === 'param') this.param(d);
      else if (d.kind === 'state') this.state(d);
    }
    const base = this.baseState();
    for (const d of decls) if (d.kind === 'init' && d.assignment) this.initial(d.assignment, base);
    const starts = this.starts(decls, base);
    this.checkImplicitInitialValues(starts);
    for (const d of decls) {
      if (d.kind === 'rule') this.rule(d);
      else if (d.kind === 'absorb' && d.condition) {
        this.exprs.expect(d.condition, this.ctx(), 'boolean', 'an `absorb` condition');
      } else if (d.kind === 'reward') this.reward(d);
    }
    this.reportUnused();
    const model = decls.find((d) => d.kind === 'model');
    return {
      globals: this.globals,
      symbols: [...this.globals.values(), ...this.exprs.locals],
      modelName: model?.kind === 'model' ? model.name?.name : undefined,
      params: this.params,
      states: this.states,
      stateLength: this.stateLength,
      starts,
    };
  }

  private ctx(extra: Partial<ExprContext> = {}): ExprContext {
    return { scope: this.topScope, rate: false, ...extra };
  }

  private line(s: Span): number {
    return s.range.start.line + 1;
  }

  // ---- names -------------------------------------------------------------------

  private declareGlobals(decls: Declaration[]): void {
    decls.forEach((d, position) => {
      if (d.kind === 'model') {
        const first = decls.findIndex((x) => x.kind === 'model');
        const at = d.name ?? d;
        if (first !== position) {
          this.sink.error(
            at,
            'duplicate-model',
            `A file declares its model name once; \`model\` already appears on line ${this.line(decls[first])}.`,
          );
          return;
        }
        if (position !== 0)
          this.sink.error(at, 'model-not-first', '`model` must be the first declaration of the file.');
      }
      if (d.kind === 'init' || d.kind === 'start' || d.kind === 'absorb' || !d.name) return;
      const name = d.name;
      const reserved = RESERVED_NAMES.get(name.name);
      if (reserved && d.kind !== 'model') {
        this.sink.error(name, 'reserved-name', `\`${name.name}\` is ${reserved}; choose another name.`);
        return;
      }
      const existing = this.globals.get(name.name);
      if (existing) {
        if (d.kind === 'model') return; // the model's display name lives apart from values
        this.sink.error(
          name,
          'duplicate-name',
          `\`${name.name}\` is already declared as ${KIND_NOUN[existing.kind]} on line ${this.line(existing.declaration)}.`,
        );
        return;
      }
      if (d.kind === 'model') return;
      const symbol: SymbolInfo = { name: name.name, kind: d.kind, declaration: name, span: d, references: [] };
      this.globals.set(name.name, symbol);
      this.owned.set(d, symbol);
    });
  }

  // ---- constants -----------------------------------------------------------------

  private constant(d: Extract<Declaration, { kind: 'const' }>): void {
    const symbol = this.owned.get(d);
    if (!d.value) return;
    const info = this.exprs.expect(
      d.value,
      this.ctx({ constantFor: "a constant's value", defining: symbol }),
      'number',
      "a constant's value",
    );
    if (!symbol) return;
    symbol.integer = info.integer;
    const override = this.overrides.get(symbol.name);
    if (override !== undefined) {
      if (!Number.isFinite(override)) {
        this.sink.error(
          symbol.declaration,
          'bad-override',
          `The override ${symbol.name} = ${override} is not a finite number.`,
        );
      } else if (info.integer && !isIntegral(override)) {
        this.sink.error(
          symbol.declaration,
          'bad-override',
          `Constant \`${symbol.name}\` is an integer, but the override ${symbol.name} = ${override} is not; give an integer.`,
        );
      } else {
        symbol.value = override;
      }
      return;
    }
    if (info.value === undefined) return;
    if (!Number.isFinite(info.value)) {
      this.sink.error(
        d.value,
        'constant-error',
        `Constant \`${symbol.name}\` evaluates to ${info.value}; a constant must be a finite number.`,
      );
      return;
    }
    symbol.value = info.value;
  }

  private checkOverrides(decls: Declaration[]): void {
    for (const name of this.overrides.keys()) {
      const symbol = this.globals.get(name);
      if (symbol?.kind === 'const') continue;
      const at: Span = decls[0] ?? {
        start: 0,
        end: 0,
        range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
      };
      this.sink.error(
        decls[0]?.kind === 'model' && decls[0].name ? decls[0].name : at,
        'bad-override',
        symbol
          ? `Only constants can be overridden, but \`${name}\` is ${KIND_NOUN[symbol.kind]}.`
          : `The override \`${name}\` names no constant of this model.`,
      );
    }
  }

  /** Checks a constant expression and returns its value when it is known and valid. */
  private constValue(e: Expr, what: string, integer: boolean): number | undefined {
    const info: ExprInfo = this.exprs.expect(e, this.ctx({ constantFor: what }), 'number', what);
    const v = info.value;
    if (v === undefined) return undefined;
    if (!Number.isFinite(v)) {
      this.sink.error(e, 'constant-error', `\`${this.exprs.excerpt(e)}\` is ${v}; ${what} must be a finite number.`);
      return undefined;
    }
    if (integer && !isIntegral(v)) {
      this.sink.error(e, 'not-integer', `\`${this.exprs.excerpt(e)}\` is ${v}, but ${what} must be an integer.`);
      return undefined;
    }
    if (integer && (v < INT32_MIN || v > INT32_MAX)) {
      this.sink.error(
        e,
        'not-integer',
        `\`${this.exprs.excerpt(e)}\` is ${v}, beyond the 32-bit range of state cells.`,
      );
      return undefined;
    }
    return v;
  }

  // ---- parameters and state ------------------------------------------------------

  private param(d: Extract<Declaration, { kind: 'param' }>): void {
    const symbol = this.owned.get(d);
    const def = d.default ? this.constValue(d.default, "a parameter's default", false) : 1.0;
    const lo = d.bounds ? this.constValue(d.bounds.lo, "a parameter's lower bound", false) : undefined;
    const hi = d.bounds ? this.constValue(d.bounds.hi, "a parameter's upper bound", false) : undefined;
    if (d.bounds && lo !== undefined && hi !== undefined && lo > hi) {
      this.sink.error(
        d.bounds,
        'empty-bounds',
        `The bounds ${lo}..${hi} are empty: the lower bound is above the upper one.`,
      );
    } else if (def !== undefined && ((lo !== undefined && def < lo) || (hi !== undefined && def > hi))) {
      this.sink.error(
        d.default ?? d.bounds!,
        'default-out-of-bounds',
        `The default ${def} of \`${d.name?.name ?? 'this parameter'}\` is outside its bounds ${lo ?? '−∞'}..${hi ?? '∞'}.`,
      );
    }
    if (!symbol) return;
    symbol.index = this.params.length;
    symbol.default = def ?? 1.0;
    symbol.lo = lo;
    symbol.hi = hi ?? null;
    this.params.push(symbol);
  }

  private state(d: Extract<Declaration, { kind: 'state' }>): void {
    const symbol = this.owned.get(d);
    const dims = d.dims.map((e) => {
      const v = this.constValue(e, 'an array size', true);
      if (v !== undefined && v < 1) {
        this.sink.error(
          e,
          'invalid-size',
          `An array size must be at least 1, but \`${this.exprs.excerpt(e)}\` is ${v}.`,
        );
        return undefined;
      }
      return v;
    });
    let lo = 0;
    let hi: number | null = null;
    if (d.bounds) {
      const l = this.constValue(d.bounds.lo, 'a state bound', true);
      const h = this.constValue(d.bounds.hi, 'a state bound', true);
      if (l !== undefined) lo = l;
      if (h !== undefined) hi = h;
      if (hi !== null && lo > hi) {
        this.sink.error(
          d.bounds,
          'empty-bounds',
          `The bounds ${lo}..${hi} are empty: the lower bound is above the upper one.`,
        );
        lo = 0;
        hi = null;
      }
    }
    const initial = d.initial ? (this.constValue(d.initial, 'an initial value', true) ?? lo) : 0;
    // A size that could not be computed is already reported; without a layout the
    // variable's uses are still resolved, but not checked against a made-up shape.
    if (!symbol || dims.some((x) => x === undefined)) return;
    const known = dims as number[];
    const cells = known.reduce((a, b) => a * b, 1);
    if (this.stateLength + cells > MAX_STATE_LENGTH) {
      this.sink.error(
        symbol.declaration,
        'state-too-large',
        `The state vector would have ${this.stateLength + cells} cells, more than the ${MAX_STATE_LENGTH} the engine accepts.`,
      );
      return;
    }
    Object.assign(symbol, { dims: known, lo, hi, offset: this.stateLength, initial });
    this.stateLength += cells;
    this.states.push(symbol);
    if (d.initial) this.checkInBounds(d.initial, symbol, initial);
  }

  private checkInBounds(at: Span, symbol: SymbolInfo, value: number): void {
    const lo = symbol.lo ?? 0;
    const hi = symbol.hi ?? null;
    if (value < lo || (hi !== null && value > hi)) {
      this.outOfBounds.add(symbol);
      this.sink.error(
        at,
        'initial-out-of-bounds',
        `The initial value ${value} of \`${symbol.name}\` is outside its bounds ${lo}..${hi ?? '∞'}.`,
      );
    }
  }

  /**
   * An implicit initial value (0) can lie outside a variable's bounds when no `init`
   * or `start` sets it; explicit values were checked where they are written.
   */
  private checkImplicitInitialValues(starts: InitialState[]): void {
    for (const symbol of this.states) {
      if (this.outOfBounds.has(symbol)) continue;
      const cells = (symbol.dims ?? []).reduce((a, b) => a * b, 1);
      const lo = symbol.lo ?? 0;
      const hi = symbol.hi ?? null;
      const bad = starts
        .flatMap((s) => s.state.slice(symbol.offset!, symbol.offset! + cells))
        .find((v) => v < lo || (hi !== null && v > hi));
      if (bad === undefined) continue;
      this.sink.error(
        symbol.declaration,
        'initial-out-of-bounds',
        `\`${symbol.name}\` starts at ${bad}, outside its bounds ${lo}..${hi ?? '∞'}; give it an initial value (\`= ${lo}\`) or set it with \`init\`.`,
      );
    }
  }

  private baseState(): number[] {
    const state = new Array<number>(this.stateLength).fill(0);
    for (const s of this.states) {
      const cells = (s.dims ?? []).reduce((a, b) => a * b, 1);
      state.fill(s.initial ?? 0, s.offset!, s.offset! + cells);
    }
    return state;
  }

  /** Applies `TARGET = EXPR` with constant indices to `state`. */
  private initial(a: Assignment, state: number[]): void {
    const symbol = this.globals.get(a.target.name.name);
    const infos = a.target.indices.map((i) =>
      this.exprs.indexValue(i, this.ctx({ constantFor: 'an initial-state index' })),
    );
    const value = this.constValue(a.value, 'an initial value', true);
    if (!symbol) {
      this.sink.error(a.target.name, 'unknown-name', `Unknown name \`${a.target.name.name}\`.`);
      return;
    }
    symbol.references.push(a.target.name);
    if (symbol.kind !== 'state') {
      this.sink.error(
        a.target.name,
        'not-a-state',
        `\`${symbol.name}\` is ${KIND_NOUN[symbol.kind]}; only state variables have initial values.`,
      );
      return;
    }
    if (symbol.offset === undefined) return;
    const cell = this.flatCell(a.target.name, symbol, a.target.indices, infos, a.target);
    if (cell === undefined || value === undefined) return;
    this.checkInBounds(a.value, symbol, value);
    state[cell] = value;
  }

  private flatCell(
    name: Identifier,
    symbol: SymbolInfo,
    indices: Expr[],
    infos: ExprInfo[],
    whole: Span,
  ): number | undefined {
    const dims = symbol.dims ?? [];
    const before = this.sink.list.length;
    this.exprs.checkIndices(name, symbol, indices, infos, whole);
    if (this.sink.list.length !== before || indices.length !== dims.length) return undefined;
    let flat = 0;
    for (let k = 0; k < dims.length; k++) {
      const v = infos[k].value;
      if (v === undefined) return undefined;
      flat = flat * dims[k] + v;
    }
    return symbol.offset! + flat;
  }

  private starts(decls: Declaration[], base: number[]): InitialState[] {
    const blocks = decls.filter((d): d is StartDecl => d.kind === 'start');
    if (blocks.length === 0) return [{ probability: 1, state: base }];
    const out: InitialState[] = [];
    let total = 0;
    for (const d of blocks) {
      const state = base.slice();
      let p: number | undefined;
      if (d.probability) {
        p = this.constValue(d.probability, 'a start probability', false);
        if (p !== undefined && !(p > 0 && p <= 1)) {
          this.sink.error(
            d.probability,
            'start-probability',
            `A start probability must be in (0, 1], but this one is ${p}.`,
          );
          p = undefined;
        }
      }
      for (const a of d.assignments) this.initial(a, state);
      if (p === undefined) continue;
      total += p;
      out.push({ probability: p, state, decl: d });
    }
    const last = blocks[blocks.length - 1];
    const at = last.probability ?? last;
    if (total > 1 + 1e-12) {
      this.sink.error(at, 'start-probability-sum', `The start probabilities sum to ${round(total)}, more than 1.`);
    } else if (out.length === blocks.length && total < 1 - 1e-12) {
      this.sink.information(
        at,
        'start-defect',
        `The start probabilities sum to ${round(total)}: with probability ${round(1 - total)} the process starts absorbed.`,
      );
    }
    return out;
  }

  // ---- rules and rewards ----------------------------------------------------------

  private rule(d: RuleDecl): void {
    const owner = d.name?.name ?? '';
    const base = this.ctx({ owner });
    // One scope holds all the rule's `let`s: each is declared after its value is
    // checked, so it is visible from the next clause on, as in a scope of its own; a
    // scope per `let` made every lookup walk all the earlier ones (10⁴ chained `let`s:
    // 3 s, quadratic).
    const scope = this.exprs.bindings(d.bindings, base, owner, 'a loop').child();
    for (const clause of d.clauses) {
      if (clause.kind === 'when') {
        this.exprs.expect(clause.condition, { ...base, scope }, 'boolean', 'a `when` clause');
      } else {
        const info = this.exprs.check(clause.value, { ...base, scope });
        const symbol = this.exprs.declareLocal(scope, clause.name, 'let', clause, owner);
        symbol.letType = info.type;
      }
    }
    const inner = { ...base, scope };
    if (d.rate) {
      const before = this.sink.list.length;
      this.exprs.expect(d.rate, { ...inner, rate: true }, 'number', 'a rate');
      if (this.sink.list.length === before) this.checkRateCoefficients(d.rate, owner);
    }
    for (const u of d.updates) this.update(u, inner);
  }

  /**
   * Coefficients of the rate's linear form that are known before exploration: a
   * negative or infinite one is an error the engine would report for every state, and
   * a rate that is always 0 means the rule never fires.
   */
  private checkRateCoefficients(rate: Expr, rule: string): void {
    const lookup = (name: string) => {
      const s = this.globals.get(name);
      return s?.kind === 'const' ? s.value : undefined;
    };
    let alwaysZero = true;
    rateCoefficients(rate, this.globals, this.params.length).forEach((c, k) => {
      if (!c) return;
      const v = fold(c, lookup);
      if (!v || !('value' in v)) {
        alwaysZero = false;
        return;
      }
      if (v.value !== 0) alwaysZero = false;
      if (!(v.value >= 0) || !Number.isFinite(v.value)) {
        const what = k === 0 ? 'constant term' : `coefficient of \`${this.params[k - 1].name}\``;
        this.sink.error(
          rate,
          'invalid-rate',
          `The rate's ${what} is ${v.value}; every coefficient of a rate must be finite and ≥ 0.`,
        );
      }
    });
    if (alwaysZero) this.sink.warning(rate, 'zero-rate', `This rate is always 0, so rule \`${rule}\` never fires.`);
  }

  private update(u: Assignment, ctx: ExprContext): void {
    const infos = u.target.indices.map((i) => this.exprs.indexValue(i, ctx));
    const value = this.exprs.expect(u.value, ctx, 'number', "an update's value").value;
    if (value !== undefined && !isIntegral(value)) {
      this.sink.error(
        u.value,
        'not-integer',
        `\`${this.exprs.excerpt(u.value)}\` is ${value}, but state variables hold integers.`,
      );
    }
    const symbol = ctx.scope.lookup(u.target.name.name);
    if (!symbol) {
      this.sink.error(u.target.name, 'unknown-name', `Unknown name \`${u.target.name.name}\`.`);
      return;
    }
    symbol.references.push(u.target.name);
    if (symbol.kind !== 'state') {
      this.sink.error(
        u.target.name,
        'not-a-state',
        `\`${symbol.name}\` is ${KIND_NOUN[symbol.kind]}; only state variables can be updated.`,
      );
      return;
    }
    if (symbol.offset !== undefined) this.exprs.checkIndices(u.target.name, symbol, u.target.indices, infos, u.target);
  }

  private reward(d: Extract<Declaration, { kind: 'reward' }>): void {
    const symbol = this.owned.get(d);
    const owner = d.name?.name ?? '';
    let scope = this.topScope;
    if (d.family) {
      const lo = this.constValue(d.family.lo, "a reward family's range", true);
      const hi = this.constValue(d.family.hi, "a reward family's range", true);
      if (symbol && lo !== undefined && hi !== undefined) {
        // The compiler writes one program per member: 10⁸ members held the engine
        // process for minutes and gigabytes before any run.
        const rewards = this.rewardCount + Math.max(0, hi - lo + 1);
        if (rewards > MAX_REWARDS)
          this.sink.error(
            d.family,
            'too-many-rewards',
            `The model would have ${rewards} rewards (with \`time\`), more than the ${MAX_REWARDS} a model may have.`,
          );
        else {
          this.rewardCount = rewards;
          symbol.family = { lo, hi };
        }
      }
      scope = scope.child();
      this.exprs.declareLocal(scope, d.family.name, 'loop', d.family, owner);
    }
    if (!d.family && symbol && ++this.rewardCount > MAX_REWARDS && d.name)
      this.sink.error(
        d.name,
        'too-many-rewards',
        `The model would have ${this.rewardCount} rewards (with \`time\`), more than the ${MAX_REWARDS} a model may have.`,
      );
    if (d.value) this.exprs.expect(d.value, this.ctx({ scope, owner }), 'number', 'a reward');
  }

  private reportUnused(): void {
    for (const s of [...this.globals.values(), ...this.exprs.locals]) {
      if (s.references.length > 0) continue;
      if (s.kind === 'const' || s.kind === 'param' || s.kind === 'state' || s.kind === 'loop' || s.kind === 'let') {
        const noun = KIND_NOUN[s.kind].replace(/^an? /, '');
        this.sink.warning(
          s.declaration,
          'unused',
          `${noun[0].toUpperCase()}${noun.slice(1)} \`${s.name}\` is never used.`,
        );
      }
    }
  }
}

function round(x: number): number {
  return Math.round(x * 1e12) / 1e12;
}
