// A small, independent interpreter of the compiled-model program format and a
// breadth-first explorer following the language spec's exploration semantics. The
// tests use it to check what the compiler emits by running it, not by reading it.

import {
  type CompiledModel,
  type CompiledRule,
  OP_ARGS,
  Op,
  type Program,
} from '../../extension/protocol/compiled-model';

export class ProgramError extends Error {
  constructor(
    message: string,
    readonly site: number,
  ) {
    super(message);
  }
}

export function run(code: Program, state: number[], locals: number[] = []): number {
  const stack: number[] = [];
  let pc = 0;
  let steps = 0;
  const int = (v: number, site: number) => {
    if (!Number.isInteger(v)) throw new ProgramError(`${v} is not an integer`, site);
    return v;
  };
  while (pc < code.length) {
    if (++steps > 10_000_000) throw new Error('program runs too long');
    const op = code[pc];
    const a1 = code[pc + 1];
    const a2 = code[pc + 2];
    let next = pc + 1 + OP_ARGS[op];
    const pop = () => {
      if (stack.length === 0) throw new Error(`stack underflow at ${pc}`);
      return stack.pop()!;
    };
    switch (op) {
      case Op.CONST:
        stack.push(a1);
        break;
      case Op.LOAD:
        stack.push(locals[a1]);
        break;
      case Op.STORE:
        locals[a1] = pop();
        break;
      case Op.CELL:
        stack.push(state[a1]);
        break;
      case Op.CELL_AT: {
        const i = pop();
        if (!(i >= 0 && i < state.length)) throw new Error(`cell ${i} outside the state`);
        stack.push(state[i]);
        break;
      }
      case Op.INDEX: {
        const i = pop();
        if (!Number.isInteger(i) || i < 0 || i >= a1)
          throw new ProgramError(`index ${i} out of range 0..${a1 - 1}`, a2);
        stack.push(i);
        break;
      }
      case Op.INT:
        int(stack[stack.length - 1], a1);
        break;
      case Op.ADD: {
        const b = pop();
        stack.push(pop() + b);
        break;
      }
      case Op.SUB: {
        const b = pop();
        stack.push(pop() - b);
        break;
      }
      case Op.MUL: {
        const b = pop();
        stack.push(pop() * b);
        break;
      }
      case Op.DIV: {
        const b = pop();
        stack.push(pop() / b);
        break;
      }
      case Op.MOD: {
        const b = int(pop(), a1);
        const a = int(pop(), a1);
        if (b === 0) throw new ProgramError('remainder by zero', a1);
        stack.push(a % b);
        break;
      }
      case Op.NEG:
        stack.push(-pop());
        break;
      case Op.EQ: {
        const b = pop();
        stack.push(pop() === b ? 1 : 0);
        break;
      }
      case Op.NE: {
        const b = pop();
        stack.push(pop() !== b ? 1 : 0);
        break;
      }
      case Op.LT: {
        const b = pop();
        stack.push(pop() < b ? 1 : 0);
        break;
      }
      case Op.LE: {
        const b = pop();
        stack.push(pop() <= b ? 1 : 0);
        break;
      }
      case Op.GT: {
        const b = pop();
        stack.push(pop() > b ? 1 : 0);
        break;
      }
      case Op.GE: {
        const b = pop();
        stack.push(pop() >= b ? 1 : 0);
        break;
      }
      case Op.NOT:
        stack.push(1 - pop());
        break;
      case Op.JUMP:
        next = a1;
        break;
      case Op.JUMP_IF_FALSE:
        if (pop() === 0) next = a1;
        break;
      case Op.MIN:
      case Op.MAX: {
        const vals = stack.splice(stack.length - a1, a1);
        stack.push(op === Op.MIN ? Math.min(...vals) : Math.max(...vals));
        break;
      }
      case Op.ABS:
        stack.push(Math.abs(pop()));
        break;
      case Op.FLOOR:
        stack.push(Math.floor(pop()));
        break;
      case Op.CEIL:
        stack.push(Math.ceil(pop()));
        break;
      case Op.BINOM: {
        const k = int(pop(), a1);
        const n = int(pop(), a1);
        let r = 1;
        if (k < 0 || k > n) r = 0;
        else for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
        stack.push(Math.round(r));
        break;
      }
      case Op.POP:
        pop();
        break;
      case Op.DUP:
        stack.push(stack[stack.length - 1]);
        break;
      default:
        throw new Error(`bad opcode ${op} at ${pc}`);
    }
    pc = next;
  }
  if (stack.length !== 1) throw new Error(`program left ${stack.length} values`);
  return stack[0];
}

