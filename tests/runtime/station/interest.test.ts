/**
 * Removal after delivery at stations, by interest (JetStream's interest
 * retention): an event whose policy says `removeAfterDelivery` leaves a local
 * or main station once every reader that may want it has read it; the
 * sender never holds it, a filtered reader only for the types it asked for,
 * and what a new generation has delivered already is not read back.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BusEvent, type RemoteBus, type RemoteStation, type Runtime, type RuntimeOptions } from '../../../index.js';
import { Arrivals } from '../../../runtime/station/arrivals.js';
import { Interest } from '../../../runtime/station/interest.js';
import { MemoryPolicies } from '../../../runtime/store/memory-policy.js';
import { ids, loseNextAck, nextCrash } from '../../helpers.js';
import type { Station } from '../../../runtime/station/station.js';
import type { WireMessage } from '../../../runtime/wire/protocol.js';

const POLICY: RuntimeOptions['memory'] = { policies: { ping: { removeAfterDelivery: true } } };

for (const transport of ['memory', 'frames'] as const) {
  const test = suite(`Station interest over ${transport} transport`);
  let runtime: Runtime;
  const make = (memory: RuntimeOptions['memory'] = POLICY) => (runtime = createRuntime({ transport, deferred: 'manual', memory }));
  test.after.each(async () => {
    await runtime?.stop();
  });

  /** The station's history of `types`, from its indices and by a scan of the whole history: they must agree. */
  const held = (types: readonly string[]) => {
    const station = runtime.station('external');
    const indexed = ids(station.history({ types }));
    const scanned = ids(station.history().filter((event) => types.some((type) => event.type === type || event.type.startsWith(`${type}.`))));
    assert.equal(indexed, scanned, 'an index query equals a scan');
    return indexed;
  };

  test('serve - two interested readers: the event leaves only once both have read it', async () => {
    make();
    const producer = runtime.bus('external');
    const [a, b] = [runtime.addThread(), runtime.addThread()];
    const seen: string[] = [];
    for (const reader of [a, b]) reader.bus().subscribe('ping', (event) => void seen.push(event.id));
    const ping = producer.post('ping.sent', 1, { priority: 'immediate' });
    const kept = producer.post('pong', 2, { priority: 'immediate' });
    await producer.toStation();
    assert.equal(held(['ping']), [ping.id], 'both readers still to read');
    await a.bus().fromStation();
    assert.equal(held(['ping']), [ping.id], 'b still to read');
    await b.bus().fromStation();
    assert.equal(held(['ping']), [], 'both have read it');
    assert.equal(held(['pong']), [kept.id], 'no policy: kept');
    assert.equal(seen, [ping.id, ping.id], 'delivered once to each');
  });

  test('serve - a reader that asked only for other types does not hold it; one that has not read yet does', async () => {
    make();
    const producer = () => runtime.bus('external');
    const [filtered, idle] = [runtime.addThread(), runtime.addThread()];
    const ping = producer().post('ping', 1, { priority: 'immediate' });
    await producer().toStation();
    await filtered.bus().fromStation({ types: ['order'] });
    assert.equal(held(['ping']), [ping.id], 'the idle reader may want it');
    await idle.bus().fromStation();
    assert.equal(held(['ping']), [], 'the filtered reader never asked for pings');
    // A filtered reader that asks for the type holds it until a filtered read of that type gives it.
    const next = producer().post('ping', 2, { priority: 'immediate' });
    await producer().toStation();
    await filtered.bus().fromStation({ types: ['ping'] });
    const later = producer().post('ping', 3, { priority: 'immediate' });
    await producer().toStation();
    await idle.bus().fromStation();
    assert.equal(held(['ping']), [later.id], 'the filtered reader read the first; it asked for pings, so it holds the later one');
    assert.not.ok(runtime.station('external').get(next.id));
    await filtered.bus().fromStation({ types: ['ping'] });
    assert.equal(held(['ping']), []);
  });

  test('serve - an event no reader may want leaves at once, and still goes on to the main station', async () => {
    make();
    runtime.addProcessor();
    const producer = runtime.bus('external');
    const ping = producer.post('ping', 1, { priority: 'immediate' });
    const pong = producer.post('pong', 2, { priority: 'immediate' });
    await producer.toStation();
    assert.equal(held(['ping', 'pong']), [pong.id], 'the sender is the only reader');
    await runtime.station('external').toMain();
    assert.equal(ids(runtime.mainStation('external').history()), [ping.id, pong.id], 'processor 1 has not read the main station yet');
  });

  test('fromStation - a new generation does not read back what its thread delivered and leaves once delivered', async () => {
    make();
    const producer = runtime.bus('external');
    const [a] = [runtime.addThread(), runtime.addThread()];
    const seen: string[] = [];
    a.bus().subscribe(['ping', 'pong'], (event) => void seen.push(event.id));
    const ping = producer.post('ping', 1, { priority: 'immediate' });
    const pong = producer.post('pong', 2, { priority: 'immediate' });
    await producer.toStation();
    await a.bus().fromStation();
    assert.equal(held(['ping']), [ping.id], 'the other reader holds it');
    // The station's answer to the new generation's read from the start: the pong first (delivered), no ping.
    const station = runtime.station('external');
    const reply = station.serve({
      kind: 'syncRequest',
      seq: 0,
      from: { processor: 0, thread: a.thread, generation: 1, side: 'external' },
      side: 'external',
      deliveredThrough: 2,
    });
    assert.equal(ids(reply.batch.history), [pong.id]);
    assert.is(reply.alreadyDelivered, 1);
    const next = await a.bus().roundTrip();
    assert.equal(ids(next.history()), [pong.id]);
    assert.equal(seen, [ping.id, pong.id], 'each delivered once');
  });

  test('fromMain - the main station holds an event for the local stations that may want it, across processors', async () => {
    make();
    const other = runtime.addProcessor().processor;
    const reader = runtime.thread(other, 0).bus('external');
    const seen: string[] = [];
    reader.subscribe('ping', (event) => void seen.push(event.id));
    const ping = runtime.bus('external').post('ping', 1, { priority: 'immediate' });
    await runtime.bus('external').toStation();
    await runtime.station('external').roundTrip();
    const main = runtime.mainStation('external');
    assert.equal(ids(main.history()), [ping.id], 'processor 1 has not read it');
    assert.equal(ids(runtime.station('external').history()), [], 'processor 0 let it go: its only reader sent it');
    await runtime.station('external', other).fromMain();
    assert.equal(ids(main.history()), [], 'every local station has read it');
    assert.equal(ids(runtime.station('external', other).history()), [ping.id], 'held for thread 1.0');
    await reader.fromStation();
    assert.equal(ids(runtime.station('external', other).history()), []);
    // Processor 0 reads the main station again from the start: its own ping does not come back.
    await runtime.station('external').fromMain({ types: ['ping'] });
    assert.equal(ids(runtime.station('external').history()), []);
    assert.equal(seen, [ping.id]);
  });

  /** Thread 0's current bus posts (each `toStation()` retires the one before). */
  const producer = {
    post: (type: string, payload: number) => runtime.bus('external').post(type, payload, { priority: 'immediate' }),
    toStation: () => runtime.bus('external').toStation(),
  };

  const TRANSIENT: RuntimeOptions['memory'] = {
    policies: { order: { removeAfterDelivery: true }, ping: { removeAfterDelivery: true }, pong: { removeAfterDelivery: true } },
  };

  test('interest - a thread subscribed to order.* holds only order.* events; a type no thread subscribes to leaves at once', async () => {
    make(TRANSIENT);
    const [orders, idle] = [runtime.addThread(), runtime.addThread()];
    const seen: string[] = [];
    orders.bus().subscribe('order.*', (event) => void seen.push(event.type));
    // Their first reads declare what they subscribe to (until then each may want anything).
    await orders.bus().fromStation();
    await idle.bus().fromStation();
    const placed = producer.post('order.placed', 1);
    producer.post('order.placed.eu', 2);
    producer.post('order', 3);
    producer.post('ping', 4);
    await producer.toStation();
    assert.equal(held(['order', 'ping']), [placed.id], 'only what order.* matches waits, for the thread subscribed to it');
    await idle.bus().fromStation();
    assert.equal(held(['order']), [placed.id], 'the idle thread does not hold it');
    await orders.bus().fromStation();
    assert.equal(held(['order']), []);
    assert.equal(seen, ['order.placed']);
  });

  test('interest - wildcards and subtypes: user.>, a plain type and * declare what they match', async () => {
    make({ policies: { user: { removeAfterDelivery: true }, ping: { removeAfterDelivery: true } } });
    const [below, plain] = [runtime.addThread(), runtime.addThread()];
    below.bus().subscribe('user.>', () => undefined);
    plain.bus().subscribe('ping', () => undefined);
    await below.bus().fromStation();
    await plain.bus().fromStation();
    const post = (type: string) => producer.post(type, 0).id;
    const [login, failed, ping, subPing] = [post('user.login'), post('user.login.failed'), post('ping'), post('ping.sub')];
    post('user');
    await producer.toStation();
    assert.equal(held(['user', 'ping']), [login, failed, ping, subPing], 'user alone matches neither user.> nor ping');
    // A `*` subscription declares every type: the thread is inferred from its reads again.
    const all = runtime.addThread();
    all.bus().subscribe('*', () => undefined);
    await all.bus().fromStation();
    const other = post('user');
    await producer.toStation();
    assert.equal(held(['user']), [login, failed, other], 'held for the * subscriber');
  });

  test('interest - a subscription added later counts from the next read: what left before does not come back, what another holds does', async () => {
    make(TRANSIENT);
    const [late, pings] = [runtime.addThread(), runtime.addThread()];
    pings.bus().subscribe('ping', () => undefined);
    await late.bus().fromStation();
    await pings.bus().fromStation();
    const pong1 = producer.post('pong', 1);
    const ping1 = producer.post('ping', 2);
    await producer.toStation();
    assert.equal(held(['ping', 'pong']), [ping1.id], 'no thread subscribes to pong');
    const seen: string[] = [];
    late.bus().subscribe(['ping', 'pong'], (event) => void seen.push(event.id));
    const pong2 = producer.post('pong', 3);
    await producer.toStation();
    assert.equal(held(['pong']), [], 'the new subscription is not declared until the thread reads');
    await late.bus().fromStation();
    assert.equal(seen, [ping1.id], 'the ping still held for the other thread reaches it; the pongs that left do not');
    assert.not.ok(runtime.station('external').get(pong1.id) ?? runtime.station('external').get(pong2.id));
    const pong3 = producer.post('pong', 4);
    await producer.toStation();
    assert.equal(held(['pong']), [pong3.id], 'declared from that read on');
    await late.bus().fromStation();
    assert.equal(held(['pong']), []);
    assert.equal(seen, [ping1.id, pong3.id]);
    // Unsubscribing takes the interest back at the next read.
    late.bus().subscribe('order', () => undefined).unsubscribe();
    const order = producer.post('order', 5);
    await producer.toStation();
    assert.equal(held(['order']), [], 'an unsubscribed pattern is not declared');
    assert.ok(order.id);
  });

  test('interest - a thread that pulls without subscribing names its types in a filtered read once', async () => {
    make(TRANSIENT);
    const [puller, other] = [runtime.addThread(), runtime.addThread()];
    await other.bus().fromStation();
    await puller.bus().fromStation({ types: ['pong'] });
    const pong = producer.post('pong', 1);
    const ping = producer.post('ping', 2);
    await producer.toStation();
    assert.equal(held(['ping', 'pong']), [pong.id], 'asked for pongs once: held for it; pings leave');
    const { added } = await puller.bus().fromStation();
    assert.equal(ids(added), [pong.id], 'an unfiltered read gets it');
    assert.equal(held(['pong']), []);
    assert.ok(ping.id);
  });

  test('interest - a local station declares its threads\' interest to the main station', async () => {
    make(TRANSIENT);
    const other = runtime.addProcessor().processor;
    const reader = runtime.thread(other, 0).bus('external');
    const seen: string[] = [];
    reader.subscribe('order.*', (event) => void seen.push(event.id));
    await reader.fromStation();
    await runtime.station('external', other).fromMain();
    const placed = runtime.bus('external').post('order.placed', 1, { priority: 'immediate' });
    runtime.bus('external').post('ping', 2, { priority: 'immediate' });
    await runtime.bus('external').toStation();
    await runtime.station('external').toMain();
    const main = runtime.mainStation('external');
    assert.equal(ids(main.history()), [placed.id], 'processor 1 declared order.* only; the ping left the main station at once');
    await runtime.station('external', other).fromMain();
    assert.equal(ids(main.history()), []);
    assert.equal(ids(runtime.station('external', other).history()), [placed.id], 'held for thread 1.0');
    await reader.fromStation();
    assert.equal(ids(runtime.station('external', other).history()), []);
    assert.equal(seen, [placed.id]);
  });

  test('policies - without removeAfterDelivery a station keeps every event, as before', async () => {
    make({ policies: { other: { removeAfterDelivery: true } } });
    const producer = runtime.bus('external');
    const reader = runtime.addThread();
    const ping = producer.post('ping', 1, { priority: 'immediate' });
    await producer.toStation();
    await reader.bus().fromStation();
    assert.equal(held(['ping']), [ping.id]);
  });

  test.run();
}

