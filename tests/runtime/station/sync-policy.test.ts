/**
 * The automatic sync policy: threads see each other's events without manual
 * calls. Tests wait for a subscriber to receive the event, never for time.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusFullError, createRuntime, isBusError, type Bus, type BusEvent, type Runtime } from '../../../index.js';
import { busControl } from '../../../internal.js';
import type { WireMessage } from '../../../runtime/wire/protocol.js';
import { SyncTimer, type TickCause } from '../../../runtime/station/sync-policy.js';
import { serveThread } from '../fixtures/served-thread.js';
import { turns } from '../fixtures/turns.js';
import { slowSubscriber } from '../../helpers.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';

/** Resolves with the first event of `type` delivered on the root's main-thread bus of `side`. */
function received(runtime: Runtime, type: string, side: 'internal' | 'external' = 'external'): Promise<BusEvent> {
  return runtime.bus(side).waitFor(type);
}

const test = suite('sync policy');

test('everyMs - a virtual thread\'s events reach another thread; held buses stay valid', async () => {
  const runtime = createRuntime({ sync: { everyMs: 2 } });
  try {
    const other = runtime.addThread().bus('external');
    const arrival = received(runtime, 'auto.hello');
    const sent = other.post('auto.hello', { n: 1 });
    const got = await arrival;
    assert.equal(got, sent);
    assert.is(other.generation, 0, 'the automatic sync does not retire buses');
    assert.not.ok(other.retired);
    other.post('auto.again', 2); // the held bus still works
  } finally {
    await runtime.stop();
  }
});

test('maxBatch - enough posts ask for a sync before the period is over', async () => {
  const runtime = createRuntime({ sync: { everyMs: 3_600_000, maxBatch: 3 } });
  try {
    const other = runtime.addThread().bus('external');
    const arrival = received(runtime, 'batch.third');
    other.post('batch.first', 1);
    other.post('batch.second', 2);
    const third = other.post('batch.third', 3);
    assert.equal(await arrival, third);
  } finally {
    await runtime.stop();
  }
});

test('processors - a worker in a child processor reaches the root without manual calls', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, sync: { everyMs: 5 } });
  try {
    await runtime.ready;
    const arrival = received(runtime, 'far.away');
    const sent = await (runtime.thread(1, 1).bus('external') as RemoteBus).post('far.away', { from: '1.1' });
    assert.equal(await arrival, sent);
  } finally {
    await runtime.stop();
  }
});

