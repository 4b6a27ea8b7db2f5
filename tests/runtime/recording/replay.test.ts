/**
 * Replay: a recorded run re-driven through the machines reaches the recorded
 * states; a changed machine does not, and the failure is a readable diff.
 * Recordings are made with the real runtime — embedded, and with a worker
 * thread whose bus records travel to the root.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMachine, type AnyStateMachine } from 'xstate';
import { createRuntime, isBusError, ManualClock, ReplayMismatchError, type RemoteBus } from '../../../index.js';
import { bridgeMachine } from '../../../internal.js';
import { Session, type Message } from '../../../inspector/page/session.js';
import {
  assertReplay,
  assertTransitions,
  diffTransitions,
  readRecording,
  recordedTransitions,
  replay,
  stateText,
  type Recording,
} from '../../../testing.js';

const test = suite('replay');
const dir = mkdtempSync(join(tmpdir(), 'busline-replay-'));
let files = 0;

/** The bridge through every kind of step: moves, a lock that remembers, a refusal, an unlock, a clearing close. */
async function bridgeRun(): Promise<Recording> {
  const path = join(dir, `bridge-${files++}.blrec`);
  const clock = new ManualClock(0);
  const runtime = createRuntime({ clock });
  await runtime.record(path);
  const bus = runtime.bus('external');
  bus.post('order.placed', { n: 1 });
  await bus.roundTrip();
  await runtime.bridge.open();
  await runtime.bridge.onlyToExternal();
  await runtime.bridge.open();
  await runtime.bridge.lock();
  await runtime.bridge.open().catch(() => undefined);
  await runtime.bridge.unlock();
  await runtime.bridge.close({ clearOtherSide: true });
  await runtime.stop();
  return readRecording(path);
}

/**
 * A changed copy of the bridge machine: locking from `open` remembers
 * `oneWayExternal`, so the unlock after it goes there instead of back to `open`.
 */
function bridgeThatForgets(): AnyStateMachine {
  const config = bridgeMachine.config as any;
  const open = config.states.direction.states.open;
  const lock = (open.on.LOCK as any[]).map((transition) => ({
    ...transition,
    actions: transition.actions.map((action: any) =>
      action.type === 'rememberDirection' ? { ...action, params: { direction: 'oneWayExternal' } } : action,
    ),
  }));
  const states = { ...config.states.direction.states, open: { ...open, on: { ...open.on, LOCK: lock } } };
  return createMachine({ ...config, states: { ...config.states, direction: { ...config.states.direction, states } } }, bridgeMachine.implementations as any);
}

test('replay - a recorded run through the real machines reaches the recorded states, step for step', async () => {
  const recording = await bridgeRun();
  const recorded = recordedTransitions(recording);
  const actors = new Set(recorded.map((step) => step.actor.split(':')[0]));
  assert.equal([...actors].sort(), ['bridge', 'bus', 'station'], 'the three machines are in it');
  const replayed = [...replay(recording)];
  assert.is(replayed.length, recorded.length);
  assert.is(diffTransitions(replayed, recorded), undefined);
  assertReplay(recording);
  assert.equal(
    recordedTransitions(recording, { actors: (id) => id === 'bridge', context: false }).map((step) => `${step.event} → ${step.state}`),
    [
      'OPEN → direction.open, lock.unlocked',
      'ONLY_TO_EXTERNAL → direction.oneWayExternal, lock.unlocked',
      'OPEN → direction.open, lock.unlocked',
      'LOCK → direction.closed, lock.locked',
      'OPEN → direction.closed, lock.locked',
      'UNLOCK → direction.open, lock.unlocked',
      'CLOSE → direction.closed, lock.unlocked',
    ],
  );
});

