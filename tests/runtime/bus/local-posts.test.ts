/**
 * `post(type, payload, { local: true })`: delivered to the posting thread's
 * subscribers and kept in its bus history by the type's policy, never sent
 * to a station (no other thread sees it, no sync carries it, it holds no
 * room in the outbox); in one thread and across 1 processor × 2 threads,
 * where the posting thread's `RemoteBus.subscribe()` listeners (subscribers
 * of that bus) get it too. Each case posts an ordinary event beside the
 * local one, so a sync that carried nothing is told from one that left the
 * local event out.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, InvalidOptionError, type BusEvent, type PostOptions, type Runtime } from '../../../index.js';
import { FRAME_UNSENT_EVENTS } from '../../../runtime/bus/outbox.js';
import { collectedByIdleSteps, gate, ids, processorRuntime, rejects, thrown } from '../../helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const test = suite('local posts');

let runtime: Runtime;

test.before.each(() => {
  runtime = createRuntime({ deferred: 'manual' });
});

test.after.each(async () => {
  await runtime.stop();
});

test('local - delivered and kept here at immediate and normal priority, never sent to the station', async () => {
  const bus = runtime.bus('external');
  const seen: string[] = [];
  bus.subscribe('user', (event) => void seen.push(`${event.type}:${event.priority}`));
  bus.post('user.local', { n: 1 }, { priority: 'immediate', local: true });
  assert.equal(seen, ['user.local:immediate'], 'an immediate local event is delivered before post() returns');
  bus.post('user.local', { n: 2 }, { local: true });
  assert.is(bus.unsent, 0, 'the outbox holds no local event');
  bus.post('user.shared', { n: 3 });
  assert.is(bus.unsent, 1, 'an ordinary event waits for the station');
  await Promise.resolve();
  assert.equal(seen, ['user.local:immediate', 'user.local:normal', 'user.shared:normal']);
  await bus.sync();
  assert.is(bus.unsent, 0);
  const station = runtime.station('external');
  assert.equal(
    station.history().map((event) => event.type),
    ['user.shared'],
    'the station got the ordinary event, not the local ones',
  );
  assert.equal(
    bus.history().map((event) => event.payload),
    [{ n: 1 }, { n: 2 }, { n: 3 }],
    'the bus history keeps all three',
  );
});

test('local - a new bus generation does not read it back', async () => {
  const bus = runtime.bus('external');
  bus.post('order.placed', { id: 'local' }, { local: true });
  bus.post('order.placed', { id: 'shared' });
  const next = await bus.roundTrip();
  assert.equal(
    next.history().map((event) => (event.payload as { id: string }).id),
    ['shared'],
    'the next generation reads the station, where only the ordinary event went',
  );
});

test('local - under removeAfterDelivery an immediate local event is kept nowhere', async () => {
  await runtime.stop();
  runtime = createRuntime({ deferred: 'manual', memory: { policies: { '>': { removeAfterDelivery: true } } } });
  const bus = runtime.bus('external');
  let delivered = 0;
  bus.subscribe('tick', () => void delivered++);
  for (let i = 0; i < 10; i++) bus.post('tick', { i }, { priority: 'immediate', local: true });
  assert.is(delivered, 10);
  assert.is(bus.history().length, 0, 'not in the bus history');
  assert.is(bus.unsent, 0, 'not waiting for the station');
  assert.is(bus.memory()?.unsent?.count, 0);
});

test('local - bad input is refused with InvalidOptionError naming the option, and nothing is posted', () => {
  const bus = runtime.bus('external');
  let delivered = 0;
  bus.subscribe('user', () => void delivered++);
  const notBoolean = thrown(() => bus.post('user.login', { id: 1 }, { local: 'yes' as unknown as boolean }), InvalidOptionError);
  assert.ok(notBoolean instanceof InvalidOptionError);
  assert.is(notBoolean.code, 'INVALID_OPTION');
  assert.match(notBoolean.message, /post options\.local.*expected true or false, got "yes"/);
  // A literal saying both does not compile (typed-events.test-d.ts); options in a PostOptions variable are refused here.
  const localDeferred: PostOptions = { local: true, priority: 'deferred' };
  const deferred = thrown(() => bus.post('user.login', { id: 2 }, localDeferred), InvalidOptionError);
  assert.ok(deferred instanceof InvalidOptionError);
  assert.match(deferred.message, /post options\.local.*cannot be deferred.*'normal' or 'immediate'/);
  assert.is(bus.history().length, 0);
  assert.is(bus.queue().length, 0);
  assert.is(bus.unsent, 0);
  assert.is(delivered, 0);
  // `local: false` is an ordinary post, deferred included.
  bus.post('user.login', { id: 3 }, { local: false, priority: 'deferred' });
  assert.is(bus.queue().length, 1);
});

test('local - options that are not an object are refused as before: an array is not { priority: normal }', () => {
  const bus = runtime.bus('external');
  const notAnObject = thrown(() => bus.post('user.login', { id: 1 }, [] as unknown as { local: true }), InvalidOptionError);
  assert.ok(notAnObject instanceof InvalidOptionError);
  assert.match(notAnObject.message, /post options.*expected an options object, got/);
  assert.is(bus.history().length, 0, 'nothing was posted');
});

test('local - a local post takes no room among unsent events: refused by no sync.maxUnsent the ordinary posts reached', async () => {
  await runtime.stop();
  runtime = createRuntime({ deferred: 'manual', sync: { everyMs: 3_600_000, maxBatch: 2, maxUnsent: 2 } });
  const bus = runtime.bus('external');
  let delivered = 0;
  bus.subscribe('ui', () => void delivered++);
  bus.post('order.placed', { id: 1 });
  bus.post('order.placed', { id: 2 });
  assert.is(bus.unsent, 2, 'the ordinary posts reached the bound');
  bus.post('ui.resized', { width: 800 }, { priority: 'immediate', local: true });
  bus.post('ui.resized', { width: 900 }, { local: true });
  assert.is(delivered, 1, 'the immediate one was delivered at once');
  assert.is(bus.unsent, 2, 'neither local post joined the outbox');
  await bus.sync();
  assert.is(delivered, 2);
});

test('local - a before middleware sees local: true in its draft, and no local key for an ordinary post', () => {
  const bus = runtime.bus('external');
  const drafts: Array<{ type: string; local?: boolean }> = [];
  bus.use({ before: (draft) => void drafts.push({ type: draft.type, ...(draft.local === undefined ? {} : { local: draft.local }) }) });
  bus.post('ui.resized', { width: 800 }, { local: true });
  bus.post('ui.moved', { x: 1 }, { local: true, topic: 'window', priority: 'immediate' });
  bus.post('order.placed', { id: 1 });
  bus.post('order.placed', { id: 2 }, { local: false, topic: 'shop' });
  assert.equal(drafts, [{ type: 'ui.resized', local: true }, { type: 'ui.moved', local: true }, { type: 'order.placed' }, { type: 'order.placed' }]);
});

test('local - publish() takes it too, and resolves with this thread\'s handlers\' outcomes', async () => {
  const bus = runtime.bus('external');
  bus.subscribe('job', () => 'done');
  const published = await bus.publish('job.run', { id: 1 }, { local: true });
  assert.ok(published.dropped === undefined);
  assert.equal(published.outcomes, [{ status: 'fulfilled', value: 'done' }]);
  assert.is(bus.unsent, 0);
});

test('local - past half its budget a bus keeps local events in frames, as it keeps what a sync framed; none reaches the station', async () => {
  await runtime.stop();
  // About 95 B counted an event: these pass half of 600 kB (where memory is short), not the budget.
  runtime = createRuntime({ deferred: 'manual', memory: { budget: { busBytes: 600_000 } } });
  const bus = runtime.bus('external');
  const count = FRAME_UNSENT_EVENTS + 300;
  const refs = postLocally(bus, count);
  const before = structuredClone(bus.history());
  // Framed by the small reads' framer in idle steps, a frame's worth at a time: what is left is less than one frame.
  const alive = await collectedByIdleSteps(gc, refs, 255);
  assert.ok(alive < 256, `${alive} of ${count} local posts still objects`);
  assert.equal(bus.history(), before, 'the history gives back what was posted');
  assert.ok(bus.memory()!.frameBytes > 0);
  bus.post('user.shared', { n: -1 });
  await bus.sync();
  assert.equal(ids(runtime.station('external').history()), [bus.history().at(-1)!.id], 'the station got the ordinary event alone');
});

/** Posts `count` local events in a function of its own (nothing here keeps them); weak refs to them. */
function postLocally(bus: { post(type: string, payload: { n: number }, options: { local: true }): BusEvent }, count: number): Array<WeakRef<BusEvent>> {
  const refs: Array<WeakRef<BusEvent>> = [];
  for (let i = 0; i < count; i++) refs.push(new WeakRef(bus.post('user.login', { n: i }, { local: true })));
  return refs;
}

