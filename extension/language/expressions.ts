// Checks one expression in its context: resolves names (recording references),
// infers its type (number or condition), tracks whether it depends on a parameter
// (the rate must stay linear in them), and folds what is known before exploration.
// Each problem is reported once, on the smallest sub-expression that explains it,
// and the result is marked so that enclosing expressions do not repeat it.

import { applyBinary, applyFunction, fold, isIntegral } from './constants';
import type { DiagnosticSink } from './diagnostics';
import { KIND_NOUN, RESERVED_NAMES, type Scope, type SymbolInfo, type SymbolKind } from './names';
import {
  type AggregateExpr,
  type BinaryExpr,
  type Binding,
  type CallExpr,
  type Expr,
  FUNCTIONS,
  type FunctionName,
  type Identifier,
  type IndexExpr,
  type Span,
  excerptText,
} from './syntax';

export type ValueType = 'number' | 'boolean' | 'unknown';

export interface ExprInfo {
  type: ValueType;
  /** Depends on a parameter (only possible in rate expressions). */
  param: boolean;
  /** Known before exploration: no state, no rule locals. */
  constant: boolean;
  /** The folded value, when constant and computable. */
  value?: number;
  /** Integer-typed: no `/`, no real literal (overrides of integer constants stay integral). */
  integer: boolean;
}

export interface ExprContext {
  scope: Scope;
  /** Parameters are allowed: this is (part of) a rate. */
  rate: boolean;
  /** Set where the value must be known before exploration, e.g. "an array size". */
  constantFor?: string;
  /** In a `const` declaration: the constant being defined (only constants above it may be used). */
  defining?: SymbolInfo;
  /** The declaration locals belong to (rule or reward name), for symbols. */
  owner?: string;
}

const UNKNOWN: ExprInfo = { type: 'unknown', param: false, constant: true, integer: false };

