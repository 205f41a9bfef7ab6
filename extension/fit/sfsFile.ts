// Reader of dadi's `.fs` format for one population, the format dadi, moments and
// easySFS write (dadi.Spectrum.from_file):
//
//   # comment lines start with '#', anywhere; blank lines are skipped
//   11 unfolded "pop0"        entries (n + 1), folded | unfolded, optional quoted label
//   0 12 7 5 3 2 2 1 1 1 0    the counts of sites with 0..n derived alleles
//   1 0 0 0 0 0 0 0 0 0 1     optional mask, 1 = masked
//
// A first line without `folded`/`unfolded` is dadi's older format (unfolded, no
// labels). Counts may be fractional (projected spectra are); a masked entry may hold
// `nan` or `inf`, as numpy writes them, but every unmasked count must be a finite
// number ≥ 0. A count is read as a number is typed anywhere else (decision 86,
// decision 96): a decimal that is not 0 as written but reads as 0 (1e-400), or that
// reads as Infinity (1e400), is refused, not taken as 0 or inf. Nothing here knows the
// model: the fit checks the length against the model's sample size (likelihood.ts).
// Pure text in, a Spectrum or an SfsFileError with its line (and column) out.

import { readDecimal, underflowMessage, underflowsToZero } from '../protocol/format';

export interface Spectrum {
  /** Sample size: the file has n + 1 entries, for 0..n derived alleles. */
  n: number;
  /** Counts by minor allele: entries above n/2 are not data. */
  folded: boolean;
  /** Population labels as quoted on the first line ([] when none). */
  labels: string[];
  /** n + 1 counts; a masked entry may be non-finite. */
  counts: number[];
  /** n + 1 flags, true = masked; all false when the file has no mask line. */
  mask: boolean[];
}

export class SfsFileError extends Error {
  /** `line` and `column` are 1-based; `line` is absent when the problem is the file as a whole, `column` when it is the line's. */
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
    this.name = 'SfsFileError';
  }
}

interface Line {
  number: number;
  /** The line as written, untrimmed, so that a word's column is its column in the file. */
  text: string;
}

interface Word {
  text: string;
  /** 1-based. */
  column: number;
}

/**
 * The most entries a spectrum may have: a reward family has fewer than 2^20 members
 * (a model has at most 2^20 rewards, decision 80; a phasic graph's rewards are its
 * state's cells, at most 2^20), so no model can be fitted to a longer one. The bound
 * is checked before a row is split into words: a 100 MB line of 50 million counts,
 * split whole, filled Node's heap and crashed after six minutes.
 */
export const MAX_ENTRIES = 2 ** 20 + 2;

/** A file has one header, one counts line and one mask line; a fourth data line is refused, so the scan stops there. */
const MOST_DATA_LINES = 4;

/**
 * The first non-comment, non-blank lines with their 1-based numbers, up to the one
 * past the mask. Scanned line by line: splitting a file of 10⁸ blank lines whole took
 * 43 s and 2.9 GB.
 */
function dataLines(text: string): Line[] {
  const lines: Line[] = [];
  // The next '\n' and '\r' at or after `start` (text.length when none), each searched
  // again only once passed: searching both at every line is quadratic in a file
  // without '\r'.
  let lf = -1;
  let cr = -1;
  let start = 0;
  for (let number = 1; lines.length < MOST_DATA_LINES; number++) {
    if (lf < start) lf = indexOrEnd(text, '\n', start);
    if (cr < start) cr = indexOrEnd(text, '\r', start);
    const end = Math.min(lf, cr);
    if (end > start) {
      const raw = text.slice(start, end);
      const t = raw.trim();
      if (t !== '' && !t.startsWith('#')) lines.push({ number, text: raw });
    }
    if (end === text.length) break;
    start = end === cr && lf === cr + 1 ? end + 2 : end + 1;
  }
  return lines;
}

function indexOrEnd(text: string, what: string, from: number): number {
  const at = text.indexOf(what, from);
  return at < 0 ? text.length : at;
}