test.run();

const across = suite('local posts across 1 processor x 2 threads');
const setup = processorRuntime(across);
const { worker } = setup;

across('local - a worker\'s local event reaches its own subscribers here and there, never the other thread', async () => {
  const one = worker(1);
  const two = worker(2);
  const heardHere: string[] = [];
  const heardAll = gate();
  const listening = one.subscribe('note', (event: BusEvent) => {
    heardHere.push((event.payload as { id: string }).id);
    if (heardHere.length === 3) heardAll.open();
  });
  try {
    await one.post('note.added', { id: 'local' }, { local: true });
    await one.post('note.added', { id: 'shared' });
    const published = await one.publish('note.added', { id: 'local published' }, { local: true, priority: 'immediate' });
    assert.ok(published.dropped === undefined);
    assert.is((await one.state()).unsent, 1, 'only the ordinary event waits for the station');
    await one.sync();
    await two.sync();
    const ids = (events: readonly BusEvent[]) => events.map((event) => (event.payload as { id: string }).id);
    assert.equal(ids(await two.history()), ['shared'], 'the other thread got the ordinary event only');
    assert.equal(ids(await one.history()), ['local', 'shared', 'local published'], 'the posting thread keeps all three');
    await heardAll.promise;
    assert.equal(heardHere.sort(), ['local', 'local published', 'shared'], 'a RemoteBus subscriber of that bus gets its local events');
  } finally {
    listening.unsubscribe();
  }
});

across('local - a remote post with bad local options is refused here, before anything crosses', async () => {
  const one = worker(1);
  await rejects(one.post('note.added', { id: 1 }, { local: 1 as unknown as boolean }), 'INVALID_OPTION', 'local: 1');
  const localDeferred: PostOptions = { local: true, priority: 'deferred' };
  await rejects(one.post('note.added', { id: 2 }, localDeferred), 'INVALID_OPTION', 'local and deferred');
  assert.is((await one.state()).unsent, 0, 'nothing was posted');
});

across('local - local and ordinary posts of one tick reach the thread in the order posted', async () => {
  const two = worker(2);
  const unsentBefore = (await two.state()).unsent;
  const posted = await Promise.all(
    ['a', 'b', 'c', 'd', 'e'].map((id, i) => two.post('memo.added', { id }, i % 3 === 0 ? undefined : { local: true })),
  );
  const history = await two.history({ types: ['memo'] });
  assert.equal(ids(history), ids(posted), 'stamped in the order posted, across the three control calls');
  assert.equal(
    history.map((event) => (event.payload as { id: string }).id),
    ['a', 'b', 'c', 'd', 'e'],
  );
  assert.is((await two.state()).unsent, unsentBefore + 2, 'a and d wait for the station');
});

across.run();