test('bus.sync - sends only what joined the history since the last sync, drained events included; reads back only what others sent', async () => {
  /** Sizes of the batches buses send to stations, and of the stations' replies (a transport that records, then hands over). */
  const sent: number[] = [];
  const replies: number[] = [];
  const transport = {
    name: 'recording',
    carry: (message: WireMessage) => {
      if (message.kind === 'batch' && message.from.thread === 0) sent.push(message.history.length);
      if (message.kind === 'batch' && message.from.thread === 0xffffffff) replies.push(message.history.length);
      return Promise.resolve(message);
    },
  };
  const runtime = createRuntime({ transport, deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    for (let i = 0; i < 3; i++) bus.post('first.round', i);
    await bus.sync();
    for (let i = 0; i < 2; i++) bus.post('second.round', i);
    const parked = bus.post('later', 1, { priority: 'deferred' });
    await bus.sync();
    await bus.sync();
    bus.drain();
    await bus.sync();
    assert.equal(sent, [3, 2, 1], 'each sync sent what was new; the queue joined when drained');
    assert.ok(runtime.station('external').get(parked.id), 'the drained event reached the station');
    assert.is(runtime.station('external').size, 6);
    assert.equal(replies, [3, 0, 0, 0], 'after the first read, a bus does not get back what it sent itself');
    const other = runtime.addThread().bus('external');
    const theirs = other.post('from.another.thread', 1);
    await other.sync();
    const { added } = await bus.sync();
    assert.equal(added, [theirs], 'what another thread sent does come back');
    assert.is(replies[replies.length - 1], 1);
  } finally {
    await runtime.stop();
  }
});

/** A transport that holds the batches buses send to stations until `release()`, or fails them after `fail()`. */
function gatedTransport(holds: (message: WireMessage) => boolean = (message) => message.kind === 'batch' && message.from.thread === 0) {
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  let failing = false;
  let held: (events: number) => void = () => {};
  /** Resolves with the size of the first batch the gate holds. */
  const arrived = new Promise<number>((resolve) => (held = resolve));
  return {
    arrived,
    transport: {
      name: 'gated',
      carry: async (message: WireMessage) => {
        if (holds(message)) {
          held(message.kind === 'batch' ? message.history.length : 0);
          await gate;
          if (failing) throw new Error('the station is unreachable');
        }
        return message;
      },
    },
    release: () => open(),
    fail: () => {
      failing = true;
      open();
    },
  };
}

test('bus.sync - the batch and the read go out together: a refused batch stays unsent, what the read brought is kept', async () => {
  let armed = false;
  const gated = gatedTransport((message) => armed && message.kind === 'batch' && message.from.thread === 0);
  const runtime = createRuntime({ transport: gated.transport, deferred: 'manual' });
  try {
    let bus = runtime.bus('external');
    const parked = bus.post('later', 1, { priority: 'deferred' });
    bus = await bus.toStation();
    const other = runtime.addThread().bus('external');
    const theirs = other.post('theirs', 2);
    await other.toStation();
    const mine = bus.post('mine', 3);
    armed = true;
    const syncing = bus.sync();
    assert.is(await gated.arrived, 1, 'the batch is held at the gate');
    gated.fail();
    try {
      await syncing;
      assert.unreachable('sync() should reject');
    } catch (error) {
      assert.ok(isBusError(error, 'TRANSPORT_FAILED'), String(error));
      assert.match(String((error as Error).cause), 'the station is unreachable');
    }
    assert.equal(bus.queue().map((event) => event.id), [parked.id], 'the parked entry came back with the read');
    assert.ok(bus.get(theirs.id), 'the other thread\'s event was merged');
    assert.is(bus.unsent, 1, 'the refused batch waits for the next sync');
    assert.is(runtime.station('external').get(mine.id), undefined);
    assert.is(bus.state, 'active');
    const { failure, received, queued } = busControl.actor(bus).getSnapshot().context;
    assert.match(String(failure), 'the station is unreachable');
    assert.equal({ received, queued }, { received: 1, queued: 1 }, 'the failing step says what the read merged');
    armed = false;
    await bus.sync();
    assert.ok(runtime.station('external').get(mine.id), 'sent by the next sync');
    assert.is(bus.unsent, 0);
  } finally {
    await runtime.stop();
  }
});

test('maxUnsent - a producer that outruns its station is refused with BUS_FULL, loses nothing, and room() lets it go on', async () => {
  const gated = gatedTransport();
  const runtime = createRuntime({ transport: gated.transport, deferred: 'manual', sync: { everyMs: 3_600_000, maxBatch: 2, maxUnsent: 4 } });
  try {
    const bus = runtime.bus('external');
    const posted = [0, 1, 2, 3].map((i) => bus.post('produced', i));
    assert.is(bus.unsent, 4);
    try {
      bus.post('produced', 4);
      assert.unreachable('the fifth post should be refused');
    } catch (error) {
      assert.ok(isBusError(error, 'BUS_FULL'), String(error));
      assert.match(String((error as Error).message), 'sync.maxUnsent is 4');
    }
    assert.is(bus.unsent, 4, 'the refused post was not accepted; nothing else changed');
    assert.ok(bus.post('later', 5, { priority: 'deferred' }), 'deferred posts go to the queue, not the outbox');
    let roomy = false;
    const room = bus.room().then(() => (roomy = true));
    await Promise.resolve();
    assert.not.ok(roomy, 'room() waits while the station holds the batch');
    gated.release();
    await room;
    assert.is(bus.unsent, 0);
    assert.equal(runtime.station('external').history().map((event) => event.id), posted.map((event) => event.id));
    bus.post('produced', 6);
    await bus.room(); // below the mark: at once
  } finally {
    await runtime.stop();
  }
});

test('maxUnsent - room() rejects with the failure of the sync it waits for', async () => {
  const gated = gatedTransport();
  const runtime = createRuntime({ transport: gated.transport, deferred: 'manual', sync: { everyMs: 3_600_000, maxBatch: 2, maxUnsent: 2 } });
  try {
    const bus = runtime.bus('external');
    bus.post('produced', 0);
    bus.post('produced', 1);
    const room = bus.room();
    gated.fail();
    try {
      await room;
      assert.unreachable('room() should reject');
    } catch (error) {
      assert.match(String(error), 'the station is unreachable');
    }
    assert.is(bus.unsent, 2, 'nothing lost: the events wait for the next sync');
  } finally {
    await runtime.stop();
  }
});

test('room - resolves only once half the bound is free, asking for syncs until it is', async () => {
  const gated = gatedTransport();
  const runtime = createRuntime({ transport: gated.transport, deferred: 'manual', sync: { everyMs: 3_600_000, maxBatch: 2, maxUnsent: 6 } });
  try {
    const bus = runtime.bus('external');
    bus.post('produced', 0);
    bus.post('produced', 1); // asks for a sync: it takes these two and waits at the gate
    assert.is(await gated.arrived, 2);
    for (let i = 2; i < 6; i++) bus.post('produced', i);
    assert.is(bus.unsent, 6);
    let unsentWhenRoomy = -1;
    const room = bus.room().then(() => (unsentWhenRoomy = bus.unsent));
    gated.release();
    await room;
    assert.ok(unsentWhenRoomy >= 0 && unsentWhenRoomy <= 3, `room at ${unsentWhenRoomy} unsent; half of 6 is 3`);
  } finally {
    await runtime.stop();
  }
});

test('room - stop() rejects producers still waiting, and later calls', async () => {
  // The gate holds the user's own read, so the policy's sync is skipped (BUS_BUSY) and the producer waits on.
  const gated = gatedTransport((message) => message.kind === 'syncRequest' && message.from.thread === 0 && message.from.side === 'external');
  const runtime = createRuntime({ transport: gated.transport, deferred: 'manual', sync: { everyMs: 3_600_000, maxBatch: 2, maxUnsent: 2 } });
  const bus = runtime.bus('external');
  bus.post('produced', 0);
  bus.post('produced', 1);
  const read = bus.fromStation().catch((error: unknown) => error);
  await gated.arrived;
  const waiting = bus.room().catch((error: unknown) => error);
  await runtime.stop();
  assert.ok(isBusError(await waiting, 'RUNTIME_STOPPED'), 'a waiting producer hears of the stop');
  try {
    await bus.room();
    assert.unreachable('room() should reject after stop()');
  } catch (error) {
    assert.ok(isBusError(error, 'RUNTIME_STOPPED'), String(error));
  }
  gated.release();
  await read;
});

test('room - a bound too large to halve in 32 bits still works', async () => {
  const runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000, maxUnsent: Number.MAX_SAFE_INTEGER } });
  try {
    runtime.bus('external').post('produced', 1);
    await runtime.bus('external').room();
  } finally {
    await runtime.stop();
  }
});

