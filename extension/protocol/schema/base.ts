// The building blocks of every message schema (valibot, docs/decisions.md), and the
// one way a message is checked: `parse(schema, value, where)` gives a `Parsed<T>`
// whose error names the path and what was expected there, e.g.
// `phasic/run reply.result.vertices: expected an integer ≥ 0`. Each block carries
// its expectation as its valibot message, so the wording is the same at every
// boundary. The webview bundle imports this file: no Node or vscode imports.
import * as v from 'valibot';
import { MAX_MOMENTS } from '../limits';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** No list a peer sends has more entries than this (SCCs, blocks, rewards, ...). */
export const MAX_LIST = 10_000_000;
export const MAX_STRING = 1 << 20;

type Schema<T> = v.GenericSchema<unknown, T>;
type IssuePath = [v.IssuePathItem, ...v.IssuePathItem[]];

const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

export const num = v.custom<number>(isNumber, 'a finite number');
export const nonNeg = v.pipe(num, v.minValue(0, 'a number ≥ 0'));
/** A count or an index. */
export const count = v.custom<number>((x) => Number.isSafeInteger(x) && (x as number) >= 0, 'an integer ≥ 0');
/** How many moments a request asks for. */
export const momentCount = v.custom<number>(
  (x) => Number.isSafeInteger(x) && (x as number) >= 1 && (x as number) <= MAX_MOMENTS,
  `an integer from 1 to ${MAX_MOMENTS}`,
);
export const int = v.custom<number>((x) => Number.isSafeInteger(x), 'an integer');
export const bool = v.custom<boolean>((x) => typeof x === 'boolean', 'a boolean');

export function str(max = MAX_STRING) {
  return v.custom<string>((x) => typeof x === 'string' && x.length <= max, `a string of at most ${max} characters`);
}

export function oneOf<const T extends readonly string[]>(options: T) {
  return v.custom<T[number]>(
    (x) => typeof x === 'string' && (options as readonly string[]).includes(x),
    options.join(' | '),
  );
}

/** How JSON carries a value that is not a finite number (protocol/moment.ts says what each means). */
export type NonFinite = 'Infinity' | '-Infinity' | 'NaN';
export type Moment = number | NonFinite;
export const NON_FINITE: readonly NonFinite[] = ['Infinity', '-Infinity', 'NaN'];

/** A moment: a finite number, or the string form of a non-finite one. */
export const moment = v.custom<Moment>(
  (x) => isNumber(x) || (typeof x === 'string' && (NON_FINITE as readonly string[]).includes(x)),
  `a finite number or one of ${NON_FINITE.map((x) => `"${x}"`).join(', ')}`,
);

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const anObject = v.custom<Record<string, unknown>>(isObject, 'an object');

/**
 * An object with these fields (others are dropped). An array is not an object, and
 * a missing field gets the message of its own schema, as if it were `undefined`.
 */
export function obj<const E extends v.ObjectEntries>(entries: E) {
  const missing = (issue: v.BaseIssue<unknown>): string => {
    const key = issue.path?.[issue.path.length - 1]?.key as string;
    const result = v.safeParse(entries[key], undefined);
    return result.success ? 'a value' : result.issues[0].message;
  };
  return v.pipe(anObject, v.object(entries, missing));
}

/** An array of at most MAX_LIST items, the length checked before any item. */
export function list<T extends v.GenericSchema>(item: T, max = MAX_LIST) {
  return v.pipe(
    v.custom<unknown[]>((x) => Array.isArray(x) && x.length <= max, `an array of at most ${max} entries`),
    v.array(item),
  );
}

/** A non-empty list of distinct names, e.g. `names(MAX_FIT_PARAMS, 'parameter names')`. */
export function names(max: number, what: string) {
  return v.pipe(
    list(str(200), max),
    v.check((n) => n.length > 0 && new Set(n).size === n.length, `one or more distinct ${what}`),
  );
}

/** A path item for issues raised by a check above the field it names. */
function at(key: string | number): v.IssuePathItem {
  return {
    type: typeof key === 'number' ? 'array' : 'object',
    origin: 'value',
    input: [],
    key,
    value: undefined,
  } as unknown as v.IssuePathItem;
}

/** Raises `expected` at `path` below the value being checked. */
export function issueAt(
  addIssue: (info: { message: string; path: IssuePath }) => void,
  path: Array<string | number>,
  expected: string,
): void {
  addIssue({ message: expected, path: path.map(at) as IssuePath });
}

/**
 * An object keyed by names the modeller chose (parameters, rewards, rules). The copy
 * has no prototype: `__proto__` stays an ordinary key (assigning it to `{}` would
 * set the prototype instead), and reading an absent `constructor` gives undefined.
 * (valibot's own `record` drops `__proto__`, `constructor` and `prototype` keys.)
 */
export function nameRecord<T>(item: Schema<T>) {
  return v.pipe(
    anObject,
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const out = Object.create(null) as Record<string, T>;
      for (const [k, x] of Object.entries(dataset.value)) {
        const r = v.safeParse(item, x, { abortEarly: true });
        if (!r.success) {
          const inner = r.issues[0];
          addIssue({ message: inner.message, path: [at(k), ...(inner.path ?? [])] });
          return NEVER;
        }
        out[k] = r.output;
      }
      return out;
    }),
  );
}

function pathText(where: string, path: readonly v.IssuePathItem[] | undefined): string {
  let out = where;
  for (const item of path ?? []) {
    const key = item.key as string | number;
    out += typeof key === 'number' ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out;
}

/**
 * Checks `value` against `schema`. The error names `where` followed by the path of
 * the first fault, or `root` when the value as a whole is at fault.
 */
export function parse<T>(schema: Schema<T>, value: unknown, where: string, root = where): Parsed<T> {
  const r = v.safeParse(schema, value, { abortEarly: true });
  if (r.success) return { ok: true, value: r.output };
  const issue = r.issues[0];
  return { ok: false, error: `${issue.path?.length ? pathText(where, issue.path) : root}: expected ${issue.message}` };
}

/**
 * One of several object shapes, told apart by their `type` field: an unknown type
 * is reported at `type` with `expected`.
 */
export function tagged<const M extends Record<string, Schema<unknown>>>(shapes: M, expected: string) {
  type Out = { [K in keyof M]: v.InferOutput<M[K]> }[keyof M];
  return v.pipe(
    anObject,
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const type = dataset.value.type;
      const shape = typeof type === 'string' && Object.hasOwn(shapes, type) ? shapes[type] : undefined;
      if (shape === undefined) {
        issueAt(addIssue, ['type'], expected);
        return NEVER;
      }
      const r = v.safeParse(shape, dataset.value, { abortEarly: true });
      if (!r.success) {
        addIssue({ message: r.issues[0].message, path: r.issues[0].path });
        return NEVER;
      }
      return r.output as Out;
    }),
  );
}