const requests = suite('Declared interest');

requests('read - a bus declares its thread\'s subscription patterns, each once; nothing without removeAfterDelivery, or with a * subscription', async () => {
  const declared: Array<readonly string[] | undefined> = [];
  const transport = {
    name: 'recording',
    carry: async (message: WireMessage) => {
      if (message.kind === 'syncRequest' && message.from.thread === 1) declared.push(message.interest);
      return message;
    },
  };
  for (const memory of [POLICY, undefined]) {
    const runtime = createRuntime({ transport, deferred: 'manual', ...(memory === undefined ? {} : { memory }) });
    try {
      const bus = runtime.addThread().bus('external');
      await bus.fromStation();
      const orders = bus.subscribe(['order.*', 'user.>'], () => undefined);
      bus.subscribe('order.*', () => undefined);
      await bus.fromStation({ types: ['ping'] });
      orders.unsubscribe();
      await bus.sync();
      const all = bus.subscribe('*', () => undefined);
      await bus.fromStation();
      all.unsubscribe();
    } finally {
      await runtime.stop();
    }
  }
  assert.equal(declared, [[], ['order.*', 'user.>'], ['order.*'], undefined, undefined, undefined, undefined, undefined]);
});

requests.run();

const arrivals = suite('Arrivals');

arrivals('remove - removed events are skipped at once and dropped in amortized rebuilds; numbers stay', () => {
  const list = new Arrivals();
  const events: BusEvent[] = Array.from({ length: 1000 }, (_, i) => ({
    id: `0.1.${i}`,
    type: 'ping',
    side: 'external',
    timestamp: i,
    origin: { processor: 0, thread: 1, generation: 0 },
    priority: 'normal',
    payload: i,
  }));
  for (let i = 0; i < events.length; i += 10) list.add(events.slice(i, i + 10), 'bus', '0.1');
  let most = 0;
  for (let i = 0; i < 900; i++) {
    list.remove([events[i]!], true);
    most = Math.max(most, list.held);
    // What is held never exceeds twice what is live (plus the one just removed).
    assert.ok(list.held <= 2 * (1000 - i - 1) + 1, `held ${list.held} after ${i + 1} removals`);
  }
  assert.ok(list.held < 200, `the runs were rebuilt: ${list.held}`);
  assert.equal(ids(list.since(0, undefined, 'x').history), ids(events.slice(900)));
  assert.equal(ids(list.since(950, undefined, 'x').history), ids(events.slice(950)), 'arrival numbers stay');
});

