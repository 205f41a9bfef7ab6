// Recursive-descent parser for .phasic files. It never gives up on a file: a broken
// declaration is reported and skipped up to the next top-level keyword (where, by
// the language's one layout rule, the next declaration begins), so an error in one
// declaration never hides errors in the others. Expression nesting is bounded, so a
// hostile file yields a diagnostic instead of a stack overflow.

import type { DiagnosticSink } from './diagnostics';
import { Lexer, TOP_LEVEL_KEYWORDS, type Token } from './lexer';
import {
  type AbsorbDecl,
  AGGREGATES,
  type AggregateName,
  type Assignment,
  type BinaryOp,
  type Binding,
  type Bounds,
  type ConstDecl,
  computeLineStarts,
  type Declaration,
  type Expr,
  type Identifier,
  type InitDecl,
  joinSpans,
  type LetClause,
  type ModelDecl,
  type ModelFile,
  type ParamDecl,
  type RewardDecl,
  type RuleDecl,
  type Span,
  type StartDecl,
  type StateDecl,
  type Target,
  type UpdateOperator,
  type WhenClause,
  excerptText,
} from './syntax';

/** Deepest nesting (parentheses, calls, indices, `if`, unary operators) accepted; far beyond any real model. */
export const MAX_NESTING = 200;

/**
 * Highest expression tree accepted. A chain `a + b + c` is a tree one level higher per
 * operator, without nesting in the text, and every pass over the tree (checker,
 * folding, linear form, compiler) recurses along it: the checker overflows Node's
 * default stack at about 1,500 levels, so 200 keeps a margin of seven.
 */
export const MAX_HEIGHT = 200;

/** An expression node's own fields, without the span and depth the parser adds. */
type ExprFields = Expr extends infer E
  ? E extends Expr
    ? Omit<E, 'depth' | 'range' | 'start' | 'end'>
    : never
  : never;

class TooDeep {
  constructor(
    readonly at: Span,
    /** Which limit: the text's nesting, or the tree's height (a long chain of operators). */
    readonly limit: 'nesting' | 'height',
  ) {}
}

const COMPARISONS = new Set(['==', '!=', '<', '<=', '>', '>=']);
const RULE_CLAUSES = new Set(['for', 'let', 'when', 'rate', 'do']);

function describe(t: Token): string {
  if (t.kind === 'eof') return 'the end of the file';
  // A token of a megabyte (a number's digits) would make the message as long.
  return `\`${excerptText(t.text)}\``;
}

export function parse(text: string, sink: DiagnosticSink): ModelFile {
  const lineStarts = computeLineStarts(text);
  const declarations = new Parser(new Lexer(text, lineStarts, sink), sink).parseFile();
  return { declarations, lineStarts, length: text.length };
}

class Parser {
  private nesting = 0;
  private current: Token;
  private previous: Token | undefined;
  private lookahead: Token | undefined;
  /** The current declaration hit the nesting limit; its remaining errors would be noise. */
  private abandoned = false;

  constructor(
    private readonly lexer: Lexer,
    private readonly sink: DiagnosticSink,
  ) {
    this.current = lexer.next();
  }

  // ---- token helpers ---------------------------------------------------------

  /** Reports a syntax error, unless the declaration was abandoned after a worse one. */
  private error(span: Span, code: string, message: string): void {
    if (!this.abandoned) this.sink.error(span, code, message);
  }

  private get tok(): Token {
    return this.current;
  }

  /** The token after the current one. */
  private peek(): Token {
    this.lookahead ??= this.lexer.next();
    return this.lookahead;
  }

  private advance(): Token {
    const t = this.current;
    if (t.kind !== 'eof') {
      this.previous = t;
      this.current = this.lookahead ?? this.lexer.next();
      this.lookahead = undefined;
    }
    return t;
  }

  /** Whether the current token is the keyword or punctuation `text`. */
  private at(text: string): boolean {
    const t = this.tok;
    return t.text === text && (t.kind === 'keyword' || t.kind === 'punct');
  }

  private accept(text: string): Token | undefined {
    return this.at(text) ? this.advance() : undefined;
  }

