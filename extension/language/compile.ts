// Compiles a checked model to the compiled-model format (docs/compiled-model.md):
// every expression becomes a stack-machine program, a rate becomes P + 1 programs
// (one per coefficient of its linear form), aggregates become loops over local slots,
// and every construct that can fail at exploration carries a site (source range).
// Runs only on models without errors, so names resolve and types are right.

import {
  type CompiledModel,
  type CompiledRule,
  type CompiledStep,
  type CompiledUpdate,
  Op,
  type Program,
  type Site,
} from '../protocol/compiled-model';
import type { CheckResult } from './checker';
import { fold } from './constants';
import type { DiagnosticSink } from './diagnostics';
import type { SymbolInfo } from './names';
import { rateCoefficients } from './rates';
import type {
  AggregateExpr,
  Assignment,
  Binding,
  Declaration,
  Expr,
  IndexExpr,
  ModelFile,
  RuleDecl,
  Span,
} from './syntax';

/** The engine rejects programs deeper than this (docs/compiled-model.md). */
const MAX_STACK = 256;

/** How each opcode changes the stack depth (MIN/MAX are handled apart). */
const STACK_EFFECT: Record<number, number> = {
  [Op.CONST]: 1,
  [Op.LOAD]: 1,
  [Op.STORE]: -1,
  [Op.CELL]: 1,
  [Op.CELL_AT]: 0,
  [Op.INDEX]: 0,
  [Op.INT]: 0,
  [Op.ADD]: -1,
  [Op.SUB]: -1,
  [Op.MUL]: -1,
  [Op.DIV]: -1,
  [Op.MOD]: -1,
  [Op.NEG]: 0,
  [Op.EQ]: -1,
  [Op.NE]: -1,
  [Op.LT]: -1,
  [Op.LE]: -1,
  [Op.GT]: -1,
  [Op.GE]: -1,
  [Op.NOT]: 0,
  [Op.JUMP]: 0,
  [Op.JUMP_IF_FALSE]: -1,
  [Op.ABS]: 0,
  [Op.FLOOR]: 0,
  [Op.CEIL]: 0,
  [Op.BINOM]: -1,
  [Op.POP]: -1,
  [Op.DUP]: 1,
};

const BINARY_OPS: Record<string, number> = {
  '+': Op.ADD,
  '-': Op.SUB,
  '*': Op.MUL,
  '/': Op.DIV,
  '%': Op.MOD,
  '==': Op.EQ,
  '!=': Op.NE,
  '<': Op.LT,
  '<=': Op.LE,
  '>': Op.GT,
  '>=': Op.GE,
};

class ProgramBuilder {
  readonly code: number[] = [];
  depth = 0;
  maxDepth = 0;

  emit(op: number, ...args: number[]): void {
    this.code.push(op, ...args);
    this.depth += op === Op.MIN || op === Op.MAX ? 1 - args[0] : STACK_EFFECT[op];
    if (this.depth > this.maxDepth) this.maxDepth = this.depth;
  }

  /** Emits a jump whose target is filled in later by `land`. */
  jump(op: number): number {
    this.emit(op, -1);
    return this.code.length - 1;
  }

  land(hole: number): void {
    this.code[hole] = this.code.length;
  }

  get here(): number {
    return this.code.length;
  }
}

/** Where locals live while one rule, absorb condition or reward is compiled. */
class Frame {
  private readonly slots = new Map<string, number>();
  /** Values known at compile time: a reward family's variable. */
  readonly known = new Map<string, number>();
  size = 0;

  allocate(): number {
    return this.size++;
  }

  bind(name: string): number {
    const slot = this.allocate();
    this.slots.set(name, slot);
    return slot;
  }

  slotOf(name: string): number | undefined {
    return this.slots.get(name);
  }

  unbind(name: string): void {
    this.slots.delete(name);
  }
}

export function compile(
  file: ModelFile,
  checked: CheckResult,
  fileName: string,
  sink: DiagnosticSink,
): CompiledModel | undefined {
  const model = new Compiler(checked, sink).model(file, fileName);
  return sink.hasErrors ? undefined : model;
}

class Compiler {
  private readonly sites: Site[] = [];
  private readonly siteIndex = new Map<string, number>();

  constructor(
    private readonly checked: CheckResult,
    private readonly sink: DiagnosticSink,
  ) {}

