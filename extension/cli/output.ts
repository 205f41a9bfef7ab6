// What phasic-trace writes, and how it leaves: every byte written reaches the pipe,
// file or terminal before the process exits (a pipe takes writes asynchronously, so
// exiting right after a write cuts the output at the pipe's buffer); a reader that
// goes away (EPIPE, `| head`) ends the process quietly; and text from models, files
// and the engine is shown with its control characters escaped, so a name cannot
// drive the terminal.

/** 128 + SIGPIPE: the status a shell reports for a tool whose reader went away. */
export const OUTPUT_CLOSED = 141;

let closed = false;
let failed = false;

export function print(text: string): void {
  if (!closed) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export function printError(text: string): void {
  if (!closed) process.stderr.write(text.endsWith('\n') ? text : text + '\n');
}

/**
 * A write error on stdout or stderr. A closed reader (EPIPE) is how a consumer says it
 * has read enough: no message, no stack trace, status OUTPUT_CLOSED. Any other write
 * error (a full disk) loses output, so it is said on stderr.
 */
function noteWriteError(error: NodeJS.ErrnoException): void {
  if (error.code === 'EPIPE') {
    closed = true;
    return;
  }
  if (!failed) {
    failed = true;
    try {
      process.stderr.write(`phasic-trace: cannot write output: ${error.code ?? error.message}\n`);
    } catch {
      // stderr is gone too; the status says it.
    }
  }
}

/** Watches stdout and stderr for write errors (noteWriteError). */
export function guardOutput(): void {
  process.stdout.on('error', noteWriteError);
  process.stderr.on('error', noteWriteError);
}

/**
 * Resolves once everything written to `stream` so far has been handed to the OS. A
 * stream that failed meanwhile is noted here too: its 'error' event may only come on
 * a later tick, after the exit status was chosen (a reader that went away would then
 * end with 0 and the output cut).
 */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const settle = () => {
      if (stream.errored) noteWriteError(stream.errored as NodeJS.ErrnoException);
      resolve();
    };
    if (stream.destroyed || stream.writableFinished) settle();
    // Writes complete in order: this one's callback runs after every earlier one.
    else stream.write('', settle);
  });
}

/** Exits with `code` once stdout and stderr have drained. */
export async function exitWhenDrained(code: number): Promise<never> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(closed ? OUTPUT_CLOSED : code === 0 && failed ? 1 : code);
}

// C0 controls, DEL and C1 controls: what terminals interpret (ESC starts a sequence;
// C1 CSI 0x9b does on its own). Line and paragraph separators end a line in editors.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's job
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Text from outside (names, messages, paths) as it may be shown on a terminal: each
 * control character as a `\xHH` (or `\uHHHH`) escape. Only for human-readable
 * output; JSON escapes these itself.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

// What JSON.stringify leaves raw: DEL, the C1 controls (U+009B is CSI to many
// terminals) and the line separators.
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029]/g;

/** JSON text with every control character as a \u escape: the same value, safe to show. */
export function jsonText(json: string): string {
  return json.replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