  private atTopLevel(): boolean {
    const t = this.tok;
    return t.kind === 'eof' || (t.kind === 'keyword' && TOP_LEVEL_KEYWORDS.has(t.text));
  }

  /** Reports a missing token without consuming anything, so parsing can go on. */
  private expect(text: string, context: string): Token | undefined {
    const t = this.accept(text);
    if (!t) this.error(this.tok, 'expected-token', `Expected \`${text}\` ${context}, found ${describe(this.tok)}.`);
    return t;
  }

  private identifier(context: string): Identifier | undefined {
    const t = this.tok;
    if (t.kind === 'identifier') {
      this.advance();
      return { kind: 'identifier', name: t.text, start: t.start, end: t.end, range: t.range };
    }
    const why = t.kind === 'keyword' && !TOP_LEVEL_KEYWORDS.has(t.text) ? ` (\`${t.text}\` is a reserved keyword)` : '';
    this.error(t, 'expected-token', `Expected ${context}, found ${describe(t)}${why}.`);
    return undefined;
  }

  private previousEnd(): Token {
    return this.previous ?? this.current;
  }

  private span(start: Span): Span {
    return joinSpans(start, this.previousEnd());
  }

  private skipToTopLevel(): void {
    while (!this.atTopLevel()) this.advance();
  }

  // ---- declarations ----------------------------------------------------------

  parseFile(): Declaration[] {
    const out: Declaration[] = [];
    while (this.tok.kind !== 'eof') {
      if (!this.atTopLevel()) {
        this.error(
          this.tok,
          'unexpected-token',
          `Expected a declaration (\`model\`, \`const\`, \`param\`, \`state\`, \`init\`, \`start\`, \`rule\`, \`absorb\` or \`reward\`), found ${describe(this.tok)}.`,
        );
        this.advance();
        this.skipToTopLevel();
        continue;
      }
      const keyword = this.advance();
      this.abandoned = false;
      out.push(this.declaration(keyword));
      if (!this.atTopLevel()) {
        this.error(
          this.tok,
          'unexpected-token',
          `Unexpected ${describe(this.tok)}: the \`${keyword.text}\` declaration should end here.`,
        );
        this.skipToTopLevel();
      }
    }
    return out;
  }

  private declaration(keyword: Token): Declaration {
    switch (keyword.text) {
      case 'model':
        return this.model(keyword);
      case 'const':
        return this.constant(keyword);
      case 'param':
        return this.param(keyword);
      case 'state':
        return this.state(keyword);
      case 'init':
        return this.init(keyword);
      case 'start':
        return this.start(keyword);
      case 'rule':
        return this.rule(keyword);
      case 'absorb':
        return this.absorb(keyword);
      default:
        return this.reward(keyword);
    }
  }

  private model(k: Token): ModelDecl {
    const name = this.identifier('the model name after `model`');
    return { kind: 'model', name, ...this.span(k) };
  }

  private constant(k: Token): ConstDecl {
    const name = this.identifier('a constant name after `const`');
    let value: Expr | undefined;
    if (this.expect('=', `after the constant name`)) value = this.expr();
    return { kind: 'const', name, value, ...this.span(k) };
  }

  private param(k: Token): ParamDecl {
    const name = this.identifier('a parameter name after `param`');
    const decl: ParamDecl = { kind: 'param', name, ...this.span(k) };
    if (this.accept('=')) decl.default = this.expr();
    if (this.at('in')) decl.bounds = this.bounds();
    return { ...decl, ...this.span(k) };
  }

  private state(k: Token): StateDecl {
    const name = this.identifier('a state variable name after `state`');
    const dims: Expr[] = [];
    while (this.accept('[')) {
      dims.push(this.expr());
      this.expect(']', 'after the array size');
    }
    const decl: StateDecl = { kind: 'state', name, dims, ...this.span(k) };
    if (this.at('in')) decl.bounds = this.bounds();
    if (this.accept('=')) decl.initial = this.expr();
    return { ...decl, ...this.span(k) };
  }