arrivals.run();

const processes = suite('Station interest in a child processor');
let runtime: Runtime | undefined;
processes.after.each(async () => {
  await runtime?.stop();
});

processes('serve - 1 processor × 2 worker threads: the station holds a ping until every other thread has read it', async () => {
  runtime = createRuntime({ processors: 1, threadsPerProcessor: 2, deferred: 'manual', callDeadlineMs: 20_000, memory: POLICY });
  await runtime.ready;
  const station = runtime.processor(1).station('external') as RemoteStation;
  const [t0, t1, t2] = [0, 1, 2].map((thread) => runtime!.thread(1, thread).bus('external'));
  await t1!.post('ping', 1, { priority: 'immediate' });
  await t1!.post('pong', 2, { priority: 'immediate' });
  await t1!.toStation();
  assert.is((await station.state()).size, 2);
  await t2!.fromStation();
  assert.is((await station.state()).size, 2, 'thread 1.0 has not read yet');
  await t0!.fromStation();
  assert.equal((await station.history()).map((event) => event.type), ['pong']);
});

for (const processors of [0, 1] as const) {
  processes(`interest - ${processors === 0 ? 'embedded' : 'child'} processor × 2 worker threads: a thread subscribed to order.* holds only order.* events; a ping leaves at once`, async () => {
    const memory: RuntimeOptions['memory'] = { policies: { order: { removeAfterDelivery: true }, ping: { removeAfterDelivery: true } } };
    runtime = createRuntime({ processors, threadsPerProcessor: 2, deferred: 'manual', callDeadlineMs: 20_000, memory });
    await runtime.ready;
    const processor = processors;
    const station = processor === 0 ? runtime.station('external') : (runtime.processor(1).station('external') as RemoteStation);
    const types = async () => (await station.history()).map((event) => event.type);
    const [t0, t1, t2] = [0, 1, 2].map((thread) => runtime!.thread(processor, thread).bus('external'));
    let got: (event: BusEvent) => void = () => undefined;
    const received = new Promise<BusEvent>((resolve) => (got = resolve));
    // Listens in thread 2 (a subscription there), handled here.
    t2!.subscribe('order.*', (event) => got(event));
    // Their first reads declare their interest: thread 2 order.*, thread 0 nothing (the poster, thread 1, never holds its own).
    await t0!.fromStation();
    await t2!.fromStation();
    await t1!.post('ping', 1, { priority: 'immediate' });
    await t1!.post('order.placed', 2, { priority: 'immediate' });
    await t1!.post('order.placed.eu', 3, { priority: 'immediate' });
    await t1!.toStation();
    assert.equal(await types(), ['order.placed'], 'held for thread 2 only; the ping and order.placed.eu left at once');
    await t0!.fromStation();
    assert.equal(await types(), ['order.placed'], 'thread 0 does not hold it');
    await t2!.fromStation();
    assert.equal(await types(), []);
    assert.is((await received).type, 'order.placed');
  });
}

