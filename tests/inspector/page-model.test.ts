/**
 * The inspector page's logic without a browser: the session it keeps
 * (`inspector/page/session.js`: state at an earlier moment, bounds, filters)
 * and the statechart drawing (`chart.js`: the state tree of busline's three
 * machines, transitions, active states). The page itself is tested in
 * Chromium (page.test.ts).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { activePaths, chartSvg, stateTree } from '../../inspector/page/chart.js';
import { passes, Session, sideOf, type Message } from '../../inspector/page/session.js';
import { bridgeMachine, busMachine, stationMachine } from '../../internal.js';

const test = suite('inspector page model');

const definition = (machine: { config: unknown }) => JSON.parse(JSON.stringify(machine.config, (_key, value: unknown) => (typeof value === 'function' ? { type: value.name } : value)));

const bridgeActor = (sessionId = 'r/x:0'): Message => ({
  type: '@xstate.actor',
  sessionId,
  name: 'bridge',
  definition: JSON.stringify(definition(bridgeMachine)),
  snapshot: { value: { direction: 'closed', lock: 'unlocked' }, status: 'active' },
  busline: { processor: 0, thread: null, actorId: 'bridge' },
});
const snapshot = (value: unknown, status = 'active', sessionId = 'r/x:0'): Message => ({
  type: '@xstate.snapshot',
  sessionId,
  snapshot: { value, status },
  busline: { processor: 0, thread: null, actorId: 'bridge' },
});
const event = (type: string, actorId = 'bridge', sessionId = 'r/x:0', thread: number | null = null): Message => ({
  type: '@xstate.event',
  sessionId,
  event: { type },
  busline: { processor: 0, thread, actorId },
});

test('actorsAt - every actor as it was after the first n messages', () => {
  const session = new Session();
  session.add(bridgeActor());
  session.add(event('OPEN'));
  session.add(snapshot({ direction: 'open', lock: 'unlocked' }));
  session.add(event('LOCK'));
  session.add(snapshot({ direction: 'closed', lock: 'locked' }));
  assert.is(session.actorsAt(0).size, 0);
  assert.equal(session.actorsAt(2).get('r/x:0')?.snapshot?.value, { direction: 'closed', lock: 'unlocked' });
  assert.is(session.actorsAt(2).get('r/x:0')?.lastEvent, 'OPEN');
  assert.equal(session.actorsAt(3).get('r/x:0')?.snapshot?.value, { direction: 'open', lock: 'unlocked' });
  assert.equal(session.actorsAt(5).get('r/x:0')?.snapshot?.value, { direction: 'closed', lock: 'locked' });
  // Back again after the live view moved on: the same answers.
  assert.equal(session.actorsAt(3).get('r/x:0')?.snapshot?.value, { direction: 'open', lock: 'unlocked' });
  session.add(snapshot({ direction: 'closed', lock: 'locked' }, 'stopped'));
  assert.ok(session.actorsAt(6).get('r/x:0')?.ended);
  assert.not.ok(session.actorsAt(5).get('r/x:0')?.ended);
});

test('add - past its bound the oldest messages fold into the base: the slider reaches back that far, no actor is lost', () => {
  const session = new Session(3);
  session.add(bridgeActor());
  for (let i = 0; i < 10; i++) session.add(event(`E${i}`));
  assert.is(session.length, 3);
  assert.is(session.folded, 8);
  assert.is(session.actorsAt(0).get('r/x:0')?.lastEvent, 'E6');
  assert.is(session.actorsAt(3).get('r/x:0')?.lastEvent, 'E9');
  const recording = session.toRecording(new Date(0));
  assert.is(recording.format, 'busline-inspector-recording');
  assert.is(recording.base.length, 1);
  assert.is(recording.messages.length, 3);
});

test('passes - filters by event type (part of it), side, thread and actor', () => {
  const bus = event('ACTIVITY', 'bus:0.1:external#2', 'x/x:1', 1);
  assert.is(sideOf('bus:0.1:external#2'), 'external');
  assert.is(sideOf('station:main:internal'), 'internal');
  assert.is(sideOf('bridge'), '');
  assert.ok(passes(bus, { type: 'activ' }));
  assert.not.ok(passes(bus, { type: 'LOCK' }));
  assert.ok(passes(bus, { side: 'external', thread: '0.1', actor: 'x/x:1' }));
  assert.not.ok(passes(bus, { side: 'internal' }));
  assert.not.ok(passes(bus, { thread: '0' }));
  assert.ok(passes(event('OPEN'), { thread: '0' }), "a processor's own actors are under its number");
  assert.not.ok(passes(bus, { actor: 'r/x:0' }));
});

test('stateTree - the bridge: two parallel regions, their states, and the transitions between them', () => {
  const { root, transitions } = stateTree(definition(bridgeMachine));
  assert.is(root.type, 'parallel');
  assert.equal(root.children.map((child) => child.key), ['direction', 'lock']);
  assert.equal(root.children[0]!.children.map((child) => child.key), ['closed', 'open', 'oneWayExternal', 'oneWayInternal']);
  const named = transitions.map(({ from, to, event }) => `${from.path.join('.')} -${event}-> ${to.path.join('.')}`);
  for (const expected of ['direction -OPEN-> direction.open', 'direction.open -LOCK-> direction.closed', 'direction.closed -UNLOCK-> direction.oneWayInternal', 'lock.unlocked -LOCK-> lock.locked']) {
    assert.ok(named.includes(expected), `${expected} in ${named.join(', ')}`);
  }
  // Refusals while locked have no target: listed inside the state.
  assert.equal(root.children[1]!.children[1]!.loops, ['OPEN', 'CLOSE', 'ONLY_TO_EXTERNAL', 'ONLY_TO_INTERNAL']);
});

test('stateTree - the bus and the station: initial states first, final and eventless transitions', () => {
  const bus = stateTree(definition(busMachine));
  assert.is(bus.root.type, 'compound');
  assert.is(bus.root.children[0]!.key, 'active');
  assert.is(bus.root.children.find((child) => child.key === 'retired')?.type, 'final');
  const station = stateTree(definition(stationMachine));
  const upstream = station.root.children.find((child) => child.key === 'upstream')!;
  assert.is(upstream.children[0]!.key, 'checking');
  const always = station.transitions.filter((t) => t.event === 'always').map((t) => t.to.key);
  assert.equal(always.sort(), ['idle', 'none']);
});

test('chartSvg - draws every state, highlights the active ones, escapes names', () => {
  const svg = chartSvg(definition(bridgeMachine), { direction: 'open', lock: 'unlocked' });
  for (const path of ['direction.closed', 'direction.open', 'lock.locked']) assert.ok(svg.includes(`data-path="${path}"`), path);
  const active = [...svg.matchAll(/class="state [^"]*active[^"]*" data-path="([^"]*)"/g)].map((match) => match[1]);
  assert.equal(active.sort(), ['', 'direction', 'direction.open', 'lock', 'lock.unlocked']);
  assert.equal([...activePaths('active')].sort(), ['', 'active']);
  const hostile = chartSvg({ id: '<script>', initial: 'a"b', states: { 'a"b': {} } }, 'a"b');
  assert.not.ok(hostile.includes('<script>'));
  assert.ok(hostile.includes('data-path="a&quot;b"'));
});

test.run();
