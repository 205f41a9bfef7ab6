// Constant folding: the arithmetic of the language on known values, shared by the
// checker (constants, sizes, constant indices) and the compiler (folding whatever is
// known once loop-free values are bound). Semantics match the engine's interpreter
// (docs/compiled-model.md), so folding never changes a result.

import type { BinaryOp, Expr, FunctionName } from './syntax';

/** A folded value, or why it could not be computed. Booleans are 0 and 1. */
export type Folded = { value: number } | { error: string };

export function isIntegral(v: number): boolean {
  return Number.isInteger(v);
}

export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  k = Math.min(k, n - k);
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

export function applyBinary(op: BinaryOp, a: number, b: number): Folded {
  switch (op) {
    case '+':
      return { value: a + b };
    case '-':
      return { value: a - b };
    case '*':
      return { value: a * b };
    case '/':
      return { value: a / b };
    case '%':
      if (!isIntegral(a) || !isIntegral(b)) return { error: `\`%\` needs integers, but got ${a} % ${b}` };
      if (b === 0) return { error: 'remainder by zero' };
      return { value: a % b };
    case '==':
      return { value: a === b ? 1 : 0 };
    case '!=':
      return { value: a !== b ? 1 : 0 };
    case '<':
      return { value: a < b ? 1 : 0 };
    case '<=':
      return { value: a <= b ? 1 : 0 };
    case '>':
      return { value: a > b ? 1 : 0 };
    case '>=':
      return { value: a >= b ? 1 : 0 };
    case 'and':
      return { value: a && b ? 1 : 0 };
    case 'or':
      return { value: a || b ? 1 : 0 };
  }
}

export function applyFunction(name: FunctionName, args: number[]): Folded {
  switch (name) {
    case 'min':
      return { value: Math.min(...args) };
    case 'max':
      return { value: Math.max(...args) };
    case 'abs':
      return { value: Math.abs(args[0]) };
    case 'floor':
      return { value: Math.floor(args[0]) };
    case 'ceil':
      return { value: Math.ceil(args[0]) };
    case 'binom':
      if (!isIntegral(args[0]) || !isIntegral(args[1]))
        return { error: `\`binom\` needs integers, but got binom(${args[0]}, ${args[1]})` };
      return { value: binomial(args[0], args[1]) };
  }
}

/** Aggregates are folded only while this many body evaluations suffice. */
const FOLD_BUDGET = 100_000;

/**
 * Folds `e` when every name in it has a known value (`lookup` returns undefined for
 * names that depend on the state). Returns undefined when the value is not known
 * before exploration; an error when it is known to be invalid, or when its aggregates
 * would take more than FOLD_BUDGET evaluations (a rate's or reward's value is then
 * the engine's to compute; a constant's is refused).
 */
export function fold(e: Expr, lookup: (name: string) => number | undefined): Folded | undefined {
  const budget = { left: FOLD_BUDGET };
  return foldIn(e, lookup, budget);
}

function foldIn(e: Expr, lookup: (name: string) => number | undefined, budget: { left: number }): Folded | undefined {
  switch (e.kind) {
    case 'number':
      return { value: e.value };
    case 'boolean':
      return { value: e.value ? 1 : 0 };
    case 'name': {
      const v = lookup(e.name.name);
      return v === undefined ? undefined : { value: v };
    }
    case 'index':
    case 'error':
      return undefined;
    case 'unary': {
      const a = foldIn(e.operand, lookup, budget);
      if (!a || 'error' in a) return a;
      return { value: e.op === '-' ? -a.value : 1 - a.value };
    }
    case 'binary': {
      const a = foldIn(e.left, lookup, budget);
      if (a && 'error' in a) return a;
      // Short-circuit like the engine: `false and X` is false even when X is unknown.
      if (a && e.op === 'and' && a.value === 0) return { value: 0 };
      if (a && e.op === 'or' && a.value !== 0) return { value: 1 };
      const b = foldIn(e.right, lookup, budget);
      if (!a || !b) return b && 'error' in b ? b : undefined;
      if ('error' in b) return b;
      return applyBinary(e.op, a.value, b.value);
    }
    case 'if': {
      const c = foldIn(e.condition, lookup, budget);
      if (!c || 'error' in c) return c;
      return foldIn(c.value !== 0 ? e.then : e.else, lookup, budget);
    }
    case 'call': {
      const args: number[] = [];
      for (const arg of e.args) {
        const a = foldIn(arg, lookup, budget);
        if (!a || 'error' in a) return a;
        args.push(a.value);
      }
      if (e.callee.name === 'sum') return undefined; // sum(NAME) reads the state
      return applyFunction(e.callee.name as FunctionName, args);
    }
    case 'aggregate': {
      let total = 0;
      const bound = new Map<string, number>();
      const inner = (name: string) => bound.get(name) ?? lookup(name);
      const walk = (level: number): Folded | undefined => {
        if (level === e.bindings.length) {
          // An error, not "unknown": a constant left unknown was compiled as a state
          // cell that does not exist, and the engine refused the model with no place.
          if (--budget.left < 0) return { error: `its aggregates evaluate their body more than ${FOLD_BUDGET} times` };
          const v = foldIn(e.body, inner, budget);
          if (!v || 'error' in v) return v;
          total += e.op === 'all' ? (v.value ? 0 : 1) : v.value;
          return { value: total };
        }
        const b = e.bindings[level];
        const lo = foldIn(b.lo, inner, budget);
        const hi = foldIn(b.hi, inner, budget);
        if (!lo || 'error' in lo) return lo;
        if (!hi || 'error' in hi) return hi;
        if (!isIntegral(lo.value) || !isIntegral(hi.value))
          return { error: `the range ${lo.value}..${hi.value} is not integral` };
        for (let i = lo.value; i <= hi.value; i++) {
          bound.set(b.name.name, i);
          const r = walk(level + 1);
          if (!r || 'error' in r) return r;
        }
        bound.delete(b.name.name);
        return { value: total };
      };
      const r = walk(0);
      if (!r || 'error' in r) return r;
      switch (e.op) {
        case 'sum':
        case 'count':
          return { value: total };
        case 'any':
          return { value: total > 0 ? 1 : 0 };
        case 'all':
          return { value: total === 0 ? 1 : 0 };
      }
    }
  }
}