  model(file: ModelFile, fileName: string): CompiledModel {
    const c = this.checked;
    const decls = file.declarations;
    const defaultName = fileName.replace(/^.*[\\/]/, '').replace(/\.phasic$/, '');
    return {
      format: 'phasic-compiled-model',
      version: 1,
      name: c.modelName ?? defaultName,
      params: c.params.map((p) => ({ name: p.name, default: p.default ?? 1, lo: p.lo ?? null, hi: p.hi ?? null })),
      stateLength: c.stateLength,
      variables: c.states.map((s) => ({
        name: s.name,
        offset: s.offset!,
        dims: s.dims ?? [],
        lo: s.lo ?? 0,
        hi: s.hi ?? null,
      })),
      starts: c.starts.map((s) => ({
        probability: s.probability,
        state: s.state,
        site: s.decl ? this.site(s.decl.probability ?? s.decl) : -1,
      })),
      absorb: decls.flatMap((d) => (d.kind === 'absorb' && d.condition ? [this.standalone(d.condition)] : [])),
      rules: decls.flatMap((d) => (d.kind === 'rule' ? [this.rule(d)] : [])),
      rewards: [{ name: 'time', locals: 0, code: [Op.CONST, 1] }, ...decls.flatMap((d) => this.rewards(d))],
      sites: this.sites,
    };
  }

  private site(span: Span): number {
    const r = span.range;
    const key = `${r.start.line}:${r.start.character}:${r.end.line}:${r.end.character}`;
    let index = this.siteIndex.get(key);
    if (index === undefined) {
      index = this.sites.length;
      this.sites.push([r.start.line, r.start.character, r.end.line, r.end.character]);
      this.siteIndex.set(key, index);
    }
    return index;
  }

  private standalone(e: Expr): { locals: number; code: Program; site: number } {
    const frame = new Frame();
    return { code: this.program(e, frame), locals: frame.size, site: this.site(e) };
  }

  private rewards(d: Declaration): Array<{ name: string; locals: number; code: Program; site: number }> {
    if (d.kind !== 'reward' || !d.name || !d.value) return [];
    const value = d.value;
    const site = this.site(d.name);
    if (!d.family) {
      const { code, locals } = this.standalone(value);
      return [{ name: d.name.name, locals, code, site }];
    }
    const range = this.checked.globals.get(d.name.name)?.family;
    if (!range) return [];
    const out = [];
    for (let k = range.lo; k <= range.hi; k++) {
      const frame = new Frame();
      frame.known.set(d.family.name.name, k);
      out.push({ name: `${d.name.name}[${k}]`, code: this.program(value, frame), locals: frame.size, site });
    }
    return out;
  }

  private rule(d: RuleDecl): CompiledRule {
    const frame = new Frame();
    const loops = d.bindings.map((b) => {
      const lo = this.bound(b.lo, frame);
      const hi = this.bound(b.hi, frame);
      return { name: b.name.name, slot: frame.bind(b.name.name), lo, hi };
    });
    const steps: CompiledStep[] = d.clauses.map((clause) => {
      if (clause.kind === 'when')
        return { when: this.program(clause.condition, frame), site: this.site(clause.condition) };
      const code = this.program(clause.value, frame);
      return { let: frame.bind(clause.name.name), code, site: this.site(clause) };
    });
    const rate = d.rate!;
    const coefficients = rateCoefficients(rate, this.checked.globals, this.checked.params.length).map((c) =>
      c && !this.isZero(c, frame) ? this.program(c, frame) : null,
    );
    const updates = d.updates.map((u) => this.update(u, frame));
    return {
      name: d.name!.name,
      site: this.site(d.name!),
      locals: frame.size,
      loops,
      steps,
      rate: coefficients,
      rateSite: this.site(rate),
      updates,
    };
  }

  private bound(e: Expr, frame: Frame): Program {
    const b = new ProgramBuilder();
    this.integer(e, b, frame);
    return this.finish(b, e);
  }

  /** Compiles a value that must be integral; the INT check is left out when it is a known integer. */
  private integer(e: Expr, b: ProgramBuilder, frame: Frame): void {
    this.expr(e, b, frame);
    if (b.code.length === 2 && b.code[0] === Op.CONST && Number.isInteger(b.code[1])) return;
    b.emit(Op.INT, this.site(e));
  }

  private update(u: Assignment, frame: Frame): CompiledUpdate {
    const symbol = this.checked.globals.get(u.target.name.name)!;
    const cell = new ProgramBuilder();
    this.cellIndex(symbol, u.target.indices, cell, frame);
    const value = new ProgramBuilder();
    this.integer(u.value, value, frame);
    return {
      cell: this.finish(cell, u.target),
      op: u.op === '=' ? 'set' : u.op === '+=' ? 'add' : 'sub',
      value: this.finish(value, u.value),
      site: this.site(u),
    };
  }

  private program(e: Expr, frame: Frame): Program {
    const b = new ProgramBuilder();
    this.expr(e, b, frame);
    return this.finish(b, e);
  }

