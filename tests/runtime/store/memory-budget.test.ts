/**
 * Memory budgets (`memory.budget`): the size-limit multiplier (lowered for the
 * heaviest sized type over the budget, recovered under it), eviction (lowest
 * importance, then largest, then oldest; never `high`), refusals, the reports
 * of each change, and the indices after eviction; first on one history
 * (`Retention`), then through the public API on a bus and a station.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { BusFullError, EventTooLargeError, InvalidOptionError } from '../../../errors.js';
import { BusFullError as PublicBusFullError, createRuntime, type Bus, type BusEvent as PublicEvent, type Runtime, type UnsentDropReport } from '../../../index.js';
import { ManualClock } from '../../../runtime/clock.js';
import { MemoryBudget, STALE_ENTRIES, type MemoryChange } from '../../../runtime/store/memory-budget.js';
import { sizeClass } from '../../../runtime/store/eviction-queue.js';
import { EventHistory } from '../../../runtime/store/history.js';
import { compareEvents } from '../../../runtime/store/history-query.js';
import { MemoryPolicies, checkMemoryOptions, type MemoryOptions } from '../../../runtime/store/memory-policy.js';
import { Retention } from '../../../runtime/store/retention.js';
import { eventBytes } from '../../../runtime/store/event-bytes.js';
import type { BusEvent } from '../../../types.js';
import { ids, thrown } from '../../helpers.js';
import { EncodedEvent, UNREAD_ENDPOINT, scanBatch } from '../../../runtime/store/encoded-events.js';
import { encodeFrame } from '../../../schemas/codec/index.js';

/** An event of `type` taking exactly `size` bytes as a history counts it. */
function sized(id: string, timestamp: number, type: string, size: number): BusEvent {
  const bare: BusEvent = { id, type, side: 'external', timestamp, origin: { processor: 0, thread: 0, generation: 0 }, priority: 'normal', payload: new Uint8Array(0) };
  const event = { ...bare, payload: new Uint8Array(size - eventBytes(bare)) };
  assert.is(eventBytes(event), size);
  return event;
}

function history(options: MemoryOptions, kind: 'bus' | 'station' = 'bus'): { retention: Retention; changes: MemoryChange[]; post(event: BusEvent): BusEvent[] } {
  const clock = new ManualClock(0);
  const retention = new Retention(new MemoryPolicies(checkMemoryOptions(options)), () => clock.now(), { kind, name: 'bus:0.0:external' });
  const changes: MemoryChange[] = [];
  retention.onMemoryChange = (change) => void changes.push(change);
  // What a bus does at a post: admit, insert, settle.
  const post = (event: BusEvent): BusEvent[] => {
    retention.admitPost(event);
    retention.history.insert(event);
    return retention.settle();
  };
  return { retention, changes, post };
}

const test = suite('MemoryBudget');

test("multiplier - the seed's example: a 1000 B limit at 0.8 refuses a new 900 B event and names 800; stored 900 B events stay", () => {
  const { retention, changes, post } = history({ budget: { busBytes: 4000 }, policies: { blob: { sizeLimit: 1000 }, noise: { importance: 'low' } } });
  const blobs = [1, 2, 3, 4].map((n) => sized(`b${n}`, n, 'blob', 900));
  for (const blob of blobs) assert.equal(post(blob), []);
  // Over the budget (4100 > 4000): blob is the only sized type, its multiplier goes to 0.8; the low event is evicted.
  const evicted = post(sized('n1', 5, 'noise', 500));
  assert.equal(ids(evicted), ['n1']);
  assert.equal(retention.memoryStats()?.multipliers, { blob: 0.8 });
  const error = thrown(() => post(sized('b5', 6, 'blob', 900)), EventTooLargeError);
  assert.is(error.code, 'EVENT_TOO_LARGE');
  assert.equal([error.type, error.size, error.limit], ['blob', 900, 800]);
  assert.match(error.message, /over the size limit of 800 /);
  assert.match(error.message, /sizeLimit 1000 × multiplier 0\.8/);
  assert.equal(ids(retention.history.query({ types: ['blob'] })), ids(blobs), 'stored 900 B events are not touched');
  assert.equal(
    changes.map((change) => change.type),
    ['busline.memory.multiplier', 'busline.memory.evicted', 'busline.memory.refused'],
  );
  assert.equal(changes[0]!.payload, { history: 'bus:0.0:external', type: 'blob', multiplier: 0.8, previous: 1, limit: 800, bytes: 4100, budget: 4000 });
  assert.equal(changes[1]!.payload, { history: 'bus:0.0:external', count: 1, freed: 500, types: ['noise'], bytes: 3600, budget: 4000 });
  assert.equal(changes[2]!.payload, { history: 'bus:0.0:external', reason: 'sizeLimit', type: 'blob', size: 900, limit: 800, bytes: 3600 });
  // Refused again: no second report until the budget's state changes.
  thrown(() => post(sized('b7', 8, 'blob', 850)), EventTooLargeError);
  assert.is(changes.length, 3);
});

