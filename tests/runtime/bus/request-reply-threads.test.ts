/**
 * `request()` and `reply()` across real worker threads (1 processor × 2
 * threads) and a child processor, under the automatic sync policy: a
 * replier in a worker answers the root, the root answers a worker, one
 * worker answers another, errors and timeouts cross. Nothing sleeps: each
 * test awaits the request itself; the generous timeouts only turn a hang
 * into a failure.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, ReplyFailedError, type Runtime } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import { rejects } from '../../helpers.js';

const REPLIER = new URL('../fixtures/replier.machine.ts', import.meta.url).href;
/** Long enough for any sync under load; a request that takes this long has hung. */
const HUNG_MS = 30_000;

const test = suite('request-reply across threads');

let runtime: Runtime;

test.before(async () => {
  runtime = createRuntime({ threadsPerProcessor: 2, sync: { everyMs: 5 } });
  await runtime.ready;
});

test.after(async () => {
  await runtime.stop();
});

const worker = (thread: number) => runtime.thread(0, thread).bus('external') as RemoteBus;

test('root → worker: an actor in thread 1 answers a request of the root', async () => {
  const actor = await runtime.spawn(REPLIER, { thread: 1, input: { name: 'thread 1' } });
  try {
    const user = await runtime.bus('external').request('user.get', { id: 'u1' }, { timeout: HUNG_MS });
    assert.equal(user, { id: 'u1', by: 'thread 1' });
  } finally {
    await actor.stop();
  }
});

test('worker → root: a request posted in thread 1 is answered by a replier of the root', async () => {
  const replier = runtime.bus('external').reply('config.get', (request) => ({ key: request.payload, value: 'root' }));
  try {
    assert.equal(await worker(1).request('config.get', 'colour', { timeout: HUNG_MS }), { key: 'colour', value: 'root' });
  } finally {
    replier.unsubscribe();
  }
});

test('worker → worker: thread 2 asks, thread 1 answers; a throwing replier rejects with ReplyFailedError', async () => {
  const repliers = [
    worker(1).reply('price.get', (request) => ({ sku: request.payload, cents: 1_250 })),
    worker(1).reply('price.fail', () => {
      throw new RangeError('unknown sku');
    }),
  ];
  try {
    assert.equal(await worker(2).request('price.get', 'sku-1', { timeout: HUNG_MS }), { sku: 'sku-1', cents: 1_250 });
    const error = await worker(2).request('price.fail', 'sku-2', { timeout: HUNG_MS }).catch((failure: unknown) => failure);
    assert.ok(error instanceof ReplyFailedError, String(error));
    assert.is(error.errorName, 'RangeError');
    assert.match(error.message, /unknown sku/);
  } finally {
    for (const replier of repliers) replier.unsubscribe();
  }
});

test('worker, local: thread 1 asks with local: true; its own replier answers, the root never sees the request', async () => {
  let rootCalls = 0;
  const repliers = [
    runtime.bus('external').reply('stock.get', () => ++rootCalls),
    worker(1).reply('stock.get', (request) => ({ sku: request.payload, by: 'thread 1' })),
  ];
  try {
    assert.equal(await worker(1).request('stock.get', 'sku-3', { local: true, timeout: HUNG_MS }), { sku: 'sku-3', by: 'thread 1' });
    // A marker posted after the request reaches the root with the syncs; a request that went to the station would be there first.
    const marker = runtime.bus('external').waitFor('stock.marker', { timeout: HUNG_MS });
    await worker(1).post('stock.marker', {});
    await marker;
    assert.is(rootCalls, 0, 'the root replier never got the request');
    assert.is(runtime.bus('external').history({ types: ['stock.get'] }).length, 0);
  } finally {
    for (const replier of repliers) replier.unsubscribe();
  }
});

test('no replier anywhere: the request times out with REQUEST_TIMEOUT', async () => {
  await rejects(worker(2).request('nobody.home', {}, { timeout: 200 }), 'REQUEST_TIMEOUT');
  await rejects(runtime.bus('external').request('nobody.home', {}, { timeout: 200 }), 'REQUEST_TIMEOUT');
});

test('root → child processor: an actor in processor 1 answers, and the root answers it back', async () => {
  const far = createRuntime({ processors: 1, threadsPerProcessor: 1, sync: { everyMs: 5 } });
  try {
    await far.ready;
    await far.spawn(REPLIER, { processor: 1, thread: 1, input: { name: 'processor 1' } });
    assert.equal(await far.bus('external').request('user.get', { id: 'u7' }, { timeout: HUNG_MS }), { id: 'u7', by: 'processor 1' });
    far.bus('external').reply('config.get', () => 'from the root');
    assert.is(await (far.thread(1, 1).bus('external') as RemoteBus).request('config.get', {}, { timeout: HUNG_MS }), 'from the root');
  } finally {
    await far.stop();
  }
});

test.run();