test('a call of yours while the policy syncs the bus waits for that sync instead of being refused as busy', async () => {
  const gated = gatedTransport();
  const runtime = createRuntime({ transport: gated.transport, deferred: 'manual', sync: { everyMs: 3_600_000, maxBatch: 2 } });
  try {
    const bus = runtime.bus('external');
    bus.post('produced', 0);
    bus.post('produced', 1); // asks for a sync: the policy's, held at the gate
    assert.is(await gated.arrived, 2);
    assert.is(bus.state, 'receiving');
    let read: unknown;
    const reading = bus.fromStation().then((result) => (read = result), (error: unknown) => (read = error));
    await turns(3);
    assert.is(read, undefined, 'waiting for the policy\'s sync');
    gated.release();
    await reading;
    assert.not.ok(read instanceof Error, String(read));
    assert.equal(runtime.station('external').size, 2);
    // Your own calls still refuse each other, naming the call that runs.
    const first = bus.sync();
    const second = await bus.fromStation().then(() => undefined, (error: unknown) => error);
    assert.ok(isBusError(second, 'BUS_BUSY'), String(second));
    assert.match((second as Error).message, 'sync() on this bus has not finished');
    await first;
  } finally {
    gated.release(); // a failing assertion must not leave the policy's sync (and stop()) waiting
    await runtime.stop();
  }
});

