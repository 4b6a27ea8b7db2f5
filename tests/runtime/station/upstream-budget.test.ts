/**
 * A local station's `toMain()` that carries more than its main station's
 * budget can take (`high` events, which a budget never evicts): what fits is
 * taken, whole batches in order, and the rest stays unsent, refused with
 * how much went and what is left; a later push takes the rest, each once.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusFullError, createRuntime, isBusError, type Runtime } from '../../../index.js';
import type { Station } from '../../../runtime/station/station.js';

const test = suite('toMain() at the main station\'s budget');
let runtime: Runtime | undefined;
test.after.each(async () => {
  await runtime?.stop();
  runtime = undefined;
});

const BUDGET = 256 * 1024;
/** Events of one bus sync: one batch at the local station, about a fifth of the budget. */
const ROUND = 90;
const line = (n: number) => `${n}:`.padEnd(512, String(n % 997));

/** A runtime whose `audit` events are `high` and leave a history once searched (how a reader makes room here). */
function auditRuntime(sync?: { everyMs: number }, metrics = false): Runtime {
  return createRuntime({
    deferred: 'manual',
    metrics,
    ...(sync === undefined ? {} : { sync }),
    memory: { policies: { audit: { importance: 'high', removeAfterSearch: true } }, budget: { stationBytes: BUDGET, busBytes: 8 * BUDGET } },
  });
}

/** Posts `rounds` rounds of audits, each synced to the local station as one batch, whose history then lets them go (they stay unsent). */
async function postRounds(rt: Runtime, from: number, rounds: number): Promise<number> {
  let next = from;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < ROUND; i++, next++) rt.bus('external').post('audit', { n: next, line: line(next) });
    await rt.bus('external').toStation();
    rt.station('external').history({ types: ['audit'] });
  }
  return next;
}

test('toMain - more high events than the main station\'s budget takes: whole batches go, in order, up to it; the rest is refused (pushed, left) and goes once room is made, each event once', async () => {
  runtime = auditRuntime();
  const rt = runtime;
  const local = rt.station('external');
  const main = rt.mainStation('external') as Station;
  const accepted: number[][] = [];
  main.onAccepted = (added) => void accepted.push(added.map((event) => (event.payload as { n: number }).n));
  // Half the budget at the main station already, then about three fifths more waiting here.
  let posted = await postRounds(rt, 0, 2);
  await local.toMain();
  posted = await postRounds(rt, posted, 3);
  const refusal = await local.toMain().then(() => undefined, (error: unknown) => error);
  assert.ok(refusal instanceof BusFullError, `expected BusFullError, got ${String(refusal)}`);
  assert.is(refusal.bound, 'budget');
  assert.is(refusal.limit, 'memory.budget.stationBytes');
  // Two of the three batches fit: they went, whole; the third waits here.
  assert.is(refusal.pushed, 2 * ROUND);
  assert.is(refusal.left, ROUND);
  assert.match(refusal.message, `${2 * ROUND} events went`);
  assert.equal(accepted.flat(), Array.from({ length: 4 * ROUND }, (_, n) => n));
  assert.ok(accepted.every((batch) => batch.length % ROUND === 0 && batch[0]! % ROUND === 0), 'a batch was split');
  // Refused again while nothing at the main station made room: nothing goes, nothing is lost.
  const again = await local.toMain().then(() => undefined, (error: unknown) => error);
  assert.ok(isBusError(again, 'BUS_FULL'));
  assert.is((again as BusFullError).pushed, 0);
  assert.is((again as BusFullError).left, ROUND);
  // A reader reads the main station: its audits leave, and the rest goes.
  assert.is(main.history({ types: ['audit'] }).length, 4 * ROUND);
  await local.toMain();
  assert.equal(accepted.flat(), Array.from({ length: posted }, (_, n) => n));
  await local.toMain();
  assert.equal(accepted.flat(), Array.from({ length: posted }, (_, n) => n));
});

test('toMain - a single batch larger than the main station\'s room is refused whole (pushed 0) and stays unsent', async () => {
  runtime = auditRuntime();
  const rt = runtime;
  const local = rt.station('external');
  const main = rt.mainStation('external') as Station;
  let posted = await postRounds(rt, 0, 4);
  await local.toMain();
  posted = await postRounds(rt, posted, 1);
  const refusal = await local.toMain().then(() => undefined, (error: unknown) => error);
  assert.ok(refusal instanceof BusFullError);
  assert.is(refusal.pushed, 0);
  assert.is(refusal.left, ROUND);
  assert.is(main.size, 4 * ROUND);
  main.history({ types: ['audit'] });
  await local.toMain();
  assert.is(main.size, ROUND);
  assert.is(posted, 5 * ROUND);
});

test('syncUpstream - under the sync policy a push at the main station\'s budget takes what fits and reads on; the next tick after room is made takes the rest', async () => {
  runtime = auditRuntime({ everyMs: 3_600_000 });
  const rt = runtime;
  const local = rt.station('external');
  const main = rt.mainStation('external') as Station;
  const accepted: number[] = [];
  main.onAccepted = (added) => void accepted.push(...added.map((event) => (event.payload as { n: number }).n));
  let posted = await postRounds(rt, 0, 2);
  await local.syncUpstream();
  posted = await postRounds(rt, posted, 3);
  const refusal = await local.syncUpstream().then(() => undefined, (error: unknown) => error);
  assert.ok(isBusError(refusal, 'BUS_FULL'));
  assert.is((refusal as BusFullError).pushed, 2 * ROUND);
  main.history({ types: ['audit'] });
  await local.syncUpstream();
  assert.equal(accepted, Array.from({ length: posted }, (_, n) => n));
});

