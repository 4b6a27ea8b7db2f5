/**
 * Wildcards across 1 processor × 2 threads: the same patterns (`*` one
 * part, a final `>` one or more, a plain type with its subtypes) select in
 * `history({ types })` of a worker's `RemoteBus` and of the child
 * processor's `RemoteStation`, in `fromStation({ types })` between its
 * threads, in a station's `fromMain({ types })`, in a `RemoteBus.subscribe()`
 * here, and in the `types` of an actor spawned in a worker.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBusError, type BusEvent, type RemoteBus, type RemoteStation } from '../../../index.js';
import { ids, processorRuntime, rejects } from '../../helpers.js';

const COUNTER = new URL('../../../examples/order-counter.machine.ts', import.meta.url);
const TYPES = ['a', 'a.b', 'a.b.c', 'x.b', 'x.b.c', 'a.c'];

const test = suite('wildcards across 1 processor x 2 threads');

const setup = processorRuntime(test, undefined, { each: true });
const { worker } = setup;
const station = () => setup.runtime.processor(1).station('external') as RemoteStation;

/** Posts one event of each of TYPES in thread 1.1; returns the ids of those of `types`, in order. */
async function postAll(): Promise<(...types: string[]) => string[]> {
  const posted: BusEvent[] = [];
  for (const type of TYPES) posted.push(await worker(1).post(type, type));
  return (...types) => ids(posted.filter((event) => types.includes(event.type)));
}

test('history - patterns on a worker\'s RemoteBus and on the child processor\'s RemoteStation select as in one thread', async () => {
  const byType = await postAll();
  const one = worker(1);
  assert.equal(ids(await one.history({ types: ['*.b'] })), byType('a.b', 'x.b'));
  assert.equal(ids(await one.history({ types: ['a.>'] })), byType('a.b', 'a.b.c', 'a.c'));
  assert.equal(ids(await one.history({ types: ['*.b.*', 'a'] })), byType('a', 'a.b', 'a.b.c', 'x.b.c', 'a.c'));
  assert.equal(ids(await one.history({ types: ['>'] })), byType(...TYPES));
  assert.equal(ids(await one.history({ types: ['*'] })), byType(...TYPES));
  await one.sync();
  assert.equal(ids(await station().history({ types: ['x.*'] })), byType('x.b'));
  assert.equal(ids(await station().history({ types: ['*.*.c'] })), byType('a.b.c', 'x.b.c'));
  await rejects(one.history({ types: ['a.>.b'] }), 'INVALID_OPTION', 'a > that is not last');
  await rejects(one.history({ types: ['a..b'] }), 'INVALID_OPTION', 'an empty part');
});

test('errors - one rule for a malformed pattern, the same on a Bus and a RemoteBus: INVALID_EVENT where a call listens to it, INVALID_OPTION in options', async () => {
  /** The code a call fails with, thrown or rejected. */
  const codeOf = async (call: () => unknown): Promise<string> => {
    try {
      await call();
    } catch (error) {
      return isBusError(error) ? error.code : String(error);
    }
    return 'accepted';
  };
  const handler = () => undefined;
  for (const bus of [setup.runtime.bus('external'), worker(1)] as RemoteBus[]) {
    for (const bad of ['a.>.b', '', 'us*er', 'a..b']) {
      const codes = {
        post: await codeOf(() => bus.post(bad, 1)),
        subscribe: await codeOf(() => bus.subscribe(bad, handler)),
        subscribeList: await codeOf(() => bus.subscribe(['ok', bad], handler)),
        waitFor: await codeOf(() => bus.waitFor(bad, { timeout: 1 })),
        waitForEvents: await codeOf(() => bus.waitForEvents(['ok', bad], { timeout: 1 })),
        request: await codeOf(() => bus.request(bad, 1, { timeout: 1 })),
        reply: await codeOf(() => bus.reply(bad, handler)),
        history: await codeOf(() => bus.history({ types: [bad] })),
        fromStation: await codeOf(() => bus.fromStation({ types: [bad] })),
        sync: await codeOf(() => bus.sync({ types: [bad] })),
      };
      const listens = { post: 'INVALID_EVENT', subscribe: 'INVALID_EVENT', subscribeList: 'INVALID_EVENT', waitFor: 'INVALID_EVENT', waitForEvents: 'INVALID_EVENT', request: 'INVALID_EVENT', reply: 'INVALID_EVENT' };
      assert.equal(codes, { ...listens, history: 'INVALID_OPTION', fromStation: 'INVALID_OPTION', sync: 'INVALID_OPTION' }, `${JSON.stringify(bad)} on ${bus.constructor.name}`);
    }
    await rejects(Promise.resolve().then(() => bus.subscribe([] as never, handler)), 'INVALID_EVENT', 'an empty list listens to nothing');
    await rejects(bus.waitForEvents([] as never), 'INVALID_EVENT');
  }
});

test('fromStation - a pattern selects what thread 1.2 reads, and a pattern subscription here sees just those', async () => {
  const byType = await postAll();
  await worker(1).toStation();
  const two = worker(2);
  const seen: string[] = [];
  let all!: () => void;
  const both = new Promise<void>((resolve) => (all = resolve));
  const subscription = two.subscribe('*.*.c', (event) => {
    seen.push(event.id);
    if (seen.length === 2) all();
  });
  try {
    const { added } = await two.fromStation({ types: ['*.b.>'] });
    assert.equal(ids(added), byType('a.b.c', 'x.b.c'));
    await both;
    assert.equal(seen, byType('a.b.c', 'x.b.c'));
    assert.equal(ids(await two.history({ types: ['x'] })), byType('x.b.c'), 'x.b was not read');
    await rejects(two.fromStation({ types: ['*.>.c'] }), 'INVALID_OPTION');
  } finally {
    subscription.unsubscribe();
  }
});

test('fromMain - a pattern selects what the root\'s station takes from the main station', async () => {
  const byType = await postAll();
  await worker(1).toStation();
  await station().toMain();
  const { added } = await setup.runtime.station('external').fromMain({ types: ['a.*'] });
  assert.is(added, 2);
  assert.equal(ids(setup.runtime.station('external').history({ types: ['a.>'] })), byType('a.b', 'a.c'));
});

test('spawn - an actor in a child processor\'s worker subscribes by pattern; a bad pattern is refused', async () => {
  const counter = await setup.runtime.spawn(COUNTER, { processor: 1, thread: 2, input: { limit: 2 }, types: ['*.created'] });
  const two = worker(2);
  const limit = two.waitFor('orders.limit', { timeout: 60_000 });
  await two.post('order.created', { id: 1 });
  await two.post('order.paid', { id: 1 }); // not *.created
  await two.post('order.created', { id: 2 });
  assert.equal((await limit).payload, { orders: 2 });
  assert.is((await counter.info()).state, 'full');
  const error = await setup.runtime.spawn(COUNTER, { processor: 1, thread: 1, types: ['order.>.created'] }).then(() => undefined, (thrown: unknown) => thrown);
  assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
});

test.run();
