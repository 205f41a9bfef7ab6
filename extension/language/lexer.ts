// Turns .phasic text into tokens. Comments and whitespace are dropped; a character
// that cannot start a token is reported and skipped so that lexing always finishes.

import type { DiagnosticSink } from './diagnostics';
import { excerptText, type Span, spanOf } from './syntax';
import { underflowsToZero } from '../protocol/format';

export const KEYWORDS = new Set([
  'model',
  'const',
  'param',
  'state',
  'init',
  'start',
  'rule',
  'for',
  'in',
  'when',
  'rate',
  'do',
  'reward',
  'absorb',
  'let',
  'if',
  'then',
  'else',
  'and',
  'or',
  'not',
  'true',
  'false',
]);

/** Keywords that begin a declaration: a declaration ends where one of these begins. */
export const TOP_LEVEL_KEYWORDS = new Set([
  'model',
  'const',
  'param',
  'state',
  'init',
  'start',
  'rule',
  'absorb',
  'reward',
]);

export type TokenKind = 'identifier' | 'keyword' | 'number' | 'punct' | 'eof';

export interface Token extends Span {
  kind: TokenKind;
  text: string;
}

const TWO_CHAR = new Set(['..', '==', '!=', '<=', '>=', '+=', '-=']);
const ONE_CHAR = new Set(['(', ')', '[', ']', '{', '}', ',', ';', ':', '=', '<', '>', '+', '-', '*', '/', '%']);