export interface Transition {
  to: number[];
  rate: number[]; // c0, c1 … cP
  rule: string;
}

/**
 * Every transition out of `state`: rules in order, bindings in loop order. Firings that
 * leave the state unchanged are dropped and counted in `dropped.self`.
 */
export function transitions(model: CompiledModel, state: number[], dropped = { self: 0 }): Transition[] {
  const out: Transition[] = [];
  for (const rule of model.rules) fire(model, rule, state, out, dropped);
  return out;
}

function fire(
  model: CompiledModel,
  rule: CompiledRule,
  state: number[],
  out: Transition[],
  dropped: { self: number },
): void {
  const locals = new Array<number>(rule.locals).fill(0);
  const loop = (level: number): void => {
    if (level < rule.loops.length) {
      const l = rule.loops[level];
      const lo = run(l.lo, state, locals);
      const hi = run(l.hi, state, locals);
      for (let v = lo; v <= hi; v++) {
        locals[l.slot] = v;
        loop(level + 1);
      }
      return;
    }
    for (const step of rule.steps) {
      if ('let' in step) locals[step.let] = run(step.code, state, locals);
      else if (run(step.when, state, locals) === 0) return;
    }
    const rate = rule.rate.map((c) => (c ? run(c, state, locals) : 0));
    if (rate.some((c) => !(c >= 0) || !Number.isFinite(c)))
      throw new Error(`rule ${rule.name}: bad coefficient ${rate}`);
    if (rate.every((c) => c === 0)) return;
    const changes = rule.updates.map((u) => ({
      cell: run(u.cell, state, locals),
      op: u.op,
      value: run(u.value, state, locals),
    }));
    const to = state.slice();
    for (const c of changes)
      to[c.cell] = c.op === 'set' ? c.value : c.op === 'add' ? to[c.cell] + c.value : to[c.cell] - c.value;
    for (const v of model.variables) {
      const cells = v.dims.reduce((a, b) => a * b, 1);
      for (let i = v.offset; i < v.offset + cells; i++) {
        if (to[i] < v.lo || (v.hi !== null && to[i] > v.hi))
          throw new Error(`rule ${rule.name} leaves the bounds of ${v.name}`);
      }
    }
    if (to.every((x, i) => x === state[i])) {
      dropped.self++; // a self-transition is dropped, but the rule fired: not absorbing
      return;
    }
    out.push({ to, rate, rule: rule.name });
  };
  loop(0);
}

export interface Graph {
  /** Index 0 is the starting vertex S (an empty state). */
  states: number[][];
  /** from → to → summed linear form. */
  edges: Map<number, Map<number, number[]>>;
  ruleFirings: Record<string, number>;
}

export function explore(model: CompiledModel, limit = 100_000): Graph {
  const index = new Map<string, number>();
  const states: number[][] = [[]];
  const edges = new Map<number, Map<number, number[]>>();
  const ruleFirings: Record<string, number> = Object.fromEntries(model.rules.map((r) => [r.name, 0]));
  const queue: number[] = [];
  const vertex = (s: number[]) => {
    const key = s.join(',');
    let v = index.get(key);
    if (v === undefined) {
      v = states.length;
      if (v > limit) throw new Error('state limit');
      states.push(s);
      index.set(key, v);
      queue.push(v);
    }
    return v;
  };
  const addEdge = (from: number, to: number, w: number[]) => {
    let m = edges.get(from);
    if (!m) {
      m = new Map();
      edges.set(from, m);
    }
    const old = m.get(to);
    m.set(to, old ? old.map((x, i) => x + w[i]) : w);
  };
  for (const s of model.starts) addEdge(0, vertex(s.state), [s.probability]);
  while (queue.length) {
    const v = queue.shift()!;
    const s = states[v];
    if (model.absorb.some((a) => run(a.code, s, new Array(a.locals).fill(0)) !== 0)) continue;
    const dropped = { self: 0 };
    const out = transitions(model, s, dropped);
    // The spec: a state is absorbing when no rule fires; one where rules fire only to
    // leave it unchanged can never reach an absorbing state.
    if (out.length === 0 && dropped.self > 0)
      throw new Error(`state (${s.join(', ')}) can never reach an absorbing state`);
    for (const t of out) {
      ruleFirings[t.rule]++;
      addEdge(v, vertex(t.to), t.rate);
    }
  }
  return { states, edges, ruleFirings };
}

export function edgeCount(g: Graph): number {
  let n = 0;
  for (const m of g.edges.values()) n += m.size;
  return n;
}
