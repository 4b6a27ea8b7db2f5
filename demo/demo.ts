/**
 * `npm start`: a short tour of busline across real boundaries. Two processors
 * run as child processes, each with two threads.js worker threads (threads
 * 1.1, 1.2, 2.1, 2.2); the root holds the main stations and the bridge.
 * Workers post, buses sync to their local stations, local stations to the
 * main stations, another processor's thread reads what came across, a
 * deferred queue is parked and handed back, and the bridge opens, goes
 * one-way, locks and closes with clearing. Each line says what moved where.
 *
 * The inspector runs throughout (its URL is printed first). Then the demo
 * stays live: the workers keep posting and syncing, one progress line says
 * how many events moved, until Ctrl-C. `npm start -- --once` ends after the
 * tour instead (what the tests run). `BUSLINE_INSPECT_PORT` picks the port.
 */
import { createRuntime, isBusError, type BusEvent, type Side } from '../index.js';
import { FrameTransport, encodeFrame } from '../internal.js';
import type { RemoteStation } from '../runtime/hosting/processor-host.js';
import type { RemoteBus } from '../runtime/bus/remote-bus.js';

const line = (text = '') => console.log(text);
const list = (events: readonly BusEvent[]) => events.map((event) => `${event.type}@${event.id}`).join(', ') || '(none)';
const ms = (since: number) => `${(performance.now() - since).toFixed(1)} ms`;
const count = (n: number, noun: string) => `${n} ${n === 1 ? noun : noun.endsWith('y') ? `${noun.slice(0, -1)}ies` : `${noun}s`}`;

/** The size of `events` as one batch frame: what a sync hop carries for them. */
function frameBytes(events: readonly BusEvent[], queue: readonly BusEvent[] = []): number {
  const from = { processor: 0, thread: 0, generation: 0, side: 'external' as const };
  return encodeFrame({ kind: 'batch', seq: 0, from, history: events, queue }, { compress: 'auto' }).byteLength;
}

/** Refusals are part of the tour: print their code. */
async function refused(what: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
    line(`  ${what}: allowed (unexpected)`);
  } catch (error) {
    if (!isBusError(error)) throw error;
    line(`  ${what}: refused with ${error.code}`);
  }
}

const once = process.argv.includes('--once');
const began = performance.now();
const runtime = createRuntime({ processors: 2, threadsPerProcessor: 2, deferred: 'manual' });
const bus = (processor: number, thread: number, side: Side = 'external') => runtime.thread(processor, thread).bus(side) as RemoteBus;
const station = (processor: number, side: Side = 'external') => runtime.processor(processor).station(side) as RemoteStation;
let pids: Array<number | null> = [];