test('room - a signal gives the wait up: the call rejects with its reason, and the bus forgets the waiter', async () => {
  const gated = gatedTransport();
  const runtime = createRuntime({ transport: gated.transport, deferred: 'manual', sync: { everyMs: 3_600_000, maxBatch: 2, maxUnsent: 2 } });
  try {
    const bus = runtime.bus('external');
    bus.post('produced', 0);
    bus.post('produced', 1); // full; the sync it asks for waits at the gate
    const controller = new AbortController();
    const given = bus.room({ signal: controller.signal });
    const kept = bus.room();
    controller.abort(new Error('enough waiting'));
    assert.match(await given.then(() => 'resolved', (error: unknown) => String(error)), 'enough waiting');
    assert.match(await bus.room({ signal: controller.signal }).then(() => 'resolved', (error: unknown) => String(error)), 'enough waiting');
    gated.release();
    await kept; // the other waiter is still served
    for (const options of [{ signal: 'soon' }, { signal: undefined, wait: 5 }]) {
      try {
        void bus.room(options as never);
        assert.unreachable(JSON.stringify(options));
      } catch (error) {
        assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
      }
    }
  } finally {
    await runtime.stop();
  }
});

test('room - in a thread, a control call that waits too long answers false (its wait given up); a later one is served', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  const remote = serveThread(runtime, { sync: { everyMs: 3_600_000, maxInFlight: 2 } });
  try {
    const bus = remote.thread.bus('external');
    const unfinished: Array<() => void> = [];
    bus.subscribe('job', () => new Promise<void>((resolve) => unfinished.push(resolve)));
    bus.post('job', 0, { priority: 'immediate' });
    bus.post('job', 1, { priority: 'immediate' });
    assert.equal(await remote.api.room('external', 0, 1), { ok: true, value: false });
    const waiting = remote.api.room('external', 0, 3_600_000);
    for (const resolve of unfinished.splice(0)) resolve();
    assert.equal(await waiting, { ok: true, value: true });
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('SyncTimer - after stop() no tick runs, not even one asked for while the last one ran', async () => {
  let calls = 0;
  let finish: () => void = () => {};
  const timer = new SyncTimer(3_600_000, () => {
    calls++;
    return new Promise<void>((resolve) => (finish = resolve));
  });
  timer.start();
  timer.trigger(); // runs
  timer.trigger(); // asked for while it runs
  const stopped = timer.stop();
  finish();
  await stopped;
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.is(calls, 1);
  assert.is(timer.ticks, 1);
});

test('SyncTimer - idle() resolves once the running tick and the one asked for meanwhile have ended', async () => {
  const finishes: Array<() => void> = [];
  const timer = new SyncTimer(3_600_000, () => new Promise<void>((resolve) => finishes.push(resolve)));
  let idle = false;
  await timer.idle(); // none runs
  timer.trigger(); // runs
  timer.trigger(); // asked for while it runs
  const waiting = timer.idle().then(() => (idle = true));
  finishes.shift()!();
  while (finishes.length === 0) await Promise.resolve();
  assert.is(idle, false, 'the tick asked for meanwhile still runs');
  finishes.shift()!();
  await waiting;
  assert.is(timer.ticks, 2);
  await timer.stop();
});

test('SyncTimer - tells its tick whether the period or a request started it', async () => {
  const causes: TickCause[] = [];
  let tick: (cause: TickCause) => void = () => {};
  const timer = new SyncTimer(1, async (cause) => {
    causes.push(cause);
    tick(cause);
  });
  try {
    const period = new Promise<TickCause>((resolve) => (tick = resolve));
    timer.start();
    assert.is(await period, 'period');
    const requested = new Promise<TickCause>((resolve) => (tick = resolve));
    timer.trigger();
    assert.is(await requested, 'request');
  } finally {
    await timer.stop();
  }
});

test('SyncTimer - requests never put the period off, however often they come', async () => {
  // Every request tick asks for another at once, as a bus posting maxBatch after maxBatch would.
  let requests = 0;
  let period: () => void = () => {};
  const periodRan = new Promise<void>((resolve) => (period = resolve));
  const timer = new SyncTimer(1, async (cause) => {
    if (cause === 'period') return period();
    requests++;
    if (requests > 200_000) return period(); // the assertion below reports it
    await new Promise<void>((resolve) => setImmediate(resolve));
    timer.trigger();
  });
  try {
    timer.start();
    timer.trigger();
    await periodRan;
    assert.ok(requests <= 200_000, `${requests} request ticks ran and the period never did`);
  } finally {
    await timer.stop();
  }
});

test('maxBatch - in a thread, the bus that asked syncs alone; the other side waits for the period', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  const remote = serveThread(runtime, { sync: { everyMs: 3_600_000, maxBatch: 2 } });
  const bus = remote.handle.bus('external');
  try {
    const states: Record<'internal' | 'external', string[]> = { internal: [], external: [] };
    for (const side of ['internal', 'external'] as const) {
      busControl.actor(remote.thread.bus(side)).subscribe((snapshot) => states[side].push(String(snapshot.value)));
    }
    const station = runtime.station('external');
    const arrived = new Promise<void>((resolve) => {
      const subscription = station.actor.subscribe(() => {
        if (station.size < 2) return;
        subscription.unsubscribe();
        resolve();
      });
    });
    await bus.post('batch.first', 1);
    await bus.post('batch.second', 2);
    await arrived;
    assert.ok(states.external.includes('receiving'), 'the external bus synced');
    assert.equal(states.internal, [], 'the internal bus was not asked to');
  } finally {
    await remote.stop();
    await runtime.stop();
  }
});

test('options - sync is checked', () => {
  for (const sync of [
    { everyMs: 0 },
    { every: 5 },
    'auto',
    { everyMs: 5, maxBatch: -1 },
    { everyMs: 5, maxBatch: 8, maxUnsent: 4 },
    { everyMs: 5, maxUnsent: 1.5 },
    { everyMs: 5, maxInFlight: 0 },
    { everyMs: 5, maxInFlight: 2.5 },
    { everyMs: 5, maxInFlight: 2 ** 32 }, // a read's limit crosses as a uint32
    { everyMs: 5, maxBacklog: 0 },
    { everyMs: 5, maxBacklog: 2.5 },
    { everyMs: 5, maxBacklog: '64' },
  ]) {
    try {
      createRuntime({ sync: sync as never });
      assert.unreachable(JSON.stringify(sync));
    } catch (error) {
      assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
    }
  }
});

test.run();

const slow = suite('slow subscribers (sync.maxInFlight)');

slow('a slow async subscriber is given no more than its credits; the station keeps the rest; settling half brings more', async () => {
  const runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000, maxInFlight: 4 } });
  try {
    const producer = runtime.bus('external');
    const reader = runtime.addThread().bus('external');
    const subscriber = slowSubscriber();
    reader.subscribe('job', subscriber.handler);
    for (let i = 0; i < 10; i++) producer.post('job', i);
    await producer.sync();
    await reader.sync();
    assert.equal(subscriber.got, [0, 1, 2, 3], 'four credits, four events');
    await reader.sync();
    assert.is(subscriber.got.length, 4, 'no credits left: the read waits');
    assert.is(runtime.station('external').size, 10, 'the station keeps what was not read');
    subscriber.finish(1);
    await Promise.resolve();
    assert.is(subscriber.got.length, 4, 'three of four still taken: more than half');
    subscriber.finish(1);
    await subscriber.reached(6); // half free: the held read is asked for again, with two credits
    assert.equal(subscriber.got, [0, 1, 2, 3, 4, 5]);
    subscriber.finish(4);
    await subscriber.reached(10);
    assert.equal(subscriber.got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'in order, none twice, none lost');
    subscriber.finish(4);
  } finally {
    await runtime.stop();
  }
});