processes('interest window - sync policy, 2 worker threads: a subscription asks for a read that declares it at once, so a ping posted elsewhere after it waits for the new subscriber', async () => {
  // A long period: only the syncs asked for run by themselves (the explicit sync at the end stands in for the next period).
  runtime = createRuntime({ threadsPerProcessor: 2, sync: { everyMs: 60_000 }, callDeadlineMs: 20_000, memory: POLICY });
  await runtime.ready;
  const station = runtime.station('external');
  const [root, a, b] = [0, 1, 2].map((thread) => runtime!.thread(0, thread).bus('external') as RemoteBus);
  // Every reader declares its interest (none): a ping no reader wants would leave at once.
  for (const bus of [root!, a!, b!]) await bus.sync();
  let got: (event: BusEvent) => void = () => undefined;
  const received = new Promise<BusEvent>((resolve) => (got = resolve));
  a!.subscribe('ping', (event) => got(event));
  // Answered once thread 1 has taken the subscription, and so after the read it asked for has gone to the station.
  await a!.state();
  const ping = await b!.post('ping', 1, { priority: 'immediate' });
  await b!.sync();
  assert.equal(ids(station.history({ types: ['ping'] })), [ping.id], 'held for thread 1, which declared ping');
  await a!.sync();
  assert.is((await received).id, ping.id);
  assert.equal(ids(station.history({ types: ['ping'] })), [], 'read by thread 1: gone');
});