test('multiplier - only the type using the most bytes is lowered', () => {
  const { retention, post } = history({ budget: { busBytes: 4000 }, policies: { heavy: { sizeLimit: 1000 }, light: { sizeLimit: 1000 } } });
  for (const n of [1, 2, 3]) post(sized(`h${n}`, n, 'heavy.item', 900));
  post(sized('l1', 4, 'light', 900));
  post(sized('l2', 5, 'light', 500));
  assert.equal(retention.memoryStats()?.multipliers, { heavy: 0.8 });
  post(sized('l3', 6, 'light', 900));
  assert.is(thrown(() => post(sized('h4', 7, 'heavy.item', 900)), EventTooLargeError).limit, 800);
  const stats = retention.memoryStats()!;
  assert.is(stats.budget, 4000);
  assert.ok(stats.bytes <= 4000);
  assert.is(stats.count, retention.history.size);
  assert.equal(Object.keys(stats.types).sort(), ['heavy.item', 'light']);
  assert.is(stats.types['light']!.bytes + stats.types['heavy.item']!.bytes, stats.bytes);
});

test('multiplier - down one step per budget/8 of traffic, to the floor; back up one step at a time below 80 %', () => {
  const { retention, changes, post } = history({ budget: { busBytes: 8000 }, policies: { blob: { sizeLimit: 1000 } } });
  let n = 0;
  const multiplier = () => retention.memoryStats()!.multipliers['blob'] ?? 1;
  const seen: number[] = [];
  // Every post over the budget evicts the oldest (a tenth of the budget's traffic each round), so steps come as traffic does.
  for (let i = 0; i < 60; i++) {
    post(sized(`b${++n}`, n, 'blob', Math.min(250, Math.floor(1000 * multiplier()))));
    if (seen[seen.length - 1] !== multiplier()) seen.push(multiplier());
  }
  assert.equal(seen, [1, 0.8, 0.6, 0.4, 0.25], 'the documented steps, down to the floor');
  const lowered = changes.filter((change) => change.type === 'busline.memory.multiplier').length;
  assert.is(lowered, 4, 'one report per change');
  // Below 80 % of the budget: one step back per settle that follows budget/8 of traffic.
  retention.remove(retention.history.oldest(retention.history.size - 4));
  retention.settle();
  assert.is(multiplier(), 0.4);
  retention.settle();
  assert.is(multiplier(), 0.4, 'no traffic since the last step: no second step');
  post(sized(`b${++n}`, n, 'blob', 250));
  retention.remove(retention.history.oldest(4));
  post(sized(`b${++n}`, n, 'blob', 250));
  retention.remove(retention.history.oldest(1));
  post(sized(`b${++n}`, n, 'blob', 250));
  const last = changes[changes.length - 1]!;
  assert.is(last.type, 'busline.memory.multiplier');
  assert.equal([(last.payload as { multiplier: number }).multiplier, (last.payload as { previous: number }).previous], [0.6, 0.4]);
});

test('evict - low first, then the largest, then the oldest', () => {
  const { retention, changes } = history({ budget: { busBytes: 4000 }, policies: { l: { importance: 'low' }, h: { importance: 'high' } } });
  retention.history.query({ types: ['n'] }); // the indices exist before eviction, and must follow it
  retention.history.merge([sized('n1', 1, 'n', 600), sized('l1', 2, 'l', 300), sized('n2', 3, 'n', 900), sized('l2', 4, 'l', 700), sized('h1', 5, 'h', 800), sized('n3', 6, 'n', 900)]);
  // 4200 bytes: down to 90 % (3600), the largest low event is enough.
  assert.equal(ids(retention.settle()), ['l2']);
  retention.history.insert(sized('n4', 7, 'n', 700));
  // 4200 again: the other low one, then the largest normal ones, the older of two equals first.
  assert.equal(ids(retention.settle()), ['l1', 'n2']);
  assert.equal(ids(retention.history.snapshot()), ['n1', 'h1', 'n3', 'n4']);
  assert.is(retention.memoryStats()!.evicted, 3);
  assert.equal(
    changes.map((change) => change.payload),
    [
      { history: 'bus:0.0:external', count: 1, freed: 700, types: ['l'], bytes: 3500, budget: 4000 },
      { history: 'bus:0.0:external', count: 2, freed: 1200, types: ['l', 'n'], bytes: 3000, budget: 4000 },
    ],
  );
  for (const query of [{}, { types: ['n'] }, { types: ['l'] }, { types: ['h', 'l'] }, { since: 3 }]) {
    assert.equal(retention.history.query(query), retention.history.scan(query), JSON.stringify(query));
  }
  assert.not.ok(retention.history.has('l2'));
  assert.is(retention.history.get('n3')?.id, 'n3');
});