/** A blank as `\s` has it: ASCII's six, else whatever Unicode calls a space. */
function isBlank(code: number): boolean {
  if (code < 128) return code === 32 || (code >= 9 && code <= 13);
  return /\s/.test(String.fromCharCode(code));
}

/** How many blank-separated words the line holds, counted without building them. */
function wordCount(line: Line): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < line.text.length; i++) {
    const blank = isBlank(line.text.charCodeAt(i));
    if (!blank && !inWord) n++;
    inWord = !blank;
  }
  return n;
}

/**
 * A word as a message quotes it: a long one by its start and length, so a
 * megabyte-long count is not printed back whole.
 */
function shown(text: string): string {
  return text.length <= 60 ? text : `${text.slice(0, 30)}… (${text.length} characters)`;
}

function words(line: Line): Word[] {
  return [...line.text.matchAll(/\S+/g)].map((m) => ({ text: m[0], column: (m.index ?? 0) + 1 }));
}

/**
 * A NUL is in no text dadi writes, and a line of them reads as one word (NUL is no
 * blank): a UTF-16 file read as UTF-8 has one after every letter. Said once, where it
 * is, rather than as "'4\0' is not a number".
 */
function refuseNul(text: string): void {
  const at = text.indexOf('\0');
  if (at < 0) return;
  const before = text.slice(0, at).split(/\r\n|\n|\r/);
  throw new SfsFileError(
    'the file holds a NUL character, which no .fs text has: if it was saved as UTF-16, save it as UTF-8 (or ASCII)',
    before.length,
    before[before.length - 1].length + 1,
  );
}

/**
 * The most words and labels a first line may hold: dadi writes one size per population,
 * the fold and one label per population. Counted as they are read, so a first line of a
 * million words is refused without building them.
 */
const MAX_HEADER_TOKENS = 16;

/** Splits the first line into words and quoted labels; a label may contain spaces. */
function headerTokens(line: Line): { words: string[]; labels: string[] } {
  const words: string[] = [];
  const labels: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line.text); m !== null; m = re.exec(line.text)) {
    if (words.length + labels.length === MAX_HEADER_TOKENS)
      throw new SfsFileError(
        `the first line has more than ${MAX_HEADER_TOKENS} words; it is: n + 1, folded or unfolded, optional quoted labels`,
        line.number,
      );
    if (m[1] !== undefined) labels.push(m[1]);
    else if (m[2].includes('"'))
      throw new SfsFileError(`a population label is not closed: ${JSON.stringify(shown(m[2]))}`, line.number);
    else {
      if (labels.length > 0)
        throw new SfsFileError(`'${shown(m[2])}' follows the population labels; labels come last`, line.number);
      words.push(m[2]);
    }
  }
  return { words, labels };
}

function header(line: Line): { entries: number; written: string; folded: boolean; labels: string[] } {
  const { words, labels } = headerTokens({ number: line.number, text: line.text.trim() });
  const keyword = words.findIndex((w) => w === 'folded' || w === 'unfolded');
  const dims = keyword < 0 ? words : words.slice(0, keyword);
  if (keyword >= 0 && keyword !== words.length - 1)
    throw new SfsFileError(
      `unexpected '${words[keyword + 1]}' after '${words[keyword]}' (population labels are quoted)`,
      line.number,
    );
  if (dims.length === 0)
    throw new SfsFileError('the first line must start with the number of entries (n + 1)', line.number);
  for (const d of dims)
    if (!/^\d+$/.test(d))
      throw new SfsFileError(
        `'${shown(d)}' is not a number of entries; the first line is: n + 1, folded or unfolded, optional quoted labels`,
        line.number,
      );
  if (dims.length > 1)
    throw new SfsFileError(
      `this is a ${dims.length}-population spectrum (${dims.map(shown).join(' × ')}); only one population is supported`,
      line.number,
    );
  const entries = Number(dims[0]);
  const written = shown(dims[0]);
  // Messages quote the size as written: 0 entries is no n (it read "n = -1"), and 10²³
  // digits read back as 1e+23.
  if (entries < 3)
    throw new SfsFileError(
      `the first line says ${written} entries; a spectrum of n samples has n + 1 entries and needs n ≥ 2, so 3 or more`,
      line.number,
    );
  if (entries > MAX_ENTRIES)
    throw new SfsFileError(
      `the first line says ${written} entries, more than the ${MAX_ENTRIES} a spectrum may have: no model has a reward family of more than ${MAX_ENTRIES - 2} members to fit it`,
      line.number,
    );
  if (labels.length > 1) throw new SfsFileError(`${labels.length} population labels for one population`, line.number);
  return { entries, written, folded: keyword >= 0 && words[keyword] === 'folded', labels };
}