slow('posts on a bus whose subscribers are behind are refused with BUS_FULL (inFlight) until room() says half the credits are back', async () => {
  const runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000, maxInFlight: 2 } });
  try {
    const bus = runtime.bus('external');
    const subscriber = slowSubscriber();
    bus.subscribe('job', subscriber.handler);
    bus.post('job', 0, { priority: 'immediate' });
    bus.post('job', 1, { priority: 'immediate' });
    const refused = (() => {
      try {
        bus.post('job', 2);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    assert.ok(refused instanceof BusFullError, String(refused));
    assert.equal([refused.bound, refused.held, refused.max], ['inFlight', 2, 2]);
    assert.match(refused.message, /maxInFlight is 2/);
    assert.is(bus.history().length, 2, 'the refused post was not accepted');
    bus.post('later', 'deferred posts wait in the queue: not refused', { priority: 'deferred' });
    let roomy = false;
    const room = bus.room().then(() => (roomy = true));
    await Promise.resolve();
    assert.not.ok(roomy, 'no room while both credits are taken');
    subscriber.finish(1);
    await room;
    bus.post('job', 2);
    subscriber.finish(2);
  } finally {
    await runtime.stop();
  }
});

/**
 * Under two credits, five events posted in one thread reach a synchronous
 * subscriber of another in one sync, after `prepare` has set up that reader.
 */
async function readsAllAtOnce(prepare: (reader: Bus) => void): Promise<void> {
  const runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000, maxInFlight: 2 } });
  try {
    const producer = runtime.bus('external');
    const reader = runtime.addThread().bus('external');
    prepare(reader);
    const got: unknown[] = [];
    reader.subscribe('job', (event) => void got.push(event.payload));
    for (let i = 0; i < 5; i++) producer.post('job', i);
    await producer.sync();
    await reader.sync();
    assert.equal(got, [0, 1, 2, 3, 4]);
  } finally {
    await runtime.stop();
  }
}