test('evict - sizes within 1.25× of the largest count as equal: of events a byte apart the oldest go, not each new one', () => {
  const { retention, post } = history({ budget: { busBytes: 1000 } });
  for (let i = 0; i < 9; i++) post(sized(`a${i}`, i, 'n', 100));
  // An id one digit longer: a byte more. Exact sizes would evict it, and every later one, as it comes.
  assert.equal(ids(post(sized('b10', 10, 'n', 101))), ['a0', 'a1']);
  assert.equal(ids(post(sized('b11', 11, 'n', 101))), []);
  // Three times as large is larger: it goes first, then the oldest (reported in the order they were held).
  assert.equal(ids(post(sized('c12', 12, 'n', 300))), ['a2', 'c12']);
  assert.equal(ids(retention.history.snapshot()), ['a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'b10', 'b11']);
});

test('evict - high is never evicted; a post that would need it is refused with bound budget', () => {
  const { retention, changes, post } = history({ budget: { busBytes: 4000 }, policies: { h: { importance: 'high' } } });
  const high = [1, 2, 3].map((n) => sized(`h${n}`, n, 'h', 1000));
  for (const event of high) post(event);
  post(sized('n1', 4, 'n', 900));
  assert.equal(ids(post(sized('n2', 5, 'n', 500))), ['n1'], 'a normal one makes room');
  post(sized('h4', 6, 'h', 1000));
  assert.equal(ids(retention.history.snapshot()), ['h1', 'h2', 'h3', 'h4'], 'all that was left to evict went; high stays');
  for (const event of [sized('n3', 7, 'n', 100), sized('h5', 8, 'h', 100)]) {
    const error = thrown(() => post(event), BusFullError);
    assert.equal([error.code, error.bound, error.limit, error.held, error.max], ['BUS_FULL', 'budget', 'memory.budget.busBytes', 4000, 4000]);
    assert.match(error.message, /'high' events, which a budget never evicts/);
  }
  assert.is(retention.history.size, 4);
  const refusals = changes.filter((change) => change.type === 'busline.memory.refused');
  assert.equal(refusals.map((change) => change.payload), [{ history: 'bus:0.0:external', reason: 'budget', type: 'n', size: 100, limit: 4000, bytes: 4000 }]);
});

test('budget - an event larger than the whole budget is refused saying so, at a bus and at its station; what was held stays', async () => {
  const runtime = createRuntime({ memory: { budget: { busBytes: 200, stationBytes: 300 } } });
  try {
    const bus = runtime.bus('external');
    const small = bus.post('note', { n: 1 });
    const error = thrown(() => bus.post('note', { text: 'x'.repeat(400) }), PublicBusFullError);
    assert.equal([error.bound, error.limit, error.max], ['budget', 'memory.budget.busBytes', 200]);
    assert.match(error.message, /^An event of \d+ bytes is larger than this history's whole memory budget \(memory\.budget\.busBytes is 200\): no eviction can make room for it\./);
    assert.equal(ids(bus.history()), [small.id]);
    // One that fits the bus but not its station's budget: the sync is refused, the event stays unsent in the bus.
    const other = createRuntime({ memory: { budget: { busBytes: 1_000, stationBytes: 100 } } });
    try {
      const otherBus = other.bus('external');
      otherBus.post('note', { text: 'y'.repeat(150) });
      const refused = await otherBus.sync().then(() => undefined, (reason: unknown) => reason);
      assert.instance(refused, PublicBusFullError);
      assert.match((refused as Error).message, /^An event of \d+ bytes is larger than this history's whole memory budget \(memory\.budget\.stationBytes is 100\)/);
      assert.equal([otherBus.unsent, other.station('external').size], [1, 0]);
    } finally {
      await other.stop();
    }
  } finally {
    await runtime.stop();
  }
});

test('evict - index queries equal a linear scan, bytes add up and high stays, whatever is posted (property)', () => {
  const types = ['a', 'a.x', 'b', 'c'];
  fc.assert(
    fc.property(
      fc.record({ a: fc.constantFrom('low', 'normal', 'high'), b: fc.constantFrom('low', 'normal', 'high') }),
      fc.array(fc.record({ type: fc.constantFrom(...types), size: fc.integer({ min: 90, max: 600 }), stamp: fc.integer({ min: 0, max: 50 }) }), { maxLength: 80 }),
      (importance, posts) => {
        const { retention } = history({ budget: { stationBytes: 3000 }, policies: { a: { importance: importance.a }, b: { importance: importance.b } } }, 'station');
        const highIds = new Set<string>();
        posts.forEach(({ type, size, stamp }, i) => {
          const event = sized(`e${String(i).padStart(3, '0')}`, stamp, type, size);
          try {
            retention.admitBatch([event]);
          } catch (error) {
            assert.instance(error, BusFullError);
            return;
          }
          retention.history.merge([event]);
          retention.settle();
          if (retention.policies.of(type)?.importance === 'high') highIds.add(event.id);
          const held = retention.history.snapshot();
          assert.ok(retention.memoryStats()!.bytes <= 3000);
          assert.is(retention.memoryStats()!.bytes, held.reduce((sum, e) => sum + eventBytes(e), 0));
          for (const id of highIds) assert.ok(retention.history.has(id), `high ${id} stays`);
          for (const query of [{ types: ['a'] }, { types: ['b', 'c'] }, { types: ['a.x'] }, {}]) assert.equal(retention.history.query(query), retention.history.scan(query));
        });
      },
    ),
    { numRuns: 150 },
  );
});

test('evict - after events left another way and older ones moved into compressed blocks: the oldest held go, bytes add up', () => {
  const clock = new ManualClock(0);
  const policies = new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: 4000 }, compression: { keepEvents: 2, blockEvents: 2 } }));
  const retention = new Retention(policies, () => clock.now(), { kind: 'bus', blocks: { plain: true, schedule: 'manual' } });
  const post = (event: BusEvent): BusEvent[] => {
    retention.admitPost(event);
    retention.history.insert(event);
    return retention.settle();
  };
  const events = [1, 2, 3, 4, 5, 6, 7].map((n) => sized(`e${n}`, n, 'n', 500));
  for (const event of events) assert.equal(post(event), []);
  // e1 and e3 leave by a policy; e2, e4 and e5 move into blocks, which give back other objects.
  assert.equal(ids(retention.remove([events[0]!, events[2]!])), ['e1', 'e3']);
  while (retention.history.compact(50));
  assert.ok(retention.history.compressedCount >= 2, 'older events are in blocks');
  assert.is(retention.memoryStats()!.bytes, 2500);
  for (const n of [8, 9, 10]) assert.equal(post(sized(`e${n}`, n, 'n', 500)), []);
  // 4500 > 4000: down to 3600, the oldest first (all are of one size), skipping what already left.
  const evicted = post(sized('e11', 11, 'n', 500));
  assert.equal(ids(evicted), ['e2', 'e4']);
  assert.equal(ids(retention.history.snapshot()), ['e5', 'e6', 'e7', 'e8', 'e9', 'e10', 'e11']);
  assert.is(retention.memoryStats()!.bytes, retention.history.snapshot().reduce((sum, event) => sum + eventBytes(event), 0));
  assert.is(retention.memoryStats()!.bytes, 3500);
});

