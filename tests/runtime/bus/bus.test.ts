/**
 * A bus reports to its actor once per call or batch: the step that ends a
 * sync call carries what was posted and delivered since the last report.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusFullError, createRuntime, isBusError } from '../../../index.js';
import { busControl } from '../../../internal.js';
import { turns } from '../fixtures/turns.js';

const test = suite('Bus reports');

test('toStation - posts of the same tick reach the actor with the handover: two steps, no ACTIVITY', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const steps: string[] = [];
    const subscription = busControl.actor(bus).subscribe((snapshot) => steps.push(String(snapshot.value)));
    for (let i = 0; i < 3; i++) bus.post('counted', i);
    const next = await bus.toStation();
    subscription.unsubscribe();
    assert.equal(steps, ['handingOver', 'retired']);
    const { posted, handedOver, lastId } = busControl.actor(bus).getSnapshot().context;
    assert.equal({ posted, handedOver, lastId }, { posted: 3, handedOver: 3, lastId: runtime.station('external').history()[2]!.id });
    // Another thread reads them: deliveries and a post of the same tick ride on RECEIVED.
    const reader = runtime.addThread().bus('external');
    const delivered: unknown[] = [];
    reader.subscribe('counted', (event) => void delivered.push(event.payload));
    const readerSteps: string[] = [];
    const watching = busControl.actor(reader).subscribe((snapshot) => readerSteps.push(String(snapshot.value)));
    reader.post('other', 1);
    await reader.fromStation();
    watching.unsubscribe();
    assert.equal(delivered, [0, 1, 2]);
    assert.equal(readerSteps, ['receiving', 'active'], 'no ACTIVITY step of its own');
    const { posted: readerPosted, delivered: readerDelivered, received } = busControl.actor(reader).getSnapshot().context;
    assert.equal([readerPosted, readerDelivered, received], [1, 3, 3]);
    void next;
  } finally {
    await runtime.stop();
  }
});

test('reports - lastId is the id of the last event posted, past each thousand, after a refused post and on the next generation', async () => {
  const runtime = createRuntime({ deferred: 'manual', memory: { policies: { refused: { sizeLimit: 1 } } } });
  try {
    let bus = runtime.bus('external');
    const lastId = async () => {
      await turns(1);
      return busControl.actor(bus).getSnapshot().context.lastId;
    };
    assert.is(await lastId(), null);
    const checked = new Set([1, 999, 1000, 1001, 1999, 2000, 2001, 10_000, 10_001]);
    let last = '';
    for (let count = 1; count <= 10_001; count++) {
      last = bus.post('counted', count, { priority: count % 2 === 0 ? 'immediate' : 'normal', local: true }).id;
      if (checked.has(count)) assert.is(await lastId(), last, `after ${count} posts`);
    }
    assert.is(last, '0.0.10000');
    // A refused post uses up its id, but was not posted.
    assert.throws(() => bus.post('refused', 'too large'), (error: unknown) => isBusError(error, 'EVENT_TOO_LARGE'));
    assert.is(await lastId(), last);
    // An immediate post inside a handler is posted after the one delivered.
    bus.subscribe('outer', () => void (last = bus.post('inner', 1, { priority: 'immediate' }).id));
    bus.post('outer', 1, { priority: 'immediate' });
    assert.is(await lastId(), last);
    assert.is(last, '0.0.10003');
    // The next generation reports its own posts; ids go on in the thread.
    bus = await bus.toStation();
    assert.is(await lastId(), null);
    assert.is(bus.post('counted', 0).id, '0.0.10004');
    assert.is(await lastId(), '0.0.10004');
  } finally {
    await runtime.stop();
  }
});

test('failures - what was held for the closing step is reported on its own when the call fails', async () => {
  let failing = true;
  const runtime = createRuntime({
    deferred: 'manual',
    transport: { name: 'flaky', carry: (message) => (failing ? Promise.reject(new Error('link down')) : Promise.resolve(message)) },
  });
  try {
    const bus = runtime.bus('external');
    bus.post('before.read', 1);
    await bus.fromStation().catch(() => undefined);
    assert.equal([bus.state, busControl.actor(bus).getSnapshot().context.posted], ['active', 1], 'a failed read reports the held post');
    bus.post('after.read', 2);
    await Promise.resolve();
    assert.is(busControl.actor(bus).getSnapshot().context.posted, 2, 'and reports flow again afterwards');
    bus.post('before.handover', 3);
    await bus.toStation().catch(() => undefined);
    const { posted, failure } = busControl.actor(bus).getSnapshot().context;
    assert.equal([posted, failure !== null], [3, true], 'a failed handover reports what it had taken');
    failing = false;
    const next = runtime.bus('external');
    await next.toStation();
    assert.is(runtime.station('external').size, 3, 'nothing was lost');
  } finally {
    await runtime.stop();
  }
});

test.run();

const queue = suite('Bus queue bound (maxQueued)');

queue('a deferred post beyond maxQueued is refused with BUS_FULL; nothing accepted is lost; drain() makes room', () => {
  const runtime = createRuntime({ deferred: 'manual', maxQueued: 2 });
  const bus = runtime.bus('external');
  const delivered: unknown[] = [];
  bus.subscribe('later', (event) => void delivered.push(event.payload));
  bus.post('later', 1, { priority: 'deferred' });
  bus.post('later', 2, { priority: 'deferred' });
  try {
    bus.post('later', 3, { priority: 'deferred' });
    assert.unreachable('a third deferred post was taken');
  } catch (error) {
    assert.ok(isBusError(error, 'BUS_FULL'), String(error));
    assert.ok(error instanceof BusFullError && error.bound === 'queue');
    assert.match((error as Error).message, /maxQueued is 2/);
  }
  assert.is(bus.queued, 2);
  assert.equal(bus.queue().map((event) => event.payload), [1, 2], 'the refused post left the queue as it was');
  bus.post('now', 'normal posts are not bounded by the queue', { priority: 'immediate' });
  assert.is(bus.drain(), 2);
  assert.equal(delivered, [1, 2]);
  bus.post('later', 3, { priority: 'deferred' });
  assert.is(bus.queued, 1);
  return runtime.stop();
});

queue('parked entries count against the bound: toStation() does not make room, drain() after fromStation() does', async () => {
  const runtime = createRuntime({ deferred: 'manual', maxQueued: 2 });
  try {
    let bus = runtime.bus('external');
    bus.post('later', 1, { priority: 'deferred' });
    bus.post('later', 2, { priority: 'deferred' });
    bus = await bus.toStation(); // parked at the station
    assert.equal([bus.queued, bus.parked], [0, 2]);
    const refused = catchError(() => bus.post('later', 3, { priority: 'deferred' }));
    assert.ok(refused instanceof BusFullError, String(refused));
    assert.equal([refused.bound, refused.held, refused.max], ['queue', 2, 2]);
    assert.match(refused.message, /parked/);
    await bus.fromStation();
    assert.equal([bus.queued, bus.parked], [2, 0]);
    assert.ok(isBusError(catchError(() => bus.post('later', 3, { priority: 'deferred' })), 'BUS_FULL'), 'back in the queue, still held');
    assert.is(bus.drain(), 2);
    bus.post('later', 3, { priority: 'deferred' });
    assert.is(bus.queued, 1);
  } finally {
    await runtime.stop();
  }
});

queue('a thread cannot pile up parked entries by handing over again and again: the station holds at most maxQueued of them', async () => {
  const runtime = createRuntime({ deferred: 'manual', maxQueued: 3 });
  try {
    let bus = runtime.bus('external');
    let accepted = 0;
    for (let handover = 0; handover < 5; handover++) {
      for (let i = 0; i < 3; i++) {
        if (catchError(() => bus.post('later', accepted, { priority: 'deferred' })) === undefined) accepted++;
      }
      bus = await bus.toStation();
    }
    assert.is(accepted, 3, 'only the first handover found room');
    assert.is(runtime.station('external').queued().length, 3);
    await bus.fromStation();
    assert.equal(bus.queue().map((event) => event.payload), [0, 1, 2], 'nothing accepted was lost');
  } finally {
    await runtime.stop();
  }
});

queue('entries a local station pushed on to the main station still count, until they come back', async () => {
  const runtime = createRuntime({ deferred: 'manual', maxQueued: 2 });
  try {
    let bus = runtime.bus('external');
    bus.post('later', 1, { priority: 'deferred' });
    bus = await bus.toStation();
    const station = runtime.station('external');
    await station.toMain();
    assert.is(station.queued().length, 0, 'the entry left for the main station');
    assert.equal(await bus.fromStation().then(({ handedBack }) => handedBack), 0);
    assert.is(bus.parked, 1, 'the local station still counts it');
    bus.post('later', 2, { priority: 'deferred' });
    assert.ok(isBusError(catchError(() => bus.post('later', 3, { priority: 'deferred' })), 'BUS_FULL'));
    await station.fromMain();
    await bus.fromStation();
    assert.equal([bus.parked, bus.queue().map((event) => event.payload)], [0, [1, 2]]);
  } finally {
    await runtime.stop();
  }
});

queue('a failed toStation() takes its queue back and counts nothing as parked', async () => {
  let failing = false;
  const runtime = createRuntime({
    deferred: 'manual',
    maxQueued: 2,
    transport: { name: 'flaky', carry: (message) => (failing ? Promise.reject(new Error('link down')) : Promise.resolve(message)) },
  });
  try {
    const bus = runtime.bus('external');
    bus.post('later', 1, { priority: 'deferred' });
    failing = true;
    const handover = bus.toStation();
    const successor = runtime.bus('external');
    assert.is(successor.parked, 1, 'counted as parked while the handover is under way');
    assert.ok(isBusError(await handover.then(() => undefined, (error: unknown) => error), 'TRANSPORT_FAILED'));
    assert.equal([successor.parked, successor.queued], [0, 1]);
    successor.post('later', 2, { priority: 'deferred' });
    assert.ok(isBusError(catchError(() => successor.post('later', 3, { priority: 'deferred' })), 'BUS_FULL'));
  } finally {
    await runtime.stop();
  }
});

queue('sync() counts entries it takes back as parked until they are in the queue, even while its batch is on its way', async () => {
  let hold: Promise<void> | undefined;
  const runtime = createRuntime({
    deferred: 'manual',
    maxQueued: 2,
    transport: {
      name: 'slow-batches',
      // A bus's batch on its way to the station waits while `hold` is set; reads pass.
      carry: async (message, receiver) => {
        if (hold !== undefined && message.kind === 'batch' && receiver === 'station') await hold;
        return message;
      },
    },
  });
  try {
    let bus = runtime.bus('external');
    bus.post('later', 1, { priority: 'deferred' });
    bus.post('later', 2, { priority: 'deferred' });
    bus = await bus.toStation();
    bus.post('now', 'something to share, so sync() sends a batch');
    let release!: () => void;
    hold = new Promise<void>((resolve) => (release = resolve));
    const syncing = bus.sync();
    await turns(3); // the read is back; the batch is not
    const refused = [3, 4].filter((n) => catchError(() => bus.post('later', n, { priority: 'deferred' })) !== undefined);
    release();
    hold = undefined;
    await syncing;
    assert.equal(refused, [3, 4], 'the entries on their way back still count');
    assert.equal([bus.queued, bus.parked], [2, 0]);
  } finally {
    await runtime.stop();
  }
});

queue('a toStation() refused while its successor read is counted from what the station said, not undone twice', async () => {
  let refuse: Promise<void> | undefined;
  const runtime = createRuntime({
    deferred: 'manual',
    maxQueued: 4,
    transport: {
      name: 'refusing-batches',
      // While `refuse` is set, a bus's batch waits for it and is then refused; reads pass.
      carry: async (message, receiver) => {
        if (refuse !== undefined && message.kind === 'batch' && receiver === 'station' && message.from.thread === 0) {
          await refuse;
          throw new Error('link down');
        }
        return message;
      },
    },
  });
  try {
    let bus = runtime.bus('external');
    bus.post('later', 1, { priority: 'deferred' });
    bus = await bus.toStation();
    await runtime.station('external').toMain(); // parked at the main station: a read does not bring it back
    bus.post('later', 2, { priority: 'deferred' });
    let release!: () => void;
    refuse = new Promise<void>((resolve) => (release = resolve));
    const handover = bus.toStation();
    const successor = runtime.bus('external');
    assert.is(successor.parked, 2, 'both counted while the handover is under way');
    await successor.fromStation(); // the station says 1 (the one at the main station)
    release();
    assert.ok(isBusError(await handover.then(() => undefined, (error: unknown) => error), 'TRANSPORT_FAILED'));
    refuse = undefined;
    assert.equal([successor.parked, successor.queued], [1, 1]);
  } finally {
    await runtime.stop();
  }
});

queue('options - maxQueued is checked', () => {
  for (const maxQueued of [0, -1, 1.5, '8', Infinity, Number.NaN]) {
    assert.ok(isBusError(catchError(() => createRuntime({ maxQueued: maxQueued as never })), 'INVALID_OPTION'), String(maxQueued));
  }
});

function catchError(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

queue.run();

const payloads = suite('Bus payloads');

payloads('post - takes the payload as it is when posted: changing the object afterwards reaches nothing, and every sync goes on', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    const seen: unknown[] = [];
    bus.subscribe('order', (event) => void seen.push(event.payload));
    const lines: Array<Record<string, unknown>> = [{ sku: 'a' }];
    const payload: Record<string, unknown> = { id: 1, lines };
    const bytes = new Uint8Array([1, 2, 3]);
    // A Buffer's slice() shares its memory: the copy must not.
    const buffer = Buffer.from([4, 5, 6]);
    // Typed loosely, as an application's own objects often are; JSON-compatible when posted.
    const posted = bus.post('order.created', payload as never, { priority: 'immediate' });
    bus.post('order.later', payload as never, { priority: 'deferred' });
    bus.post('order.bytes', bytes);
    const fromBuffer = bus.post('raw.buffer', buffer, { priority: 'immediate' });
    // What the wire cannot carry, put in after post() accepted the event.
    payload.id = 2;
    payload.total = 10n;
    lines[0]!.sku = () => 'b';
    lines.push({ at: new Date() });
    bytes[0] = 9;
    buffer[0] = 9;
    assert.equal(fromBuffer.payload, new Uint8Array([4, 5, 6]));
    assert.is(Object.getPrototypeOf(fromBuffer.payload), Uint8Array.prototype, 'a plain Uint8Array, as a read gives it');
    const asPosted = { id: 1, lines: [{ sku: 'a' }] };
    assert.equal(posted.payload, asPosted);
    assert.equal(seen, [asPosted]);
    const next = await bus.toStation();
    const station = runtime.station('external');
    assert.equal(station.history().map((event) => event.payload), [asPosted, new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6])]);
    assert.equal(station.queued().map((event) => event.payload), [asPosted]);
    // A bus that keeps syncing (the sync policy's way) gets its later events out too.
    const again: Record<string, unknown> = { n: 1 };
    next.post('order.again', again as never);
    again.n = 1n;
    await next.sync();
    await next.sync();
    assert.is(next.unsent, 0);
    assert.equal(station.history({ types: ['order.again'] }).map((event) => event.payload), [{ n: 1 }]);
  } finally {
    await runtime.stop();
  }
});

payloads('post - the copy keeps what JSON keeps, reads each value once, and refuses what it cannot carry', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    // An own "__proto__" key (JSON.parse makes one) stays a key of the copy, never its prototype.
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "list": [1, {"__proto__": [2]}], "none": null}') as never;
    const event = bus.post('copy.keys', parsed);
    assert.is(Object.getPrototypeOf(event.payload), Object.prototype);
    assert.is(JSON.stringify(event.payload), JSON.stringify(parsed));
    // A getter is read once: the event holds what that read gave, even if a second read would give something else.
    let reads = 0;
    const tricky = { get value() { return reads++ === 0 ? 1 : 1n; } };
    assert.equal(bus.post('copy.getter', tricky as never).payload, { value: 1 });
    const bare = Object.assign(Object.create(null) as object, { a: [true, 'x'] });
    assert.equal(bus.post('copy.bare', bare as never).payload, { a: [true, 'x'] });
    for (const bad of [[1, , 3], { at: new Date() }, { n: 1n }, { f: () => 1 }, [new Uint8Array(1)], { s: '\ud800' }]) {
      try {
        bus.post('copy.bad', bad as never);
        assert.unreachable(`accepted ${String(bad)}`);
      } catch (error) {
        assert.ok(isBusError(error, 'INVALID_EVENT'), String(error));
      }
    }
    await bus.toStation();
    assert.equal(runtime.station('external').history().map((e) => e.type), ['copy.keys', 'copy.getter', 'copy.bare']);
  } finally {
    await runtime.stop();
  }
});

payloads('post - a refused payload or type is named with what to post instead', async () => {
  const runtime = createRuntime();
  try {
    const bus = runtime.bus('external');
    const cases: Array<[string, unknown, RegExp]> = [
      ['copy.bad', { a: undefined }, /\$\.a is undefined, which JSON cannot carry \(use null, or leave the key out\)/],
      ['copy.bad', undefined, /\$ is undefined/],
      ['copy.bad', [1, , 3], /\$\[1\] is a hole in a sparse array/],
      ['copy.bad', { at: new Date(0) }, /\$\.at is a Date, not a plain object \(post its toISOString\(\) or getTime\(\)/],
      ['copy.bad', new ArrayBuffer(2), /\$ is an ArrayBuffer, not a plain object \(bytes travel as a Uint8Array/],
      ['copy.bad', new Float32Array(2), /\$ is a Float32Array, not a plain object \(bytes travel as a Uint8Array/],
      ['copy.bad', { e: new Error('x') }, /\$\.e is an Error, not a plain object\./],
      ['copy.bad', new Map(), /\$ is a Map, not a plain object \(post Object\.fromEntries\(map\)\)/],
      ['copy.bad', { tags: new Set() }, /\$\.tags is a Set, not a plain object \(post \[\.\.\.set\]\)/],
      ['user.*', {}, /Event type "user\.\*" is a pattern: an event has one type/],
      ['user.>', {}, /is a pattern/],
    ];
    for (const [type, payload, message] of cases) {
      try {
        bus.post(type, payload as never);
        assert.unreachable(`accepted ${type} ${String(payload)}`);
      } catch (error) {
        assert.ok(isBusError(error, 'INVALID_EVENT'), String(error));
        assert.match((error as Error).message, message);
      }
    }
    assert.is(bus.history().length, 0);
  } finally {
    await runtime.stop();
  }
});

payloads('post - a proxy payload is asked only for its own keys: a get trap that refuses any other key does not refuse the post', async () => {
  const runtime = createRuntime();
  try {
    const bus = runtime.bus('external');
    // A strict proxy, as some configuration and validation libraries make: reading a key the object lacks throws.
    const asked: unknown[] = [];
    const strict = <T extends object>(target: T): T =>
      new Proxy(target, {
        get(object, key, receiver) {
          asked.push(key);
          if (!Reflect.has(object, key)) throw new TypeError(`no key ${String(key)}`);
          return Reflect.get(object, key, receiver) as unknown;
        },
      });
    const event = bus.post('config.loaded', strict({ name: 'a', nested: strict({ n: 1 }) }) as never, { priority: 'immediate' });
    assert.equal(event.payload, { name: 'a', nested: { n: 1 } });
    assert.equal(asked, ['name', 'nested', 'n']);
  } finally {
    await runtime.stop();
  }
});

payloads.run();