slow('synchronous subscribers are not limited: a sync reads everything at once', () => readsAllAtOnce(() => {}));


slow('room() waiting for credits lets the thread run (no sync loop): a subscriber that awaits I/O settles', async () => {
  const runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000, maxInFlight: 2 } });
  try {
    const bus = runtime.bus('external');
    const station = runtime.station('external');
    let ticks = 0;
    const toMain = station.toMain.bind(station);
    // Counts sync ticks (each round-trips the local station); a runaway loop is stopped at 1000.
    station.toMain = () => (++ticks === 1000 && busControl.halt(bus), toMain());
    let settled = 0;
    bus.subscribe('job', async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      settled++;
    });
    bus.post('job', 0, { priority: 'immediate' });
    bus.post('job', 1, { priority: 'immediate' });
    const outcome = await bus.room().then(
      () => 'room',
      (error: unknown) => String(error),
    );
    assert.equal(outcome, 'room');
    assert.ok(settled >= 1 && ticks < 3, `room after ${settled} settled and ${ticks} sync ticks`);
  } finally {
    await runtime.stop();
  }
});

slow('credits bound the promises: a burst of normal posts, and an event given to two async subscribers', async () => {
  const runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000, maxInFlight: 4 } });
  try {
    const bus = runtime.bus('external');
    const one = slowSubscriber();
    bus.subscribe('job', one.handler);
    let accepted = 0;
    for (let i = 0; i < 50; i++) {
      try {
        bus.post('job', i);
        accepted++;
      } catch (error) {
        assert.ok(error instanceof BusFullError && error.bound === 'inFlight', String(error));
      }
    }
    await turns(1);
    assert.equal([accepted, one.got.length], [4, 4], 'posts waiting for their delivery count: four credits, four posts');
    one.finish(4);
    await turns(1);

    // Two async subscribers of one type: each event takes two credits.
    const producer = runtime.addThread().bus('external');
    const two = slowSubscriber();
    bus.subscribe('job', two.handler);
    for (let i = 0; i < 10; i++) producer.post('job', 100 + i);
    await producer.sync();
    await bus.sync();
    assert.equal([one.got.length - 4, two.got.length], [2, 2], 'two events read, four promises');
    one.finish(10);
    two.finish(10);
  } finally {
    await runtime.stop();
  }
});

