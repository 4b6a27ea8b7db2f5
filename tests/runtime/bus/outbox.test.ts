/**
 * A bus's outbox (what its station has not taken yet) is held to the bus's
 * memory budget: under manual syncs the oldest unsent `low`, then `normal`,
 * events go, reported as `busline.memory.dropped`, and a post only dropping
 * `high` events would make room for is refused (`BusFullError`, `bound:
 * 'outbox'`); under the sync policy posts are refused and `room()` waits for
 * the sync the refusal asked for. In one thread and in a worker.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusFullError, createRuntime, type BusEvent, type RemoteBus, type Runtime, type UnsentDropReport } from '../../../index.js';
import { Outbox, type OutboxBound } from '../../../runtime/bus/outbox.js';
import type { Importance } from '../../../runtime/store/memory-policy.js';
import { ids } from '../../helpers.js';

const BUDGET = 10_000;

/** An event of `type` (its importance, in the unit tests) whose size is `size`. */
function event(n: number, type: string, size: number): BusEvent {
  return {
    id: `0.0.${n}`,
    type,
    payload: size,
    timestamp: n,
    side: 'external',
    origin: { processor: 0, thread: 0, generation: 0 },
    priority: 'normal',
  } as BusEvent;
}

function outbox(refuse = false): { outbox: Outbox; reports: UnsentDropReport[] } {
  const reports: UnsentDropReport[] = [];
  const bound: OutboxBound = {
    budget: 1_000,
    option: 'memory.budget.busBytes',
    name: 'bus:0.0:external',
    refuse,
    sizeOf: (event) => event.payload as number,
    importance: (type) => type as Importance,
    dropped: (report) => void reports.push(report),
  };
  return { outbox: new Outbox(bound), reports };
}

const unit = suite('Outbox');

unit('push - over its budget the oldest low events go, then normal ones, down to 90 %; high ones never', () => {
  const { outbox: box, reports } = outbox();
  const [high, normal, low] = [event(1, 'high', 300), event(2, 'normal', 300), event(3, 'low', 300)];
  for (const e of [high, normal, low]) box.push(e);
  box.push(event(4, 'normal', 200));
  assert.equal(ids(box.unsent()), ['0.0.1', '0.0.2', '0.0.4'], 'the low one went first, though older ones are normal and high');
  assert.equal(reports, [{ history: 'bus:0.0:external', count: 1, freed: 300, types: ['low'], bytes: 800, budget: 1_000 }]);
  box.push(event(5, 'normal', 250));
  assert.equal(ids(box.unsent()), ['0.0.1', '0.0.4', '0.0.5'], 'no low left: the oldest normal');
  assert.is(box.bytes, 750);
  box.push(event(6, 'high', 600));
  assert.equal(ids(box.unsent()), ['0.0.1', '0.0.6'], 'down to 900: both normal ones went; high stays');
  assert.is(box.bytes, 900);
});

unit('push - a long run of mixed importances drops exactly what the plain rule drops: oldest low, then oldest normal, to 90 %', () => {
  const { outbox: box, reports } = outbox();
  // The rule, one event at a time over a list (what the outbox does in one pass a rank).
  let model: BusEvent[] = [];
  const size = (e: BusEvent) => e.payload as number;
  const sum = (events: readonly BusEvent[]) => events.reduce((bytes, e) => bytes + size(e), 0);
  let seed = 7;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  let dropped = 0;
  for (let n = 1; n <= 2_000; n++) {
    const rank = next();
    // Few high ones, or they would fill the budget and every post would be refused.
    const e = event(n, rank < 0.4 ? 'low' : rank < 0.98 ? 'normal' : 'high', 10 + Math.floor(next() * 90));
    if (model.filter((m) => m.type === 'high').reduce((bytes, m) => bytes + size(m), 0) + size(e) > 1_000) continue;
    box.admit(e);
    box.push(e);
    model.push(e);
    if (sum(model) > 1_000) {
      for (const importance of ['low', 'normal']) {
        for (const m of [...model]) {
          if (sum(model) <= 900) break;
          if (m.type !== importance) continue;
          model = model.filter((k) => k !== m);
          dropped++;
        }
      }
    }
    assert.equal(ids(box.unsent()), ids(model), `after ${n}`);
    assert.is(box.bytes, sum(model));
  }
  assert.ok(reports.length > 100, 'it dropped all along');
  assert.is(reports.reduce((count, report) => count + report.count, 0), dropped);
});

