// Completion: keywords, the names visible at the cursor, the built-in functions, and
// snippets for the declarations that have a shape to remember (rule, reward, state).

import { type CompletionItem, CompletionItemKind, InsertTextFormat } from 'vscode-languageserver/node';
import type { Analysis, SymbolInfo } from '../../language';
import { KEYWORDS } from '../../language/lexer';
import type { FeatureContext } from './context';

export const FUNCTION_DOCS: Array<[string, string]> = [
  ['min', 'min(a, b, …): the least argument'],
  ['max', 'max(a, b, …): the greatest argument'],
  ['abs', 'abs(a)'],
  ['floor', 'floor(a)'],
  ['ceil', 'ceil(a)'],
  ['binom', 'binom(n, k): binomial coefficient, 0 when k < 0 or k > n'],
  ['sum', 'sum(V in A..B: EXPR), or sum(NAME) over a state array'],
  ['count', 'count(V in A..B: COND): how many bindings satisfy COND'],
  ['any', 'any(V in A..B: COND)'],
  ['all', 'all(V in A..B: COND)'],
];

const SNIPPETS: Array<[label: string, detail: string, body: string]> = [
  [
    'rule',
    'a rule: a family of transitions',
    'rule ${1:name}\n  when ${2:condition}\n  rate ${3:rate}\n  do ${4:update}',
  ],
  [
    'rule for',
    'a rule with loop variables',
    'rule ${1:name}\n  for ${2:i} in ${3:0}..${4:n-1}\n  when ${5:condition}\n  rate ${6:rate}\n  do ${7:update}',
  ],
  ['reward', 'a reward: a function of the state', 'reward ${1:name} = ${2:value}'],
  ['reward family', 'a family of rewards', 'reward ${1:name}[${2:k} in ${3:0}..${4:n-1}] = ${5:value}'],
  ['state', 'a state variable', 'state ${1:name} in ${2:0}..${3:n} = ${4:0}'],
  ['state array', 'an array of state variables', 'state ${1:name}[${2:n}]'],
];

const KIND: Record<SymbolInfo['kind'], CompletionItemKind> = {
  model: CompletionItemKind.Module,
  const: CompletionItemKind.Constant,
  param: CompletionItemKind.Variable,
  state: CompletionItemKind.Field,
  rule: CompletionItemKind.Function,
  reward: CompletionItemKind.Event,
  loop: CompletionItemKind.Variable,
  let: CompletionItemKind.Variable,
};

/** Symbols whose names can be written at `offset`: top-level values, and the locals declared above it in the same declaration. */
export function namesInScope(analysis: Analysis, offset: number): SymbolInfo[] {
  const decl = analysis.ast.declarations.find((d) => d.start <= offset && offset <= d.end);
  const owner = decl && 'name' in decl && decl.name && decl.kind !== 'const' ? decl.name.name : undefined;
  return analysis.symbols.filter((s) => {
    if (s.kind === 'rule' || s.kind === 'reward' || s.kind === 'model') return false;
    if (s.kind === 'loop' || s.kind === 'let')
      return (
        s.owner === owner && s.declaration.start < offset && decl !== undefined && s.declaration.start >= decl.start
      );
    return true;
  });
}

export function completionsAt(analysis: Analysis, offset: number): CompletionItem[] {
  const items: CompletionItem[] = [];
  for (const k of KEYWORDS) items.push({ label: k, kind: CompletionItemKind.Keyword });
  for (const [name, doc] of FUNCTION_DOCS) items.push({ label: name, kind: CompletionItemKind.Function, detail: doc });
  for (const [label, detail, body] of SNIPPETS) {
    items.push({
      label,
      kind: CompletionItemKind.Snippet,
      detail,
      insertText: body,
      insertTextFormat: InsertTextFormat.Snippet,
    });
  }
  for (const s of namesInScope(analysis, offset)) {
    items.push({
      label: s.name,
      kind: KIND[s.kind],
      detail: s.kind === 'const' && s.value !== undefined ? `const = ${s.value}` : s.kind,
    });
  }
  return items;
}

export function registerCompletion(ctx: FeatureContext): void {
  ctx.connection.onCompletion((params) => {
    // No analysis: not a phasic document (or not open), where phasic words do not belong.
    const analysis = ctx.getAnalysis(params.textDocument.uri);
    return analysis ? completionsAt(analysis, analysis.offsetAt(params.position)) : [];
  });
}