slow('reads are whole again once the async subscriber is gone', () =>
  readsAllAtOnce((reader) => void reader.subscribe('other', async () => {}).unsubscribe()),
);

slow('a held read is asked for again by the bus after a toStation(): it belongs to the thread, not the generation', async () => {
  const runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000, maxInFlight: 1 } });
  try {
    const producer = runtime.bus('external');
    const thread = runtime.addThread();
    const subscriber = slowSubscriber();
    thread.bus('external').subscribe('job', subscriber.handler);
    producer.post('job', 0);
    producer.post('job', 1);
    await producer.sync();
    await thread.bus('external').sync(); // one credit: reads job 0, holds the rest
    assert.equal(subscriber.got, [0]);
    await thread.bus('external').toStation();
    subscriber.finish(1); // the credit is back: the held read is asked for at once
    await Promise.race([subscriber.reached(2), turns(50)]); // not an hour's period: a few turns of the loop
    assert.equal(subscriber.got, [0, 1]);
    subscriber.finish(1);
  } finally {
    await runtime.stop();
  }
});

slow('credits - a post of a type no async subscriber receives takes none: what a busy consumer emits is not refused', async () => {
  const runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000, maxInFlight: 1 } });
  try {
    const bus = runtime.bus('external');
    const subscriber = slowSubscriber();
    bus.subscribe('job', subscriber.handler);
    bus.post('job', 0, { priority: 'immediate' }); // the one credit is taken
    bus.post('report', 'job 0 started', { priority: 'immediate' });
    bus.post('report', 'and goes on');
    assert.throws(() => bus.post('job', 1), (error: unknown) => error instanceof BusFullError && error.bound === 'inFlight');
    assert.equal(bus.history().map((event) => event.payload), [0, 'job 0 started', 'and goes on']);
    subscriber.finish(1);
  } finally {
    await runtime.stop();
  }
});