unit('admit - refuses, naming the budget, what only dropping high events would make room for; under the sync policy whatever is over', () => {
  const { outbox: box } = outbox();
  box.push(event(1, 'high', 900));
  box.admit(event(2, 'normal', 100));
  const error = (() => {
    try {
      box.admit(event(2, 'normal', 101));
    } catch (error) {
      return error;
    }
  })();
  assert.instance(error, BusFullError);
  const full = error as BusFullError;
  assert.equal([full.code, full.bound, full.held, full.max, full.limit], ['BUS_FULL', 'outbox', 900, 1_000, 'memory.budget.busBytes']);
  const policy = outbox(true).outbox;
  policy.push(event(1, 'normal', 900));
  assert.throws(() => policy.admit(event(2, 'normal', 101)), (error: unknown) => error instanceof BusFullError && error.bound === 'outbox');
  policy.push(event(2, 'normal', 101));
  assert.is(policy.length, 2, 'nothing is dropped under the sync policy');
});

unit('sent - what a sync took leaves the count; what joined meanwhile, and a predecessor\'s taken back, stay counted', () => {
  const { outbox: box } = outbox();
  const events = [1, 2, 3].map((n) => event(n, 'normal', 100));
  for (const e of events) box.push(e);
  const sending = box.unsent();
  box.push(event(4, 'normal', 100));
  box.sent(sending);
  assert.equal([box.length, box.bytes], [1, 100]);
  box.takeBack([event(0, 'low', 50)]);
  assert.equal([box.length, box.bytes], [2, 150]);
  box.sent([box.unsent()[0]!]);
  assert.equal([ids(box.unsent()), box.bytes], [['0.0.4'], 100]);
});

unit('push - without importance every event is normal: a long run drops exactly the oldest, to 90 %, each round reported', () => {
  const reports: UnsentDropReport[] = [];
  const box = new Outbox({ budget: 1_000, option: 'memory.budget.busBytes', name: 'bus:0.0:external', refuse: false, sizeOf: (e) => e.payload as number, dropped: (report) => void reports.push(report) });
  let model: BusEvent[] = [];
  const sum = (events: readonly BusEvent[]) => events.reduce((bytes, e) => bytes + (e.payload as number), 0);
  let dropped = 0;
  for (let n = 1; n <= 2_000; n++) {
    const e = event(n, n % 3 === 0 ? 'a' : 'b', 10 + ((n * 37) % 90));
    box.push(e);
    model.push(e);
    if (sum(model) > 1_000) {
      while (sum(model) > 900) {
        model = model.slice(1);
        dropped++;
      }
    }
    assert.equal(ids(box.unsent()), ids(model), `after ${n}`);
    assert.is(box.bytes, sum(model));
  }
  assert.ok(reports.length > 100, 'it dropped all along');
  assert.is(reports.reduce((count, report) => count + report.count, 0), dropped);
  assert.equal([...reports.at(-1)!.types].sort(), ['a', 'b']);
  assert.ok(reports.every((report) => report.bytes <= 900 && report.bytes + report.freed > 1_000));
});

unit('push - without importance, a drop takes framed events first and framing goes on after them', () => {
  const bound: OutboxBound = { budget: 1_000, option: 'memory.budget.busBytes', name: 'bus:0.0:external', refuse: false, sizeOf: (e) => e.payload as number, dropped: () => {} };
  const box = new Outbox(bound, { adopt: () => {}, schedule: 'manual' });
  const small = Array.from({ length: 300 }, (_, n) => event(n, 'b', 2));
  for (const e of small) box.push(e);
  assert.is(box.frame(256), 256);
  assert.is(box.unframed, 44);
  // 600 + 5 × 100 = 1 100 bytes: down to 900, the oldest 100 (200 bytes) go, all framed.
  for (let n = 300; n < 305; n++) box.push(event(n, 'b', 100));
  assert.equal([box.length, box.bytes, box.unframed], [205, 900, 49]);
  assert.equal(ids(box.unsent()), ids([...small.slice(100), ...[300, 301, 302, 303, 304].map((n) => event(n, 'b', 100))]));
  assert.is(box.frame(), 49);
  assert.is(box.unframed, 0);
});

