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
// number ≥ 0. Nothing here knows the model: the fit checks the length against the
// model's sample size (likelihood.ts). Pure text in, a Spectrum or an SfsFileError
// with its line out.

import { readDecimal } from '../protocol/format';

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
  /** `line` is 1-based; absent when the problem is the file as a whole. */
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
    this.name = 'SfsFileError';
  }
}

interface Line {
  number: number;
  text: string;
}

/** Non-comment, non-blank lines with their 1-based numbers. */
function dataLines(text: string): Line[] {
  const lines: Line[] = [];
  text.split(/\r\n|\n|\r/).forEach((raw, i) => {
    const t = raw.trim();
    if (t !== '' && !t.startsWith('#')) lines.push({ number: i + 1, text: t });
  });
  return lines;
}

/** Splits the first line into words and quoted labels; a label may contain spaces. */
function headerTokens(line: Line): { words: string[]; labels: string[] } {
  const words: string[] = [];
  const labels: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line.text); m !== null; m = re.exec(line.text)) {
    if (m[1] !== undefined) labels.push(m[1]);
    else if (m[2].includes('"'))
      throw new SfsFileError(`a population label is not closed: ${JSON.stringify(m[2])}`, line.number);
    else {
      if (labels.length > 0)
        throw new SfsFileError(`'${m[2]}' follows the population labels; labels come last`, line.number);
      words.push(m[2]);
    }
  }
  return { words, labels };
}

function header(line: Line): { entries: number; folded: boolean; labels: string[] } {
  const { words, labels } = headerTokens(line);
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
        `'${d}' is not a number of entries; the first line is: n + 1, folded or unfolded, optional quoted labels`,
        line.number,
      );
  if (dims.length > 1)
    throw new SfsFileError(
      `this is a ${dims.length}-population spectrum (${dims.join(' × ')}); only one population is supported`,
      line.number,
    );
  const entries = Number(dims[0]);
  if (entries < 3)
    throw new SfsFileError(`${entries} entries is n = ${entries - 1}; a spectrum needs n ≥ 2 samples`, line.number);
  if (labels.length > 1) throw new SfsFileError(`${labels.length} population labels for one population`, line.number);
  return { entries, folded: keyword >= 0 && words[keyword] === 'folded', labels };
}

/** A count as dadi's numpy reads it: a decimal number, or nan/inf (only allowed masked). */
function count(word: string, index: number, line: Line): number {
  const lower = word.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (/^[+-]?inf(inity)?$/.test(lower)) return lower.startsWith('-') ? -Infinity : Infinity;
  const value = readDecimal(word);
  if (value === undefined) throw new SfsFileError(`entry ${index}: '${word}' is not a number`, line.number);
  return value;
}

function row(line: Line, entries: number, what: string): string[] {
  const words = line.text.split(/\s+/);
  if (words.length !== entries)
    throw new SfsFileError(
      `the ${what} line has ${words.length} entries, but the first line says ${entries} (n + 1)`,
      line.number,
    );
  return words;
}

export function parseSfs(text: string): Spectrum {
  const lines = dataLines(text.replace(/^\uFEFF/, ''));
  if (lines.length === 0) throw new SfsFileError('the file is empty: expected a dadi .fs spectrum');
  const { entries, folded, labels } = header(lines[0]);
  if (lines.length < 2) throw new SfsFileError('the counts line is missing', lines[0].number);
  const countLine = lines[1];
  const counts = row(countLine, entries, 'counts').map((w, i) => count(w, i, countLine));
  let mask = counts.map(() => false);
  if (lines.length >= 3) {
    const maskLine = lines[2];
    mask = row(maskLine, entries, 'mask').map((w, i) => {
      if (w !== '0' && w !== '1')
        throw new SfsFileError(`mask entry ${i}: '${w}' is neither 0 (used) nor 1 (masked)`, maskLine.number);
      return w === '1';
    });
  }
  if (lines.length > 3)
    throw new SfsFileError(
      'unexpected line after the mask (one population: first line, counts, optional mask)',
      lines[3].number,
    );
  counts.forEach((c, i) => {
    if (mask[i]) return;
    if (!Number.isFinite(c))
      throw new SfsFileError(`entry ${i}: ${c} is not a finite count (only masked entries may be)`, countLine.number);
    if (c < 0) throw new SfsFileError(`entry ${i}: the count ${c} is negative`, countLine.number);
    // dadi masks the upper half of a folded spectrum; a count there is a mislabelled file.
    if (folded && i > (entries - 1) / 2 && c !== 0)
      throw new SfsFileError(
        `entry ${i}: a folded spectrum counts minor alleles, 0..${Math.floor((entries - 1) / 2)}, but entry ${i} holds ${c} unmasked (is the file unfolded?)`,
        countLine.number,
      );
  });
  return { n: entries - 1, folded, labels, counts, mask };
}