slow('maxBacklog - a station refuses other threads\' batches while a slow reader is that far behind; the producer is refused (BUS_FULL) and waits in room(); nothing accepted is lost', async () => {
  const sync = { everyMs: 3_600_000, maxBatch: 8, maxUnsent: 8, maxInFlight: 2, maxBacklog: 4 };
  const runtime = createRuntime({ deferred: 'manual', sync });
  try {
    const producer = runtime.bus('external');
    const reader = runtime.addThread().bus('external');
    const station = runtime.station('external');
    const subscriber = slowSubscriber();
    reader.subscribe('job', subscriber.handler);
    await reader.sync(); // a read limited by credits: the station notes where this reader stands
    assert.equal(station.backlog(), [{ processor: 0, thread: 1, behind: 0 }]);
    for (let i = 0; i < 7; i++) producer.post('job', i);
    await producer.sync();
    await reader.sync(); // two credits: two events
    assert.equal(subscriber.got, [0, 1]);
    assert.equal(station.backlog(), [{ processor: 0, thread: 1, behind: 5 }]);

    // Five behind, four allowed: the producer's next batch is refused; its events stay in its bus.
    for (let i = 7; i < 10; i++) producer.post('job', i);
    const refused = await producer.sync().then(() => undefined, (error: unknown) => error);
    assert.ok(refused instanceof BusFullError, String(refused));
    assert.equal([refused.bound, refused.held, refused.max], ['backlog', 5, 4]);
    assert.match(refused.message, /sync\.maxBacklog is 4/);
    assert.equal([producer.unsent, station.size], [3, 7]);
    // The reader's own batches are not held back for it (nor counted against it).
    reader.post('reader.note', 'mine');
    await reader.sync();
    assert.equal([station.size, station.backlog()[0]!.behind], [8, 5]);

    // Once maxUnsent wait, posts are refused and room() waits: the producer is slowed, not failed.
    for (let i = 10; i < 15; i++) producer.post('job', i);
    const full = (() => {
      try {
        producer.post('job', 15);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    assert.ok(full instanceof BusFullError && full.bound === 'unsent', String(full));
    let roomy = false;
    const room = producer.room().then(() => (roomy = true));
    await turns(3);
    assert.not.ok(roomy, 'no room while the station holds the producer back');
    // Held back, a bus asks with one event whether the station takes batches again, not with all eight.
    const offered: number[] = [];
    const accept = station.accept.bind(station);
    station.accept = (batch) => (offered.push(batch.history.length), accept(batch));
    assert.ok(isBusError(await producer.sync().then(() => undefined, (error: unknown) => error), 'BUS_FULL'));
    assert.equal([offered, producer.unsent], [[1], 8]);

    // The reader catches up two events at a time, and the station takes the producer's events again.
    for (let round = 0; !roomy && round < 20; round++) {
      subscriber.finish(2);
      await reader.sync();
      await producer.sync().catch(() => undefined);
    }
    await room;
    assert.is(station.size, 16, 'fifteen jobs and the reader\'s note');
    for (let round = 0; subscriber.got.length < 15 && round < 40; round++) {
      subscriber.finish(2);
      await reader.sync();
    }
    assert.equal(subscriber.got, [...Array(15).keys()], 'in order, none twice, none lost');
    subscriber.finish(15);
  } finally {
    await runtime.stop();
  }
});

slow('maxBacklog - a reader whose reads are whole again (its async subscriber gone) holds nobody back', async () => {
  const runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000, maxInFlight: 1, maxBacklog: 2 } });
  try {
    const producer = runtime.bus('external');
    const reader = runtime.addThread().bus('external');
    const station = runtime.station('external');
    const subscriber = slowSubscriber();
    const subscription = reader.subscribe('job', subscriber.handler);
    for (let i = 0; i < 4; i++) producer.post('job', i);
    await producer.sync();
    await reader.sync();
    assert.equal(station.backlog(), [{ processor: 0, thread: 1, behind: 3 }]);
    producer.post('job', 4);
    const refused = await producer.sync().then(() => undefined, (error: unknown) => error);
    assert.ok(isBusError(refused, 'BUS_FULL'), String(refused));
    subscription.unsubscribe();
    subscriber.finish(1);
    await reader.sync(); // no async subscriber: the read is whole
    assert.equal(station.backlog(), []);
    await producer.sync();
    assert.is(station.size, 5);
  } finally {
    await runtime.stop();
  }
});

slow.run();