/** The punctuation token at `i`, longest first (`..` before `.`, `<=` before `<`). */
function punctuationAt(text: string, i: number): string | undefined {
  const two = text.slice(i, i + 2);
  if (TWO_CHAR.has(two)) return two;
  const one = text[i];
  return ONE_CHAR.has(one) ? one : undefined;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

/**
 * The longest name: every message about a name repeats it, and one of 1 MB made each
 * message (in the editor, the command line, the engine's "in rule R") a megabyte.
 */
export const MAX_NAME_LENGTH = 256;

/**
 * A character no token starts with, as a message shows it. Outside printable ASCII
 * its code point is given: an invisible one (U+200B, a control) showed as `` ` ` ``,
 * and a lookalike (Cyrillic а, U+0430) as the letter it imitates.
 */
function unexpectedCharacter(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  if (code > 0x20 && code < 0x7f) return `Unexpected character \`${ch}\`.`;
  const point = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (code === 0xfffd) return `Unexpected character ${point}: the file is not valid UTF-8 here.`;
  if (/^[\p{L}\p{N}]$/u.test(ch))
    return `Unexpected character \`${ch}\` (${point}): names are ASCII letters, digits and \`_\`.`;
  return /^[\p{P}\p{S}]$/u.test(ch)
    ? `Unexpected character \`${ch}\` (${point}).`
    : `Unexpected character ${point} (it does not print).`;
}

/**
 * Produces tokens one at a time, so that a megabyte of input never holds all its
 * tokens alive at once (they die young, and the garbage collector stays cheap).
 */
export class Lexer {
  private i = 0;
  /** Tokens come in order, so their line is found by walking forward, not by search. */
  private line = 0;

  constructor(
    private readonly text: string,
    private readonly lineStarts: number[],
    private readonly sink: DiagnosticSink,
  ) {}

  private position(offset: number): { line: number; character: number } {
    const starts = this.lineStarts;
    while (this.line + 1 < starts.length && starts[this.line + 1] <= offset) this.line++;
    return { line: this.line, character: offset - starts[this.line] };
  }

  private token(kind: TokenKind, start: number, end: number): Token {
    const range = { start: this.position(start), end: this.position(end) };
    return { kind, text: this.text.slice(start, end), start, end, range };
  }

  next(): Token {
    const { text, lineStarts, sink } = this;
    const n = text.length;
    let i = this.i;
    try {
      while (i < n) {
        const c = text.charCodeAt(i);
        // A byte order mark opening the text is whitespace (editors strip it; files
        // read from disk by the CLI keep it unless their loader strips it too).
        if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11 || (c === 0xfeff && i === 0)) {
          i++;
          continue;
        }
        if (c === 47 && text.charCodeAt(i + 1) === 47) {
          while (i < n && text.charCodeAt(i) !== 10 && text.charCodeAt(i) !== 13) i++;
          continue;
        }
        if (c === 47 && text.charCodeAt(i + 1) === 42) {
          const close = text.indexOf('*/', i + 2);
          if (close < 0) {
            sink.error(
              spanOf(lineStarts, i, i + 2),
              'unterminated-comment',
              'This `/*` comment is never closed with `*/`.',
            );
            i = n;
          } else {
            i = close + 2;
          }
          continue;
        }
        const start = i;
        if (isIdentStart(c)) {
          while (i < n && isIdentPart(text.charCodeAt(i))) i++;
          if (i - start > MAX_NAME_LENGTH) {
            sink.error(
              spanOf(lineStarts, start, i),
              'name-too-long',
              `This name has ${i - start} characters; a name has at most ${MAX_NAME_LENGTH}.`,
            );
            // Cut, so that the messages that follow ("Unknown name …") stay short.
            const name = this.token('identifier', start, i);
            name.text = name.text.slice(0, MAX_NAME_LENGTH);
            return name;
          }
          return this.token(KEYWORDS.has(text.slice(start, i)) ? 'keyword' : 'identifier', start, i);
        }
        if (isDigit(c)) {
          while (i < n && isDigit(text.charCodeAt(i))) i++;
          // A fraction needs a digit after the dot, so `0..n` stays a range.
          if (text.charCodeAt(i) === 46 && isDigit(text.charCodeAt(i + 1))) {
            i++;
            while (i < n && isDigit(text.charCodeAt(i))) i++;
          }
          const e = text.charCodeAt(i);
          if (e === 101 || e === 69) {
            let j = i + 1;
            const sign = text.charCodeAt(j);
            if (sign === 43 || sign === 45) j++;
            if (isDigit(text.charCodeAt(j))) {
              while (j < n && isDigit(text.charCodeAt(j))) j++;
              i = j;
            }
          }
          if (i < n && isIdentStart(text.charCodeAt(i))) {
            // `2x` or `1e`: one malformed token rather than a number and a name.
            while (i < n && isIdentPart(text.charCodeAt(i))) i++;
            sink.error(
              spanOf(lineStarts, start, i),
              'invalid-number',
              `\`${excerptText(text.slice(start, i))}\` is not a number; write a multiplication as \`2 * x\`.`,
            );
          } else if (underflowsToZero(text.slice(start, i)))
            sink.error(
              spanOf(lineStarts, start, i),
              'number-underflow',
              `\`${excerptText(text.slice(start, i))}\` is too small for a double (the least is 4.9e-324) and would read as 0; write 0 if 0 is meant.`,
            );
          return this.token('number', start, i);
        }
        const p = punctuationAt(text, i);
        if (p) {
          i += p.length;
          return this.token('punct', start, i);
        }
        // Skip the whole code point so that a surrogate pair is one error, not two.
        const low = text.charCodeAt(i + 1);
        const width = c >= 0xd800 && c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff ? 2 : 1;
        sink.error(
          spanOf(lineStarts, i, i + width),
          'invalid-character',
          unexpectedCharacter(text.slice(i, i + width)),
        );
        i += width;
      }
      return this.token('eof', n, n);
    } finally {
      this.i = i;
    }
  }
}

/** All tokens of `text`, ending with `eof`. */
export function tokenize(text: string, lineStarts: number[], sink: DiagnosticSink): Token[] {
  const lexer = new Lexer(text, lineStarts, sink);
  const tokens = [lexer.next()];
  while (tokens[tokens.length - 1].kind !== 'eof') tokens.push(lexer.next());
  return tokens;
}