test('due - over the budget, while a listing step is owed, while a multiplier is lowered (also under the budget); not otherwise', () => {
  const owner = { budget: undefined as MemoryBudget | undefined };
  const history = new EventHistory({ observer: { added: (event) => owner.budget!.added(event, eventBytes(event)), removed: (event, bytes) => owner.budget!.removed(event, bytes ?? eventBytes(event)) } });
  const policies = new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: 8000 }, policies: { blob: { sizeLimit: 1000 } } }));
  const budget = (owner.budget = new MemoryBudget(policies, 'bus', history, eventBytes, 'bus:0.0:external'));
  let n = 0;
  for (; n < 3; n++) history.insert(sized(`b${n}`, n, 'blob', 1000));
  assert.is(budget.due, false, 'under half the budget: nothing to do');
  history.insert(sized(`b${n}`, n++, 'blob', 1000));
  assert.is(budget.due, true, 'at half the budget the listing starts: a step is owed');
  assert.equal(budget.settle(), []);
  assert.is(budget.due, false, 'the step listed what was owed');
  while (budget.bytes <= 8000) history.insert(sized(`b${n}`, n++, 'blob', 1000));
  assert.is(budget.due, true, 'over the budget');
  assert.ok(budget.settle().length > 0);
  assert.equal([budget.stats(history.size).multipliers, budget.bytes <= 7200], [{ blob: 0.8 }, true]);
  assert.is(budget.due, true, 'a lowered multiplier may recover');
  // Under 80 % of the budget, after budget/8 of traffic: back to 1, and nothing is owed any more.
  history.remove(history.oldest(4));
  assert.equal(budget.settle(), []);
  assert.equal(budget.stats(history.size).multipliers, {});
  assert.is(budget.due, false);
});

test('added - a history under half its budget queues nothing; from there it is listed, and its first eviction evicts as if it had queued all along', () => {
  const budget = { current: undefined as MemoryBudget | undefined };
  const history = new EventHistory({ observer: { added: (event) => budget.current!.added(event, eventBytes(event)), removed: (event, bytes) => budget.current!.removed(event, bytes ?? eventBytes(event)) } });
  const policies = new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: 3000 }, policies: { l: { importance: 'low' }, h: { importance: 'high' } } }));
  budget.current = new MemoryBudget(policies, 'bus', history, eventBytes, 'bus:0.0:external');
  history.merge([sized('n3', 3, 'n', 400), sized('l1', 1, 'l', 100)]);
  history.insert(sized('n4', 4, 'n', 600));
  assert.equal(budget.current.settle(), []);
  assert.is(budget.current.queued, 0, 'no entry per event while the history holds less than half its budget');
  // Out of order, as a bus reading its station merges them.
  history.merge([sized('h1', 2, 'h', 1400)]);
  history.merge([sized('l0', 0, 'l', 100), sized('n5', 5, 'n', 400)]);
  assert.is(budget.current.bytes, 3000);
  assert.equal(budget.current.settle(), []);
  history.insert(sized('n6', 6, 'n', 590));
  // 3590 > 3000: down to 2700, both low ones, then of the normal ones the largest (600 and 590 are one class), oldest first.
  assert.equal(ids(budget.current.settle()), ['l0', 'l1', 'n4', 'n6']);
  assert.is(budget.current.queued, 2, 'queued from then on: n3, n5');
  history.insert(sized('l7', 7, 'l', 900));
  assert.is(budget.current.queued, 3);
  assert.equal(ids(budget.current.settle()), ['l7']);
  assert.equal(ids(history.snapshot()), ['h1', 'n3', 'n5']);
  assert.is(budget.current.bytes, 2200);
});

test('added - no step lists the whole history: each lists a bounded chunk, and evictions equal those of a budget that queued all along (property)', () => {
  const budgetBytes = 40_000;
  fc.assert(
    fc.property(
      fc.array(
        fc.record({ type: fc.constantFrom('l', 'n', 'n', 'h'), size: fc.integer({ min: 90, max: 300 }), back: fc.constantFrom(0, 0, 0, 0, 5, 50), batch: fc.integer({ min: 1, max: 4 }) }),
        { minLength: 300, maxLength: 500 },
      ),
      (posts) => {
        const policies = new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: budgetBytes }, policies: { l: { importance: 'low' }, h: { importance: 'high' } } }));
        // The budget under test lists what is held from half its budget; the reference queues keys from the start.
        let measured = 0;
        const sides = [false, true].map((keysOnly) => {
          const side = { budget: undefined as MemoryBudget | undefined, history: undefined as unknown as EventHistory };
          side.history = new EventHistory({ observer: { added: (event) => side.budget!.added(event, eventBytes(event)), removed: (event, bytes) => side.budget!.removed(event, bytes ?? eventBytes(event)) } });
          const sizeOf = (event: BusEvent) => (keysOnly || measured++, eventBytes(event));
          side.budget = new MemoryBudget(policies, 'bus', side.history, sizeOf, 'bus:0.0:external', { keysOnly });
          return side;
        });
        let most = 0;
        let evictions = 0;
        let clock = 1000;
        posts.forEach(({ type, size, back, batch }, i) => {
          const events = Array.from({ length: batch }, (_, k) => sized(`e${i}.${k}`, clock - back + k, type, size));
          clock += batch;
          const evicted = sides.map(({ history, budget }) => {
            history.merge(events);
            measured = 0;
            const gone = ids(budget!.settle()).sort();
            most = Math.max(most, measured);
            return gone;
          });
          assert.equal(evicted[0], evicted[1], `post ${i}`);
          if (evicted[0]!.length > 0) evictions++;
        });
        assert.ok(evictions > 0);
        // At most what a listing step may list (a sixteenth of the budget and twice the bytes just merged, in 90 B events and one more), not the hundreds held.
        assert.ok(most <= Math.ceil((budgetBytes / 16 + 2 * 4 * 300) / 90) + 1, `${most} events measured in one step`);
        assert.equal(ids(sides[0]!.history.snapshot()), ids(sides[1]!.history.snapshot()));
      },
    ),
    // Hundreds of posts a run: shrinking one would take minutes.
    { numRuns: 40, endOnFailure: true },
  );
});