  private bounds(): Bounds {
    const inToken = this.advance();
    const lo = this.expr();
    this.expect('..', 'between the lower and upper bound');
    const hi = this.expr();
    return { lo, hi, ...this.span(inToken) };
  }

  private init(k: Token): InitDecl {
    const assignment = this.assignment('initial');
    return { kind: 'init', assignment, ...this.span(k) };
  }

  private start(k: Token): StartDecl {
    const probability = this.atTopLevel() || this.at('{') ? undefined : this.expr();
    if (!probability)
      this.error(this.tok, 'expected-token', 'Expected the probability of this initial state after `start`.');
    const assignments: Assignment[] = [];
    if (this.expect('{', "to open the initial state's assignments")) {
      while (!this.at('}') && !this.atTopLevel()) {
        const a = this.assignment('initial');
        if (!a) break;
        assignments.push(a);
        if (!this.accept(';') && !this.accept(',')) break;
      }
      this.expect('}', 'to close the `start` block');
    }
    return { kind: 'start', probability, assignments, ...this.span(k) };
  }

  /** `TARGET = EXPR`, or in a rule also `+=`, `-=`. */
  private assignment(purpose: 'initial' | 'update'): Assignment | undefined {
    const name = this.identifier(
      purpose === 'initial' ? 'a state variable to initialize' : 'a state variable to update',
    );
    if (!name) return undefined;
    const indices: Expr[] = [];
    while (this.accept('[')) {
      indices.push(this.expr());
      this.expect(']', 'after the index');
    }
    const target: Target = { kind: 'target', name, indices, ...this.span(name) };
    const opToken = this.tok;
    let op: UpdateOperator;
    if (this.at('=') || this.at('+=') || this.at('-=')) {
      op = this.advance().text as UpdateOperator;
      if (purpose === 'initial' && op !== '=') {
        this.error(opToken, 'expected-token', `An initial value is set with \`=\`, not \`${op}\`.`);
      }
    } else {
      this.error(
        opToken,
        'expected-token',
        `Expected ${purpose === 'initial' ? '`=`' : '`=`, `+=` or `-=`'} after \`${name.name}\`, found ${describe(opToken)}.`,
      );
      return undefined;
    }
    const value = this.expr();
    return { kind: 'assignment', target, op, value, ...this.span(name) };
  }

  private rule(k: Token): RuleDecl {
    const name = this.identifier('a rule name after `rule`');
    const decl: RuleDecl = { kind: 'rule', name, bindings: [], clauses: [], updates: [], ...this.span(k) };
    const ruleName = name ? `Rule \`${name.name}\`` : 'This rule';
    let hasRate = false;
    let hasUpdates = false;
    this.syncInRule();
    // Clauses are parsed in any order so that one misplaced clause does not hide the
    // rest of the rule; the order the spec fixes is reported, not relied on.
    for (;;) {
      const clause = this.tok;
      if (clause.kind !== 'keyword') break;
      if (clause.text === 'for') {
        this.advance();
        if (decl.clauses.length > 0 || hasRate || hasUpdates || decl.bindings.length > 0) {
          this.error(clause, 'clause-order', `\`for\` must come first in a rule, and only once.`);
        }
        decl.bindings.push(...this.bindings());
      } else if (clause.text === 'let' || clause.text === 'when') {
        this.advance();
        if (hasRate || hasUpdates) {
          this.error(clause, 'clause-order', `\`${clause.text}\` must come before \`rate\` and \`do\` in a rule.`);
        }
        if (clause.text === 'when') {
          const condition = this.expr();
          decl.clauses.push({ kind: 'when', condition, ...this.span(clause) } satisfies WhenClause);
        } else {
          const letName = this.identifier('a name after `let`');
          if (letName && this.expect('=', `after \`let ${letName.name}\``)) {
            const value = this.expr();
            decl.clauses.push({ kind: 'let', name: letName, value, ...this.span(clause) } satisfies LetClause);
          }
        }
      } else if (clause.text === 'rate') {
        this.advance();
        if (hasRate)
          this.error(clause, 'duplicate-clause', `${ruleName} already has a \`rate\`; a rule has exactly one.`);
        else if (hasUpdates) this.error(clause, 'clause-order', '`rate` must come before `do` in a rule.');
        const rate = this.expr();
        if (!hasRate) decl.rate = rate;
        hasRate = true;
      } else if (clause.text === 'do') {
        this.advance();
        if (hasUpdates)
          this.error(clause, 'duplicate-clause', `${ruleName} already has a \`do\`; list all updates in one.`);
        decl.updates.push(...this.updates());
        hasUpdates = true;
      } else {
        break;
      }
      this.syncInRule();
    }
    if (!hasRate) this.error(name ?? k, 'missing-rate', `${ruleName} needs a \`rate\` clause (before \`do\`).`);
    else if (!hasUpdates)
      this.error(name ?? k, 'missing-updates', `${ruleName} needs a \`do\` clause listing its updates.`);
    return { ...decl, ...this.span(k) };
  }

