/**
 * Removal after delivery at stations, by interest (JetStream's interest
 * retention): an event whose policy says `removeAfterDelivery` leaves a local
 * or main station once every reader that may want it has read it; the
 * sender never holds it, a filtered reader only for the types it asked for,
 * and what a new generation has delivered already is not read back.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BusEvent, type RemoteStation, type Runtime, type RuntimeOptions } from '../../../index.js';
import { Arrivals } from '../../../runtime/station/arrivals.js';
import { ids } from '../../helpers.js';

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

processes.run();