unit('sent - sizes stay with their events as the outbox grows and lets go of most of it; the next drop counts them', () => {
  const { outbox: box, reports } = outbox();
  // Sizes 1 + n % 3, 600 bytes in 300 events: the outbox grows past the room it starts with.
  const events = Array.from({ length: 300 }, (_, n) => event(n, n % 2 === 0 ? 'low' : 'normal', 1 + (n % 3)));
  for (const e of events) box.push(e, e.payload as number);
  assert.equal([box.length, box.bytes], [300, 600]);
  // It keeps 10: 290 (3 bytes), 291 (1), 292 (2), ... 299 (3).
  box.sent(events.slice(0, 290));
  assert.equal([box.length, box.bytes], [10, 21]);
  // 10 events of 100 take it to 1 021, over its 1 000: the oldest low ones go down to 900 (290, 292, ... 298: 11 bytes; 300, 302).
  for (let n = 300; n < 310; n++) box.push(event(n, n % 2 === 0 ? 'low' : 'normal', 100));
  assert.equal(reports.map(({ count, freed, bytes }) => ({ count, freed, bytes })), [{ count: 7, freed: 211, bytes: 810 }]);
  assert.equal(ids(box.unsent()), ['0.0.291', '0.0.293', '0.0.295', '0.0.297', '0.0.299', '0.0.301', ...[303, 304, 305, 306, 307, 308, 309].map((n) => `0.0.${n}`)]);
});

unit.run();

const api = suite('Outbox through the runtime');
let runtime: Runtime | undefined;
api.after.each(async () => {
  await runtime?.stop();
  runtime = undefined;
});

const policies = { trace: { importance: 'low' as const }, audit: { importance: 'high' as const, removeAfterDelivery: true } };

api('manual sync - a bus that never syncs keeps its budget of unsent events: the oldest go, low first, each round reported; a sync sends the rest', async () => {
  runtime = createRuntime({ deferred: 'manual', memory: { budget: { busBytes: BUDGET }, policies } });
  const bus = runtime.bus('external');
  const dropped: UnsentDropReport[] = [];
  runtime.bus('internal').subscribe('busline.memory.dropped', (report) => void dropped.push(report.payload));
  const posted = Array.from({ length: 100 }, (_, i) => bus.post(i % 4 === 0 ? 'trace' : 'order', new Uint8Array(900)));
  await Promise.resolve();
  const unsent = bus.memory()!.unsent!;
  assert.ok(unsent.bytes <= BUDGET, `${unsent.bytes} B unsent`);
  assert.is(unsent.count + dropped.reduce((sum, report) => sum + report.count, 0), posted.length, 'each event is unsent or reported dropped');
  assert.ok(dropped.every((report) => report.history === 'bus:0.0:external' && report.budget === BUDGET && report.bytes <= BUDGET));
  await bus.sync();
  const arrived = new Set(ids(runtime.station('external').history()));
  assert.is(arrived.size, unsent.count, 'the station got what the outbox held');
  const orders = posted.filter((event) => event.type === 'order');
  const firstKept = orders.findIndex((event) => arrived.has(event.id));
  assert.ok(orders.slice(firstKept).every((event) => arrived.has(event.id)), 'of the orders, the newest were kept');
  assert.ok(posted.slice(0, posted.indexOf(orders[firstKept]!)).every((event) => event.type !== 'trace' || !arrived.has(event.id)), 'no older trace stayed');
  assert.is(bus.memory()!.unsent!.count, 0);
});

