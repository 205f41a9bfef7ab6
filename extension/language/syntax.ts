// The syntax tree of a .phasic file. Every node carries its source span: offsets
// (for fast lookups) and a line/character range (what editors and diagnostics use).

export interface Position {
  line: number; // 0-based
  character: number; // 0-based, UTF-16 code units
}

export interface Range {
  start: Position;
  end: Position; // exclusive
}

export interface Span {
  range: Range;
  start: number; // offset of the first character
  end: number; // offset just past the last character
}

export interface Identifier extends Span {
  kind: 'identifier';
  name: string;
}

// ---- Expressions -------------------------------------------------------------

interface ExprBase extends Span {
  /** Height of this subtree; the parser bounds it so that tree walks cannot overflow. */
  depth: number;
}

export interface NumberLiteral extends ExprBase {
  kind: 'number';
  value: number;
  /** Written without `.` or exponent. */
  integer: boolean;
}

export interface BooleanLiteral extends ExprBase {
  kind: 'boolean';
  value: boolean;
}

export interface NameExpr extends ExprBase {
  kind: 'name';
  name: Identifier;
}

export interface IndexExpr extends ExprBase {
  kind: 'index';
  name: Identifier;
  indices: Expr[];
}

export const FUNCTIONS = ['min', 'max', 'abs', 'floor', 'ceil', 'binom'] as const;
export const AGGREGATES = ['sum', 'count', 'any', 'all'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];
export type AggregateName = (typeof AGGREGATES)[number];

export interface CallExpr extends ExprBase {
  kind: 'call';
  callee: Identifier;
  args: Expr[];
}

/** `sum(V in A..B, …: BODY)` and friends. `sum(NAME)` is a CallExpr. */
export interface AggregateExpr extends ExprBase {
  kind: 'aggregate';
  op: AggregateName;
  callee: Identifier;
  bindings: Binding[];
  body: Expr;
}

export type UnaryOp = '-' | 'not';
export interface UnaryExpr extends ExprBase {
  kind: 'unary';
  op: UnaryOp;
  operand: Expr;
}

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%';
export type ComparisonOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type LogicOp = 'and' | 'or';
export type BinaryOp = ArithmeticOp | ComparisonOp | LogicOp;

export interface BinaryExpr extends ExprBase {
  kind: 'binary';
  op: BinaryOp;
  /** Span of the operator token, where operator-specific diagnostics go. */
  opSpan: Span;
  left: Expr;
  right: Expr;
}

export interface IfExpr extends ExprBase {
  kind: 'if';
  condition: Expr;
  then: Expr;
  else: Expr;
}

/** Stands in for an expression that failed to parse; its error is already reported. */
export interface ErrorExpr extends ExprBase {
  kind: 'error';
}

export type Expr =
  | NumberLiteral
  | BooleanLiteral
  | NameExpr
  | IndexExpr
  | CallExpr
  | AggregateExpr
  | UnaryExpr
  | BinaryExpr
  | IfExpr
  | ErrorExpr;

// ---- Declarations ------------------------------------------------------------

/** `V in A..B` */
export interface Binding extends Span {
  kind: 'binding';
  name: Identifier;
  lo: Expr;
  hi: Expr;
}

/** `LO..HI` after `in` */
export interface Bounds extends Span {
  lo: Expr;
  hi: Expr;
}

/** `NAME` or `NAME[i]…` on the left of an assignment. */
export interface Target extends Span {
  kind: 'target';
  name: Identifier;
  indices: Expr[];
}

export type UpdateOperator = '=' | '+=' | '-=';

export interface Assignment extends Span {
  kind: 'assignment';
  target: Target;
  op: UpdateOperator;
  value: Expr;
}

export interface ModelDecl extends Span {
  kind: 'model';
  name?: Identifier;
}

export interface ConstDecl extends Span {
  kind: 'const';
  name?: Identifier;
  value?: Expr;
}

export interface ParamDecl extends Span {
  kind: 'param';
  name?: Identifier;
  default?: Expr;
  bounds?: Bounds;
}

export interface StateDecl extends Span {
  kind: 'state';
  name?: Identifier;
  dims: Expr[];
  bounds?: Bounds;
  initial?: Expr;
}

export interface InitDecl extends Span {
  kind: 'init';
  assignment?: Assignment;
}

export interface StartDecl extends Span {
  kind: 'start';
  probability?: Expr;
  assignments: Assignment[];
}

export interface LetClause extends Span {
  kind: 'let';
  name: Identifier;
  value: Expr;
}

export interface WhenClause extends Span {
  kind: 'when';
  condition: Expr;
}

export interface RuleDecl extends Span {
  kind: 'rule';
  name?: Identifier;
  bindings: Binding[];
  /** `let` and `when` clauses in source order. */
  clauses: Array<LetClause | WhenClause>;
  rate?: Expr;
  updates: Assignment[];
}

export interface AbsorbDecl extends Span {
  kind: 'absorb';
  condition?: Expr;
}

export interface RewardDecl extends Span {
  kind: 'reward';
  name?: Identifier;
  family?: Binding;
  value?: Expr;
}

export type Declaration =
  | ModelDecl
  | ConstDecl
  | ParamDecl
  | StateDecl
  | InitDecl
  | StartDecl
  | RuleDecl
  | AbsorbDecl
  | RewardDecl;

export interface ModelFile {
  declarations: Declaration[];
  /** Offsets where lines begin; converts offsets to positions. */
  lineStarts: number[];
  length: number;
}

// ---- Positions ---------------------------------------------------------------

export function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) starts.push(i + 1);
    else if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) i++;
      starts.push(i + 1);
    }
  }
  return starts;
}

export function positionAt(lineStarts: number[], offset: number): Position {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo, character: offset - lineStarts[lo] };
}

export function offsetAt(lineStarts: number[], length: number, position: Position): number {
  if (position.line < 0) return 0;
  if (position.line >= lineStarts.length) return length;
  const lineStart = lineStarts[position.line];
  const next = position.line + 1 < lineStarts.length ? lineStarts[position.line + 1] : length;
  return Math.max(lineStart, Math.min(lineStart + position.character, next));
}

export function spanOf(lineStarts: number[], start: number, end: number): Span {
  return {
    start,
    end,
    range: { start: positionAt(lineStarts, start), end: positionAt(lineStarts, end) },
  };
}

/** The span from the start of `a` to the end of `b`. */
export function joinSpans(a: Span, b: Span): Span {
  return { start: a.start, end: b.end, range: { start: a.range.start, end: b.range.end } };
}

export function copySpan(s: Span): Span {
  return { start: s.start, end: s.end, range: s.range };
}

/** Source text quoted in a message: at most 40 characters, a longer one cut with `…`. */
export function excerptText(text: string): string {
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}
