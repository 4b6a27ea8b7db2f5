/**
 * The memory policies across 2 processors × 2 worker threads (one runtime for
 * the file: starting processors costs seconds), with compression on in every
 * history: removal after delivery on workers' buses and at every station,
 * by interest, and not read back by a new generation; removal after search;
 * TTL by the runtime's clock; compression round trips; searches that see a
 * merge or a removal all or nothing. Each test works with events of its own
 * (filtered by id or type), so that what earlier tests left does not matter.
 *
 * Threads: the root is processor 0 (thread 0 here, 1 and 2 workers);
 * processors 1 and 2 are child processes (thread 0 their main thread, 1 and
 * 2 workers).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, createRuntime, type BusEvent, type RemoteBus, type RemoteStation, type Runtime, type Subscription } from '../../../index.js';
import { ids } from '../../helpers.js';

const THREADS: ReadonlyArray<readonly [number, number]> = [0, 1, 2].flatMap((p) => [0, 1, 2].map((t) => [p, t] as const));

const test = suite('memory policies across 2 processors × 2 threads');
let runtime: Runtime;
let clock: ManualClock;

const bus = (processor: number, thread: number) => runtime.thread(processor, thread).bus('external') as RemoteBus;
const station = (processor: number) => runtime.processor(processor).station('external') as RemoteStation;
/** The events of `ours` that `events` hold, by id, in `events`' order. */
const held = (events: readonly BusEvent[], ours: readonly BusEvent[]) => {
  const wanted = new Set(ids(ours));
  return ids(events).filter((id) => wanted.has(id));
};
/** An event as plain data, to compare events however they are kept (objects, frames, compressed blocks). */
const plain = (event: BusEvent) => ({
  id: event.id,
  type: event.type,
  side: event.side,
  timestamp: event.timestamp,
  origin: { ...event.origin },
  priority: event.priority,
  topic: event.topic,
  meta: event.meta === undefined ? undefined : { ...event.meta },
  payload: event.payload instanceof Uint8Array ? ['bytes', ...event.payload] : event.payload,
});

/**
 * What a subscriber of pings and marks in thread `processor.thread` gets, and `got(id)`: resolves once it got that
 * event (a subscriber here is called after the thread's own; a wait of its own would not say this one was called).
 */
function watch(processor: number, thread: number): { delivered: BusEvent[]; got(id: string): Promise<void>; subscription: Subscription } {
  const delivered: BusEvent[] = [];
  const waiting = new Map<string, () => void>();
  const subscription = runtime.thread(processor, thread).bus('external').subscribe(['ping', 'mark'], (event) => {
    delivered.push(event);
    waiting.get(event.id)?.();
  });
  const got = (id: string) => (delivered.some((event) => event.id === id) ? Promise.resolve() : new Promise<void>((resolve) => void waiting.set(id, resolve)));
  return { delivered, got, subscription };
}

test.before(async () => {
  clock = new ManualClock(Date.now());
  runtime = createRuntime({
    processors: 2,
    threadsPerProcessor: 2,
    deferred: 'manual',
    callDeadlineMs: 60_000,
    clock,
    memory: {
      policies: { ping: { removeAfterDelivery: true }, job: { removeAfterSearch: true }, session: { ttlMs: 60_000 } },
      // Small blocks, so that even these tests' histories compress.
      compression: { keepEvents: 16, blockEvents: 32 },
    },
  });
  await runtime.ready;
});

test.after(async () => {
  await runtime?.stop();
});

test("removeAfterDelivery - a worker's bus lets a ping go once its subscribers were called (one here that throws included), at once with none", async () => {
  const calls: string[] = [];
  const failures: unknown[] = [];
  const subscriptions: Subscription[] = [
    bus(1, 2).subscribe('ping', (event) => void calls.push(event.id)),
    bus(1, 2).subscribe('ping', () => {
      throw new Error('subscriber failed');
    }, { onError: (error) => void failures.push(error) }),
  ];
  const delivered = bus(1, 2).waitFor('ping');
  const ping = await bus(1, 2).post('ping', 1, { priority: 'immediate' });
  const pong = await bus(1, 2).post('pong', 2, { priority: 'immediate' });
  assert.is((await delivered).id, ping.id);
  assert.equal(held(await bus(1, 2).history(), [ping, pong]), [pong.id]);
  // No subscriber in thread 2.2: the ping leaves as it is posted.
  const alone = await bus(2, 2).post('ping', 3, { priority: 'immediate' });
  const kept = await bus(2, 2).post('pong', 4, { priority: 'immediate' });
  assert.equal(held(await bus(2, 2).history(), [alone, kept]), [kept.id]);
  for (const subscription of subscriptions) subscription.unsubscribe();
  assert.equal(calls, [ping.id]);
  assert.is(failures.length, 1);
});

