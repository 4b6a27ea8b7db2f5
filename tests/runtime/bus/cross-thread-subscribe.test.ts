/**
 * `RemoteBus.subscribe()` on a worker of a child processor (1 processor × 2
 * threads): `'*'` gets every type; `{ signal }` ends the subscription in the
 * thread when it aborts, and an aborted signal never subscribes; a handler
 * error goes to `onError` here. A subscription here is a handler of the
 * thread, so `publish()` counts it — and tells when it has run.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BusEvent } from '../../../index.js';
import { processorRuntime } from '../../helpers.js';

const test = suite('RemoteBus subscribe with a signal, 1 processor x 2 threads');

const reported: Array<{ error: unknown; event: BusEvent }> = [];
const { worker } = processorRuntime(test, () => ({ onError: (error, event) => void reported.push({ error, event }) }));

/** Publishes in thread 1.`thread`; resolves with how many handlers it reached, once they have all run. */
async function reach(thread: number, type: string, payload: unknown = 0): Promise<number> {
  const published = await worker(thread).publish(type, payload as never);
  return published.dropped === undefined ? published.outcomes.length : -1;
}

test('subscribe - "*" gets every type the thread delivers; a signal\'s abort ends it there, and nothing after is seen', async () => {
  const controller = new AbortController();
  const seen: string[] = [];
  const subscription = worker(1).subscribe('*', (event) => void seen.push(event.type), { signal: controller.signal });
  assert.equal(subscription.types, ['*']);
  assert.is(await reach(1, 'user.login'), 1);
  assert.is(await reach(1, 'order.created.late'), 1);
  assert.is(await reach(1, 'tick'), 1);
  assert.equal(seen, ['user.login', 'order.created.late', 'tick']);
  controller.abort();
  assert.is(await reach(1, 'tick'), 0, 'the thread no longer delivers to it');
  assert.equal(seen, ['user.login', 'order.created.late', 'tick']);
  subscription.unsubscribe(); // still idempotent
  assert.is(await reach(2, 'tick'), 0, 'thread 1.2 never had it');
});

test('subscribe - an aborted signal never subscribes; one aborted later ends only its own subscription', async () => {
  const never: BusEvent[] = [];
  worker(2).subscribe('job', (event) => void never.push(event), { signal: AbortSignal.abort() });
  assert.is(await reach(2, 'job'), 0, 'nothing listens in the thread');
  assert.equal(never, []);
  const controller = new AbortController();
  const kept: string[] = [];
  const ended: string[] = [];
  const keep = worker(2).subscribe('job', (event) => void kept.push(event.id));
  worker(2).subscribe('job', (event) => void ended.push(event.id), { signal: controller.signal });
  assert.is(await reach(2, 'job'), 2);
  controller.abort('done with it');
  assert.is(await reach(2, 'job'), 1);
  assert.equal([kept.length, ended.length], [2, 1]);
  keep.unsubscribe();
  assert.is(await reach(2, 'job'), 0);
});

test('subscribe - a handler that throws is reported to onError here, with its event; the subscription runs on', async () => {
  const got: number[] = [];
  const subscription = worker(1).subscribe('risky', (event) => {
    got.push(event.payload as number);
    if (event.payload === 1) throw new TypeError('handler failed here');
  });
  try {
    await reach(1, 'risky', 1);
    await reach(1, 'risky', 2);
    assert.equal(got, [1, 2]);
    const report = reported.find((entry) => entry.event.type === 'risky');
    assert.match(String(report?.error), /handler failed here/);
    assert.is(report?.event.payload, 1);
  } finally {
    subscription.unsubscribe();
  }
});

test('subscribe - bad arguments throw here, as on a Bus, before anything crosses', async () => {
  const code = (run: () => unknown): string | undefined => {
    try {
      run();
    } catch (error) {
      return (error as { code?: string }).code;
    }
    return undefined;
  };
  assert.equal(
    [
      code(() => worker(1).subscribe('', () => undefined)),
      code(() => worker(1).subscribe('a.>.b', () => undefined)),
      code(() => worker(1).subscribe('a', 'not a function' as never)),
      code(() => worker(1).subscribe('a', () => undefined, { signal: {} as never })),
      code(() => worker(1).subscribe('a', () => undefined, { every: 1 } as never)),
    ],
    ['INVALID_EVENT', 'INVALID_EVENT', 'INVALID_OPTION', 'INVALID_OPTION', 'INVALID_OPTION'],
  );
  assert.is(await reach(1, 'a'), 0, 'nothing listens in the thread');
});

test.run();