  private atRuleClause(): boolean {
    const t = this.tok;
    return t.kind === 'keyword' && RULE_CLAUSES.has(t.text);
  }

  /** Skips what cannot continue a rule, up to its next clause or the next declaration. */
  private syncInRule(): void {
    if (this.atTopLevel() || this.atRuleClause()) return;
    this.error(
      this.tok,
      'unexpected-token',
      `Unexpected ${describe(this.tok)} in this rule; a rule continues with \`for\`, \`let\`, \`when\`, \`rate\` or \`do\`.`,
    );
    while (!this.atTopLevel() && !this.atRuleClause()) this.advance();
  }

  private updates(): Assignment[] {
    const out: Assignment[] = [];
    for (;;) {
      const a = this.assignment('update');
      if (!a) break;
      out.push(a);
      if (this.accept(';') || this.accept(',')) {
        if (this.tok.kind !== 'identifier') break; // a trailing separator
      } else if (this.tok.kind === 'identifier') {
        this.error(this.tok, 'expected-token', 'Expected `;` between two updates.');
      } else {
        break;
      }
    }
    return out;
  }

  private bindings(): Binding[] {
    const out: Binding[] = [];
    do {
      const b = this.binding();
      if (!b) break;
      out.push(b);
    } while (this.accept(','));
    return out;
  }

  private binding(): Binding | undefined {
    const name = this.identifier('a loop variable');
    if (!name) return undefined;
    if (!this.expect('in', `after the loop variable \`${name.name}\``)) return undefined;
    const lo = this.expr();
    this.expect('..', 'in the range (write `A..B`)');
    const hi = this.expr();
    return { kind: 'binding', name, lo, hi, ...this.span(name) };
  }

  private absorb(k: Token): AbsorbDecl {
    let condition: Expr | undefined;
    if (this.expect('when', 'after `absorb`')) condition = this.expr();
    return { kind: 'absorb', condition, ...this.span(k) };
  }

  private reward(k: Token): RewardDecl {
    const name = this.identifier('a reward name after `reward`');
    const decl: RewardDecl = { kind: 'reward', name, ...this.span(k) };
    if (this.accept('[')) {
      decl.family = this.binding();
      this.expect(']', "after the reward family's range");
    }
    if (this.expect('=', "before the reward's value")) decl.value = this.expr();
    return { ...decl, ...this.span(k) };
  }

  // ---- expressions -----------------------------------------------------------

  /** Counts one level of recursion; callers leave it in a `finally`, so unwinding restores the count. */
  private enter(): void {
    if (this.nesting >= MAX_NESTING) throw new TooDeep(this.tok, 'nesting');
    this.nesting++;
  }