test('removeAfterDelivery - every station holds a ping until each reader that may want it has read it; each thread delivers it once, and a new generation does not read it back', async () => {
  const watches = new Map(THREADS.filter(([p, t]) => !(p === 1 && t === 1)).map(([p, t]) => [`${p}.${t}`, watch(p, t)] as const));
  const ping = await bus(1, 1).post('ping', 1, { priority: 'immediate' });
  const pong = await bus(1, 1).post('pong', 2, { priority: 'immediate' });
  const ours = [ping, pong];
  await bus(1, 1).toStation();
  // Processor 1: threads 1.0 and 1.2 may want it (1.1 sent it).
  assert.equal(held(await station(1).history(), ours), [ping.id, pong.id]);
  await bus(1, 2).fromStation();
  assert.equal(held(await station(1).history(), ours), [ping.id, pong.id], 'thread 1.0 has not read it');
  await bus(1, 0).fromStation();
  assert.equal(held(await station(1).history(), ours), [pong.id]);
  // The main station: processors 0 and 2 may want it (processor 1 sent it).
  await station(1).toMain();
  const main = runtime.mainStation('external');
  assert.equal(held(main.history(), ours), [ping.id, pong.id]);
  await station(2).fromMain();
  assert.equal(held(main.history(), ours), [ping.id, pong.id], 'processor 0 has not read it');
  await runtime.station('external').fromMain();
  assert.equal(held(main.history(), ours), [pong.id]);
  // Each local station holds it until each of its threads has read it.
  for (const [p, t] of [[0, 0], [0, 1], [2, 0], [2, 1]] as const) await runtime.thread(p, t).bus('external').fromStation();
  assert.equal(held(runtime.station('external').history(), ours), [ping.id, pong.id], 'thread 0.2 has not read it');
  assert.equal(held(await station(2).history(), ours), [ping.id, pong.id], 'thread 2.2 has not read it');
  await bus(0, 2).fromStation();
  await bus(2, 2).fromStation();
  assert.equal(held(runtime.station('external').history(), ours), [pong.id]);
  assert.equal(held(await station(2).history(), ours), [pong.id]);
  // Thread 2.1 reads again from the start, with a new generation: the ping is not read back.
  const next = await bus(2, 1).roundTrip();
  assert.equal(held(await next.history(), ours), [pong.id]);
  assert.is((await next.state()).generation, (await bus(2, 1).state()).generation);
  // A mark after it, read by every thread: each has delivered what came before it.
  const mark = await runtime.bus('external').post('mark', 1, { priority: 'immediate' });
  await runtime.bus('external').toStation();
  await runtime.station('external').toMain();
  await Promise.all([station(1).fromMain(), station(2).fromMain()]);
  await Promise.all(THREADS.filter(([p, t]) => !(p === 0 && t === 0) && !(p === 1 && t === 1)).map(([p, t]) => bus(p, t).fromStation()));
  await Promise.all([...watches.values()].map(({ got }) => got(mark.id)));
  for (const [thread, { delivered, subscription }] of watches) {
    subscription.unsubscribe();
    assert.equal(ids(delivered), [ping.id, mark.id], `thread ${thread}`);
  }
});

test('removeAfterSearch - a job leaves each history a search returned it from, in workers and at every station; concurrent searches share the jobs out whole', async () => {
  const jobs = [];
  for (let i = 0; i < 3; i++) jobs.push(await bus(2, 1).post('job', i, { priority: 'immediate' }));
  const note = await bus(2, 1).post('note', 3, { priority: 'immediate' });
  const ours = [...jobs, note];
  assert.equal(ids(await bus(2, 1).history({ types: ['job'] })), ids(jobs));
  assert.equal(held(await bus(2, 1).history(), ours), [note.id], 'searched out of the bus');
  // Gone from the bus's history, not from the runtime: its station gets them.
  await bus(2, 1).toStation();
  const searches = await Promise.all([station(2).history({ types: ['job'] }), station(2).history({ types: ['job'] })]);
  assert.equal(searches.map((found) => found.length).sort(), [0, 3], 'one search took them all, the other none');
  assert.equal(held(await station(2).history(), ours), [note.id]);
  // On to the main station; processor 1 reads them from there before a search takes them out of it.
  await station(2).toMain();
  await station(1).fromMain();
  const main = runtime.mainStation('external');
  assert.is(main.get(jobs[0]!.id)?.id, jobs[0]!.id);
  assert.is(main.get(jobs[0]!.id), undefined);
  assert.equal(ids(main.history({ types: ['job'] })), ids(jobs.slice(1)));
  assert.equal(held(main.history(), ours), [note.id]);
  // Processor 2 does not take them back from the main station; processor 1's station and threads still have them.
  await station(2).fromMain();
  assert.equal(held(await station(2).history(), ours), [note.id]);
  await bus(1, 0).fromStation();
  assert.equal(held(await bus(1, 0).history({ types: ['job'] }), jobs), ids(jobs));
  assert.equal(held(await bus(1, 0).history(), ours), [note.id]);
  assert.equal(held(await station(1).history({ types: ['job'] }), jobs), ids(jobs));
  assert.equal(held(await station(1).history(), ours), [note.id]);
});

