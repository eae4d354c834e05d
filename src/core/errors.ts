/**
 * One error type for everything a user can get wrong: bad config, bad data, bad plugin.
 * `where` names the file, JSON path or plugin; `hint` says what to do. The CLI prints
 * `error: <where>: <message>\n  hint: <hint>` and exits non-zero, with no stack unless --verbose.
 */
export class FprlError extends Error {
  readonly where?: string;
  readonly hint?: string;

  constructor(message: string, opts: { where?: string; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FprlError';
    this.where = opts.where;
    this.hint = opts.hint;
  }

  /** The whole message as the CLI prints it. */
  describe(): string {
    const head = this.where ? `${this.where}: ${this.message}` : this.message;
    return this.hint ? `${head}\n  hint: ${this.hint}` : head;
  }
}

export function isFprlError(e: unknown): e is FprlError {
  return e instanceof FprlError;
}
