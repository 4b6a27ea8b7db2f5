/**
 * The cross-processor interest window: a local station declares its readers'
 * wider interest to its main station before it answers the read that widened
 * it, so an event the main station takes after that read is held for the
 * processor (events that leave once delivered, `removeAfterDelivery`).
 * Embedded processors (every step a manual call, or the sync policy's own
 * ticks) and a child processor.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BusEvent, type RemoteStation, type Runtime, type RuntimeOptions } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import type { SyncRequest, WireMessage } from '../../../runtime/wire/protocol.js';
import { STATION_THREAD } from '../../../runtime/station/links.js';
import { ids } from '../../helpers.js';

const TRANSIENT: RuntimeOptions['memory'] = { policies: { ping: { removeAfterDelivery: true } } };

const test = suite('upstream interest');
let runtime: Runtime | undefined;
test.after.each(async () => {
  await runtime?.stop();
  runtime = undefined;
});

/** A transport that hands messages over and records the declarations local stations send (reads of no types). */
function recording(declarations: SyncRequest[]) {
  return {
    name: 'recording',
    carry: (message: WireMessage) => {
      if (message.kind === 'syncRequest' && message.from.thread === STATION_THREAD && message.types?.length === 0) declarations.push(message);
      return Promise.resolve(message);
    },
  };
}

/** Every reader of `runtime` (thread 0 of processors 0 and `other`, their local stations) has read once: each has declared it wants no ping. */
async function allDeclared(rt: Runtime, other: number): Promise<void> {
  for (const processor of [0, other]) await rt.thread(processor, 0).bus('external').fromStation();
  for (const processor of [0, other]) await rt.station('external', processor).fromMain();
}

test('manual - subscribe, then read that thread: a ping the main station takes afterwards waits for its processor', async () => {
  const declarations: SyncRequest[] = [];
  const rt = (runtime = createRuntime({ transport: recording(declarations), deferred: 'manual', memory: TRANSIENT }));
  const other = rt.addProcessor().processor;
  const reader = rt.thread(other, 0).bus('external');
  const local = rt.station('external', other);
  const main = rt.mainStation('external');
  await allDeclared(rt, other);
  const seen: string[] = [];
  reader.subscribe('ping', (event) => void seen.push(event.id));
  // What the README asks of manual syncs: a read of the subscribing thread. Its local station declares ping
  // to the main station before it answers.
  await reader.fromStation();
  assert.equal(declarations.map((request) => request.interest), [['ping']], 'one declaration, of the new interest');
  const ping = rt.bus('external').post('ping', 1, { priority: 'immediate' });
  await rt.bus('external').toStation();
  await rt.station('external').toMain();
  assert.equal(ids(main.history()), [ping.id], 'held at the main station for processor 1');
  await local.fromMain();
  assert.equal(ids(main.history()), [], 'processor 1 has read it');
  await reader.fromStation();
  assert.equal(seen, [ping.id]);
  assert.equal(ids(local.history()), [], 'read by thread 1.0: gone');
});

test('manual - a declaration reads nothing and hands nothing back; narrowing waits for the next fromMain; a * subscription declares every type', async () => {
  const declarations: SyncRequest[] = [];
  const rt = (runtime = createRuntime({ transport: recording(declarations), deferred: 'manual', memory: TRANSIENT }));
  const other = rt.addProcessor().processor;
  // Thread 1.0's current bus (its toStation() retires the one before).
  const reader = () => rt.thread(other, 0).bus('external');
  const local = rt.station('external', other);
  const main = rt.mainStation('external');
  await allDeclared(rt, other);
  // A deferred event of thread 1.0 parked at the main station stays there through a declaration.
  reader().post('job', 1, { priority: 'deferred' });
  await reader().toStation();
  await local.toMain();
  assert.is(main.queued().length, 1);
  const pings = reader().subscribe('ping', () => undefined);
  await reader().fromStation();
  assert.is(declarations.length, 1);
  assert.is(main.queued().length, 1, 'the declaration handed nothing back');
  assert.equal(ids(local.history()), [], 'and read nothing');
  await reader().fromStation();
  assert.is(declarations.length, 1, 'a read that does not widen declares nothing');
  pings.unsubscribe();
  await reader().fromStation();
  assert.is(declarations.length, 1, 'narrowing is declared by the next fromMain');
  reader().subscribe('ping', () => undefined);
  await reader().fromStation();
  assert.is(declarations.length, 1, 'the main station still holds pings for processor 1');
  await local.fromMain();
  assert.is(main.queued().length, 0, 'fromMain took the parked event back');
  reader().subscribe('*', () => undefined);
  await reader().fromStation();
  assert.is(declarations.length, 2);
  assert.is(declarations[1]!.interest, undefined, 'every type');
  const ping = rt.bus('external').post('ping', 1, { priority: 'immediate' });
  await rt.bus('external').toStation();
  await rt.station('external').toMain();
  assert.equal(ids(main.history()), [ping.id], 'held for the * subscriber');
});