test("ttlMs - only types that set it expire, by the runtime's ManualClock in every history: the root's, and those of workers and child processors, which follow it", async () => {
  const session = await bus(1, 1).post('session.started', 1, { priority: 'immediate' });
  const user = await bus(1, 1).post('user', 2, { priority: 'immediate' });
  const ours = [session, user];
  await bus(1, 1).toStation();
  await station(1).toMain();
  await runtime.station('external').fromMain();
  await runtime.bus('external').fromStation();
  const root = [runtime.mainStation('external'), runtime.station('external'), runtime.bus('external')] as const;
  /** What the root's histories, processor 1's station and worker 1.1's bus hold of ours, once they all follow the clock. */
  const everywhere = async () => {
    await clock.settled();
    const held1 = held(await station(1).history(), ours);
    // The worker's bus handed its events to its station (toStation): it holds what it reads back.
    await bus(1, 1).fromStation();
    const heldWorker = held(await bus(1, 1).history(), ours);
    return [...root.map((history) => held(history.history(), ours)), held1, heldWorker];
  };
  const all = (ids: string[]) => Array.from({ length: root.length + 2 }, () => ids);
  assert.equal(await everywhere(), all([session.id, user.id]));
  // The worker stamped the session by its clock, which follows the runtime's.
  clock.set(session.timestamp + 59_999);
  assert.equal(await everywhere(), all([session.id, user.id]));
  clock.advance(1);
  assert.equal(await everywhere(), all([user.id]), 'the session expired everywhere');
  clock.advance(10_000_000);
  assert.equal(await everywhere(), all([user.id]), 'no ttl, no expiry');
});

test('compression - 600 events of every shape from three processors come back exactly from every history', async () => {
  const shapes = (n: number) => [
    null,
    { user: `u${n}`, visits: n, tags: ['a', 'b'], nested: { ok: n % 2 === 0, text: 'é'.repeat(n % 7) } },
    `text ${'x'.repeat(n % 53)}`,
    new Uint8Array([n & 255, 1, 2, 3, n >> 8]),
    [n, 1.5, 'é', true, null],
  ][n % 5]!;
  const posters = [runtime.bus('external'), bus(1, 2), bus(2, 0)];
  const posted = (
    await Promise.all(
      posters.map(async (poster, i) => {
        const events: BusEvent[] = [];
        for (let n = 0; n < 200; n++) {
          const options = n % 4 === 1 ? { topic: `topic-${n % 3}`, meta: { trace: `${i}.${n}` } } : {};
          events.push(await poster.post(`record.${['a', 'b', 'c'][n % 3]}`, shapes(n), { priority: n % 10 === 0 ? 'immediate' : 'normal', ...options }));
        }
        return events;
      }),
    )
  ).flat();
  const expected = [...posted].sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : 1)).map(plain);
  await Promise.all([runtime.bus('external').toStation(), bus(1, 2).toStation(), bus(2, 0).toStation()]);
  await Promise.all([runtime.station('external').toMain(), station(1).toMain(), station(2).toMain()]);
  await Promise.all([runtime.station('external').fromMain(), station(1).fromMain(), station(2).fromMain()]);
  await Promise.all(THREADS.map(([p, t]) => runtime.thread(p, t).bus('external').fromStation()));
  const records = { types: ['record'] };
  assert.equal(runtime.mainStation('external').history(records).map(plain), expected, 'main station');
  assert.equal(runtime.station('external').history(records).map(plain), expected, 'station 0');
  for (const p of [1, 2]) assert.equal((await station(p).history(records)).map(plain), expected, `station ${p}`);
  assert.equal(runtime.bus('external').history(records).map(plain), expected, 'bus 0.0');
  for (const [p, t] of THREADS.slice(1)) assert.equal((await bus(p, t).history(records)).map(plain), expected, `bus ${p}.${t}`);
  // Queries answered from the blocks equal a scan.
  const main = runtime.mainStation('external');
  assert.equal(ids(main.history({ types: ['record.b'], origin: { processor: 1, thread: 2 } })), ids(main.history(records).filter((event) => event.type === 'record.b' && event.origin.processor === 1 && event.origin.thread === 2)));
});