  /** Builds a node from its parts' spans and keeps the tree's height bounded. */
  private node(fields: ExprFields, span: Span, children: Expr[]): Expr {
    let depth = 0;
    for (const c of children) if (c.depth > depth) depth = c.depth;
    depth += 1;
    // An operator is where a chain passes the limit; quoting the whole chain says nothing.
    if (depth > MAX_HEIGHT) throw new TooDeep(fields.kind === 'binary' ? fields.opSpan : span, 'height');
    const { start, end, range } = span;
    // One literal per kind (no spread, no properties added later) keeps node shapes
    // stable, which matters on megabyte inputs.
    const f = fields;
    switch (f.kind) {
      case 'number':
        return { kind: 'number', value: f.value, integer: f.integer, depth, start, end, range };
      case 'boolean':
        return { kind: 'boolean', value: f.value, depth, start, end, range };
      case 'name':
        return { kind: 'name', name: f.name, depth, start, end, range };
      case 'index':
        return { kind: 'index', name: f.name, indices: f.indices, depth, start, end, range };
      case 'call':
        return { kind: 'call', callee: f.callee, args: f.args, depth, start, end, range };
      case 'aggregate':
        return {
          kind: 'aggregate',
          op: f.op,
          callee: f.callee,
          bindings: f.bindings,
          body: f.body,
          depth,
          start,
          end,
          range,
        };
      case 'unary':
        return { kind: 'unary', op: f.op, operand: f.operand, depth, start, end, range };
      case 'binary':
        return { kind: 'binary', op: f.op, opSpan: f.opSpan, left: f.left, right: f.right, depth, start, end, range };
      case 'if':
        // biome-ignore lint/suspicious/noThenProperty: the branch of an if-expression node, which is never awaited
        return { kind: 'if', condition: f.condition, then: f.then, else: f.else, depth, start, end, range };
      case 'error':
        return { kind: 'error', depth, start, end, range };
    }
  }

  private errorExpr(): Expr {
    const t = this.tok;
    this.error(t, 'expected-expression', `Expected an expression, found ${describe(t)}.`);
    return {
      kind: 'error',
      depth: 1,
      start: t.start,
      end: t.start,
      range: { start: t.range.start, end: t.range.start },
    };
  }

  /**
   * An expression. At the outermost level a too-deep expression is reported and the
   * rest of its declaration abandoned; the declaration keeps an error expression, so
   * its name still resolves and nothing cascades.
   */
  expr(): Expr {
    if (this.nesting > 0) return this.nested();
    try {
      return this.nested();
    } catch (e) {
      if (!(e instanceof TooDeep)) throw e;
      if (e.limit === 'nesting')
        this.error(
          e.at,
          'nesting-too-deep',
          `This expression is nested more than ${MAX_NESTING} levels deep; split it with \`let\` or constants.`,
        );
      else
        this.error(
          e.at,
          'expression-too-long',
          `This expression is more than ${MAX_HEIGHT} levels high: each operator of a chain such as \`a + b + c\` adds a level, though nothing is nested; split it with \`let\` or constants, write it with \`sum(…)\`, or group its terms in parentheses.`,
        );
      this.abandoned = true;
      this.skipToTopLevel();
      return { kind: 'error', depth: 1, start: e.at.start, end: e.at.end, range: e.at.range };
    }
  }

  private nested(): Expr {
    this.enter();
    try {
      if (this.at('if')) return this.ifExpr();
      return this.or();
    } finally {
      this.nesting--;
    }
  }

  private ifExpr(): Expr {
    const k = this.advance();
    const condition = this.expr();
    const then = this.expect('then', 'after the `if` condition') ? this.expr() : this.errorFree();
    const otherwise = this.expect('else', '(an `if` expression needs an `else` branch)')
      ? this.expr()
      : this.errorFree();
    return this.node({ kind: 'if', condition, then, else: otherwise }, this.span(k), [condition, then, otherwise]);
  }

  /** A placeholder for a part whose absence was already reported. */
  private errorFree(): Expr {
    const t = this.previousEnd();
    return { kind: 'error', depth: 1, start: t.end, end: t.end, range: { start: t.range.end, end: t.range.end } };
  }

  private binaryLoop(ops: Set<string>, operand: () => Expr): Expr {
    let left = operand();
    while (ops.has(this.tok.text) && this.tok.kind !== 'identifier') {
      const opToken = this.advance();
      const right = operand();
      left = this.node(
        { kind: 'binary', op: opToken.text as BinaryOp, opSpan: opToken, left, right },
        joinSpans(left, right),
        [left, right],
      );
    }
    return left;
  }

  private or(): Expr {
    return this.binaryLoop(OR, () => this.and());
  }

  private and(): Expr {
    return this.binaryLoop(AND, () => this.not());
  }