test('evict - a budget that queues from its first eviction evicts what one sorted by importance, size class and age picks (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ type: fc.constantFrom('l', 'n', 'h'), size: fc.integer({ min: 90, max: 900 }), stamp: fc.integer({ min: 0, max: 40 }) }), { minLength: 1, maxLength: 60 }),
      (posts) => {
        const { retention } = history({ budget: { busBytes: 4000 }, policies: { l: { importance: 'low' }, h: { importance: 'high' } } });
        const events = posts.map(({ type, size, stamp }, i) => sized(`e${String(i).padStart(2, '0')}`, stamp, type, size));
        // All at once, as a read's merge: over the budget only at its end, so the first eviction comes then.
        retention.history.merge(events);
        const held = retention.history.snapshot();
        const bytes = held.reduce((sum, event) => sum + eventBytes(event), 0);
        let need = bytes > 4000 ? bytes - 3600 : 0;
        const expected: string[] = [];
        for (const importance of ['l', 'n']) {
          if (need <= 0) break;
          const queued = held.filter((event) => event.type === importance);
          const largest = Math.max(0, ...queued.map(eventBytes));
          const ranked = [...queued].sort((a, b) => sizeClass(largest, eventBytes(a)) - sizeClass(largest, eventBytes(b)) || compareEvents(a, b));
          for (const event of ranked) {
            if (need <= 0) break;
            expected.push(event.id);
            need -= eventBytes(event);
          }
        }
        assert.equal(ids(retention.settle()).sort(), expected.sort());
        assert.is(retention.memoryStats()!.bytes, retention.history.snapshot().reduce((sum, event) => sum + eventBytes(event), 0));
      },
    ),
    { numRuns: 200 },
  );
});

test('added - entries of events removed another way (not evicted) are dropped once they pass a quarter of the events held: 20 000 removed, the queues never hold more than 1.25 × held + STALE_ENTRIES', () => {
  const budget = { current: undefined as MemoryBudget | undefined };
  const history = new EventHistory({ observer: { added: (event) => budget.current!.added(event, eventBytes(event)), removed: (event, bytes) => budget.current!.removed(event, bytes ?? eventBytes(event)) } });
  const policies = new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: 1_000_000 } }));
  budget.current = new MemoryBudget(policies, 'bus', history, eventBytes, 'bus:0.0:external');
  let n = 0;
  // Logs kept (80 % of the budget: listed, then queued), ticks of the same importance removed once delivered.
  for (; n < 2_000; n++) history.insert(sized(`l${n}`, n, 'log', 400));
  assert.equal(budget.current.settle(), []);
  let most = 0;
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 100; i++, n++) history.insert(sized(`t${n}`, n, 'tick', 400));
    assert.equal(budget.current.settle(), []);
    most = Math.max(most, budget.current.queued);
    history.remove(history.snapshot().filter((event) => event.type === 'tick'));
  }
  assert.is(history.size, 2_000);
  const bound = 2_100 + (2_100 >> 2) + STALE_ENTRIES + 1;
  assert.ok(most <= bound, `the queue held ${most} entries for at most 2 100 events (bound ${bound})`);
  assert.ok(budget.current.queued >= 2_000, 'what is held stays queued');
});

test('added - tallies by type stay exact with types in turn, and for a type all of whose events left and came again', () => {
  const { retention, post } = history({});
  const types = ['a', 'b', 'a', 'b', 'c', 'a', 'b', 'c'];
  const events = types.map((type, n) => sized(`${type}${n}`, n, type, 100 + n));
  for (const event of events) post(event);
  const byType = (type: string) => events.filter((event) => event.type === type);
  const tally = (of: readonly BusEvent[]) => ({ count: of.length, bytes: of.reduce((sum, event) => sum + eventBytes(event), 0) });
  assert.equal(retention.memoryStats()!.types, { a: tally(byType('a')), b: tally(byType('b')), c: tally(byType('c')) });
  // Every `a` leaves (its tally was the last one used); then `b`, and `a` again.
  retention.remove(byType('a'));
  const again = [sized('b10', 10, 'b', 120), sized('a11', 11, 'a', 130), sized('a12', 12, 'a', 140)];
  for (const event of again) post(event);
  assert.equal(retention.memoryStats()!.types, { b: tally([...byType('b'), again[0]!]), c: tally(byType('c')), a: tally(again.slice(1)) });
  assert.is(retention.memoryStats()!.bytes, [...byType('b'), ...byType('c'), ...again].reduce((sum, event) => sum + eventBytes(event), 0));
});