processes("interest window - manual sync, 2 worker threads: a subscription counts at the station from the thread's next read, so subscribe, then sync that thread", async () => {
  runtime = createRuntime({ threadsPerProcessor: 2, deferred: 'manual', callDeadlineMs: 20_000, memory: POLICY });
  await runtime.ready;
  const station = runtime.station('external');
  const [root, a, b] = [0, 1, 2].map((thread) => runtime!.thread(0, thread).bus('external') as RemoteBus);
  for (const bus of [root!, a!, b!]) await bus.fromStation();
  const pings: string[] = [];
  let got: () => void = () => undefined;
  const received = new Promise<void>((resolve) => (got = resolve));
  a!.subscribe('ping', (event) => {
    pings.push(event.id);
    got();
  });
  await a!.state();
  // Not declared yet: a ping posted now leaves the station at once (nobody who has said so wants it).
  const early = await b!.post('ping', 1, { priority: 'immediate' });
  await b!.sync();
  assert.not.ok(station.get(early.id));
  // What the user calls: a read of the subscribing thread (fromStation() or sync()) declares the subscription.
  await a!.fromStation();
  const ping = await b!.post('ping', 2, { priority: 'immediate' });
  await b!.sync();
  assert.equal(ids(station.history({ types: ['ping'] })), [ping.id]);
  await a!.fromStation();
  await received;
  assert.equal(pings, [ping.id]);
});