  private not(): Expr {
    if (this.at('not')) {
      const k = this.advance();
      this.enter();
      try {
        const operand = this.not();
        return this.node({ kind: 'unary', op: 'not', operand }, joinSpans(k, operand), [operand]);
      } finally {
        this.nesting--;
      }
    }
    return this.comparison();
  }

  private comparison(): Expr {
    const left = this.additive();
    if (!COMPARISONS.has(this.tok.text) || this.tok.kind !== 'punct') return left;
    const opToken = this.advance();
    const right = this.additive();
    const node = this.node(
      { kind: 'binary', op: opToken.text as BinaryOp, opSpan: opToken, left, right },
      joinSpans(left, right),
      [left, right],
    );
    if (COMPARISONS.has(this.tok.text) && this.tok.kind === 'punct') {
      this.error(
        this.tok,
        'chained-comparison',
        `Comparisons cannot be chained; write \`a ${opToken.text} b and b ${this.tok.text} c\`.`,
      );
      this.advance();
      this.additive();
    }
    return node;
  }

  private additive(): Expr {
    return this.binaryLoop(ADDITIVE, () => this.multiplicative());
  }

  private multiplicative(): Expr {
    return this.binaryLoop(MULTIPLICATIVE, () => this.unary());
  }

  private unary(): Expr {
    if (this.at('-')) {
      const k = this.advance();
      this.enter();
      try {
        const operand = this.unary();
        return this.node({ kind: 'unary', op: '-', operand }, joinSpans(k, operand), [operand]);
      } finally {
        this.nesting--;
      }
    }
    return this.primary();
  }

  private primary(): Expr {
    const t = this.tok;
    if (t.kind === 'number') {
      this.advance();
      const integer = !/[.eE]/.test(t.text);
      return this.node({ kind: 'number', value: parseFloat(t.text), integer }, t, []);
    }
    if (t.kind === 'keyword' && (t.text === 'true' || t.text === 'false')) {
      this.advance();
      return this.node({ kind: 'boolean', value: t.text === 'true' }, t, []);
    }
    if (this.at('(')) {
      this.advance();
      const inner = this.expr();
      this.expect(')', 'to close the parenthesis');
      // The parentheses belong to the expression's span, so diagnostics include them.
      return { ...inner, ...this.span(t) };
    }
    if (this.at('if')) return this.nested();
    if (t.kind === 'identifier') {
      this.advance();
      const name: Identifier = { kind: 'identifier', name: t.text, start: t.start, end: t.end, range: t.range };
      if (this.at('(')) return this.call(name);
      if (this.at('[')) {
        const indices: Expr[] = [];
        while (this.accept('[')) {
          indices.push(this.expr());
          this.expect(']', 'after the index');
        }
        return this.node({ kind: 'index', name, indices }, this.span(t), indices);
      }
      return this.node({ kind: 'name', name }, t, []);
    }
    return this.errorExpr();
  }

  private call(callee: Identifier): Expr {
    this.advance(); // (
    const next = this.peek();
    if (
      (AGGREGATES as readonly string[]).includes(callee.name) &&
      this.tok.kind === 'identifier' &&
      next.kind === 'keyword' &&
      next.text === 'in'
    ) {
      const bindings = this.bindings();
      this.expect(':', "between the aggregate's ranges and its body");
      const body = this.expr();
      this.expect(')', `to close \`${callee.name}(\``);
      const children = [body, ...bindings.flatMap((b) => [b.lo, b.hi])];
      return this.node(
        { kind: 'aggregate', op: callee.name as AggregateName, callee, bindings, body },
        this.span(callee),
        children,
      );
    }
    const args: Expr[] = [];
    if (!this.at(')')) {
      do args.push(this.expr());
      while (this.accept(','));
    }
    this.expect(')', `to close \`${callee.name}(\``);
    return this.node({ kind: 'call', callee, args }, this.span(callee), args);
  }
}

const OR = new Set(['or']);
const AND = new Set(['and']);
const ADDITIVE = new Set(['+', '-']);
const MULTIPLICATIVE = new Set(['*', '/', '%']);
