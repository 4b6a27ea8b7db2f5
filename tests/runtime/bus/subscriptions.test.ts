/**
 * `Subscriptions` through a runtime's bus: which subscribers a delivery calls
 * when subscriptions change around it (the match cache of the last type, a
 * plain subscriber's one check, the others' topics and filter).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, ManualClock, type Bus, type Runtime, type SubscribeOptions, type Subscription } from '../../../index.js';

const test = suite('subscriptions');

let runtime: Runtime | undefined;

test.after.each(async () => {
  await runtime?.stop();
  runtime = undefined;
});

function bus(errors: unknown[] = []): Bus {
  runtime = createRuntime({ clock: new ManualClock(1_000), deferred: 'manual', metrics: true, onError: (error) => void errors.push(error) });
  return runtime.bus('external');
}

const now = (b: Bus, type: string, payload: number | null = null, topic?: string) => b.post(type, payload, { priority: 'immediate', ...(topic === undefined ? {} : { topic }) });

test('subscribe - options are what the subscription keeps: a filter read once more by a getter is still applied', () => {
  const b = bus();
  const seen: unknown[] = [];
  let reads = 0;
  const odd = (event: { payload: unknown }) => (event.payload as number) % 2 === 1;
  // A getter (a proxy, a class with accessors) need not answer alike every time it is read: the subscription keeps what it read.
  const options = {
    get filter() {
      return ++reads <= 3 ? odd : undefined;
    },
  } as SubscribeOptions;
  b.subscribe('n', (event) => void seen.push(event.payload), options);
  for (let n = 0; n < 4; n++) now(b, 'n', n);
  assert.equal(seen, [1, 3]);
});

test('subscribe - an AbortSignal aborted by an earlier handler of the same delivery: its later subscribers, plain or filtered, are not called', () => {
  const b = bus();
  const calls: string[] = [];
  const controller = new AbortController();
  b.subscribe('n', () => {
    calls.push('first');
    controller.abort();
  });
  b.subscribe('n', () => void calls.push('plain'), { signal: controller.signal });
  b.subscribe('n', () => void calls.push('filtered'), { signal: controller.signal, filter: () => true });
  b.subscribe('n', () => void calls.push('last'));
  now(b, 'n');
  now(b, 'n');
  assert.equal(calls, ['first', 'last', 'first', 'last']);
  assert.equal(b.stats()!.delivered, { n: 4 });
});

test('subscribe - a filter that ends a later plain subscriber, or its own subscription, during a delivery: the later one is not called, its own handler is when it admits', () => {
  const b = bus();
  const calls: string[] = [];
  let later: Subscription | undefined;
  let own: Subscription | undefined;
  own = b.subscribe('n', () => void calls.push('filtered'), {
    filter: () => {
      later?.unsubscribe();
      own?.unsubscribe();
      return true;
    },
  });
  later = b.subscribe('n', () => void calls.push('later'));
  now(b, 'n');
  now(b, 'n');
  assert.equal(calls, ['filtered']);
  assert.equal(b.stats()!.delivered, { n: 1 });
});

test('subscribe - topics [] takes nothing; filter and topics given as undefined are no filter and no topics', () => {
  const b = bus();
  const calls: string[] = [];
  b.subscribe('n', () => void calls.push('none'), { topics: [] });
  b.subscribe('n', () => void calls.push('undefined'), { filter: undefined, topics: undefined });
  b.subscribe('n', () => void calls.push('a'), { topics: ['a'], filter: undefined });
  now(b, 'n', 1, 'a');
  now(b, 'n', 2);
  now(b, 'n', 3, 'b');
  assert.equal(calls, ['undefined', 'a', 'undefined', 'undefined']);
  assert.equal(b.stats()!.delivered, { n: 4 });
});

test('subscribe - a handler that ends its subscription and subscribes itself again is called once per event', () => {
  const b = bus();
  const seen: unknown[] = [];
  let subscription: Subscription;
  const handler = (event: { payload: unknown }) => {
    seen.push(event.payload);
    subscription.unsubscribe();
    subscription = b.subscribe('n', handler);
  };
  subscription = b.subscribe('n', handler);
  for (let n = 0; n < 3; n++) now(b, 'n', n);
  assert.equal(seen, [0, 1, 2]);
  assert.equal(b.stats()!.delivered, { n: 3 });
});

test('subscribe - wildcards subscribed while a type is the last matched get its next event, and none once they end', () => {
  const b = bus();
  const calls: string[] = [];
  b.subscribe('user.login', () => void calls.push('exact'));
  now(b, 'user.login');
  const wildcards = ['*', '>', 'user.*', 'user.>', 'user'].map((pattern) => b.subscribe(pattern, () => void calls.push(pattern)));
  // Not matching user.login: must not be called for it.
  b.subscribe('user.*.x', () => void calls.push('user.*.x'));
  now(b, 'user.login');
  assert.equal(calls, ['exact', 'exact', '*', '>', 'user.*', 'user.>', 'user']);
  calls.length = 0;
  for (const subscription of wildcards) subscription.unsubscribe();
  now(b, 'user.login');
  assert.equal(calls, ['exact']);
});

test('subscribe - subscriptions carry over to the next bus generation, and end there by their unsubscribe', async () => {
  const b = bus();
  const calls: string[] = [];
  const plain = b.subscribe('n', () => void calls.push('plain'));
  const filtered = b.subscribe('n', () => void calls.push('filtered'), { filter: (event) => event.payload === 1 });
  b.subscribe('n', () => void calls.push('topical'), { topics: ['a'] });
  now(b, 'n', 1, 'a');
  const next = await b.toStation();
  now(next, 'n', 1, 'a');
  plain.unsubscribe();
  filtered.unsubscribe();
  now(next, 'n', 1, 'a');
  assert.equal(calls, ['plain', 'filtered', 'topical', 'plain', 'filtered', 'topical', 'topical']);
  assert.equal(next.stats()!.delivered, { n: 7 });
});

test('subscribe - a throwing filter goes to onError and is no call; the plain subscribers around it are called', () => {
  const errors: unknown[] = [];
  const b = bus(errors);
  const calls: string[] = [];
  const mine: unknown[] = [];
  b.subscribe('n', () => void calls.push('before'));
  b.subscribe('n', () => void calls.push('filtered'), {
    filter: () => {
      throw new Error('filter failed');
    },
    onError: (error) => void mine.push((error as Error).message),
  });
  b.subscribe('n', () => void calls.push('after'));
  now(b, 'n');
  assert.equal(calls, ['before', 'after']);
  assert.equal(mine, ['filter failed']);
  assert.equal(errors, []);
  const stats = b.stats()!;
  assert.equal(stats.delivered, { n: 2 });
  assert.equal(stats.errors.bySubscription, { '1:n': 1 });
});

test('waitFor - its subscription ends with the event it waited for: later subscribers and events see no trace of it', async () => {
  const b = bus();
  const calls: unknown[] = [];
  const waited = b.waitFor('n');
  b.subscribe('n', (event) => void calls.push(event.payload));
  now(b, 'n', 1);
  assert.is((await waited).payload, 1);
  now(b, 'n', 2);
  assert.equal(calls, [1, 2]);
  assert.equal(b.stats()!.delivered, { n: 3 });
});

test.run();