test('checkMemoryOptions - a bad budget is named, with what is allowed', () => {
  const cases: Array<[unknown, string]> = [
    [{ budget: 5 }, 'memory.budget'],
    [{ budget: [] }, 'memory.budget'],
    [{ budget: { bytes: 5 } }, 'memory.budget.bytes'],
    [{ budget: { busBytes: 0 } }, 'memory.budget.busBytes'],
    [{ budget: { stationBytes: 1.5 } }, 'memory.budget.stationBytes'],
    [{ budget: { stationBytes: '64MB' } }, 'memory.budget.stationBytes'],
    [{ budget: true }, 'memory.budget'],
    [{ budget: null }, 'memory.budget'],
  ];
  for (const [options, option] of cases) {
    const error = thrown(() => checkMemoryOptions(options), InvalidOptionError);
    assert.is(error.option, option, JSON.stringify(options));
  }
  assert.match(thrown(() => checkMemoryOptions({ budget: { busBytes: -1 } }), InvalidOptionError).message, /positive whole number of bytes/);
  assert.throws(() => createRuntime({ memory: { budget: { busBytes: 0 } } }), (error: unknown) => error instanceof InvalidOptionError && error.option === 'memory.budget.busBytes');
  assert.match(thrown(() => checkMemoryOptions({ budget: 'off' }), InvalidOptionError).message, /or false for no budget/);
  // On by default: 32 MiB a bus, 128 MiB a station; `budget: false` turns them off.
  for (const options of [undefined, {}, { budget: {} }, { policies: { a: { ttlMs: 5 } } }]) {
    const policies = new MemoryPolicies(checkMemoryOptions(options));
    assert.is(new Retention(policies, () => 0, { kind: 'bus' }).memoryStats()!.budget, 32 * 1024 * 1024, JSON.stringify(options));
    assert.is(new Retention(policies, () => 0).memoryStats()!.budget, 128 * 1024 * 1024, JSON.stringify(options));
  }
  const off = new MemoryPolicies(checkMemoryOptions({ budget: false }));
  assert.is(new Retention(off, () => 0).memoryStats(), undefined, 'no budget with budget: false');
  assert.ok(off.none, 'budget: false and nothing else: histories pay nothing for policies');
  assert.not.ok(off.defaults, 'budget: false is sent to workers and processors');
  assert.ok(new MemoryPolicies(checkMemoryOptions(undefined)).defaults);
  assert.is(new Retention(new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: 5000 } })), () => 0, { kind: 'bus' }).memoryStats()!.budget, 5000);
});

test('evict - a compressing history (keysOnly) lists its blocks at its first eviction, each event at the size it was counted at: the oldest go, bytes add up', () => {
  const clock = new ManualClock(0);
  const policies = new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: 6000 }, compression: { keepEvents: 2, blockEvents: 4 } }));
  const retention = new Retention(policies, () => clock.now(), { kind: 'bus', blocks: { plain: true, schedule: 'manual' } });
  const post = (event: BusEvent): BusEvent[] => {
    retention.admitPost(event);
    retention.history.insert(event);
    return retention.settle();
  };
  const plain = (n: number): BusEvent => ({ ...sized(`e${String(n).padStart(3, '0')}`, n, 'n', 100), payload: { n, note: 'x'.repeat(40) } });
  const events = Array.from({ length: 12 }, (_, n) => plain(n));
  for (const event of events) assert.equal(post(event), []);
  // A sync's frames: from then on each event is counted at its bytes in the frame, which its JSON size is not.
  const frame = encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events, queue: [] });
  retention.adopt(events, scanBatch(frame).history as EncodedEvent[]);
  while (retention.history.compact(50));
  assert.ok(retention.history.compressedCount >= 8, 'older events are in blocks');
  const counted = retention.memoryStats()!.bytes;
  assert.is.not(counted, events.reduce((sum, event) => sum + eventBytes(event), 0), 'framed sizes differ from the objects\' sizes');
  // Over the budget: the first eviction lists the blocks, each event at the size it was counted at.
  let evicted: BusEvent[] = [];
  for (let n = 12; evicted.length === 0; n++) evicted = post(plain(n));
  assert.is(ids(evicted)[0], 'e000', 'the oldest first');
  assert.ok(retention.history.compressedCount > 0 && !retention.history.has('e000'));
  assert.is(retention.memoryStats()!.bytes, retention.history.held().reduce((sum, event) => sum + eventBytes(event), 0));
  assert.ok(retention.memoryStats()!.bytes <= 6000);
});

test('added - a budget of a compressing history (keysOnly) queues nothing below half its budget, as others', () => {
  const budget = { current: undefined as MemoryBudget | undefined };
  const history = new EventHistory({
    observer: { added: (event) => budget.current!.added(event, eventBytes(event)), removed: (event, bytes) => budget.current!.removed(event, bytes ?? eventBytes(event)) },
    compression: { plain: true, now: () => 0, schedule: 'manual', keepEvents: 2, blockEvents: 2 },
  });
  const policies = new MemoryPolicies(checkMemoryOptions({ budget: { busBytes: 3000 } }));
  budget.current = new MemoryBudget(policies, 'bus', history, eventBytes, 'bus:0.0:external', { keysOnly: true });
  for (let n = 0; n < 2; n++) history.insert(sized(`e${n}`, n, 'n', 500));
  assert.equal(budget.current.settle(), []);
  assert.is(budget.current.queued, 0, 'no entry per post below half the budget (it cost a compressing history\'s posts 15–25 %)');
  for (let n = 2; n < 5; n++) history.insert(sized(`e${n}`, n, 'n', 500));
  assert.equal(budget.current.settle(), []);
  history.insert(sized('e5', 5, 'n', 600));
  // 3100 > 3000: down to 2700, the oldest first, e0 in a block.
  assert.equal(ids(budget.current.settle()), ['e0']);
  assert.is(budget.current.bytes, 2600);
});