api('manual sync - high events are never dropped: a post only that would make room for is refused (bound outbox); a sync makes room', async () => {
  runtime = createRuntime({ deferred: 'manual', memory: { budget: { busBytes: BUDGET }, policies } });
  const bus = runtime.bus('external');
  // A thread that has not read yet: the station holds the audits for it.
  runtime.addThread();
  // Audits leave the bus history once delivered: the outbox alone holds them for the station.
  let refused: unknown;
  const audits: BusEvent[] = [];
  for (let i = 0; i < 20 && refused === undefined; i++) {
    try {
      audits.push(bus.post('audit', new Uint8Array(900), { priority: 'immediate' }));
    } catch (error) {
      refused = error;
    }
  }
  assert.instance(refused, BusFullError);
  const error = refused as BusFullError;
  assert.equal([error.bound, error.limit, error.max], ['outbox', 'memory.budget.busBytes', BUDGET]);
  assert.ok(error.held <= BUDGET && audits.length >= 9, `${audits.length} audits, ${error.held} B`);
  assert.match(error.message, /bus\.sync\(\)/);
  assert.is(bus.history({ types: ['audit'] }).length, 0);
  await bus.sync();
  assert.equal(ids(runtime.station('external').history({ types: ['audit'] })), ids(audits), 'every accepted audit reached the station');
  bus.post('audit', new Uint8Array(900), { priority: 'immediate' });
});

api('sync policy - at the budget a post is refused and asks for a sync; room() resolves once it ran; nothing is dropped', async () => {
  runtime = createRuntime({ sync: { everyMs: 60_000 }, memory: { budget: { busBytes: BUDGET }, policies } });
  const bus = runtime.bus('external');
  const posted: BusEvent[] = [];
  let refused: unknown;
  for (let i = 0; i < 20 && refused === undefined; i++) {
    try {
      posted.push(bus.post('trace', new Uint8Array(900), { priority: 'immediate' }));
    } catch (error) {
      refused = error;
    }
  }
  assert.instance(refused, BusFullError);
  assert.is((refused as BusFullError).bound, 'outbox');
  assert.is(bus.unsent, posted.length, 'low events too wait for the station: the policy drops nothing');
  await bus.room();
  assert.ok(bus.memory()!.unsent!.bytes <= BUDGET / 2);
  assert.equal(ids(runtime.station('external').history()), ids(posted));
  bus.post('trace', new Uint8Array(900), { priority: 'immediate' });
});

api('worker - a RemoteBus of a thread that never syncs: drops reported on its internal bus, the high-only refusal typed across the thread', async () => {
  runtime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual', callDeadlineMs: 20_000, memory: { budget: { busBytes: BUDGET }, policies } });
  await runtime.ready;
  const worker = runtime.thread(0, 1).bus('external') as RemoteBus;
  for (let i = 0; i < 30; i++) await worker.post('order', new Uint8Array(900), { priority: 'immediate' });
  const stats = (await worker.memory())!;
  assert.ok(stats.unsent!.bytes <= BUDGET, `${stats.unsent!.bytes} B unsent`);
  const reports = (await (runtime.thread(0, 1).bus('internal') as RemoteBus).history({ types: ['busline.memory.dropped'] })).map(
    (event) => event.payload as unknown as UnsentDropReport,
  );
  assert.ok(reports.length > 0);
  assert.is(stats.unsent!.count + reports.reduce((sum, report) => sum + report.count, 0), 30);
  assert.ok(reports.every((report) => report.history === 'bus:0.1:external' && report.types.join() === 'order'));
  await worker.sync();
  let refused: unknown;
  for (let i = 0; i < 20 && refused === undefined; i++) {
    await worker.post('audit', new Uint8Array(900), { priority: 'immediate' }).catch((error: unknown) => (refused = error));
  }
  assert.instance(refused, BusFullError);
  assert.equal([(refused as BusFullError).bound, (refused as BusFullError).limit], ['outbox', 'memory.budget.busBytes']);
  await worker.sync();
  await worker.post('audit', new Uint8Array(900), { priority: 'immediate' });
});

api.run();
