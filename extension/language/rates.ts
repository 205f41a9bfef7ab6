// The linear form of a rate, c0 + c1·θ1 + … + cP·θP: each coefficient as an
// expression free of parameters, derived symbolically from the rate. The checker has
// already made sure the rate is linear (a product has at most one parameter-dependent
// factor, and nothing divides by a parameter), so the derivation never guesses.

import type { SymbolInfo } from './names';
import { copySpan, type Expr, type Span } from './syntax';

/** Coefficients c0 … cP of `rate`; null where a coefficient is identically zero. */
export function rateCoefficients(rate: Expr, globals: Map<string, SymbolInfo>, paramCount: number): Array<Expr | null> {
  const form = new LinearForm(globals);
  const out: Array<Expr | null> = [];
  for (let k = 0; k <= paramCount; k++) out.push(form.coefficient(rate, k));
  return out;
}

class LinearForm {
  constructor(private readonly globals: Map<string, SymbolInfo>) {}

  private param(e: Expr): SymbolInfo | undefined {
    if (e.kind !== 'name') return undefined;
    const s = this.globals.get(e.name.name);
    return s?.kind === 'param' ? s : undefined;
  }

  private dependsOnParam(e: Expr): boolean {
    switch (e.kind) {
      case 'name':
        return this.param(e) !== undefined;
      case 'unary':
        return this.dependsOnParam(e.operand);
      case 'binary':
        return this.dependsOnParam(e.left) || this.dependsOnParam(e.right);
      case 'if':
        return this.dependsOnParam(e.then) || this.dependsOnParam(e.else);
      case 'aggregate':
        return e.op === 'sum' && this.dependsOnParam(e.body);
      default:
        return false;
    }
  }

  /**
   * The coefficient of θ_k (k ≥ 1) or the constant term (k = 0) of a linear rate, as
   * an expression free of parameters; null when it is zero. The checker guarantees
   * linearity: a product has at most one parameter-dependent factor, and no
   * parameter divides.
   */
  coefficient(e: Expr, k: number): Expr | null {
    if (!this.dependsOnParam(e)) return k === 0 ? e : null;
    switch (e.kind) {
      case 'name':
        return this.param(e)!.index! + 1 === k ? synthNumber(1, e) : null;
      case 'unary': {
        const c = this.coefficient(e.operand, k);
        return c && { ...e, operand: c, depth: c.depth + 1 };
      }
      case 'binary': {
        if (e.op === '+' || e.op === '-') {
          const l = this.coefficient(e.left, k);
          const r = this.coefficient(e.right, k);
          if (!r) return l;
          if (!l) return e.op === '+' ? r : { kind: 'unary', op: '-', operand: r, depth: r.depth + 1, ...copySpan(e) };
          return { ...e, left: l, right: r, depth: Math.max(l.depth, r.depth) + 1 };
        }
        if (e.op === '*' && this.dependsOnParam(e.left)) {
          const l = this.coefficient(e.left, k);
          if (!l) return null;
          return isOne(l) ? e.right : { ...e, left: l, depth: Math.max(l.depth, e.right.depth) + 1 };
        }
        // `a * θ-term` or `θ-term / a`: the constant factor stays where it is.
        const side = e.op === '*' ? 'right' : 'left';
        const c = this.coefficient(e[side], k);
        if (!c) return null;
        if (e.op === '*' && isOne(c)) return e.left;
        return { ...e, [side]: c, depth: Math.max(e.left.depth, e.right.depth, c.depth) + 1 };
      }
      case 'if': {
        const a = this.coefficient(e.then, k);
        const b = this.coefficient(e.else, k);
        if (!a && !b) return null;
        const then = a ?? synthNumber(0, e.then);
        const otherwise = b ?? synthNumber(0, e.else);
        return { ...e, then, else: otherwise, depth: Math.max(e.condition.depth, then.depth, otherwise.depth) + 1 };
      }
      case 'aggregate': {
        const c = this.coefficient(e.body, k);
        return c && { ...e, body: c, depth: Math.max(e.depth, c.depth + 1) };
      }
      default:
        return null;
    }
  }
}

function synthNumber(value: number, at: Span): Expr {
  return { kind: 'number', value, integer: true, depth: 1, ...copySpan(at) };
}

function isOne(e: Expr): boolean {
  return e.kind === 'number' && e.value === 1;
}
