/**
 * The memory policies through the public API (`createRuntime({ memory })`):
 * removal after delivery, after search and by time, and history limits, on
 * buses and stations, over both transports; then in worker threads and a
 * child processor.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusFullError, InvalidOptionError, createRuntime, ManualClock, type BusEvent, type RemoteStation, type Runtime, type RuntimeOptions } from '../../../index.js';
import { ids, rejects } from '../../helpers.js';
import { MemoryPolicies, checkMemoryOptions, type MemoryOptions } from '../../../runtime/store/memory-policy.js';

for (const transport of ['memory', 'frames'] as const) {
  const test = suite(`memory policies over ${transport} transport`);
  let runtime: Runtime;
  let clock: ManualClock;
  const make = (memory: RuntimeOptions['memory']) => {
    clock = new ManualClock(1_000);
    runtime = createRuntime({ transport, clock, deferred: 'manual', memory });
    return runtime;
  };
  test.after.each(async () => {
    await runtime?.stop();
  });

  test('removeAfterDelivery - a bus lets an event go once every subscriber was called, a throwing one included', async () => {
    const errors: unknown[] = [];
    const bus = make({ policies: { ping: { removeAfterDelivery: true } } }).bus('external');
    const seen: string[] = [];
    bus.subscribe('ping', (event) => void seen.push(event.id));
    bus.subscribe('ping', () => {
      throw new Error('subscriber failed');
    }, { onError: (error) => void errors.push(error) });
    const normal = bus.post('ping', 1);
    const kept = bus.post('pong', 2, { priority: 'immediate' });
    assert.equal(ids(bus.history()), [normal.id, kept.id], 'held until delivered');
    await Promise.resolve();
    assert.equal(ids(bus.history()), [kept.id]);
    const immediate = bus.post('ping.now', 3, { priority: 'immediate' });
    assert.not.ok(bus.get(immediate.id));
    const deferred = bus.post('ping', 4, { priority: 'deferred' });
    bus.drain();
    assert.equal(seen, [normal.id, immediate.id, deferred.id]);
    assert.is(errors.length, 3);
    assert.equal(ids(bus.history()), [kept.id]);
    // Leaving the bus's history is not leaving the runtime: the station gets every event, and keeps
    // the pings for a thread that has not read them yet.
    runtime.addThread();
    await bus.toStation();
    assert.equal(ids(runtime.station('external').history()), [normal.id, kept.id, immediate.id, deferred.id]);
  });

  test('removeAfterDelivery - an immediate event never joins its bus history, not even while its subscribers run; a sync still takes it to the station and another thread', async () => {
    make({ policies: { ping: { removeAfterDelivery: true } } });
    const bus = runtime.bus('external');
    const reader = runtime.addThread();
    const read: string[] = [];
    reader.bus().subscribe('ping', (event) => void read.push(event.id));
    // The station learns that this thread wants pings.
    await reader.bus().sync();
    const during: number[] = [];
    bus.subscribe('ping', () => void during.push(bus.history().length));
    const ping = bus.post('ping', { n: 1 }, { priority: 'immediate' });
    assert.equal(during, [0], 'not in the history while delivered');
    assert.equal(bus.history(), []);
    assert.not.ok(bus.get(ping.id));
    assert.is(bus.memory()!.count, 0, 'nothing counted against the history budget');
    assert.is(bus.memory()!.unsent?.count, 1, 'the outbox holds it for the station');
    await bus.sync();
    assert.is(bus.unsent, 0);
    assert.equal(ids(runtime.station('external').history()), [ping.id], 'kept for the reader');
    await reader.bus().sync();
    assert.equal(read, [ping.id]);
    assert.equal(reader.bus().history(), [], 'delivered there, and let go');
    assert.equal(runtime.station('external').history(), [], 'every reader that wants it has read it');
  });

  test('removeAfterDelivery - an immediate event, which never joins its bus history, is not refused because that history is full; its size limit still holds', async () => {
    const bus = make({ limits: { maxEvents: 2, discard: 'refuseNew' }, policies: { ping: { removeAfterDelivery: true, sizeLimit: 200 } } }).bus('external');
    const seen: string[] = [];
    bus.subscribe('ping', (event) => void seen.push(event.id));
    bus.post('kept', 1);
    bus.post('kept', 2);
    assert.throws(() => bus.post('kept', 3), (error: unknown) => error instanceof BusFullError);
    const ping = bus.post('ping', 1, { priority: 'immediate' });
    assert.equal(seen, [ping.id], 'delivered: it takes no room in the history');
    assert.is(bus.history().length, 2);
    // One that joins until delivered takes room: refused.
    assert.throws(() => bus.post('ping', 2), (error: unknown) => error instanceof BusFullError);
    assert.throws(() => bus.post('ping', 'x'.repeat(300), { priority: 'immediate' }), /over the size limit of 200/);
    assert.is(bus.unsent, 3, 'it waits for the station, as the two kept do');
  });

  test('removeAfterDelivery - a read delivers a new event once and keeps none; no later read or generation brings it back', async () => {
    make({ policies: { ping: { removeAfterDelivery: true } } });
    const producer = runtime.bus('external');
    const reader = runtime.addThread();
    const seen: string[] = [];
    reader.bus().subscribe(['ping', 'pong'], (event) => void seen.push(event.id));
    const ping = producer.post('ping', 1, { priority: 'immediate' });
    const pong = producer.post('pong', 2, { priority: 'immediate' });
    await producer.toStation();
    const first = await reader.bus().fromStation();
    assert.equal(ids(first.added), [ping.id, pong.id]);
    assert.equal(ids(reader.bus().history()), [pong.id]);
    // A filtered read brings the whole filtered history; a new generation reads from the start.
    await reader.bus().fromStation({ types: ['ping'] });
    const next = await reader.bus().roundTrip();
    await next.fromStation({ types: ['ping', 'pong'] });
    assert.equal(seen, [ping.id, pong.id], 'each delivered once');
    assert.equal(ids(next.history()), [pong.id], 'the ping is not read back');
  });

  test('removeAfterSearch - history() and get() return an event once, on a bus and at a station', async () => {
    make({ policies: { job: { removeAfterSearch: true } } });
    const bus = runtime.bus('external');
    const [a, b] = [bus.post('job.done', 1, { priority: 'immediate' }), bus.post('job.done', 2, { priority: 'immediate' })];
    const other = bus.post('user', 3, { priority: 'immediate' });
    assert.is(bus.get(a.id)?.id, a.id);
    assert.is(bus.get(a.id), undefined);
    assert.equal(ids(bus.history({ types: ['job'] })), [b.id]);
    assert.equal(ids(bus.history()), [other.id]);
    const station = runtime.station('external');
    const c = (await bus.toStation()).post('job.failed', 4, { priority: 'immediate' });
    await runtime.bus('external').toStation();
    assert.equal(ids(station.history({ filter: (event) => event.payload === 4 })), [c.id]);
    assert.is(station.get(a.id)?.id, a.id);
    assert.equal(ids(station.history()), [b.id, other.id]);
    assert.equal(ids(station.history()), [other.id]);
  });

  test('removeAfterSearch - an event searched out of a local station never comes back from the main station as new', async () => {
    make({ policies: { job: { removeAfterSearch: true } } });
    const station = runtime.station('external');
    const reader = runtime.addThread();
    const seen: string[] = [];
    reader.bus().subscribe('job', (event) => void seen.push(event.id));
    const job = runtime.bus('external').post('job', 1, { priority: 'immediate' });
    await runtime.bus('external').toStation();
    await station.roundTrip();
    await reader.bus().fromStation();
    // The reader searches it out of its bus too: nothing there remembers it.
    assert.equal(ids(reader.bus().history({ types: ['job'] })), [job.id]);
    assert.equal(ids(station.history()), [job.id]);
    // A filtered read of the main station brings its whole filtered history: the job is left out.
    await station.fromMain({ types: ['job'] });
    await station.roundTrip();
    assert.is(station.size, 0);
    await reader.bus().fromStation();
    await reader.bus().roundTrip();
    assert.equal(seen, [job.id], 'delivered once');
  });

  test('ttlMs - only types with a ttl leave, on buses and stations, by the injected clock', async () => {
    make({ policies: { session: { ttlMs: 1_000 } } });
    const bus = runtime.bus('external');
    const session = bus.post('session.started', 1, { priority: 'immediate' });
    const user = bus.post('user', 2, { priority: 'immediate' });
    const next = await bus.toStation();
    const kept = next.post('session.started', 3, { priority: 'immediate' });
    await next.fromStation();
    clock.advance(999);
    assert.equal(ids(next.history()), [session.id, user.id, kept.id]);
    clock.advance(1);
    assert.equal(ids(next.history()), [user.id, kept.id]);
    assert.equal(ids(runtime.station('external').history()), [user.id]);
    clock.advance(10_000_000);
    assert.equal(ids(next.history()), [user.id], 'no ttl, no expiry');
  });

  test('limits - discard oldest keeps the newest on a bus and a station; refuseNew refuses a post naming the limit', async () => {
    make({ policies: { audit: { maxEvents: 2, discard: 'refuseNew' } }, limits: { maxEvents: 3 } });
    const bus = runtime.bus('external');
    const posted = [1, 2, 3, 4].map((n) => bus.post('user', n, { priority: 'immediate' }));
    assert.equal(ids(bus.history()), ids(posted.slice(1)));
    await bus.toStation();
    assert.equal(ids(runtime.station('external').history()), ids(posted.slice(1)));
    const next = runtime.bus('external');
    next.post('audit', 1, { priority: 'immediate' });
    next.post('audit.login', 2, { priority: 'immediate' });
    try {
      next.post('audit', 3, { priority: 'immediate' });
      assert.unreachable('refused');
    } catch (error) {
      assert.instance(error, BusFullError);
      assert.is((error as BusFullError).bound, 'limit');
      assert.is((error as BusFullError).limit, 'memory.policies["audit"].maxEvents');
    }
    assert.is(next.history({ types: ['audit'] }).length, 2);
  });

  test('limits - a station at a refuseNew limit refuses a batch whole; it stays unsent in the bus until there is room', async () => {
    make({ policies: { job: { removeAfterSearch: true } }, limits: { maxEvents: 2, discard: 'refuseNew' } });
    const station = runtime.station('external');
    const producer = runtime.addThread().bus();
    producer.post('job', 1, { priority: 'immediate' });
    producer.post('job', 2, { priority: 'immediate' });
    await producer.sync();
    assert.is(station.size, 2);
    producer.history({ types: ['job'] });
    producer.post('note', 3, { priority: 'immediate' });
    await rejects(producer.sync(), 'BUS_FULL');
    assert.is(producer.unsent, 1);
    assert.is(station.size, 2, 'nothing of the batch merged');
    station.history({ types: ['job'] });
    await producer.sync();
    assert.is(producer.unsent, 0);
    assert.equal(station.history().map((event: BusEvent) => event.payload), [3]);
  });

  test("'>' - every type leaves once delivered, on a bus and at a station; the runtime's busline.* events stay", async () => {
    make({ policies: { '>': { removeAfterDelivery: true } } });
    const producer = runtime.bus('external');
    const reader = runtime.addThread();
    const seen: string[] = [];
    reader.bus().subscribe('*', (event) => void seen.push(event.type));
    await reader.bus().sync();
    producer.subscribe('*', () => {});
    const posted = ['user.login', 'order', 'a.b.c.d'].map((type, n) => producer.post(type, n, { priority: 'immediate' }));
    const deferred = producer.post('order.paid', 3, { priority: 'deferred' });
    assert.equal(producer.history(), [], 'the immediate ones never joined it');
    producer.drain();
    assert.equal(producer.history(), [], 'delivered, and let go');
    await producer.sync();
    assert.equal(ids(runtime.station('external').history()), [...ids(posted), deferred.id], 'held for the reader');
    await reader.bus().sync();
    assert.equal(seen, ['user.login', 'order', 'a.b.c.d', 'order.paid']);
    assert.equal(reader.bus().history(), []);
    assert.equal(runtime.station('external').history(), [], 'every reader that wants them has read them');
    // The internal side is covered too, but not the runtime's own types: no key here names busline.
    const internal = runtime.bus('internal');
    internal.subscribe('*', () => {});
    const note = internal.post('app.note', 1, { priority: 'immediate' });
    const report = internal.post('busline.custom.report', 2, { priority: 'immediate' });
    assert.not.ok(internal.get(note.id));
    assert.equal(ids(internal.history()), [report.id]);
  });

  test("'>' - a key whose first part is busline covers the runtime's own types; limits of a pattern count its events together", async () => {
    make({ policies: { '>': { maxEvents: 2 }, 'audit.*': {}, 'busline.>': { removeAfterDelivery: true } } });
    const internal = runtime.bus('internal');
    internal.post('busline.custom.report', 1, { priority: 'immediate' });
    assert.equal(internal.history(), [], 'no subscriber: gone at once');
    const bus = runtime.bus('external');
    const [, order, audit, login] = ['user', 'order', 'audit.login', 'user.login'].map((type, n) => bus.post(type, n, { priority: 'immediate' }));
    assert.equal(ids(bus.history()), [order!.id, audit!.id, login!.id], "the newest 2 under '>'; audit.* has a policy of its own, without limits");
  });

  test.run();
}

const keys = suite('memory policy keys: types and patterns');
const keyOf = (policies: MemoryOptions['policies']) => {
  const applied = new MemoryPolicies(checkMemoryOptions({ policies }));
  return (type: string) => applied.of(type)?.pattern;
};

keys('of - among patterns, more literal parts win, then one without a final >, then the first given', () => {
  const policies = { 'user.>': {}, '*.login': {}, 'user.*': {}, '>': {}, '*': {}, '*.*.failed': {}, 'user.*.failed': {} };
  const of = keyOf(policies);
  assert.is(of('user.login.failed'), 'user.*.failed', 'two literal parts');
  assert.is(of('admin.login.failed'), '*.*.failed');
  assert.is(of('user.logout'), 'user.*', 'one part below: user.* before user.>');
  assert.is(of('user.login'), '*.login', 'a tie of one literal part each, no final >: the first given');
  assert.is(of('user.a.b'), 'user.>');
  assert.is(of('user'), '>', "'>' and '*' alone tie: the first given");
  assert.is(of('order'), '>');
  assert.is(of('busline.thread.crashed'), undefined, 'no key names busline');
  // Key order, the last tie-break, survives the trip to workers (structured clone) and child processors (JSON).
  for (const copy of [structuredClone(policies), JSON.parse(JSON.stringify(policies)) as typeof policies]) {
    assert.is(keyOf(copy)('user.login'), '*.login');
  }
  assert.is(keyOf({ '*': {}, '>': {} })('user'), '*');
});

keys('of - a key without wildcards (the longest) wins over any pattern; busline.* only under keys that name busline', () => {
  const of = keyOf({ '>': {}, 'user.login.*': {}, user: {}, 'user.login': {}, 'busline.memory.*': {}, 'busline.thread': {} });
  assert.is(of('user.login.failed'), 'user.login', 'a supertype over a pattern with more literal parts');
  assert.is(of('user.logout'), 'user');
  assert.is(of('order'), '>');
  assert.is(of('busline.memory.evicted'), 'busline.memory.*');
  assert.is(of('busline.thread.crashed'), 'busline.thread');
  assert.is(of('busline.processor.crashed'), undefined);
  assert.is(of('busline'), undefined);
});

keys('createRuntime - a malformed pattern key is refused, naming the key and the grammar', () => {
  for (const [key, says] of [
    ['user.>.x', '">" stands for the rest of a type, so it must be the last part'],
    ['us*er', 'a wildcard is a whole part'],
    ['', 'is empty'],
    ['user..login', 'dot-separated parts'],
  ] as const) {
    try {
      createRuntime({ memory: { policies: { [key]: { removeAfterDelivery: true } } } });
      assert.unreachable(`${key} refused`);
    } catch (error) {
      assert.instance(error, InvalidOptionError);
      assert.is((error as InvalidOptionError).option, `memory.policies[${JSON.stringify(key)}]`);
      assert.ok((error as Error).message.includes(says), (error as Error).message);
    }
  }
});

keys.run();

const options = suite('memory options');

options('createRuntime - a wrong memory option is refused, naming the field, before anything starts', () => {
  try {
    createRuntime({ processors: 1, memory: { policies: { user: { ttlMs: -1 } } } });
    assert.unreachable('refused');
  } catch (error) {
    assert.instance(error, InvalidOptionError);
    assert.is((error as InvalidOptionError).option, 'memory.policies["user"].ttlMs');
  }
});

options.run();

const processes = suite('memory policies in worker threads and a child processor');
let runtime: Runtime;
processes.after(async () => {
  await runtime?.stop();
});

processes('policies travel to every thread and station', async () => {
  runtime = createRuntime({
    processors: 1,
    threadsPerProcessor: 1,
    deferred: 'manual',
    callDeadlineMs: 20_000,
    memory: { policies: { ping: { removeAfterDelivery: true }, job: { removeAfterSearch: true }, 'metric.>': { removeAfterDelivery: true }, 'metric.*.kept': {} } },
  });
  await runtime.ready;
  for (const [processor, thread] of [[0, 1], [1, 0], [1, 1]] as const) {
    const bus = runtime.thread(processor, thread).bus('external');
    const where = `thread ${processor}.${thread}`;
    await bus.post('ping', 1, { priority: 'immediate' });
    const job = await bus.post('job', 2, { priority: 'immediate' });
    assert.equal(ids(await bus.history()), [job.id], where);
    assert.equal(await bus.history(), [], `${where}: searched out`);
    await bus.toStation();
  }
  const station = runtime.processor(1).station('external') as RemoteStation;
  assert.is((await station.state()).size, 4, 'the pings and jobs of threads 1.0 and 1.1');
  assert.equal(runtime.station('external').history().map((event) => event.type), ['ping', 'job'], 'thread 0.1, at processor 0');
  assert.equal(runtime.station('external').history().map((event) => event.type), ['ping'], 'the job searched out');
  assert.is((await station.history({ types: ['job'] })).length, 2, 'the jobs of threads 1.0 and 1.1');
  assert.equal(ids(await station.history({ types: ['job'] })), []);
  assert.is((await station.state()).size, 2, 'the pings stay: a station keeps what was delivered elsewhere');
  // Pattern keys crossed too, with their precedence.
  const bus = runtime.thread(1, 1).bus('external');
  await bus.post('metric.cpu', 1, { priority: 'immediate' });
  const kept = await bus.post('metric.cpu.kept', 2, { priority: 'immediate' });
  assert.equal(ids(await bus.history({ types: ['metric'] })), [kept.id]);
});

processes.run();
