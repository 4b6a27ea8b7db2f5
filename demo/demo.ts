/**
 * `npm start`: a short tour of busline in one process. Two processors with two
 * threads each post events; buses sync through their local stations, the
 * local stations through the main stations; the bridge opens, goes one-way,
 * locks and closes with clearing. Every sync hop is a checksummed frame.
 */
import { createRuntime, isBusError, type BusEvent, type Runtime } from '../index.js';
import type { FrameTransport } from '../runtime/transport.js';

const line = (text = '') => console.log(text);
const ids = (events: readonly BusEvent[]) => events.map((event) => `${event.type}@${event.id}`).join(', ') || '(none)';

function describeActors(runtime: Runtime): void {
  const states = runtime.actors().map((actor) => `${actor.id}=${JSON.stringify(actor.state)}`);
  line(`  actors: ${states.length}`);
  for (const state of states) line(`    ${state}`);
}

const runtime = createRuntime({ deferred: 'manual' });
runtime.addThread({ processor: 0 });
runtime.addProcessor();
runtime.addThread({ processor: 1 });

line('busline demo — embedded runtime: 2 processors × 2 threads, main stations and the bridge, all XState actors');
line();

// Each thread subscribes on its external bus; subscriptions outlive bus generations.
for (const [processor, thread] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
  runtime.bus('external', { processor, thread }).subscribe('order', (event) => {
    line(`  thread ${processor}.${thread} received ${event.type} ${JSON.stringify(event.payload)} (from ${event.id})`);
  });
}

line('1. thread 0.0 posts two orders and parks a deferred one; thread 1.1 posts one');
const bus00 = runtime.bus('external', { processor: 0, thread: 0 });
bus00.post('order.created', { id: 'o-1' }, { priority: 'immediate' });
bus00.post('order.paid', { id: 'o-1' }, { priority: 'immediate' });
bus00.post('order.shipped', { id: 'o-1' }, { priority: 'deferred' });
runtime.bus('external', { processor: 1, thread: 1 }).post('order.created', { id: 'o-2' }, { priority: 'immediate' });
line(`  bus 0.0 queue: ${ids(bus00.queue())}`);

line();
line('2. bus 0.0 toStation(): history and queue go to processor 0\'s local station; a new bus takes over');
const next00 = await bus00.toStation();
line(`  old bus: ${bus00.state}; new bus generation ${next00.generation}, history ${next00.history().length}`);
line(`  local station 0 history: ${ids(runtime.station('external', 0).history())}`);
line(`  local station 0 parked:  ${ids(runtime.station('external', 0).queued())}`);

line();
line('3. thread 0.1 fromStation({ types: [\'order.created\'] }): only that type, with subtype matching');
await runtime.bus('external', { processor: 0, thread: 1 }).fromStation({ types: ['order.created'] });

line();
line('4. processor 1 syncs with the main station; processor 0 round-trips; thread 0.1 reads again');
await runtime.bus('external', { processor: 1, thread: 1 }).toStation();
await runtime.station('external', 1).toMain();
await runtime.station('external', 0).roundTrip();
await runtime.bus('external', { processor: 0, thread: 1 }).fromStation();

line();
line('5. bus 0.0 roundTrip(): its queue comes back with the whole station history');
const again00 = await runtime.bus('external').roundTrip();
line(`  bus 0.0 history: ${ids(again00.history())}`);
line(`  bus 0.0 queue:   ${ids(again00.queue())}`);
again00.drain();

line();
line('6. the bridge: internal events are the runtime\'s own, external ones the user\'s');
runtime.bus('internal').post('runtime.health', { ok: true });
await runtime.bus('internal').toStation();
const external = runtime.bus('external');
try {
  await external.fromStation({ side: 'internal' });
} catch (error) {
  if (isBusError(error)) line(`  closed bridge: ${error.code}`);
}
await runtime.bridge.onlyToInternal();
line(`  bridge ${runtime.bridge.direction}: external reads internal`);
const crossed = await runtime.bus('external').fromStation({ side: 'internal' });
line(`  external bus got: ${ids(crossed.added)}`);
await runtime.bridge.lock();
line(`  bridge locked → ${runtime.bridge.direction}`);
try {
  await runtime.bridge.open();
} catch (error) {
  if (isBusError(error)) line(`  open() while locked: ${error.code}`);
}
await runtime.bridge.unlock();
line(`  unlocked → back to ${runtime.bridge.direction}`);
await runtime.bridge.close({ clearOtherSide: true });
const left = runtime.bus('external').history().filter((event) => event.side === 'internal');
line(`  close({ clearOtherSide: true }) → ${runtime.bridge.direction}; internal events left on the external side: ${left.length}`);

line();
line('7. where everything is now');
describeActors(runtime);
const stats = (runtime.transport as FrameTransport).stats;
line(`  ${stats.messages} frames, ${stats.bytes} bytes crossed the ${runtime.transport.name} transport`);
await runtime.stop();
line();
line('done.');