test('replay - a changed bridge machine fails the replay with a readable diff at the first step it departs', async () => {
  const recording = await bridgeRun();
  let failure: unknown;
  try {
    assertReplay(recording, { machines: { bridge: bridgeThatForgets() } });
  } catch (error) {
    failure = error;
  }
  assert.ok(isBusError(failure, 'REPLAY_MISMATCH'), `expected REPLAY_MISMATCH, got ${String(failure)}`);
  const message = (failure as ReplayMismatchError).message;
  const bridgeSteps = recordedTransitions(recording).map((step, i) => [step, i] as const).filter(([step]) => step.actor === 'bridge');
  // LOCK and the refused OPEN only change the context (what the lock remembers); UNLOCK is where the state departs.
  const lockAt = bridgeSteps.find(([step]) => step.event === 'LOCK')![1];
  assert.is((failure as ReplayMismatchError).step, lockAt);
  assert.match(message, `Transitions differ at step ${lockAt + 1} `);
  assert.match(message, /- expected {3}\+ actual/);
  assert.match(message, /context at step \d+:\n {2}- directionBeforeLock: "open"\n {2}\+ directionBeforeLock: "oneWayExternal"/);
  assert.match(message, /- +\d+ +bridge +UNLOCK +direction\.open, lock\.unlocked\n\+ +\d+ +bridge +UNLOCK +direction\.oneWayExternal, lock\.unlocked/);
  // Only states compared: the first difference is the unlock.
  const statesOnly = diffTransitions(
    [...replay(recording, { machines: { bridge: bridgeThatForgets() }, context: false })],
    recordedTransitions(recording, { context: false }),
  );
  assert.match(statesOnly!, /differ at step \d+ \(1 of \d+ steps differ/);
  assert.match(statesOnly!, /UNLOCK +direction\.oneWayExternal/);
});

test('replay, recordedTransitions, assertReplay, assertTransitions, readRecording - what is not a recording or an option is refused with INVALID_OPTION naming it', async () => {
  const recording = await bridgeRun();
  const refused = async (run: () => unknown, option: string, says: RegExp) => {
    const error = await Promise.resolve().then(run).then(() => undefined, (reason: unknown) => reason);
    assert.ok(isBusError(error, 'INVALID_OPTION'), `${option}: ${String(error)}`);
    assert.is((error as { option?: string }).option, option);
    assert.match((error as Error).message, says, option);
  };
  for (const notOne of [undefined, null, {}, 'run.blrec', { records: [] }]) {
    await refused(() => assertReplay(notOne as never), 'assertReplay recording', /expected a recording from readRecording\(\)/);
    await refused(() => recordedTransitions(notOne as never), 'recordedTransitions recording', /expected a recording/);
    // Refused at the call, before a step is asked of the generator.
    await refused(() => replay(notOne as never), 'replay recording', /expected a recording/);
  }
  // A misspelt option would replay the machines that ran, and pass: refused instead.
  await refused(() => assertReplay(recording, { machine: { bridge: bridgeThatForgets() } } as never), 'assertReplay options.machine', /Did you mean "machines"\?/);
  await refused(() => recordedTransitions(recording, { actor: 'bridge' } as never), 'recordedTransitions options.actor', /Did you mean "actors"\?/);
  await refused(() => replay(recording, { actors: 'bridge' } as never), 'replay options.actors', /expected a function of the actor's id/);
  await refused(() => replay(recording, { context: 'no' } as never), 'replay options.context', /true or false/);
  await refused(() => assertTransitions(1 as never, []), 'assertTransitions actual', /an array or replay\(recording\)/);
  await refused(() => assertTransitions([], undefined as never), 'assertTransitions expected', /an array of \{ actor, event, state, context\? \}/);
  await refused(() => readRecording(5 as never), 'readRecording path', /expected the path \(or file: URL\) of a recording, got 5/);
  await refused(() => readRecording(join(dir, 'missing.blrec')), 'readRecording path', /cannot read .*missing\.blrec: ENOENT: /);
  await refused(() => readRecording(dir), 'readRecording path', /: EISDIR: /);
  assertReplay(recording);
});

test('assertTransitions - against a list written by hand; context left out matches any', async () => {
  const recording = await bridgeRun();
  const bridge = recordedTransitions(recording, { actors: (id) => id === 'bridge' });
  assertTransitions(bridge.slice(0, 2), [
    { actor: 'bridge', event: 'OPEN', state: 'direction.open, lock.unlocked' },
    { actor: 'bridge', event: 'ONLY_TO_EXTERNAL', state: 'direction.oneWayExternal, lock.unlocked' },
  ]);
  try {
    assertTransitions(bridge.slice(0, 2), [{ actor: 'bridge', event: 'OPEN', state: 'direction.open, lock.unlocked' }]);
    assert.unreachable('an extra step passed');
  } catch (error) {
    assert.instance(error, ReplayMismatchError);
    assert.match((error as Error).message, /expected 1, got 2/);
    assert.match((error as Error).message, /- +2 +\(no step\)\n\+ +2 +bridge +ONLY_TO_EXTERNAL/);
  }
});

test('stateText - plain, nested and parallel values', () => {
  assert.is(stateText('active'), 'active');
  assert.is(stateText({ direction: 'open', lock: 'locked' }), 'direction.open, lock.locked');
  assert.is(stateText({ a: { b: 'c' } }), 'a.b.c');
  assert.is(stateText({ a: { b: 'c', d: 'e' } }), 'a.(b.c, d.e)');
});

test('replay - a recording that lost records is refused, not replayed into a false failure', async () => {
  const recording = await bridgeRun();
  try {
    assertReplay({ ...recording, end: { ...recording.end, dropped: 3 } });
    assert.unreachable('a lossy recording was replayed');
  } catch (error) {
    assert.ok(isBusError(error, 'REPLAY_MISMATCH'));
    assert.match((error as Error).message, /lost 3 records/);
  }
});

test('replay - buses of a worker thread and of a child processor\'s thread, recorded from their realms, replay too', async () => {
  const path = join(dir, `remote-${files++}.blrec`);
  let arrived: (() => void) | undefined;
  const retired = new Set<string>();
  const runtime = createRuntime({
    processors: 1,
    threadsPerProcessor: 1,
    deferred: 'manual',
    inspect: (event) => {
      // Remote records reach the root (and the recording, first) on their own ports: wait for the retirements.
      if (event.type === '@xstate.snapshot' && (event.snapshot as { value?: unknown }).value === 'retired') retired.add(event.actorId);
      if (retired.has('bus:0.1:external#0') && retired.has('bus:1.1:external#0')) arrived?.();
    },
  });
  try {
    await runtime.ready;
    // record() resolves once every thread has announced its actors again: what they do next is recorded.
    await runtime.record(path);
    const bothRetired = new Promise<void>((resolve) => (arrived = resolve));
    for (const processor of [0, 1]) {
      const bus = runtime.thread(processor, 1).bus('external') as RemoteBus;
      await bus.post('job.started', { processor }, { priority: 'immediate' });
      await bus.toStation();
    }
    await bothRetired;
  } finally {
    await runtime.stop();
  }
  const recording = await readRecording(path);
  const recorded = recordedTransitions(recording);
  for (const actor of ['bus:0.1:external#0', 'bus:1.1:external#0']) {
    const events = recorded.filter((step) => step.actor === actor).map((step) => step.event);
    assert.ok(events.includes('TO_STATION') && events.includes('HANDED_OVER'), `${actor}'s steps are recorded: ${events.join(', ')}`);
  }
  assert.ok(recorded.some((step) => step.actor === 'station:local:1:external' && step.event === 'MERGED'), 'the processor\'s station too');
  assertReplay(recording);
});

test('replay - an actor whose announcement came after its first steps starts at the first, and the rest are compared', async () => {
  const recording = await bridgeRun();
  const isBridgeAnnouncement = (record: Recording['records'][number]) =>
    record.kind === 'inspection' && record.message.type === '@xstate.actor' && record.message.busline?.actorId === 'bridge';
  const announcement = recording.records.find(isBridgeAnnouncement)!;
  // As when a worker takes calls before it hears to announce its actors again: the announcement comes last.
  const late = { ...recording, records: [...recording.records.filter((record) => !isBridgeAnnouncement(record)), announcement] };
  const bridge = (steps: Iterable<{ actor: string; event: string }>) => [...steps].filter((step) => step.actor === 'bridge').map((step) => step.event);
  assert.equal(bridge(recordedTransitions(late)), ['ONLY_TO_EXTERNAL', 'OPEN', 'LOCK', 'OPEN', 'UNLOCK', 'CLOSE'], 'OPEN is where it starts');
  assertReplay(late);
  assert.throws(() => assertReplay(late, { machines: { bridge: bridgeThatForgets() } }), (error: unknown) => isBusError(error, 'REPLAY_MISMATCH'));
});

test('readRecording - a session exported from the inspector page replays too, its folded actors resumed where they were', async () => {
  const recording = await bridgeRun();
  // The page as it would have seen the run, keeping only its last 12 messages: the rest are folded into its base.
  const session = new Session(12);
  for (const record of recording.records) if (record.kind === 'inspection') session.add(JSON.parse(JSON.stringify(record.message)) as Message);
  assert.ok(session.folded > 0, 'some messages were folded');
  const path = join(dir, `page-${files++}.json`);
  writeFileSync(path, JSON.stringify(session.toRecording()));
  const exported = await readRecording(path);
  assert.is(exported.end.events, 0);
  const steps = recordedTransitions(exported);
  assert.ok(steps.length > 0 && steps.length < recordedTransitions(recording).length, `${steps.length} steps`);
  assert.equal(steps, recordedTransitions(recording).slice(-steps.length), 'the last steps, as recorded');
  assertReplay(exported);
  writeFileSync(path, JSON.stringify({ format: 'something-else', version: 1, base: [], messages: [] }));
  await readRecording(path).then(
    () => assert.unreachable('another JSON file was read'),
    (error: unknown) => assert.ok(isBusError(error, 'FRAME_CORRUPT') && /not an inspector page export/.test((error as Error).message), String(error)),
  );
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