try {
  await runtime.ready;
  pids = [1, 2].map((processor) => runtime.processor(processor).pid);
  line('busline demo: 2 processors (child processes) × 2 worker threads; main stations + bridge in the root');
  line(`  ready in ${ms(began)}: processor 1 pid ${pids[0]}, processor 2 pid ${pids[1]}, root pid ${process.pid}`);
  line(`  threads 1.1 1.2 2.1 2.2 are workers; 1.0 and 2.0 are their processors' own threads`);
  const url = await runtime.inspect({ port: Number(process.env.BUSLINE_INSPECT_PORT ?? 0) });
  line(`  inspector: ${url} — @statelyai/inspect clients connect to ${url.replace('http://', 'ws://').replace(/\/$/, '')}`);

  let step = performance.now();
  line();
  line('1. workers in different processors post');
  const created = await bus(1, 1).post('order.created', { order: 'o-1' });
  const paid = await bus(1, 1).post('order.paid', { order: 'o-1', amount: 42 });
  const shipped = await bus(1, 1).post('order.shipped', { order: 'o-1' }, { priority: 'deferred' });
  const remote = await bus(2, 1).post('order.created', { order: 'o-2' });
  line(`  thread 1.1 posted ${list([created, paid])}, and parked ${list([shipped])} in its queue (deferred)`);
  line(`  thread 2.1 posted ${list([remote])}`);
  line(`  bus 1.1 is ${(await bus(1, 1).state()).state}: history ${(await bus(1, 1).history()).length}, queue ${(await bus(1, 1).queue()).length}  (${ms(step)})`);

  step = performance.now();
  line();
  line('2. buses sync to their local stations: toStation()');
  const sent11 = await bus(1, 1).history();
  const queued11 = await bus(1, 1).queue();
  const next11 = await bus(1, 1).toStation();
  line(`  bus 1.1 → station 1: ${sent11.length} history + ${queued11.length} queued in one batch (${frameBytes(sent11, queued11)} bytes framed)`);
  line(`  bus 1.1 retired; thread 1.1 now runs generation ${next11.generation} (history ${(await next11.history()).length})`);
  await bus(2, 1).toStation();
  line(`  bus 2.1 → station 2: 1 event`);
  line(`  station 1 history: ${list(await station(1).history())}`);
  line(`  station 1 parked:  ${list(await station(1).queued())}`);
  const sameProcessor = await bus(1, 2).fromStation({ types: ['order.created'] });
  line(`  thread 1.2 fromStation({ types: ['order.created'] }) ← ${list(sameProcessor.added)}  (${ms(step)})`);

  step = performance.now();
  line();
  line('3. local stations sync with the main stations: toMain(), fromMain()');
  await station(1).toMain();
  await station(2).toMain();
  const main = runtime.mainStation('external');
  line(`  stations 1, 2 → main external: history ${list(main.history())}`);
  line(`  main external parked: ${list(main.queued())} (filed under thread 1.1)`);
  const pulled2 = await station(2).fromMain();
  line(`  station 2 fromMain() ← ${count(pulled2.added, 'new event')}, ${count(pulled2.handedBack, 'parked entry')} (none is its processor's)  (${ms(step)})`);

  step = performance.now();
  line();
  line('4. another processor\'s thread reads them');
  const far = await bus(2, 2).fromStation();
  line(`  thread 2.2 fromStation() ← ${list(far.added)} (${frameBytes(far.added)} bytes framed)`);
  const again = await bus(2, 2).fromStation();
  line(`  again ← ${count(again.added.length, 'event')}: resends are deduplicated by id`);
  await runtime.station('external').fromMain();
  const root = await runtime.bus('external').fromStation();
  line(`  the root's own thread 0.0, after station 0 fromMain() ← ${list(root.added)}  (${ms(step)})`);

  step = performance.now();
  line();
  line('5. the deferred queue is handed back to its origin thread only');
  const pulled1 = await station(1).fromMain();
  line(`  station 1 fromMain() ← ${count(pulled1.added, 'new event')}, and ${count(pulled1.handedBack, 'parked entry')} back from main`);
  line(`  thread 1.2 fromStation(): ${(await bus(1, 2).fromStation()).handedBack} handed back (not its entry)`);
  const back = await bus(1, 1).roundTrip();
  line(`  thread 1.1 roundTrip() → generation ${back.generation}: queue ${list(await back.queue())}`);
  line(`    with the whole station history: ${list(await back.history())}`);
  line(`  drain() delivered ${await back.drain()}; station 1 parked now: ${list(await station(1).queued())}  (${ms(step)})`);

  step = performance.now();
  line();
  line('6. the bridge between internal (runtime) and external (user) events');
  const health = await bus(2, 1, 'internal').post('runtime.health', { ok: true });
  await bus(2, 1, 'internal').toStation();
  await station(2, 'internal').toMain();
  await station(1, 'internal').fromMain();
  line(`  thread 2.1 posted internal ${list([health])}; it reached main internal and station 1 internal`);
  line(`  bridge: ${JSON.stringify((await runtime.actors()).find((actor) => actor.kind === 'bridge')?.state)}`);
  await refused('bus 1.2 (external) reading the internal station', () => bus(1, 2).fromStation({ side: 'internal' }));

  await runtime.bridge.onlyToInternal();
  line(`  onlyToInternal() → ${runtime.bridge.direction}: the external side may reach the internal side`);
  const crossedBus = await bus(1, 2).fromStation({ side: 'internal' });
  line(`  bus 1.2 (external) ← ${list(crossedBus.added)} from station 1 internal`);
  const crossedStation = await station(2).fromMain({ side: 'internal' });
  line(`  station 2 (external) ← ${count(crossedStation.added, 'event')} from main internal`);
  await refused('bus 2.2 (internal) reading the external station', () => bus(2, 2, 'internal').fromStation({ side: 'external' }));

  await runtime.bridge.open();
  line(`  open() → ${runtime.bridge.direction}`);
  const crossedInternal = await bus(2, 2, 'internal').fromStation({ side: 'external' });
  line(`  bus 2.2 (internal) ← ${list(crossedInternal.added)} from station 2 external`);
  line(`    (runtime.health came back too: station 2 external holds it since it crossed)`);

  const externalHolds = async () => {
    const places = [
      await bus(1, 2).history(),
      await bus(2, 2).history(),
      await station(1).history(),
      await station(2).history(),
    ];
    return places.map((events) => events.filter((event) => event.side === 'internal').length);
  };
  line(`  internal events held by bus 1.2, bus 2.2, station 1, station 2 (external side): ${(await externalHolds()).join(', ')}`);
  await runtime.bridge.onlyToExternal({ clearOtherSide: true });
  line(`  onlyToExternal({ clearOtherSide: true }) → ${runtime.bridge.direction}: internal events cleared from the external side`);
  line(`  internal events held now by the same four: ${(await externalHolds()).join(', ')}`);

  await runtime.bridge.lock();
  line(`  lock() → ${runtime.bridge.direction}, locked: ${runtime.bridge.locked}`);
  await refused('bridge.open() while locked', () => runtime.bridge.open());
  await refused('bus 2.2 (internal) reading external while locked', () => bus(2, 2, 'internal').fromStation({ side: 'external' }));
  await runtime.bridge.unlock();
  line(`  unlock() → back to ${runtime.bridge.direction}`);

  const internalHolds = async () => {
    let count = 0;
    for (const [processor, thread] of [[1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [2, 2]] as const) {
      count += (await bus(processor, thread, 'internal').history()).filter((event) => event.side === 'external').length;
    }
    for (const processor of [1, 2]) {
      count += (await station(processor, 'internal').history()).filter((event) => event.side === 'external').length;
    }
    return count;
  };
  line(`  external events on the internal side (6 buses, 2 stations): ${await internalHolds()}`);
  await runtime.bridge.close({ clearOtherSide: true });
  line(`  close({ clearOtherSide: true }) → ${runtime.bridge.direction}; external events left on the internal side: ${await internalHolds()}  (${ms(step)})`);

  line();
  line('7. where things are');
  for (const actor of (await runtime.actors()).filter((actor) => actor.kind !== 'bus')) {
    line(`  ${`root ${actor.id}`.padEnd(40)} ${JSON.stringify(actor.state)}`);
  }
  for (const processor of [1, 2]) {
    for (const side of ['internal', 'external'] as const) {
      const { size, state } = await station(processor, side).state();
      line(`  ${`pid ${pids[processor - 1]} station:local:${processor}:${side}`.padEnd(40)} ${JSON.stringify(state)}, ${count(size, 'event')}`);
    }
  }
  for (const [processor, thread] of [[1, 1], [1, 2], [2, 1], [2, 2]] as const) {
    const { generation, state } = await bus(processor, thread).state();
    line(`  ${`worker bus:${processor}.${thread}:external#${generation}`.padEnd(40)} ${state}, ${count((await bus(processor, thread).history()).length, 'event')}`);
  }
  const stats = runtime.transport instanceof FrameTransport ? runtime.transport.stats : undefined;
  if (stats !== undefined) line(`  frames of the root's own hops (station 0 ⇄ main, thread 0.0 ⇄ station 0): ${stats.messages}, ${stats.bytes} bytes`);
  if (!once) await live(url);
} finally {
  const stopping = performance.now();
  await runtime.stop();
  const left = pids.filter((pid) => {
    if (pid === null) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  line();
  line(`stopped in ${ms(stopping)}; processor processes left: ${left.length}; total ${ms(began)}`);
}

/**
 * Keeps the workers busy until Ctrl-C, so that the inspector has something to
 * show: each round every worker posts one event, syncs with its station, and
 * the stations round-trip with the main station. One progress line (rewritten
 * in place on a terminal, every 5 s otherwise).
 */
async function live(url: string): Promise<void> {
  const workers = [[1, 1], [1, 2], [2, 1], [2, 2]] as const;
  let stop = false;
  const interrupted = new Promise<void>((resolve) =>
    process.once('SIGINT', () => {
      stop = true;
      resolve();
    }),
  );
  line();
  line(`8. live: the workers keep posting and syncing; watch them at ${url} (Ctrl-C stops)`);
  const start = performance.now();
  let posted = 0;
  let moved = 0;
  let printed = 0;
  const progress = (final = false) => {
    const text = `  ${posted} events posted, ${moved} moved to other threads, ${((performance.now() - start) / 1000).toFixed(0)} s`;
    if (process.stdout.isTTY) process.stdout.write(`\r${text}${final ? '\n' : ''}`);
    else if (final || performance.now() - printed > 5_000) {
      printed = performance.now();
      line(text);
    }
  };
  const pause = (ms: number) => Promise.race([interrupted, new Promise((resolve) => setTimeout(resolve, ms))]);
  while (!stop) {
    try {
      for (const [processor, thread] of workers) {
        await bus(processor, thread).post('demo.tick', { round: posted });
        posted++;
      }
      for (const processor of [1, 2]) await station(processor).roundTrip();
      for (const [processor, thread] of workers) moved += (await bus(processor, thread).sync()).added.length;
    } catch (error) {
      // Ctrl-C in a terminal signals the processors too (one process group): they die as the root hears it.
      if (!stop) await pause(1_000);
      if (stop) break;
      throw error;
    }
    progress();
    await pause(250);
  }
  progress(true);
}