test('snapshots - a search of a child processor\'s station sees each merged batch and each removal whole, while threads merge and read', async () => {
  const BATCH = 25;
  const seenCounts: number[] = [];
  const pings: BusEvent[] = [];
  const reads: Array<Promise<void>> = [];
  // One read at a time per thread (a bus refuses a second while one runs), each overlapping later rounds.
  const readers = { 0: Promise.resolve(), 2: Promise.resolve() };
  const read = (thread: 0 | 2) => (readers[thread] = readers[thread].then(async () => void (await bus(2, thread).fromStation())));
  for (let round = 0; round < 6; round++) {
    const posts = Array.from({ length: BATCH }, (_, i) => bus(2, 1).post('ping.batch', { round, i }));
    pings.push(...(await Promise.all(posts)));
    // A merge (thread 2.1's batch) and removals (once threads 2.0 and 2.2 have both read it), with searches in between.
    const search = () => station(2).history({ types: ['ping.batch'] }).then((found) => void seenCounts.push(found.length));
    reads.push(search());
    const merged = bus(2, 1).toStation();
    reads.push(search());
    await merged;
    reads.push(search(), read(0), search(), read(2), search());
  }
  await Promise.all(reads);
  await Promise.all([read(0), read(2)]);
  assert.is(seenCounts.length, 30);
  for (const count of seenCounts) assert.is(count % BATCH, 0, `a search saw ${count} pings: part of a batch`);
  assert.equal(held(await station(2).history(), pings), [], 'every ping read by every other thread of processor 2');
});

test('removeAfterDelivery - a restarted processor does not read back what its threads had delivered', async () => {
  const watches = new Map([0, 2].map((t) => [`2.${t}`, watch(2, t)] as const));
  // A subscription counts at a station from its thread's next read (earlier tests' reads declared no `ping`).
  await Promise.all([0, 2].map((t) => bus(2, t).fromStation()));
  const ping = await bus(2, 1).post('ping', 1, { priority: 'immediate' });
  const pong = await bus(2, 1).post('pong', 2, { priority: 'immediate' });
  const ours = [ping, pong];
  await bus(2, 1).toStation();
  await station(2).toMain();
  await Promise.all([0, 2].map((t) => bus(2, t).fromStation()));
  assert.equal(held(await station(2).history(), ours), [pong.id], 'threads 2.0 and 2.2 have read it');
  // Their subscribers here have been called, before the kill (what a killed thread had not handed over is lost).
  await Promise.all([...watches.values()].map(({ got }) => got(ping.id)));
  // A toMain() waits until the station's journal holds every change so far, the ping's removal too (lmdb writes
  // after the call that made them: a kill before that restores the ping, and its threads deliver it again).
  await station(2).toMain();
  const crashed = runtime.bus('internal').waitFor('busline.processor.crashed');
  process.kill(runtime.processor(2).pid!, 'SIGKILL');
  assert.equal((await crashed).payload, { processor: 2, thread: null, reason: 'SIGKILL', message: 'it was killed by SIGKILL', restarted: true });
  // A subscription listens to a restarted thread again only some time after (what it delivers before is not seen):
  // new ones, made now, are in place before the reads below, and keep what the old ones saw.
  for (const [thread, old] of watches) {
    old.subscription.unsubscribe();
    const renewed = watch(2, Number(thread.slice(2)));
    renewed.delivered.unshift(...old.delivered);
    watches.set(thread, renewed);
  }
  // The restarted processor's station replays its journal and reads the main station again; its threads read it.
  await station(2).fromMain();
  assert.equal(held(await station(2).history(), ours), [pong.id], 'the ping is not restored');
  const mark = await runtime.bus('external').post('mark', 2, { priority: 'immediate' });
  await runtime.bus('external').toStation();
  await runtime.station('external').toMain();
  await station(2).fromMain();
  for (const t of [0, 1, 2]) {
    const { added } = await bus(2, t).fromStation();
    assert.equal(held(added, ours), [pong.id], `thread 2.${t}'s new generation`);
  }
  await Promise.all([...watches.values()].map(({ got }) => got(mark.id)));
  for (const [thread, { delivered, subscription }] of watches) {
    subscription.unsubscribe();
    // (A restarted processor's threads deliver again what they had delivered of other events: the mark of an earlier test.)
    assert.equal(held(delivered, [ping, mark]), [ping.id, mark.id], `thread ${thread}: the ping once`);
  }
});

test.run();