processes('accept - a main station does not take back what it let go: a restarted child processor\'s resend reaches no thread twice', async () => {
  runtime = createRuntime({ processors: 1, deferred: 'manual', memory: POLICY });
  const rt = runtime;
  await rt.ready;
  const sender = 1;
  const receiver = rt.addProcessor().processor;
  const reader = rt.thread(receiver, 0).bus('external');
  const seen: string[] = [];
  reader.subscribe('ping', (event) => void seen.push(event.id));
  // Thread 0.0 subscribes to nothing: once it and its local station have read, processor 0 is not interested.
  for (const bus of [reader, rt.bus('external')]) await bus.fromStation();
  for (const processor of [0, receiver]) await rt.station('external', processor).fromMain();
  const main = rt.mainStation('external') as Station;
  // The main station takes the sender's push, and its Ack is lost on the way back (as when the channel closes).
  loseNextAck(main, sender);
  const station = () => rt.processor(sender).station('external') as RemoteStation;
  const bus = rt.thread(sender, 0).bus('external') as RemoteBus;
  const ping = await bus.post('ping', 1, { priority: 'immediate' });
  await bus.toStation();
  assert.ok(await station().toMain().then(() => undefined, (error: unknown) => error), 'the Ack was lost');
  assert.equal(ids(main.history()), [ping.id]);
  await rt.station('external', receiver).fromMain();
  assert.equal(ids(main.history()), [], 'every processor interested has read it');
  await reader.fromStation();
  assert.equal(seen, [ping.id]);
  // The sender is killed and restarts: its journal gives its local station the ping again, unsent, which it pushes again.
  const crashed = nextCrash(rt, 'processor');
  process.kill(rt.processor(sender).pid!, 'SIGKILL');
  await crashed;
  await station().toMain();
  assert.is((await station().memory())!.unsent!.count, 0, 'the main station acknowledged it');
  assert.equal(ids(main.history()), [], 'not taken again');
  await rt.station('external', receiver).fromMain();
  await reader.fromStation();
  assert.equal(seen, [ping.id], 'delivered once');
});

processes.run();