const ARITY: Record<FunctionName, [min: number, max: number]> = {
  min: [1, Infinity],
  max: [1, Infinity],
  abs: [1, 1],
  floor: [1, 1],
  ceil: [1, 1],
  binom: [2, 2],
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export class ExpressionChecker {
  /** Every local symbol declared while checking (loop, let and aggregate variables). */
  readonly locals: SymbolInfo[] = [];

  constructor(
    private readonly text: string,
    private readonly sink: DiagnosticSink,
    private readonly globals: Map<string, SymbolInfo>,
    private readonly lineOf: (offset: number) => number,
  ) {}

  /** A short quotation of the source, for messages. */
  excerpt(span: Span): string {
    return excerptText(this.text.slice(span.start, span.end).replace(/\s+/g, ' ').trim());
  }

  /** Checks `e` and reports if it is not of the expected type. */
  expect(e: Expr, ctx: ExprContext, type: 'number' | 'boolean', what: string): ExprInfo {
    const info = this.check(e, ctx);
    if (info.type !== 'unknown' && info.type !== type) this.mismatch(e, info.type, what);
    return info;
  }

  private mismatch(e: Expr, actual: ValueType, what: string): void {
    const q = `\`${this.excerpt(e)}\``;
    if (actual === 'boolean') {
      this.sink.error(e, 'type-mismatch', `${q} is a condition (true or false), but ${what} must be a number.`);
    } else {
      this.sink.error(
        e,
        'type-mismatch',
        `${q} is a number, but ${what} must be a condition (true or false); compare it, e.g. \`${this.excerpt(e)} > 0\`.`,
      );
    }
  }

  /** Declares a loop, `let` or aggregate variable in `scope`, refusing to hide any visible name. */
  declareLocal(scope: Scope, name: Identifier, kind: SymbolKind, span: Span, owner: string): SymbolInfo {
    const symbol: SymbolInfo = { name: name.name, kind, declaration: name, span, references: [], owner };
    const reserved = RESERVED_NAMES.get(name.name);
    const existing = scope.lookup(name.name);
    if (reserved) {
      this.sink.error(name, 'reserved-name', `\`${name.name}\` is ${reserved}; choose another name.`);
    } else if (existing && this.globals.get(name.name) === existing) {
      this.sink.error(
        name,
        'shadowed-name',
        `\`${name.name}\` is already ${KIND_NOUN[existing.kind]} (line ${this.lineOf(existing.declaration.start) + 1}); ${KIND_NOUN[kind]} must not shadow it.`,
      );
    } else if (existing) {
      this.sink.error(
        name,
        'duplicate-name',
        `\`${name.name}\` is already ${KIND_NOUN[existing.kind]} here (line ${this.lineOf(existing.declaration.start) + 1}); choose another name.`,
      );
    }
    scope.define(symbol);
    this.locals.push(symbol);
    return symbol;
  }

  check(e: Expr, ctx: ExprContext): ExprInfo {
    switch (e.kind) {
      case 'number':
        return { type: 'number', param: false, constant: true, value: e.value, integer: e.integer };
      case 'boolean':
        return { type: 'boolean', param: false, constant: true, value: e.value ? 1 : 0, integer: false };
      case 'error':
        return UNKNOWN;
      case 'name':
        return this.name(e.name, ctx, false);
      case 'index':
        return this.index(e, ctx);
      case 'call':
        return this.call(e, ctx);
      case 'aggregate':
        return this.aggregate(e, ctx);
      case 'unary': {
        if (e.op === 'not') {
          const a = this.expect(e.operand, ctx, 'boolean', 'the operand of `not`');
          return this.folded(
            e,
            { type: 'boolean', param: false, constant: a.constant, integer: false },
            a.value === undefined ? undefined : { value: 1 - a.value },
          );
        }
        const a = this.expect(e.operand, ctx, 'number', 'the operand of `-`');
        return this.folded(
          e,
          { type: 'number', param: a.param, constant: a.constant, integer: a.integer },
          a.value === undefined ? undefined : { value: -a.value },
        );
      }
      case 'binary':
        return this.binary(e, ctx);
      case 'if': {
        // A condition cannot depend on a parameter: comparisons report that, and a
        // bare parameter is a number, which is a type error here.
        const c = this.expect(e.condition, ctx, 'boolean', 'an `if` condition');
        const a = this.check(e.then, ctx);
        const b = this.check(e.else, ctx);
        let type: ValueType = a.type === 'unknown' ? b.type : a.type;
        if (a.type !== 'unknown' && b.type !== 'unknown' && a.type !== b.type) {
          this.sink.error(
            e.else,
            'type-mismatch',
            `The \`then\` branch is ${a.type === 'number' ? 'a number' : 'a condition'} but the \`else\` branch \`${this.excerpt(e.else)}\` is ${b.type === 'number' ? 'a number' : 'a condition'}; both branches must have the same type.`,
          );
          type = 'unknown';
        }
        const constant = c.constant && a.constant && b.constant;
        let value: number | undefined;
        if (c.value !== undefined) value = c.value !== 0 ? a.value : b.value;
        return {
          type,
          param: a.param || b.param,
          constant,
          value: constant ? value : undefined,
          integer: a.integer && b.integer,
        };
      }
    }
  }

  /** Records a folded value, reporting a constant expression that cannot be computed. */
  private folded(e: Expr, info: ExprInfo, result: { value: number } | { error: string } | undefined): ExprInfo {
    if (!result || !info.constant) return info;
    if ('error' in result) {
      this.sink.error(e, 'constant-error', `\`${this.excerpt(e)}\` cannot be computed: ${result.error}.`);
      return info;
    }
    return { ...info, value: result.value };
  }

  private name(id: Identifier, ctx: ExprContext, arrayAllowed: boolean): ExprInfo {
    const symbol = ctx.scope.lookup(id.name);
    if (!symbol) {
      const reserved = RESERVED_NAMES.get(id.name);
      this.sink.error(
        id,
        'unknown-name',
        reserved
          ? `\`${id.name}\` is ${reserved}, not a value${id.name === 'time' ? '; time is measured by the built-in reward `time`' : ''}.`
          : `Unknown name \`${id.name}\`.`,
      );
      return UNKNOWN;
    }
    symbol.references.push(id);
    switch (symbol.kind) {
      case 'const': {
        const d = ctx.defining;
        if (d && symbol === d) {
          this.sink.error(id, 'const-cycle', `Constant \`${id.name}\` is defined in terms of itself.`);
          return UNKNOWN;
        }
        if (d && symbol.declaration.start > d.declaration.start) {
          this.sink.error(
            id,
            'const-forward-reference',
            `Constant \`${id.name}\` is declared below \`${d.name}\` (line ${this.lineOf(symbol.declaration.start) + 1}); a constant may only use constants declared above it.`,
          );
          return UNKNOWN;
        }
        return { type: 'number', param: false, constant: true, value: symbol.value, integer: symbol.integer ?? false };
      }
      case 'param':
        if (!ctx.rate) {
          this.sink.error(
            id,
            'parameter-outside-rate',
            `Parameter \`${id.name}\` may appear only in a \`rate\` expression${ctx.constantFor ? `, but this is ${ctx.constantFor}` : ''}.`,
          );
          return UNKNOWN;
        }
        return { type: 'number', param: true, constant: false, integer: false };
      case 'state':
        if (ctx.constantFor) {
          this.sink.error(
            id,
            'not-constant',
            `\`${id.name}\` is a state variable, but ${ctx.constantFor} must be known before exploration (use constants).`,
          );
          return UNKNOWN;
        }
        if (!arrayAllowed && symbol.dims && symbol.dims.length > 0) {
          this.sink.error(
            id,
            'array-without-index',
            `\`${id.name}\` is an array of shape [${symbol.dims.join(', ')}]; index it (\`${id.name}[i]\`) or use \`sum(${id.name})\`.`,
          );
          return UNKNOWN;
        }
        return { type: 'number', param: false, constant: false, integer: true };
      case 'loop':
      case 'let':
        // In a constant context only aggregate variables are visible: they are constant there.
        return {
          type: symbol.kind === 'let' ? (symbol.letType ?? 'unknown') : 'number',
          param: false,
          constant: !!ctx.constantFor,
          integer: symbol.kind === 'loop',
        };
      default:
        this.sink.error(
          id,
          'not-a-value',
          `\`${id.name}\` is ${KIND_NOUN[symbol.kind]}; it has no value in an expression.`,
        );
        return UNKNOWN;
    }
  }

  private index(e: IndexExpr, ctx: ExprContext): ExprInfo {
    const symbol = ctx.scope.lookup(e.name.name);
    const indexInfos = e.indices.map((i) => this.indexValue(i, ctx));
    if (!symbol) return this.name(e.name, ctx, true);
    if (symbol.kind !== 'state') {
      symbol.references.push(e.name);
      this.sink.error(
        e.name,
        'not-an-array',
        `\`${e.name.name}\` is ${KIND_NOUN[symbol.kind]}, not an array; only state arrays can be indexed.`,
      );
      return UNKNOWN;
    }
    const info = this.name(e.name, ctx, true);
    if (info.type === 'unknown') return info;
    this.checkIndices(e.name, symbol, e.indices, indexInfos, e);
    return info;
  }

  /** Checks an index expression: a number, free of parameters. */
  indexValue(i: Expr, ctx: ExprContext): ExprInfo {
    const info = this.expect(i, ctx, 'number', 'an index');
    if (info.param) this.parameterIn(i, 'parameter-in-index', 'an index');
    return info;
  }

  /** Index count and constant indices against the array's shape. */
  checkIndices(name: Identifier, symbol: SymbolInfo, indices: Expr[], infos: ExprInfo[], whole: Span): void {
    if (symbol.offset === undefined) return; // no layout: its size is already reported
    const dims = symbol.dims ?? [];
    if (dims.length === 0 && indices.length > 0) {
      this.sink.error(whole, 'wrong-index-count', `\`${name.name}\` is a scalar state variable; it takes no index.`);
      return;
    }
    if (indices.length !== dims.length) {
      this.sink.error(
        indices.length > dims.length ? joinAll(indices.slice(dims.length)) : whole,
        'wrong-index-count',
        `\`${name.name}\` has ${plural(dims.length, 'dimension')}, but ${indices.length === 1 ? '1 index is' : `${indices.length} indices are`} given.`,
      );
      return;
    }
    indices.forEach((ix, k) => {
      const v = infos[k].value;
      if (v === undefined) return;
      if (!isIntegral(v)) {
        this.sink.error(ix, 'not-integer', `Index \`${this.excerpt(ix)}\` is ${v}, which is not an integer.`);
      } else if (v < 0 || v >= dims[k]) {
        this.sink.error(
          ix,
          'index-out-of-range',
          `Index ${v} is out of range for \`${name.name}\`${dims.length > 1 ? ` (dimension ${k + 1})` : ''}, whose size is ${dims[k]} (valid indices 0..${dims[k] - 1}).`,
        );
      }
    });
  }

  private call(e: CallExpr, ctx: ExprContext): ExprInfo {
    const fname = e.callee.name;
    if (fname === 'sum') {
      const arg = e.args[0];
      if (e.args.length === 1 && arg.kind === 'name') {
        const symbol = ctx.scope.lookup(arg.name.name);
        if (symbol?.kind === 'state') return this.name(arg.name, ctx, true);
      }
      e.args.forEach((a) => this.check(a, ctx));
      this.sink.error(
        e,
        'wrong-arguments',
        '`sum` takes a state variable, `sum(s)`, or ranges and a body, `sum(i in 0..n-1: s[i])`.',
      );
      return UNKNOWN;
    }
    if (fname === 'count' || fname === 'any' || fname === 'all') {
      e.args.forEach((a) => this.check(a, ctx));
      this.sink.error(
        e,
        'wrong-arguments',
        `\`${fname}\` takes ranges and a condition, e.g. \`${fname}(i in 0..n-1: s[i] > 0)\`.`,
      );
      return UNKNOWN;
    }
    if (!(FUNCTIONS as readonly string[]).includes(fname)) {
      e.args.forEach((a) => this.check(a, ctx));
      const symbol = ctx.scope.lookup(fname);
      this.sink.error(
        e.callee,
        'unknown-function',
        symbol
          ? `\`${fname}\` is ${KIND_NOUN[symbol.kind]}, not a function.`
          : `Unknown function \`${fname}\`; the functions are min, max, abs, floor, ceil, binom, sum, count, any and all.`,
      );
      return UNKNOWN;
    }
    const f = fname as FunctionName;
    const infos = e.args.map((a) => {
      const info = this.expect(a, ctx, 'number', `an argument of \`${f}\``);
      if (info.param) this.parameterIn(a, 'parameter-in-function', `\`${f}(…)\``);
      return info;
    });
    const [min, max] = ARITY[f];
    if (infos.length < min || infos.length > max) {
      const expected = max === Infinity ? `at least ${min} argument` : plural(min, 'argument');
      this.sink.error(
        e,
        'wrong-arguments',
        `\`${f}\` takes ${expected}, but ${plural(infos.length, 'argument')} ${infos.length === 1 ? 'is' : 'are'} given.`,
      );
      return { type: 'number', param: false, constant: false, integer: false };
    }
    const constant = infos.every((i) => i.constant);
    const integer = f === 'floor' || f === 'ceil' || f === 'binom' || infos.every((i) => i.integer);
    const info: ExprInfo = { type: 'number', param: false, constant, integer };
    const values = infos.map((i) => i.value);
    if (!constant || values.some((v) => v === undefined)) return info;
    return this.folded(e, info, applyFunction(f, values as number[]));
  }

  /** Declares the bindings of an aggregate or a loop in a fresh scope. */
  bindings(bindings: Binding[], ctx: ExprContext, owner: string, what: string): Scope {
    const scope = ctx.scope.child();
    for (const b of bindings) {
      const inner = { ...ctx, scope };
      for (const bound of [b.lo, b.hi]) {
        const info = this.expect(bound, inner, 'number', `${what}'s bound`);
        if (info.param) this.parameterIn(bound, 'parameter-in-range', `${what}'s range`);
        if (info.value !== undefined && !isIntegral(info.value)) {
          this.sink.error(
            bound,
            'not-integer',
            `\`${this.excerpt(bound)}\` is ${info.value}; a range's bounds must be integers.`,
          );
        }
      }
      this.declareLocal(scope, b.name, 'loop', b, owner);
    }
    return scope;
  }

  private aggregate(e: AggregateExpr, ctx: ExprContext): ExprInfo {
    const scope = this.bindings(e.bindings, ctx, ctx.owner ?? '', `\`${e.op}\``);
    const inner = { ...ctx, scope };
    const body =
      e.op === 'sum'
        ? this.expect(e.body, inner, 'number', 'the body of `sum`')
        : this.expect(e.body, inner, 'boolean', `the body of \`${e.op}\``);
    const type: ValueType = e.op === 'sum' || e.op === 'count' ? 'number' : 'boolean';
    const constant = !!ctx.constantFor;
    const info: ExprInfo = { type, param: body.param, constant, integer: e.op === 'count' || body.integer };
    if (!constant) return info;
    const lookup = (name: string) => {
      const s = this.globals.get(name);
      return s?.kind === 'const' ? s.value : undefined;
    };
    return this.folded(e, info, fold(e, lookup));
  }

  private binary(e: BinaryExpr, ctx: ExprContext): ExprInfo {
    const op = e.op;
    if (op === 'and' || op === 'or') {
      const a = this.expect(e.left, ctx, 'boolean', `an operand of \`${op}\``);
      const b = this.expect(e.right, ctx, 'boolean', `an operand of \`${op}\``);
      const constant = a.constant && b.constant;
      const info: ExprInfo = { type: 'boolean', param: false, constant, integer: false };
      if (a.value === undefined || b.value === undefined) return info;
      return this.folded(e, info, applyBinary(op, a.value, b.value));
    }
    if (op === '==' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>=') {
      const equality = op === '==' || op === '!=';
      const a = equality ? this.check(e.left, ctx) : this.expect(e.left, ctx, 'number', `an operand of \`${op}\``);
      const b = equality ? this.check(e.right, ctx) : this.expect(e.right, ctx, 'number', `an operand of \`${op}\``);
      if (equality && a.type !== 'unknown' && b.type !== 'unknown' && a.type !== b.type) {
        this.sink.error(e, 'type-mismatch', `\`${op}\` compares a number with a condition in \`${this.excerpt(e)}\`.`);
      }
      if (a.param || b.param) this.parameterIn(e, 'parameter-in-condition', 'a comparison');
      const constant = a.constant && b.constant;
      const info: ExprInfo = { type: 'boolean', param: false, constant, integer: false };
      if (a.value === undefined || b.value === undefined) return info;
      return this.folded(e, info, applyBinary(op, a.value, b.value));
    }
    const a = this.expect(e.left, ctx, 'number', `an operand of \`${op}\``);
    const b = this.expect(e.right, ctx, 'number', `an operand of \`${op}\``);
    let param = a.param || b.param;
    if (op === '*' && a.param && b.param) {
      this.sink.error(
        e,
        'nonlinear-rate',
        `The rate must be linear in the parameters, but \`${this.excerpt(e.left)}\` and \`${this.excerpt(e.right)}\` both depend on parameters and are multiplied.`,
      );
      param = false;
    } else if (op === '/' && b.param) {
      this.sink.error(
        e.right,
        'parameter-division',
        `Division by \`${this.excerpt(e.right)}\`, which depends on a parameter: the rate must be linear in the parameters.`,
      );
      param = false;
    } else if (op === '%' && param) {
      const culprit = a.param ? e.left : e.right;
      this.sink.error(
        culprit,
        'nonlinear-rate',
        `The remainder \`%\` of \`${this.excerpt(culprit)}\`, which depends on a parameter, is not linear in the parameters.`,
      );
      param = false;
    }
    const constant = a.constant && b.constant;
    const info: ExprInfo = { type: 'number', param, constant, integer: op !== '/' && a.integer && b.integer };
    if (a.value === undefined || b.value === undefined) return info;
    return this.folded(e, info, applyBinary(op, a.value, b.value));
  }

  /** Reports a parameter used where the rate would stop being linear, at the parameter itself. */
  private parameterIn(e: Expr, code: string, where: string): void {
    const p = this.firstParameter(e) ?? e;
    const context = p.start === e.start && p.end === e.end ? '' : ` (\`${this.excerpt(e)}\`)`;
    this.sink.error(
      p,
      code,
      `Parameter \`${this.excerpt(p)}\` is used inside ${where}${context}; there the rate would not be linear in the parameters.`,
    );
  }

  private firstParameter(e: Expr): Identifier | undefined {
    switch (e.kind) {
      case 'name':
        return this.globals.get(e.name.name)?.kind === 'param' ? e.name : undefined;
      case 'unary':
        return this.firstParameter(e.operand);
      case 'binary':
        return this.firstParameter(e.left) ?? this.firstParameter(e.right);
      case 'if':
        return this.firstParameter(e.condition) ?? this.firstParameter(e.then) ?? this.firstParameter(e.else);
      case 'call':
        for (const a of e.args) {
          const p = this.firstParameter(a);
          if (p) return p;
        }
        return undefined;
      case 'aggregate':
        return this.firstParameter(e.body);
      default:
        return undefined;
    }
  }
}

function joinAll(spans: Span[]): Span {
  const first = spans[0];
  const last = spans[spans.length - 1];
  return { start: first.start, end: last.end, range: { start: first.range.start, end: last.range.end } };
}
