// The engine's memory categories (native/src/memory/accounting.cpp names them) and their sum: the one
// definition every reader of accounted or freed bytes goes through, so that a new
// category is added in one place. Imported by the webview bundle: no Node or vscode
// imports.

export const MEMORY_CATEGORIES = ['graph', 'subgraphs', 'traces', 'cache', 'evaluation', 'workspace'] as const;
export type MemoryCategory = (typeof MEMORY_CATEGORIES)[number];
export type CategoryBytes = Record<MemoryCategory, number>;

/** The bytes of all categories together: what "accounted" means in every view. */
export function totalBytes(bytes: Readonly<CategoryBytes>): number {
  let sum = 0;
  for (const c of MEMORY_CATEGORIES) sum += bytes[c];
  return sum;
}
