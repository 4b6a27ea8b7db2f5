/**
 * Typed events at run time: what a `'*'` subscriber of a typed runtime gets
 * on each side is what `EventOf<map, '*'>` says, no more and no fewer types.
 * The lists below are checked against the types when `tsc` checks this file
 * (`Complete`), and against what the buses deliver when it runs. A read
 * across the bridge brings the other side's events, which a runtime's bus
 * is typed with too (`Across`): the last cases read them through those
 * types, with no cast. The type rules are in typed-events.test-d.ts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BuslineEvents, type EventOf, type Replies, type Runtime } from '../../../index.js';
import { serveThread } from '../fixtures/served-thread.js';

interface Events extends Replies<{ 'job.get': { readonly state: string } }> {
  readonly 'job.get': { readonly id: string };
  readonly 'job.done': { readonly id: string };
}
interface AppInternal extends Replies<{ 'app.ping': string }> {
  readonly 'app.ping': null;
}

/** Every type `EventOf<E, '*'>` names is in `List`: `true`, else the missing ones. */
type Complete<E, List extends readonly string[]> = [Exclude<EventOf<E, '*'>['type'], List[number]>] extends [never]
  ? true
  : Exclude<EventOf<E, '*'>['type'], List[number]>;

/** What a '*' handler on the external side may get: every type of the map, and replies. */
const EXTERNAL = ['job.done', 'job.get', 'busline.reply'] as const satisfies ReadonlyArray<EventOf<Events, '*'>['type']>;
const externalComplete: Complete<Events, typeof EXTERNAL> = true;
void externalComplete;

/** The internal side's map lists replies itself, beside the runtime's other events, which this test does not provoke. */
const INTERNAL = ['app.ping', 'busline.reply'] as const satisfies ReadonlyArray<EventOf<BuslineEvents & AppInternal, '*'>['type']>;

const test = suite('typed-events');

let runtime: Runtime<Events, AppInternal>;

test.before.each(() => {
  runtime = createRuntime<Events, AppInternal>();
});

test.after.each(async () => {
  await runtime.stop();
});

/** The types a '*' and a '>' subscriber of `side` get from now on, sorted and without repeats (a request is an event of its type, as a plain post is). */
function everything(side: 'external' | 'internal'): () => string[] {
  const seen = new Set<string>();
  const bus = runtime.bus(side as 'external');
  bus.subscribe('*', (event) => void seen.add(event.type));
  bus.subscribe('>', (event) => void seen.add(`> ${event.type}`));
  return () => [...seen].sort();
}

test("subscribe('*') - on the external side: the map's events and the replies to requests there, as EventOf<Events, '*'> says", async () => {
  const seen = everything('external');
  const bus = runtime.bus('external');
  bus.reply('job.get', (request) => ({ state: `running ${request.payload.id}` }));
  assert.equal(await bus.request('job.get', { id: 'j1' }), { state: 'running j1' });
  bus.post('job.done', { id: 'j1' }, { priority: 'immediate' });
  const types = [...EXTERNAL].sort();
  assert.equal(seen(), [...types.map((type) => `> ${type}`), ...types]);
  // waitFor('*') too: its filter compares with 'busline.reply', which compiles only if its events may be replies.
  const waited = bus.waitFor('*', { filter: (event) => event.type === 'busline.reply' });
  const request = bus.request('job.get', { id: 'j2' });
  const reply = await waited;
  assert.is(reply.type, 'busline.reply');
  if (reply.type === 'busline.reply') assert.equal(reply.payload, { request: bus.history({ types: ['job.get'] })[1]!.id, value: await request });
  assert.equal([...new Set(bus.history({ types: ['*'] }).map((event) => event.type))].sort(), types);
});

test("subscribe('*') - on the internal side: the application's internal events and replies, both in its map", async () => {
  const seen = everything('internal');
  const internal = runtime.bus('internal');
  internal.reply('app.ping', () => 'pong');
  assert.is(await internal.request('app.ping', null), 'pong');
  runtime.bus('external').post('job.done', { id: 'j1' }, { priority: 'immediate' });
  const types = [...INTERNAL].sort();
  assert.equal(seen(), [...types.map((type) => `> ${type}`), ...types]);
});

test("subscribe('*') - a read across the bridge delivers the other side's events from other threads, typed by that side's map: event.side tells them apart", async () => {
  const remote = serveThread(runtime as unknown as Runtime); // the fixture takes an untyped runtime; only the thread it serves matters here
  try {
    const external = runtime.bus('external');
    const seen: string[] = [];
    external.subscribe('*', (event) => void seen.push(`${event.side} ${event.type}`));
    // No external type is `app.ping`: the pattern names the internal side's, whose events it gets as the internal map types them.
    const pings: Array<{ side: 'internal'; payload: null }> = [];
    external.subscribe('app.ping', (event) => void pings.push({ side: event.side, payload: event.payload }));
    const far = remote.thread.bus('internal');
    far.post('app.ping', null, { priority: 'immediate' });
    await far.toStation();
    await runtime.bridge.open();
    await external.fromStation({ side: 'internal' });
    assert.equal(seen, ['internal app.ping']);
    assert.equal(pings, [{ side: 'internal', payload: null }]);
    const held = external.history({ types: ['app'] });
    assert.equal(
      held.map((event) => [event.side, event.type]),
      [['internal', 'app.ping']],
    );
  } finally {
    await remote.stop();
  }
});

test("subscribe(), waitFor(), history() - an internal bus reading the external side (an audit) gets its events with the external map's payloads", async () => {
  const remote = serveThread(runtime as unknown as Runtime);
  try {
    const audit = runtime.bus('internal');
    const done: string[] = [];
    audit.subscribe('job.done', (event) => void done.push(`${event.side} ${event.payload.id}`));
    const second = audit.waitFor('job', { filter: (event) => event.payload.id === 'j2' });
    const far = remote.thread.bus('external');
    far.post('job.done', { id: 'j1' }, { priority: 'immediate' });
    far.post('job.done', { id: 'j2' }, { priority: 'immediate' });
    await far.toStation();
    await runtime.bridge.onlyToExternal();
    await audit.fromStation({ side: 'external' });
    assert.equal(done, ['external j1', 'external j2']);
    const event = await second;
    assert.equal([event.side, event.type, event.payload.id], ['external', 'job.done', 'j2']);
    assert.equal(
      audit.history({ types: ['job.done'] }).map((held) => `${held.side} ${held.payload.id}`),
      ['external j1', 'external j2'],
    );
  } finally {
    await remote.stop();
  }
});

test.run();
