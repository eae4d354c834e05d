/** The refusal a test expects: the FprlError an action ends with (any other error fails the test as itself). */
import { FprlError } from '../../src/core/errors.js';

/** The FprlError `p` rejects with; a `p` that resolves fails the test. */
export async function refusal(p: Promise<unknown>): Promise<FprlError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FprlError) return e;
    throw e;
  }
  throw new Error('expected a refusal (an FprlError)');
}

/** The FprlError `f` throws; an `f` that returns fails the test. */
export function refusalSync(f: () => unknown): FprlError {
  try {
    f();
  } catch (e) {
    if (e instanceof FprlError) return e;
    throw e;
  }
  throw new Error('expected a refusal (an FprlError)');
}
