/**
 * Waits that a stop gives up. Some parts of a start cannot be cancelled (an
 * `import()` whose module never finishes loading), but a stop need not wait
 * for them: the wait ends at the stop, the work is left to settle (or not)
 * on its own. A pending import holds no handle, so it keeps no process up.
 */
import { RuntimeStoppedError } from '../../errors.js';

/**
 * `work`, or a `RuntimeStoppedError` naming `call` as soon as `signal`
 * aborts (at once if it has). What `work` does after that is nobody's: a
 * later rejection of it is swallowed, not reported as unhandled.
 */
export function unlessStopped<T>(work: Promise<T>, signal: AbortSignal | undefined, call: string): Promise<T> {
  if (signal === undefined) return work;
  work.catch(() => undefined);
  if (signal.aborted) return Promise.reject(new RuntimeStoppedError(call));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new RuntimeStoppedError(call));
    signal.addEventListener('abort', onAbort, { once: true });
    void work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