/** Why a word that is not a decimal is not one, when a usual slip explains it. */
function notDecimalHint(word: string): string {
  if (word.includes(',')) return " (the decimal point is '.', and entries are separated by blanks)";
  if (word.includes('_')) return ' (digits are written without separators)';
  return '';
}

/**
 * A count as dadi's numpy reads it: a decimal number, or nan/inf (only allowed masked);
 * but a decimal written as more than 0 that reads as 0 or as Infinity is refused.
 */
function count(word: Word, index: number, line: Line): number {
  const fail = (why: string) => new SfsFileError(`entry ${index}: ${why}`, line.number, word.column);
  const lower = word.text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (/^[+-]?inf(inity)?$/.test(lower)) return lower.startsWith('-') ? -Infinity : Infinity;
  const value = readDecimal(word.text);
  if (value === undefined) throw fail(`'${shown(word.text)}' is not a number${notDecimalHint(word.text)}`);
  if (!Number.isFinite(value))
    throw fail(`'${shown(word.text)}' is too large for a double (the largest is 1.8e308); write inf if inf is meant`);
  if (underflowsToZero(word.text)) throw fail(underflowMessage(shown(word.text)));
  return value;
}

function row(line: Line, entries: number, written: string, what: string): Word[] {
  const found = wordCount(line);
  if (found !== entries)
    throw new SfsFileError(
      `the ${what} line has ${found} entries, but the first line says ${written} (n + 1)${line.text.includes(',') ? '; entries are separated by blanks, not commas' : ''}`,
      line.number,
    );
  return words(line);
}

export function parseSfs(text: string): Spectrum {
  refuseNul(text);
  const lines = dataLines(text.replace(/^\uFEFF/, ''));
  if (lines.length === 0) throw new SfsFileError('the file is empty: expected a dadi .fs spectrum');
  const { entries, written, folded, labels } = header(lines[0]);
  if (lines.length < 2) throw new SfsFileError('the counts line is missing', lines[0].number);
  const countLine = lines[1];
  const countWords = row(countLine, entries, written, 'counts');
  const counts = countWords.map((w, i) => count(w, i, countLine));
  let mask = counts.map(() => false);
  if (lines.length >= 3) {
    const maskLine = lines[2];
    mask = row(maskLine, entries, written, 'mask').map((w, i) => {
      if (w.text !== '0' && w.text !== '1')
        throw new SfsFileError(
          `mask entry ${i}: '${shown(w.text)}' is neither 0 (used) nor 1 (masked)`,
          maskLine.number,
          w.column,
        );
      return w.text === '1';
    });
  }
  if (lines.length > 3)
    throw new SfsFileError(
      'unexpected line after the mask (one population: first line, counts, optional mask)',
      lines[3].number,
    );
  counts.forEach((c, i) => {
    if (mask[i]) return;
    const at = (message: string) => new SfsFileError(message, countLine.number, countWords[i].column);
    if (!Number.isFinite(c)) throw at(`entry ${i}: ${c} is not a finite count (only masked entries may be)`);
    if (c < 0) throw at(`entry ${i}: the count ${c} is negative`);
    // dadi masks the upper half of a folded spectrum; a count there is a mislabelled file.
    if (folded && i > (entries - 1) / 2 && c !== 0)
      throw at(
        `entry ${i}: a folded spectrum counts minor alleles, 0..${Math.floor((entries - 1) / 2)}, but entry ${i} holds ${c} unmasked (is the file unfolded?)`,
      );
  });
  return { n: entries - 1, folded, labels, counts, mask };
}