test.run();

const api = suite('memory budgets through the runtime');
let runtime: Runtime;
api.after.each(async () => {
  await runtime?.stop();
});

api('bus - over its budget a bus lowers the multiplier and evicts, posting busline.memory.* on its thread\'s internal bus', async () => {
  runtime = createRuntime({ deferred: 'manual', memory: { budget: { busBytes: 6000 }, policies: { blob: { sizeLimit: 1000 }, noise: { importance: 'low' } } } });
  const bus = runtime.bus('external');
  const reports: PublicEvent[] = [];
  runtime.bus('internal').subscribe('busline.memory', (event) => void reports.push(event));
  const blobs = [1, 2, 3, 4, 5, 6].map(() => bus.post('blob', new Uint8Array(800), { priority: 'immediate' }));
  const lowered = runtime.bus('internal').waitFor('busline.memory.multiplier');
  bus.post('noise', new Uint8Array(800), { priority: 'immediate' });
  assert.equal((await lowered).payload, { ...((await lowered).payload as object), history: 'bus:0.0:external', type: 'blob', multiplier: 0.8, limit: 800 });
  const error = thrown(() => bus.post('blob', new Uint8Array(800), { priority: 'immediate' }), EventTooLargeError);
  assert.equal([error.type, error.limit], ['blob', 800]);
  assert.ok(error.size! > 800 && error.size! < 1000);
  assert.equal(ids(bus.history({ types: ['blob'] })), ids(blobs));
  await Promise.resolve();
  // The noise also left the outbox: the bus never synced, and 7 events were over its budget there too.
  assert.equal(reports.map((event) => event.type), ['busline.memory.multiplier', 'busline.memory.evicted', 'busline.memory.dropped', 'busline.memory.refused']);
  const stats = bus.memory()!;
  assert.equal([stats.history, stats.budget, stats.multipliers, stats.count, stats.evicted], ['bus:0.0:external', 6000, { blob: 0.8 }, 6, 1]);
  assert.is(runtime.bus('internal').memory()!.history, 'bus:0.0:internal');
});

api('bus - with the budget alone (no policy, no limits), posts over it evict the oldest down to 90 %; memory() counts what is held', async () => {
  runtime = createRuntime({ deferred: 'manual', memory: { budget: { busBytes: 6000 } } });
  const bus = runtime.bus('external');
  const reports: Array<{ count: number; freed: number; bytes: number }> = [];
  runtime.bus('internal').subscribe('busline.memory.evicted', (event) => void reports.push(event.payload as never));
  const posted = Array.from({ length: 12 }, () => bus.post('item', new Uint8Array(800), { priority: 'immediate' }));
  await Promise.resolve();
  const held = bus.history();
  const stats = bus.memory()!;
  // The oldest left (all of one importance and size); each round freed down to 90 % of the budget.
  assert.equal(ids(held), ids(posted.slice(posted.length - held.length)));
  assert.ok(reports.length > 0 && reports.every((report) => report.bytes <= 6000 * 0.9), JSON.stringify(reports));
  const evicted = reports.reduce((sum, report) => sum + report.count, 0);
  assert.is(evicted, posted.length - held.length);
  assert.equal([stats.count, stats.evicted], [held.length, evicted]);
  assert.ok(stats.bytes <= 6000 && stats.bytes > 0, `${stats.bytes}`);
});

api('station - a batch that only evicting high events would fit is refused whole (bound budget) and stays unsent', async () => {
  runtime = createRuntime({ deferred: 'manual', memory: { budget: { stationBytes: 3000 }, policies: { audit: { importance: 'high', removeAfterSearch: true } } } });
  const station = runtime.station('external');
  const producer = runtime.addThread().bus();
  for (let i = 0; i < 3; i++) producer.post('audit', new Uint8Array(800), { priority: 'immediate' });
  await producer.sync();
  assert.is(station.size, 3);
  const reports: PublicEvent[] = [];
  runtime.bus('internal').subscribe('busline.memory', (event) => void reports.push(event));
  producer.post('note', new Uint8Array(400), { priority: 'immediate' });
  const error = await producer.sync().then(() => undefined, (reason: unknown) => reason);
  assert.instance(error, PublicBusFullError);
  assert.equal([(error as BusFullError).bound, (error as BusFullError).limit], ['budget', 'memory.budget.stationBytes']);
  assert.is(producer.unsent, 1);
  assert.is(station.size, 3, 'nothing of the batch merged');
  await Promise.resolve();
  assert.equal(reports.map((event) => event.type), ['busline.memory.refused']);
  assert.equal(reports[0]!.payload, { ...(reports[0]!.payload as object), history: 'station:local:0:external', reason: 'budget', type: 'note' });
  station.history({ types: ['audit'] });
  await producer.sync();
  assert.equal(station.history().map((event) => event.type), ['note']);
  assert.is(station.memory()!.count, 1);
});