  private finish(b: ProgramBuilder, at: Span): Program {
    if (b.maxDepth > MAX_STACK) {
      this.sink.error(
        at,
        'too-complex',
        `This expression needs ${b.maxDepth} stack slots in the engine, more than ${MAX_STACK}; split it with \`let\`.`,
      );
    }
    return b.code;
  }

  // ---- rates -----------------------------------------------------------------------

  private isZero(e: Expr, frame: Frame): boolean {
    const v = fold(e, (name) => this.knownValue(name, frame));
    return v !== undefined && 'value' in v && v.value === 0;
  }

  // ---- expressions -----------------------------------------------------------------

  private knownValue(name: string, frame: Frame): number | undefined {
    if (frame.slotOf(name) !== undefined) return undefined;
    const k = frame.known.get(name);
    if (k !== undefined) return k;
    const s = this.checked.globals.get(name);
    return s?.kind === 'const' ? s.value : undefined;
  }

  private expr(e: Expr, b: ProgramBuilder, frame: Frame): void {
    if (e.kind !== 'number' && e.kind !== 'boolean') {
      const v = fold(e, (name) => this.knownValue(name, frame));
      if (v && 'value' in v && Number.isFinite(v.value)) {
        b.emit(Op.CONST, v.value);
        return;
      }
    }
    switch (e.kind) {
      case 'number':
        b.emit(Op.CONST, e.value);
        return;
      case 'boolean':
        b.emit(Op.CONST, e.value ? 1 : 0);
        return;
      case 'error':
        throw new Error('compile called on a model with errors');
      case 'name': {
        const slot = frame.slotOf(e.name.name);
        if (slot !== undefined) return b.emit(Op.LOAD, slot);
        const known = this.knownValue(e.name.name, frame);
        if (known !== undefined) return b.emit(Op.CONST, known);
        const s = this.checked.globals.get(e.name.name)!;
        return b.emit(Op.CELL, s.offset!);
      }
      case 'index':
        return this.read(e, b, frame);
      case 'unary':
        this.expr(e.operand, b, frame);
        return b.emit(e.op === '-' ? Op.NEG : Op.NOT);
      case 'binary': {
        if (e.op === 'and' || e.op === 'or') return this.logic(e.op, e.left, e.right, b, frame);
        this.expr(e.left, b, frame);
        this.expr(e.right, b, frame);
        const op = BINARY_OPS[e.op];
        return op === Op.MOD ? b.emit(op, this.site(e)) : b.emit(op);
      }
      case 'if': {
        this.expr(e.condition, b, frame);
        const toElse = b.jump(Op.JUMP_IF_FALSE);
        this.expr(e.then, b, frame);
        const toEnd = b.jump(Op.JUMP);
        b.land(toElse);
        b.depth--; // the `then` value is not on the stack on this path
        this.expr(e.else, b, frame);
        b.land(toEnd);
        return;
      }
      case 'call': {
        const f = e.callee.name;
        if (f === 'sum') return this.sumArray(e.args[0], b, frame, e);
        for (const a of e.args) this.expr(a, b, frame);
        if (f === 'min' || f === 'max') return b.emit(f === 'min' ? Op.MIN : Op.MAX, e.args.length);
        if (f === 'binom') return b.emit(Op.BINOM, this.site(e));
        return b.emit(f === 'abs' ? Op.ABS : f === 'floor' ? Op.FLOOR : Op.CEIL);
      }
      case 'aggregate':
        return this.aggregate(e, b, frame);
    }
  }

  private logic(op: 'and' | 'or', left: Expr, right: Expr, b: ProgramBuilder, frame: Frame): void {
    this.expr(left, b, frame);
    const toShort = b.jump(Op.JUMP_IF_FALSE);
    if (op === 'and') {
      this.expr(right, b, frame);
      const toEnd = b.jump(Op.JUMP);
      b.land(toShort);
      b.depth--;
      b.emit(Op.CONST, 0);
      b.land(toEnd);
    } else {
      b.emit(Op.CONST, 1);
      const toEnd = b.jump(Op.JUMP);
      b.land(toShort);
      b.depth--;
      this.expr(right, b, frame);
      b.land(toEnd);
    }
  }

  /** The state index of `symbol[indices]` when every index is known at compile time. */
  private constantCell(symbol: SymbolInfo, indices: Expr[], frame: Frame): number | undefined {
    const dims = symbol.dims ?? [];
    let flat = 0;
    for (let k = 0; k < indices.length; k++) {
      const v = fold(indices[k], (name) => this.knownValue(name, frame));
      if (!v || !('value' in v)) return undefined;
      flat = flat * dims[k] + v.value;
    }
    return symbol.offset! + flat;
  }

