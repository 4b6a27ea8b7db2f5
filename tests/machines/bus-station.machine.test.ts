import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor } from 'xstate';
import { getShortestPaths } from '@xstate/graph';
import { busMachine } from '../../machines/bus.machine.js';
import { stationMachine } from '../../machines/station.machine.js';
import type { BusMachineEvent, StationMachineEvent } from '../../machines/events.js';

const endpoint = { processor: 0, thread: 0, generation: 0, side: 'external' as const };

const bus = suite('busMachine');

bus('lifecycle - active ⇄ receiving, active → handingOver → retired (final)', () => {
  const actor = createActor(busMachine, { input: { endpoint } }).start();
  assert.is(actor.getSnapshot().value, 'active');
  actor.send({ type: 'ACTIVITY', posted: 3, delivered: 2, queued: 1, lastId: '0.0.2' });
  assert.equal(
    [actor.getSnapshot().context.posted, actor.getSnapshot().context.delivered, actor.getSnapshot().context.lastId],
    [3, 2, '0.0.2'],
  );
  actor.send({ type: 'FROM_STATION', side: 'external' });
  assert.is(actor.getSnapshot().value, 'receiving');
  actor.send({ type: 'TO_STATION' });
  assert.is(actor.getSnapshot().value, 'receiving', 'refused while receiving');
  assert.is(actor.getSnapshot().context.refusals, 1);
  actor.send({ type: 'RECEIVED', added: 5, queued: 1 });
  assert.is(actor.getSnapshot().value, 'active');
  actor.send({ type: 'TO_STATION' });
  assert.is(actor.getSnapshot().value, 'handingOver');
  actor.send({ type: 'FROM_STATION', side: 'external' });
  assert.is(actor.getSnapshot().value, 'handingOver');
  actor.send({ type: 'HANDED_OVER', events: 6 });
  assert.is(actor.getSnapshot().value, 'retired');
  assert.is(actor.getSnapshot().status, 'done');
});

bus('activity - the step that ends a sync call may carry the posts and deliveries not yet reported', () => {
  const actor = createActor(busMachine, { input: { endpoint } }).start();
  actor.send({ type: 'FROM_STATION', side: 'external' });
  actor.send({ type: 'RECEIVED', added: 2, queued: 0, activity: { posted: 4, delivered: 2, lastId: '0.0.3' } });
  actor.send({ type: 'TO_STATION' });
  actor.send({ type: 'HANDED_OVER', events: 4, activity: { posted: 1, delivered: 0, lastId: '0.0.4' } });
  const { posted, delivered, lastId, received, handedOver } = actor.getSnapshot().context;
  assert.equal({ posted, delivered, lastId, received, handedOver }, { posted: 5, delivered: 2, lastId: '0.0.4', received: 2, handedOver: 4 });
});

bus('handover failure - retires too (the successor holds the events)', () => {
  const actor = createActor(busMachine, { input: { endpoint } }).start();
  actor.send({ type: 'TO_STATION' });
  actor.send({ type: 'HANDOVER_FAILED', reason: 'link down' });
  assert.is(actor.getSnapshot().value, 'retired');
  assert.is(actor.getSnapshot().context.failure, 'link down');
});

bus('paths - every state is reachable and retired is only reached through handingOver', () => {
  const events: BusMachineEvent[] = [
    { type: 'TO_STATION' },
    { type: 'FROM_STATION', side: 'external' },
    { type: 'RECEIVED', added: 0, queued: 0 },
    { type: 'RECEIVE_FAILED', reason: 'x' },
    { type: 'HANDED_OVER', events: 0 },
    { type: 'HANDOVER_FAILED', reason: 'x' },
  ];
  const paths = getShortestPaths(busMachine, { events, input: { endpoint }, serializeState: (snapshot) => JSON.stringify(snapshot.value) });
  const byState = new Map(paths.map((path) => [String(path.state.value), path]));
  assert.equal([...byState.keys()].sort(), ['active', 'handingOver', 'receiving', 'retired']);
  const retired = byState.get('retired')!;
  assert.equal(
    retired.steps.map((s) => s.event.type).filter((t) => (t as string) !== 'xstate.init'),
    ['TO_STATION', 'HANDED_OVER'],
  );
});

bus.run();

const station = suite('stationMachine');

station('local - merges are counted in any upstream state; overlapping syncs are refused', () => {
  const actor = createActor(stationMachine, { input: { kind: 'local', side: 'internal', processor: 1 } }).start();
  assert.equal(actor.getSnapshot().value, { upstream: 'idle' });
  actor.send({ type: 'TO_MAIN' });
  assert.equal(actor.getSnapshot().value, { upstream: 'pushing' });
  actor.send({ type: 'FROM_MAIN' });
  assert.is(actor.getSnapshot().context.refusals, 1);
  actor.send({ type: 'MERGED', added: 3, size: 3, queued: 0 });
  assert.equal(actor.getSnapshot().value, { upstream: 'pushing' }, 'a merge while pushing leaves the upstream region as it is');
  actor.send({ type: 'PUSHED', events: 3 });
  assert.equal(actor.getSnapshot().value, { upstream: 'idle' });
  assert.equal([actor.getSnapshot().context.merges, actor.getSnapshot().context.pushes, actor.getSnapshot().context.size], [1, 1, 3]);
  actor.send({ type: 'FROM_MAIN' });
  actor.send({ type: 'UPSTREAM_FAILED', reason: 'gone' });
  assert.equal(actor.getSnapshot().value, { upstream: 'idle' });
  assert.is(actor.getSnapshot().context.failure, 'gone');
});

station('main - has no upstream', () => {
  const actor = createActor(stationMachine, { input: { kind: 'main', side: 'external', processor: 0 } }).start();
  assert.equal(actor.getSnapshot().value, { upstream: 'none' });
  actor.send({ type: 'TO_MAIN' });
  assert.equal(actor.getSnapshot().value, { upstream: 'none' });
});

station('paths - every upstream state of a local station is reachable', () => {
  const events: StationMachineEvent[] = [
    { type: 'MERGED', added: 1, size: 1, queued: 0 },
    { type: 'TO_MAIN' },
    { type: 'PUSHED', events: 1 },
    { type: 'FROM_MAIN' },
    { type: 'PULLED', added: 0 },
  ];
  const paths = getShortestPaths(stationMachine, {
    events,
    input: { kind: 'local', side: 'external', processor: 0 },
    serializeState: (snapshot) => JSON.stringify(snapshot.value),
  });
  const reached = new Set(paths.map((p) => JSON.stringify(p.state.value)));
  for (const upstream of ['idle', 'pushing', 'pulling']) assert.ok(reached.has(JSON.stringify({ upstream })), upstream);
});

station.run();
