/**
 * `unlessStopped` (runtime/hosting/given-up.ts): a wait a stop gives up. The
 * work it gave up may still settle, or reject, later: nobody hears of that,
 * least of all the host process as an unhandled rejection (which ends it).
 * Its listener on the stop's signal lasts only as long as the wait.
 */
import { getEventListeners } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBusError } from '../../../errors.js';
import { unlessStopped } from '../../../runtime/hosting/given-up.js';

const test = suite('given up');

/** A promise and what settles it. */
function pending<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Unhandled rejections while `body` runs, and until the macrotask after it (Node reports them after the microtasks). */
async function unhandledDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => void seen.push(reason);
  process.on('unhandledRejection', listener);
  try {
    await body();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

test('unlessStopped - the stop ends the wait with RUNTIME_STOPPED; the work rejecting afterwards is no unhandled rejection', async () => {
  const seen = await unhandledDuring(async () => {
    const stop = new AbortController();
    const work = pending<number>();
    const waiting = unlessStopped(work.promise, stop.signal, 'loading the middleware modules');
    stop.abort();
    const error = await waiting.then(() => undefined, (reason: unknown) => reason);
    assert.ok(isBusError(error, 'RUNTIME_STOPPED'), String(error));
    assert.match(String(error), 'loading the middleware modules');
    work.reject(new Error('the import failed after the stop'));
  });
  assert.equal(seen, []);
});

test('unlessStopped - a signal aborted already refuses at once; the work rejecting later is no unhandled rejection', async () => {
  const seen = await unhandledDuring(async () => {
    const stop = new AbortController();
    stop.abort();
    const work = pending<number>();
    const error = await unlessStopped(work.promise, stop.signal, 'x').then(() => undefined, (reason: unknown) => reason);
    assert.ok(isBusError(error, 'RUNTIME_STOPPED'), String(error));
    work.reject(new Error('late'));
  });
  assert.equal(seen, []);
});

test('unlessStopped - work that settles first is the outcome, and leaves no listener on the signal (waits do not pile up on it)', async () => {
  const stop = new AbortController();
  for (let i = 0; i < 20; i++) assert.is(await unlessStopped(Promise.resolve(i), stop.signal, 'x'), i);
  const failure = new Error('refused');
  assert.is(await unlessStopped(Promise.reject(failure), stop.signal, 'x').catch((error: unknown) => error), failure);
  assert.is(getEventListeners(stop.signal, 'abort').length, 0);
  // Given up: the listener went with the abort.
  const waiting = unlessStopped(new Promise<never>(() => {}), stop.signal, 'x');
  assert.is(getEventListeners(stop.signal, 'abort').length, 1);
  stop.abort();
  await waiting.catch(() => undefined);
  assert.is(getEventListeners(stop.signal, 'abort').length, 0);
});

test('unlessStopped - no signal: the work itself', async () => {
  const work = Promise.resolve(1);
  assert.is(unlessStopped(work, undefined, 'x'), work);
});

test.run();