test('toMain across a child processor - the refusal crosses with pushed and left; the rest goes once room is made', async () => {
  runtime = createRuntime({
    processors: 1,
    deferred: 'manual',
    callDeadlineMs: 20_000,
    memory: { policies: { audit: { importance: 'high', removeAfterSearch: true } }, budget: { stationBytes: BUDGET, busBytes: 8 * BUDGET } },
  });
  const rt = runtime;
  await rt.ready;
  const local = rt.processor(1).station('external');
  const main = rt.mainStation('external');
  let next = 0;
  const round = async () => {
    const bus = rt.thread(1, 0).bus('external');
    for (let i = 0; i < ROUND; i++, next++) await bus.post('audit', { n: next, line: line(next) });
    await bus.toStation();
    await local.history({ types: ['audit'] });
  };
  await round();
  await round();
  await local.toMain();
  for (let r = 0; r < 3; r++) await round();
  const refusal = await local.toMain().then(() => undefined, (error: unknown) => error);
  assert.ok(refusal instanceof BusFullError, `expected BusFullError, got ${String(refusal)}`);
  assert.equal([refusal.bound, refusal.pushed, refusal.left], ['budget', 2 * ROUND, ROUND]);
  assert.is((await local.memory())!.unsent?.count, ROUND);
  assert.is(main.history({ types: ['audit'] }).length, 4 * ROUND);
  await local.toMain();
  assert.equal(main.history({ types: ['audit'] }).map((event) => (event.payload as { n: number }).n), Array.from({ length: ROUND }, (_, i) => 4 * ROUND + i));
});

test('memory - a local station\'s memory() says what waits for its main station (unsent: count, bytes), as a bus\'s says what waits for its station; runtime.stats() carries it', async () => {
  runtime = auditRuntime(undefined, true);
  const rt = runtime;
  const local = rt.station('external');
  const main = rt.mainStation('external');
  await postRounds(rt, 0, 2);
  // Read once, the audits left the local station's history; they still wait for the main station.
  const waiting = local.memory()!;
  assert.is(waiting.count, 0);
  assert.is(waiting.unsent?.count, 2 * ROUND);
  assert.ok(waiting.unsent!.bytes > 2 * ROUND * 512, `unsent bytes ${waiting.unsent!.bytes}`);
  assert.equal(rt.bus('external').memory()!.unsent, { count: 0, bytes: 0 });
  const stats = (await rt.stats())!;
  assert.equal(stats.memory.find((held) => held.history === 'station:local:0:external')?.unsent, waiting.unsent);
  // Partly taken: what is left is what is counted.
  await postRounds(rt, 2 * ROUND, 3);
  await local.toMain().catch(() => undefined);
  assert.equal(local.memory()!.unsent?.count, ROUND);
  main.history({ types: ['audit'] });
  await local.toMain();
  assert.equal(local.memory()!.unsent, { count: 0, bytes: 0 });
  // A main station sends nothing on: it has no unsent.
  assert.is(main.memory()!.unsent, undefined);
});

test('toMain - held back for a slow reader, the probe goes and the rest is refused (backlog): the refusal still says how many went and are left', async () => {
  runtime = auditRuntime();
  const rt = runtime;
  const local = rt.station('external');
  const main = rt.mainStation('external') as Station;
  await postRounds(rt, 0, 3);
  const accept = main.accept.bind(main);
  let calls = 0;
  // Refused for a slow reader elsewhere; then, held back, the probe (the oldest batch) is taken and the rest refused again.
  main.accept = (batch) => {
    if (++calls === 2) return accept(batch);
    throw new BusFullError(5, 4, 'backlog');
  };
  const first = await local.toMain().then(() => undefined, (error: unknown) => error);
  assert.equal([(first as BusFullError).bound, (first as BusFullError).pushed, (first as BusFullError).left], ['backlog', 0, 3 * ROUND]);
  const second = await local.toMain().then(() => undefined, (error: unknown) => error);
  assert.equal([(second as BusFullError).bound, (second as BusFullError).pushed, (second as BusFullError).left], ['backlog', ROUND, 2 * ROUND]);
  assert.is(local.memory()!.unsent?.count, 2 * ROUND);
  main.accept = accept;
  await local.toMain();
  assert.equal(main.history().map((event) => (event.payload as { n: number }).n), Array.from({ length: 3 * ROUND }, (_, n) => n));
});

test('memory - a bridge clearing while a toMain() is under way leaves unsent bytes counted: a refused push keeps its events and their bytes', async () => {
  runtime = auditRuntime();
  const rt = runtime;
  const local = rt.station('external');
  const main = rt.mainStation('external') as Station;
  // Internal events read across the bridge: the local station holds some of the other side, which a clearing removes.
  rt.bridge.open();
  rt.bus('internal').post('note', 1);
  await rt.bus('internal').toStation();
  await rt.station('internal').toMain();
  await local.fromMain({ side: 'internal' });
  await postRounds(rt, 0, 1);
  const before = local.memory()!.unsent!;
  assert.is(before.count, ROUND);
  const accept = main.accept.bind(main);
  main.accept = (batch) => {
    main.accept = accept;
    assert.ok(local.clearSide('internal') > 0, 'the clearing removed the internal event');
    throw new BusFullError(1, 1, 'backlog');
  };
  assert.ok(isBusError(await local.toMain().then(() => undefined, (error: unknown) => error), 'BUS_FULL'));
  assert.equal(local.memory()!.unsent, before);
  await local.toMain();
  assert.equal(local.memory()!.unsent, { count: 0, bytes: 0 });
});

test.run();