  /** Pushes the state index of `symbol[indices]`, each unknown index checked by INDEX. */
  private cellIndex(symbol: SymbolInfo, indices: Expr[], b: ProgramBuilder, frame: Frame): void {
    const known = this.constantCell(symbol, indices, frame);
    if (known !== undefined) return b.emit(Op.CONST, known);
    const dims = symbol.dims ?? [];
    indices.forEach((ix, k) => {
      if (k > 0) {
        b.emit(Op.CONST, dims[k]);
        b.emit(Op.MUL);
      }
      this.expr(ix, b, frame);
      b.emit(Op.INDEX, dims[k], this.site(ix));
      if (k > 0) b.emit(Op.ADD);
    });
    if (symbol.offset !== 0) {
      b.emit(Op.CONST, symbol.offset!);
      b.emit(Op.ADD);
    }
  }

  private read(e: IndexExpr, b: ProgramBuilder, frame: Frame): void {
    const symbol = this.checked.globals.get(e.name.name)!;
    const known = this.constantCell(symbol, e.indices, frame);
    if (known !== undefined) return b.emit(Op.CELL, known);
    this.cellIndex(symbol, e.indices, b, frame);
    b.emit(Op.CELL_AT);
  }

  /** `sum(NAME)`: a loop over the cells of a state array. */
  private sumArray(arg: Expr, b: ProgramBuilder, frame: Frame, call: Span): void {
    const symbol = this.checked.globals.get((arg as { name: { name: string } }).name.name)!;
    const cells = (symbol.dims ?? []).reduce((x, y) => x * y, 1);
    if ((symbol.dims ?? []).length === 0) return b.emit(Op.CELL, symbol.offset!);
    const acc = frame.allocate();
    const i = frame.allocate();
    b.emit(Op.CONST, 0);
    b.emit(Op.STORE, acc);
    b.emit(Op.CONST, 0);
    b.emit(Op.STORE, i);
    const top = b.here;
    b.emit(Op.LOAD, i);
    b.emit(Op.CONST, cells);
    b.emit(Op.LT);
    const toEnd = b.jump(Op.JUMP_IF_FALSE);
    b.emit(Op.LOAD, acc);
    b.emit(Op.LOAD, i);
    b.emit(Op.INDEX, cells, this.site(call));
    if (symbol.offset !== 0) {
      b.emit(Op.CONST, symbol.offset!);
      b.emit(Op.ADD);
    }
    b.emit(Op.CELL_AT);
    b.emit(Op.ADD);
    b.emit(Op.STORE, acc);
    this.increment(i, b);
    b.emit(Op.JUMP, top);
    b.land(toEnd);
    b.emit(Op.LOAD, acc);
  }

  private increment(slot: number, b: ProgramBuilder): void {
    b.emit(Op.LOAD, slot);
    b.emit(Op.CONST, 1);
    b.emit(Op.ADD);
    b.emit(Op.STORE, slot);
  }

  /**
   * `sum/count/any/all(V in A..B, …: BODY)` as nested loops that add the body (or,
   * for `all`, its negation) into an accumulator slot.
   */
  private aggregate(e: AggregateExpr, b: ProgramBuilder, frame: Frame): void {
    const acc = frame.allocate();
    b.emit(Op.CONST, 0);
    b.emit(Op.STORE, acc);
    const open: Array<{ binding: Binding; slot: number; top: number; toEnd: number }> = [];
    for (const binding of e.bindings) {
      this.expr(binding.lo, b, frame);
      b.emit(Op.INT, this.site(binding.lo));
      const slot = frame.bind(binding.name.name);
      b.emit(Op.STORE, slot);
      const top = b.here;
      b.emit(Op.LOAD, slot);
      this.expr(binding.hi, b, frame);
      b.emit(Op.INT, this.site(binding.hi));
      b.emit(Op.LE);
      open.push({ binding, slot, top, toEnd: b.jump(Op.JUMP_IF_FALSE) });
    }
    b.emit(Op.LOAD, acc);
    this.expr(e.body, b, frame);
    if (e.op === 'all') b.emit(Op.NOT);
    b.emit(Op.ADD);
    b.emit(Op.STORE, acc);
    for (const loop of open.reverse()) {
      this.increment(loop.slot, b);
      b.emit(Op.JUMP, loop.top);
      b.land(loop.toEnd);
      frame.unbind(loop.binding.name.name);
    }
    b.emit(Op.LOAD, acc);
    if (e.op === 'any') {
      b.emit(Op.CONST, 0);
      b.emit(Op.GT);
    } else if (e.op === 'all') {
      b.emit(Op.CONST, 0);
      b.emit(Op.EQ);
    }
  }
}