api('long run - 20 000 ticks through two processors in this thread: every bus and station stays within its budget and holds the newest ticks; the producer drops, and reports, what its outbox cannot hold', async () => {
  const [busBytes, stationBytes] = [8_000, 9_500];
  runtime = createRuntime({ deferred: 'manual', memory: { budget: { busBytes, stationBytes } } });
  const other = runtime.addProcessor().processor;
  const readers = [runtime.addThread(), runtime.addThread({ processor: other })];
  // Processor 1 runs in this thread too: its thread 0's bus is a `Bus`.
  const otherBus = () => runtime.thread(other, 0).bus('external') as Bus;
  const histories = () => [
    runtime.bus('external'),
    ...readers.map((reader) => reader.bus()),
    otherBus(),
    runtime.station('external'),
    runtime.station('external', other),
    runtime.mainStation('external'),
  ];
  let dropped = 0;
  runtime.bus('internal').subscribe('busline.memory.dropped', (event) => {
    const report = event.payload as unknown as UnsentDropReport;
    if (report.history === 'bus:0.0:external') dropped += report.count;
  });
  const most = new Map<string, number>();
  const EVENTS = 20_000;
  const CHUNK = 500;
  for (let from = 0; from < EVENTS; from += CHUNK) {
    const producer = runtime.bus('external');
    for (let n = from; n < from + CHUNK; n++) producer.post('tick', { n: String(n).padStart(5, '0') });
    await producer.toStation();
    await runtime.station('external').toMain();
    await runtime.station('external', other).fromMain();
    for (const bus of [...readers.map((reader) => reader.bus()), otherBus()]) await bus.fromStation();
    for (const history of histories()) {
      const stats = history.memory()!;
      most.set(stats.history, Math.max(most.get(stats.history) ?? 0, stats.bytes));
    }
  }
  assert.is(most.size, 7);
  for (const [history, bytes] of most) assert.ok(bytes <= (history.startsWith('bus') ? busBytes : stationBytes), `${history} held ${bytes} B`);
  // (The producer's bus, new at each toStation(), reads nothing.)
  for (const history of histories().slice(1)) {
    const ns = history.history({ types: ['tick'] }).map((event) => Number((event.payload as { n: string }).n));
    // Of ticks that differ by a byte or so (ids a digit longer), the oldest went: a history never freezes on old ones.
    // (A chunk's 500 ticks take ~5 times the producer's budget: it sends the newest, the stations keep some of the last chunk's.)
    assert.ok(ns.length > 0 && Math.min(...ns) >= EVENTS - 2 * CHUNK, `${history.memory()!.history}: ${ns.length} ticks, from ${Math.min(...ns)}`);
  }
  await Promise.resolve();
  assert.ok(dropped > 0 && dropped < EVENTS, `${dropped} dropped`);
  const main = runtime.mainStation('external').memory()!;
  assert.ok(main.evicted + main.count >= EVENTS - dropped, 'the main station took every tick the producer did not drop, and let the older go');
});

api('bytes - posts of types in turn, with and without topic or meta, evicted along the way: the budget holds what eventBytes sums', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          type: fc.constantFrom('user.login', 'user.logout', 'order', 'a:b/c$d@e'),
          text: fc.string({ maxLength: 60, unit: 'binary' }).filter((text) => !/[\ud800-\udfff]/.test(text)),
          n: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
          topic: fc.option(fc.constantFrom('eu', 'ü-zone'), { nil: undefined }),
          meta: fc.option(fc.dictionary(fc.constantFrom('trace', 'span'), fc.string({ maxLength: 8 })), { nil: undefined }),
        }),
        { minLength: 1, maxLength: 120 },
      ),
      async (posts) => {
        const local = createRuntime({ deferred: 'manual', memory: { budget: { busBytes: 3000 }, policies: { order: { importance: 'low' } } } });
        try {
          const bus = local.bus('external');
          for (const { type, text, n, topic, meta } of posts) {
            bus.post(type, { text, n }, { priority: 'immediate', ...(topic === undefined ? {} : { topic }), ...(meta === undefined ? {} : { meta }) });
            const held = bus.history() as BusEvent[];
            assert.is(bus.memory()!.bytes, held.reduce((sum, event) => sum + eventBytes(event), 0));
          }
        } finally {
          await local.stop();
        }
      },
    ),
    { numRuns: 40 },
  );
});

api('defaults - every bus and station has a budget unless memory.budget is false; a post is counted at its size', async () => {
  runtime = createRuntime({ deferred: 'manual' });
  const bus = runtime.bus('external');
  const event = bus.post('order.created', { id: 'ö-1', lines: [{ sku: 'a"b', qty: 2 }], total: -0.5 }, { priority: 'immediate', topic: 'eu', meta: { trace: 't1' } });
  const size = eventBytes(event as BusEvent);
  assert.is(size, 64 + 5 + 13 + 2 + (8 + 5 + 2) + Buffer.byteLength(JSON.stringify(event.payload)));
  assert.equal(bus.memory(), { history: 'bus:0.0:external', count: 1, bytes: size, budget: 32 * 1024 * 1024, multipliers: {}, types: { 'order.created': { count: 1, bytes: size } }, evicted: 0, frameBytes: 0, compressed: { count: 0, bytes: 0 }, unsent: { count: 1, bytes: size } });
  assert.is(runtime.station('external').memory()!.budget, 128 * 1024 * 1024);
  await runtime.stop();
  runtime = createRuntime({ deferred: 'manual', memory: { budget: false } });
  runtime.bus('external').post('order.created', {}, { priority: 'immediate' });
  assert.is(runtime.bus('external').memory(), undefined);
  assert.is(runtime.station('external').memory(), undefined);
  assert.throws(() => createRuntime({ memory: { budget: true as never } }), (error: unknown) => error instanceof InvalidOptionError && error.option === 'memory.budget');
});

api.run();
