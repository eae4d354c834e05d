/**
 * Problems found in a data folder. Readers collect them, then either fail with one
 * {@link FprlError} naming the first bad file (and counting the rest) or, with `skipBad`,
 * skip the bad samples and report each problem through `onWarning`.
 */
import { FprlError, isFprlError } from '../../core/errors.js';

export interface Problem {
  /** The file at fault. */
  file: string;
  message: string;
  hint?: string;
  /** Errors make a sample unusable; warnings (e.g. a stray file) are only reported. */
  severity: 'error' | 'warning';
}

export function problemOf(e: unknown, fallbackFile: string): Problem {
  if (isFprlError(e))
    return { file: e.where ?? fallbackFile, message: e.message, hint: e.hint, severity: 'error' };
  return { file: fallbackFile, message: (e as Error)?.message ?? String(e), severity: 'error' };
}

export function describeProblem(p: Problem): string {
  return `${p.file}: ${p.message}`;
}

/** One error for a list of problems: the first in full, then how many more and where. */
export function problemsError(problems: Problem[], context: string): FprlError {
  const [first, ...rest] = problems;
  const more = rest.length
    ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''} in ${context}: ${rest
        .slice(0, 4)
        .map((p) => p.file)
        .join(', ')}${rest.length > 4 ? ', ...' : ''})`
    : '';
  const hint = [
    first.hint,
    'pass skipBad (CLI: --skip-bad) to skip bad samples with a warning, or run `fprl data check` to list every problem',
  ]
    .filter(Boolean)
    .join('; ');
  return new FprlError(`${first.message}${more}`, { where: first.file, hint });
}
