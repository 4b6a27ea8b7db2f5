/**
 * `request()` and `reply()` between the two worker threads of a child
 * processor (1 processor × 2 threads), through their `RemoteBus`es: thread
 * 1.2 asks, an actor spawned in thread 1.1 (or a `RemoteBus.reply()` handler
 * here, on thread 1.1's events) answers, and processor 1's station carries
 * request and reply. Syncs are manual and the clock is a `ManualClock`, so
 * every step is awaited and timeouts fire when the test says.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createRuntime,
  isBusError,
  ManualClock,
  REPLY_TYPE,
  ReplyFailedError,
  RequestTimeoutError,
  type BusEvent,
  type RemoteBus,
  type Runtime,
} from '../../../index.js';
import { promiseState, rejects } from '../../helpers.js';

const REPLIER = new URL('../fixtures/replier.machine.ts', import.meta.url).href;

const test = suite('request-reply across 1 processor x 2 threads');

let clock: ManualClock;
let runtime: Runtime;

test.before(async () => {
  clock = new ManualClock(1_000);
  runtime = createRuntime({ processors: 1, threadsPerProcessor: 2, deferred: 'manual', clock });
  await runtime.ready;
});

test.after(async () => {
  await runtime.stop();
});

const worker = (thread: number) => runtime.thread(1, thread).bus('external') as RemoteBus;

/** Carries a request posted in thread 1.2 to thread 1.1, waits for the answer there, and carries it back. */
async function roundTrip(): Promise<BusEvent> {
  await worker(2).sync(); // the request to processor 1's station
  // Thread 1.1's own answer: a reply posted elsewhere (replyListeners() posts one in thread 1.2) reaches it with this sync.
  const answered = worker(1).waitFor(REPLY_TYPE, { timeout: 60_000, filter: (event) => event.origin.thread === 1 });
  await worker(1).sync(); // thread 1.1 reads it; its replier answers there
  const reply = await answered;
  await worker(1).sync(); // the reply to the station
  await worker(2).sync(); // thread 1.2 reads it: the request resolves
  return reply;
}

/** How many handlers thread 1.2 delivers a reply to: a request still waiting listens for one. */
async function replyListeners(): Promise<number> {
  const published = await worker(2).publish(REPLY_TYPE, { request: 'nobody', value: null });
  return published.dropped === undefined ? published.outcomes.length : -1;
}

test('request - an actor spawned in the other thread answers; the reply names the request', async () => {
  const actor = await runtime.spawn(REPLIER, { processor: 1, thread: 1, input: { name: 'thread 1.1' } });
  try {
    const asking = worker(2).request('user.get', { id: 'u1' }, { timeout: 60_000 });
    await worker(2).state();
    const reply = await roundTrip();
    assert.equal(await asking, { id: 'u1', by: 'thread 1.1' });
    const [request] = await worker(2).history({ types: ['user.get'] });
    assert.is((reply.payload as { request: string }).request, request!.id, 'correlated by the request\'s id');
    assert.equal(reply.origin, { processor: 1, thread: 1, generation: reply.origin.generation });
    assert.is(await replyListeners(), 0, 'the answered request listens no more');
  } finally {
    await actor.stop();
  }
});

test('reply - a handler here on thread 1.1\'s requests answers thread 1.2; one that throws rejects the request with REPLY_FAILED', async () => {
  const repliers = [
    worker(1).reply('price.get', (request) => ({ sku: request.payload, cents: 1_250 })),
    worker(1).reply('price.fail', () => {
      throw new RangeError('unknown sku');
    }),
  ];
  try {
    await worker(1).state(); // both listen in thread 1.1
    const price = worker(2).request('price.get', 'sku-1', { timeout: 60_000 });
    await worker(2).state();
    await roundTrip();
    assert.equal(await price, { sku: 'sku-1', cents: 1_250 });
    const failing = worker(2).request('price.fail', 'sku-2', { timeout: 60_000 });
    failing.catch(() => undefined);
    await worker(2).state();
    await roundTrip();
    const error = await failing.catch((failure: unknown) => failure);
    assert.instance(error, ReplyFailedError);
    assert.ok(isBusError(error, 'REPLY_FAILED'));
    assert.is((error as ReplyFailedError).errorName, 'RangeError');
    assert.match((error as Error).message, /unknown sku/);
  } finally {
    for (const replier of repliers) replier.unsubscribe();
  }
});

test('request - nobody answers: REQUEST_TIMEOUT on this runtime\'s clock, not before; no listener left in the thread', async () => {
  const asking = worker(2).request('nobody.home', { id: 1 }, { timeout: 500 });
  asking.catch(() => undefined);
  await worker(2).state();
  // Carried to thread 1.1 and back, where nobody answers it.
  await worker(2).sync();
  await worker(1).sync();
  await worker(1).sync();
  await worker(2).sync();
  clock.advance(499);
  assert.is(await promiseState(asking), 'pending');
  clock.advance(1);
  const error = await asking.catch((failure: unknown) => failure);
  assert.instance(error, RequestTimeoutError);
  assert.equal([(error as RequestTimeoutError).timeout, (error as RequestTimeoutError).requestType], [500, 'nobody.home']);
  assert.is(await replyListeners(), 0);
});

test('request - a signal aborts it with ABORTED, at once when already aborted (nothing is posted); bad input is refused here', async () => {
  const controller = new AbortController();
  const asking = worker(2).request('user.get', { id: 'u9' }, { signal: controller.signal, timeout: 60_000 });
  asking.catch(() => undefined);
  await worker(2).state();
  controller.abort('changed my mind');
  const error = await asking.catch((failure: unknown) => failure);
  assert.ok(isBusError(error, 'ABORTED'), String(error));
  assert.is((error as Error).cause, 'changed my mind');
  assert.is(await replyListeners(), 0);
  const before = (await worker(2).history({ types: ['user.get'] })).length;
  await rejects(worker(2).request('user.get', { id: 'u10' }, { signal: controller.signal }), 'ABORTED', 'already aborted');
  await rejects(worker(2).request('', { id: 1 }), 'INVALID_EVENT', 'an empty type');
  await rejects(worker(2).request('user.get', (() => 1) as never), 'INVALID_EVENT', 'a function is no payload');
  await rejects(worker(2).request('user.get', { id: 1 }, { timeout: -1 }), 'INVALID_OPTION');
  assert.is((await worker(2).history({ types: ['user.get'] })).length, before, 'nothing posted');
});

test.run();