test('manual - a thread added to a processor holds everything there until it reads: its station tells the main station at once', async () => {
  const declarations: SyncRequest[] = [];
  const rt = (runtime = createRuntime({ transport: recording(declarations), deferred: 'manual', memory: TRANSIENT }));
  const other = rt.addProcessor().processor;
  const main = rt.mainStation('external');
  await allDeclared(rt, other);
  const added = rt.addThread({ processor: other });
  assert.equal(declarations.map((request) => request.interest), [undefined], 'every type, sent as the thread was added');
  const seen: string[] = [];
  added.bus('external').subscribe('ping', (event) => void seen.push(event.id));
  const ping = rt.bus('external').post('ping', 1, { priority: 'immediate' });
  await rt.bus('external').toStation();
  await rt.station('external').toMain();
  assert.equal(ids(main.history()), [ping.id], 'held at the main station for processor 1');
  await rt.station('external', other).fromMain();
  await added.bus('external').fromStation();
  assert.equal(seen, [ping.id]);
});

test('sync policy - a subscription in one processor and a ping posted in another in the same turn: the tick it asks for delivers the ping', async () => {
  const rt = (runtime = createRuntime({ sync: { everyMs: 3_600_000 }, memory: TRANSIENT }));
  const other = rt.addProcessor().processor;
  const reader = rt.thread(other, 0).bus('external');
  await allDeclared(rt, other);
  const seen: string[] = [];
  // The subscription asks for a tick; the mark, kept by every station, shows that tick has reached thread 1.0.
  reader.subscribe(['ping', 'mark'], (event) => void seen.push(event.type));
  const marked = reader.waitFor('mark');
  rt.bus('external').post('ping', 1, { priority: 'immediate' });
  rt.bus('external').post('mark', 2, { priority: 'immediate' });
  await marked;
  assert.equal(seen, ['ping', 'mark'], 'the ping was held at the main station for processor 1');
});

test('child processor, manual - subscribe in a worker, read it: a ping from the root waits at the main station for that processor', async () => {
  const rt = (runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, deferred: 'manual', callDeadlineMs: 20_000, memory: TRANSIENT }));
  await rt.ready;
  const worker = rt.thread(1, 1).bus('external') as RemoteBus;
  const local = rt.processor(1).station('external') as RemoteStation;
  const main = rt.mainStation('external');
  for (const bus of [rt.bus('external'), rt.thread(1, 0).bus('external') as RemoteBus, worker]) await bus.fromStation();
  await local.fromMain();
  await rt.station('external').fromMain();
  let got: (event: BusEvent) => void = () => undefined;
  const received = new Promise<BusEvent>((resolve) => (got = resolve));
  worker.subscribe('ping', (event) => got(event));
  await worker.state();
  await worker.fromStation();
  const ping = rt.bus('external').post('ping', 1, { priority: 'immediate' });
  await rt.bus('external').toStation();
  await rt.station('external').toMain();
  assert.equal(ids(main.history()), [ping.id], 'held at the main station for processor 1');
  await local.fromMain();
  await worker.fromStation();
  assert.is((await received).id, ping.id);
});

test.run();
