// Reading a file the engine is given by name (a model, a spectrum), in the command
// line and in the engine process. Only a regular file is read: a FIFO or a device
// would block or never end (a FIFO without a writer blocks `open` itself, hence
// O_NONBLOCK), and a directory has no text. A pipe is not read: `< FILE` redirects a
// regular file.
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/** Node cannot hold a longer string. */
const MAX_INPUT_BYTES = 512 * 1024 * 1024;
const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function kind(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function refusal(file: string, stat: Stats): string | undefined {
  if (!stat.isFile()) return `cannot read ${file}: it is ${kind(stat)}, not a regular file`;
  if (stat.size > MAX_INPUT_BYTES)
    return `cannot read ${file}: it has ${stat.size} bytes, more than the ${MAX_INPUT_BYTES} a file may have here`;
  return undefined;
}

/** What the common errors of `open` and `read` mean, in words; the code stays for a search. */
const REASONS: Record<string, string> = {
  ENOENT: 'there is no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'its symbolic links form a loop',
  ENOTDIR: 'a folder in its path is not a folder',
  ENAMETOOLONG: 'its name is too long',
  EISDIR: 'it is a directory, not a regular file',
  EIO: 'the disk reported an input/output error',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  EFBIG: 'the file would exceed the size limit',
};

/** Why a file operation failed, in words with the code kept (`there is no such file (ENOENT)`). */
export function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code && Object.hasOwn(REASONS, code)) return `${REASONS[code]} (${code})`;
  return code ?? (error as Error).message;
}

function failure(file: string, error: unknown): Error {
  return new Error(`cannot read ${file}: ${fileErrorReason(error)}`);
}

/** The file's text (UTF-8), or an Error whose message says why it cannot be read. */
export function readInputFile(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, FLAGS);
  } catch (error) {
    throw failure(file, error);
  }
  try {
    const refused = refusal(file, fstatSync(fd));
    if (refused) throw new Error(refused);
    return readFileSync(fd, 'utf8');
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code ? failure(file, error) : error;
  } finally {
    closeSync(fd);
  }
}

/** readInputFile off the JavaScript thread. */
export async function readInputFileAsync(file: string): Promise<string> {
  const handle = await open(file, FLAGS).catch((error) => Promise.reject(failure(file, error)));
  try {
    const refused = refusal(file, await handle.stat());
    if (refused) throw new Error(refused);
    return await handle.readFile('utf8');
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code ? failure(file, error) : error;
  } finally {
    await handle.close();
  }
}
