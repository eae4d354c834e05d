/** The experiments' one error for every problem found in a config file. */
import { FprlError } from '../core/errors.js';
import type { ConfigIssue } from '../core/validate.js';

/** One FprlError listing every issue, one per line, `where` naming the file. */
export function configError(
  issues: readonly ConfigIssue[],
  where: string | undefined,
  hint?: string,
): FprlError {
  const lines = issues.map((i) => `  ${i.path || '/'}: ${i.message}`);
  const n = issues.length;
  return new FprlError(
    `invalid experiment config (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    {
      where,
      hint:
        hint ??
        'fix the listed keys; experiments/schema.json describes every field (editors validate with it)',
    },
  );
}
