import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { EventHistory, compareEvents, matchesQuery, typeMatches, type HistoryQuery } from '../../../runtime/store/history.js';
import { encodeFrame } from '../../../schemas/codec/index.js';
import { EncodedEvent, UNREAD_ENDPOINT, plainEvents, scanBatch } from '../../../runtime/store/encoded-events.js';
import { idLookups } from '../../../runtime/store/event-segment.js';
import type { BusEvent, Side } from '../../../types.js';
import { ids } from '../../helpers.js';

function event(id: string, timestamp: number, type = 't', side: Side = 'external', processor = 0, thread = 0): BusEvent {
  return { id, type, side, timestamp, origin: { processor, thread, generation: 0 }, priority: 'normal', payload: null };
}

const TYPES = ['user', 'user.login', 'user.logout', 'order', 'order.created', 'username', 'sys.tick'];

/** Events drawn from a pool: the same id is always the same event, as in the runtime; timestamps tie often. */
const arbEvent = fc.nat(199).map((key) =>
  event(`${key % 3}.${(key >> 2) % 3}.${key}`, (key * 7) % 13, TYPES[key % TYPES.length], key % 2 === 0 ? 'internal' : 'external', key % 3, (key >> 2) % 3),
);

/** The reference: sort everything and keep the first of each id. */
function reference(events: readonly BusEvent[]): BusEvent[] {
  const seen = new Set<string>();
  return [...events].sort(compareEvents).filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
}

const arbQuery: fc.Arbitrary<HistoryQuery> = fc.record(
  {
    types: fc.array(fc.constantFrom('user', 'user.login', 'order', 'sys', 'use', 'username'), { minLength: 1, maxLength: 3 }),
    side: fc.constantFrom<Side>('internal', 'external'),
    origin: fc.record({ processor: fc.nat(2), thread: fc.nat(2) }),
    since: fc.integer({ min: 0, max: 13 }),
    until: fc.integer({ min: 0, max: 13 }),
  },
  { requiredKeys: [] },
);

const test = suite('EventHistory');

test('typeMatches - type and subtypes, never a bare prefix', () => {
  assert.ok(typeMatches('user', 'user'));
  assert.ok(typeMatches('user', 'user.login'));
  assert.ok(typeMatches('user', 'user.login.ok'));
  assert.not.ok(typeMatches('user', 'username'));
  assert.not.ok(typeMatches('user.login', 'user'));
  assert.not.ok(typeMatches('user', 'use'));
});

test('insert - keeps (timestamp, id) order; ties by id; duplicates refused', () => {
  const history = new EventHistory();
  assert.ok(history.insert(event('0.1.0', 5)));
  assert.ok(history.insert(event('0.0.0', 5)));
  assert.ok(history.insert(event('0.2.0', 1)));
  assert.not.ok(history.insert(event('0.1.0', 5)));
  assert.equal(history.snapshot().map((e) => e.id), ['0.2.0', '0.0.0', '0.1.0']);
});

test('missing - exactly what a merge would add, and nothing changes (property)', () => {
  fc.assert(
    fc.property(fc.array(arbEvent, { maxLength: 60 }), fc.array(arbEvent, { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), (held, batch, segmentSize) => {
      const history = new EventHistory({ segmentSize });
      history.merge(held);
      const before = history.snapshot();
      const missing = history.missing(batch);
      assert.equal(history.snapshot(), before, 'missing() changes nothing');
      assert.equal(missing, history.merge(batch));
    }),
  );
});

test('merge - returns only new events; resending a batch adds nothing', () => {
  const history = new EventHistory();
  const batch = [event('a', 1), event('b', 2), event('c', 3)];
  assert.equal(history.merge(batch).map((e) => e.id), ['a', 'b', 'c']);
  assert.equal(history.merge(batch), []);
  assert.equal(history.merge([event('b', 2), event('d', 1.5)]).map((e) => e.id), ['d']);
  assert.equal(history.snapshot().map((e) => e.id), ['a', 'd', 'b', 'c']);
});

test('merge - an unsorted batch with internal duplicates', () => {
  const history = new EventHistory();
  history.merge([event('x', 2)]);
  const added = history.merge([event('z', 3), event('y', 1), event('z', 3), event('x', 2)]);
  assert.equal(added.map((e) => e.id), ['y', 'z']);
  assert.equal(history.snapshot().map((e) => e.id), ['y', 'x', 'z']);
});

test('snapshot - a held snapshot never changes (copy-on-write)', () => {
  const history = new EventHistory();
  history.merge([event('a', 1), event('c', 3)]);
  const before = history.snapshot();
  history.merge([event('b', 2), event('d', 4)]);
  history.insert(event('e', 5));
  history.removeWhere((e) => e.id === 'a');
  assert.equal(before.map((e) => e.id), ['a', 'c']);
  assert.equal(history.snapshot().map((e) => e.id), ['b', 'c', 'd', 'e']);
});

test('get - the id index follows inserts, merges and removals', () => {
  const history = new EventHistory();
  history.insert(event('a', 1));
  assert.ok(history.has('a'));
  history.merge([event('b', 2)]);
  history.insert(event('c', 0));
  assert.is(history.get('b')?.timestamp, 2);
  assert.is(history.get('c')?.timestamp, 0);
  history.removeWhere((e) => e.id === 'b');
  assert.not.ok(history.has('b'));
  assert.ok(history.has('a'));
});

for (const segmentSize of [2, 5, undefined]) {
test(`merge - equals sort-and-deduplicate of everything, in any batching, segments of ${segmentSize ?? 'default'} (property)`, () => {
  fc.assert(
    fc.property(fc.array(fc.array(arbEvent, { maxLength: 20 }), { maxLength: 8 }), (batches) => {
      const history = new EventHistory({ segmentSize });
      const all: BusEvent[] = [];
      for (const batch of batches) {
        const before = new Set(history.snapshot().map((e) => e.id));
        const added = history.merge(batch);
        all.push(...batch);
        // What merge reports as new is exactly what was not held before.
        const expectedNew = reference(batch).filter((e) => !before.has(e.id));
        assert.equal(added.map((e) => e.id), expectedNew.map((e) => e.id));
      }
      assert.equal(history.snapshot().map((e) => e.id), reference(all).map((e) => e.id));
    }),
    { numRuns: 500 },
  );
});

test(`query - index answers equal a linear scan, whatever was done before, segments of ${segmentSize ?? 'default'} (property)`, () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('merge' as const), batch: fc.array(arbEvent, { maxLength: 12 }) }),
          fc.record({ op: fc.constant('insert' as const), event: arbEvent }),
          fc.record({ op: fc.constant('remove' as const), side: fc.constantFrom<Side>('internal', 'external') }),
          // Removal of single events, as the memory policies remove them (some not held).
          fc.record({ op: fc.constant('removeEvents' as const), events: fc.array(arbEvent, { maxLength: 6 }) }),
          fc.record({ op: fc.constant('query' as const), query: arbQuery }),
        ),
        { maxLength: 25 },
      ),
      arbQuery,
      (ops, finalQuery) => {
        const history = new EventHistory({ segmentSize });
        for (const op of ops) {
          if (op.op === 'merge') history.merge(op.batch);
          else if (op.op === 'insert') history.insert(op.event);
          else if (op.op === 'remove') history.removeWhere((e) => e.side === op.side);
          else if (op.op === 'removeEvents') {
            const held = new Set(history.snapshot().map((e) => e.id));
            const removed = history.remove(op.events);
            assert.equal(ids(removed), [...new Set(ids(op.events))].filter((id) => held.has(id)));
            for (const e of op.events) assert.not.ok(history.has(e.id));
          } else assert.equal(history.query(op.query), history.scan(op.query));
        }
        const expected = history.snapshot().filter((e) => matchesQuery(finalQuery, e));
        assert.equal(history.query(finalQuery), expected);
        for (const e of history.snapshot()) assert.is(history.get(e.id), e);
        assert.is(history.size, history.snapshot().length);
        // What the memory policies look up agrees with a scan too.
        const snapshot = history.snapshot();
        for (const type of ['user', 'order', 'sys.tick']) {
          assert.equal(ids(history.oldestOf(type, 3)), ids(history.scan({ types: [type] }).slice(0, 3)));
        }
        assert.equal(ids(history.through(6)), ids(snapshot.filter((e) => e.timestamp <= 6)));
        assert.equal(ids(history.oldest(2, (e) => e.side === 'internal')), ids(snapshot.filter((e) => e.side === 'internal').slice(0, 2)));
      },
    ),
    { numRuns: 500 },
  );
});
}

/** `events` as a station keeps them: still in one frame. */
function framed(events: readonly BusEvent[]): readonly BusEvent[] {
  return events.length === 0 ? [] : scanBatch(encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events, queue: [] })).history;
}

for (const segmentSize of [1, 3, undefined]) {
test(`framed events - kept as places in frames, read back as the plain model, segments of ${segmentSize ?? 'default'} (property)`, () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('merge' as const), batch: fc.array(arbEvent, { maxLength: 12 }) }),
          // An object among framed events (a segment then keeps both).
          fc.record({ op: fc.constant('insert' as const), event: arbEvent, plain: fc.boolean() }),
          fc.record({ op: fc.constant('removeWhere' as const), side: fc.constantFrom<Side>('internal', 'external') }),
          fc.record({ op: fc.constant('removeEvents' as const), events: fc.array(arbEvent, { maxLength: 6 }) }),
          fc.record({ op: fc.constant('query' as const), query: arbQuery }),
        ),
        { maxLength: 25 },
      ),
      (ops) => {
        const history = new EventHistory({ segmentSize });
        let model: BusEvent[] = [];
        for (const op of ops) {
          if (op.op === 'merge') {
            const batch = framed(op.batch);
            const before = new Set(ids(model));
            const added = history.merge(batch);
            assert.equal(ids(added), ids(reference(op.batch).filter((e) => !before.has(e.id))));
            for (const e of added) assert.ok(batch.includes(e), 'merge returns the events it was given');
            model = reference(model.concat(op.batch));
          } else if (op.op === 'insert') {
            assert.is(history.insert(op.plain ? op.event : framed([op.event])[0]!), !model.some((e) => e.id === op.event.id));
            model = reference(model.concat(op.event));
          } else if (op.op === 'removeWhere') {
            assert.equal(ids(history.removeWhere((e) => e.side === op.side)), ids(model.filter((e) => e.side === op.side)));
            model = model.filter((e) => e.side !== op.side);
          } else if (op.op === 'removeEvents') {
            // The events as the history hands them out: removal gives back those very objects.
            const asHeld = op.events.map((e) => history.get(e.id)).filter((e) => e !== undefined);
            const removed = history.remove(asHeld);
            assert.equal(ids(removed), [...new Set(ids(asHeld))]);
            for (const e of removed) assert.ok(asHeld.includes(e));
            const gone = new Set(ids(removed));
            model = model.filter((e) => !gone.has(e.id));
          } else {
            assert.equal(plainEvents(history.query(op.query)), model.filter((e) => matchesQuery(op.query, e)));
          }
        }
        assert.equal(plainEvents(history.snapshot()), model);
        assert.is(history.size, model.length);
        for (const e of model) assert.equal(plainEvents([history.get(e.id)!]), [e]);
        for (const type of ['user', 'order', 'sys.tick']) {
          assert.equal(ids(history.oldestOf(type, 3)), ids(model.filter((e) => matchesQuery({ types: [type] }, e)).slice(0, 3)));
        }
        assert.equal(ids(history.through(6)), ids(model.filter((e) => e.timestamp <= 6)));
        assert.equal(history.missing(framed(model)), []);
      },
    ),
    { numRuns: 300 },
  );
});
}

test('framed events - the history keeps no object per event: each read makes one', () => {
  const history = new EventHistory();
  history.merge(framed([event('a', 1), event('b', 2)]));
  const first = history.get('a');
  assert.ok(first instanceof EncodedEvent);
  assert.is.not(history.get('a'), first);
  assert.equal(plainEvents([history.get('a')!]), [event('a', 1)]);
});

test('framed events - a segment that refers to more frames than it can name keeps the rest as objects', () => {
  const history = new EventHistory({ segmentSize: 4000 });
  const events = Array.from({ length: 3000 }, (_, i) => event(`e${i}`, i));
  for (const e of events) history.insert(framed([e])[0]!);
  assert.equal(plainEvents(history.snapshot()), events);
  assert.equal(plainEvents([history.get('e2999')!]), [events[2999]!]);
  assert.equal(ids(history.remove(events.slice(0, 1500))), ids(events.slice(0, 1500)));
  for (const e of events.slice(0, 1500)) assert.ok(history.insert(framed([e])[0]!));
  assert.equal(plainEvents(history.snapshot()), events);
});

/** Events of a pool of 3000 ids, for histories whose segments outgrow their id filters; stamps tie often. */
const arbWideEvent = fc.nat(2999).map((key) => event(`w${key}`, (key * 7) % 101, TYPES[key % TYPES.length], key % 2 === 0 ? 'internal' : 'external'));

for (const segmentSize of [1, 8, 40, undefined]) {
test(`get - finds every held id and none removed, against a map, segments of ${segmentSize ?? 'default'} (property)`, () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          // Batches in any order: merges that cut the history and append again.
          fc.record({ op: fc.constant('merge' as const), batch: fc.array(arbWideEvent, { maxLength: 120 }), framed: fc.boolean() }),
          // Single inserts among the held: segments grow past twice their size and split.
          fc.record({ op: fc.constant('inserts' as const), events: fc.array(arbWideEvent, { maxLength: 60 }) }),
          fc.record({ op: fc.constant('remove' as const), events: fc.array(arbWideEvent, { maxLength: 40 }) }),
          fc.record({ op: fc.constant('removeWhere' as const), side: fc.constantFrom<Side>('internal', 'external') }),
          fc.record({ op: fc.constant('get' as const), ids: fc.array(arbWideEvent.map((e) => e.id), { maxLength: 10 }) }),
        ),
        { maxLength: 20 },
      ),
      (ops) => {
        const history = new EventHistory({ segmentSize });
        // Indexed from the start: the filters must follow every change, not be made at the end.
        history.get('none');
        const model = new Map<string, BusEvent>();
        const check = (id: string): void => {
          const held = history.get(id);
          const expected = model.get(id);
          if (expected === undefined) assert.is(held, undefined, `${id} is not held`);
          else assert.equal(plainEvents([held!]), [expected], `${id} is held`);
        };
        for (const op of ops) {
          if (op.op === 'merge') {
            history.merge(op.framed ? framed(reference(op.batch)) : op.batch);
            for (const e of op.batch) if (!model.has(e.id)) model.set(e.id, e);
          } else if (op.op === 'inserts') {
            for (const e of op.events) if (history.insert(e)) model.set(e.id, e);
          } else if (op.op === 'remove') {
            for (const e of history.remove(op.events.map((e) => history.get(e.id) ?? e))) model.delete(e.id);
            for (const e of op.events) check(e.id);
          } else if (op.op === 'removeWhere') {
            for (const e of history.removeWhere((e) => e.side === op.side)) model.delete(e.id);
          } else {
            for (const id of op.ids) check(id);
          }
        }
        assert.is(history.size, model.size);
        for (const id of model.keys()) check(id);
        for (let key = 0; key < 3000; key += 7) check(`w${key}`);
      },
    ),
    { numRuns: 150 },
  );
});
}

test('get - id filters follow segments that grow past them and split', () => {
  const history = new EventHistory({ segmentSize: 16 });
  const count = 3000;
  const stamps = Array.from({ length: count }, (_, i) => (i * 1231) % count);
  history.get('none');
  for (let i = 0; i < count; i++) {
    assert.ok(history.insert(event(`e${stamps[i]}`, stamps[i]!)));
    if (i % 250 !== 0) continue;
    for (let j = 0; j <= i; j += 3) assert.is(history.get(`e${stamps[j]}`)?.timestamp, stamps[j]);
    for (let j = i + 1; j < count; j += 50) assert.is(history.get(`e${stamps[j]}`), undefined);
  }
  const removed = history.remove(history.snapshot().filter((e) => e.timestamp % 2 === 0));
  assert.is(removed.length, count / 2);
  for (let stamp = 0; stamp < count; stamp++) assert.is(history.get(`e${stamp}`)?.timestamp, stamp % 2 === 0 ? undefined : stamp);
});

test('get - the id filters spare the segments that cannot hold the id', () => {
  const segments = 64;
  const history = new EventHistory({ segmentSize: 64 });
  history.merge(Array.from({ length: segments * 64 }, (_, i) => event(`0.0.${i}`, i)));
  history.get('none');
  const before = { ...idLookups };
  for (let i = 0; i < 1000; i++) assert.is(history.get(`0.0.${(i * 4093) % (segments * 64)}`)?.timestamp, (i * 4093) % (segments * 64));
  const hits = { scanned: idLookups.scanned - before.scanned, decoded: idLookups.decoded - before.decoded };
  for (let i = 0; i < 1000; i++) assert.is(history.get(`0.1.${i}`), undefined);
  const misses = { scanned: idLookups.scanned - before.scanned - hits.scanned, decoded: idLookups.decoded - before.decoded - hits.decoded };
  // Without filters a hit scans half the segments on average, a miss all 64; with them, the one that holds it and ~3 % of the others.
  assert.ok(hits.scanned < 1000 * 2.5, `segments scanned for 1000 hits: ${hits.scanned}`);
  assert.ok(misses.scanned < 1000 * 4, `segments scanned for 1000 misses: ${misses.scanned}`);
  // In a scanned segment, the keys' 9 hash bits leave ~1 id in 512 to read besides the one sought.
  assert.ok(hits.decoded < 1000 * 1.5, `ids read for 1000 hits: ${hits.decoded}`);
  assert.ok(misses.decoded < 1000 * 0.5, `ids read for 1000 misses: ${misses.decoded}`);
});

test('insert - many out-of-order inserts split segments and stay sorted', () => {
  const history = new EventHistory({ segmentSize: 4 });
  const stamps = Array.from({ length: 200 }, (_, i) => (i * 37) % 200);
  for (const stamp of stamps) assert.ok(history.insert(event(`e${stamp}`, stamp)));
  for (const stamp of stamps) assert.not.ok(history.insert(event(`e${stamp}`, stamp)));
  assert.equal(history.snapshot().map((e) => e.timestamp), Array.from({ length: 200 }, (_, i) => i));
  assert.is(history.size, 200);
});

for (const segmentSize of [4, 16]) {
test(`remove - a round of many events, in any order and with repeats, compacts each segment once and equals the model, segments of ${segmentSize} (property)`, () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(arbEvent, fc.boolean()), { maxLength: 120 }),
      fc.array(fc.array(fc.nat(199), { maxLength: 60 }), { maxLength: 4 }),
      arbQuery,
      (entries, rounds, query) => {
        const history = new EventHistory({ segmentSize });
        // Framed and plain events mixed: segments of places with objects beside them, and segments of objects.
        for (const [e, plain] of entries) history.insert(plain ? e : framed([e])[0]!);
        history.query(query);
        let model = reference(entries.map(([e]) => e));
        for (const round of rounds) {
          const before = history.snapshot();
          const view = history.view();
          const victims = round.map((k) => model[k % Math.max(1, model.length)]).filter((e) => e !== undefined);
          const asHeld = victims.map((e) => history.get(e.id)!);
          const removed = history.remove(asHeld);
          assert.equal(ids(removed), [...new Set(ids(victims))]);
          const gone = new Set(ids(removed));
          model = model.filter((e) => !gone.has(e.id));
          // Readers that took the history before the round see none of it.
          assert.equal(ids(view.events()), ids(before));
          assert.equal(plainEvents(history.snapshot()), model);
          assert.is(history.size, model.length);
          assert.equal(history.query(query), history.scan(query));
          for (const e of victims) assert.not.ok(history.has(e.id));
          for (const e of model) assert.equal(plainEvents([history.get(e.id)!]), [e]);
        }
      },
    ),
    { numRuns: 300 },
  );
});
}

/** Another key for `held`, as a removal may be given one: itself, a new `EncodedEvent` of its place, a bare stamp and id, or a copy. */
function keyOf(held: BusEvent, kind: number): BusEvent {
  if (kind === 0) return held;
  if (kind === 1 && held instanceof EncodedEvent) return new EncodedEvent(held.batch, held.index);
  if (kind === 2) return { timestamp: held.timestamp, id: held.id } as BusEvent;
  return { ...plainEvents([held])[0]! };
}

for (const segmentSize of [4, 64, undefined]) {
test(`remove - a sorted round of keys (as a budget's: held events, their places, stamps and ids; some not held) equals removal one by one, and queries equal a scan, segments of ${segmentSize ?? 'default'} (property)`, () => {
  fc.assert(
    fc.property(
      // Events 0..n-1 (stamps tie in fours), framed in frames of `frameSize` or plain; the keys of each round: which, how far apart, what kind.
      fc.integer({ min: 0, max: 700 }),
      fc.integer({ min: 1, max: 300 }),
      fc.array(fc.record({ from: fc.nat(700), step: fc.integer({ min: 1, max: 300 }), count: fc.nat(80), kinds: fc.array(fc.nat(3), { minLength: 1, maxLength: 4 }), sorted: fc.boolean() }), { minLength: 1, maxLength: 4 }),
      arbQuery,
      (n, frameSize, rounds, query) => {
        const all = Array.from({ length: n }, (_, i) => event(`0.0.${i}`, i >> 2, TYPES[i % TYPES.length], i % 2 === 0 ? 'internal' : 'external', i % 3));
        const bulk = new EventHistory({ segmentSize });
        const single = new EventHistory({ segmentSize });
        for (let i = 0; i < n; i += frameSize) {
          const part = all.slice(i, i + frameSize);
          const batch = (i / frameSize) % 3 === 2 ? part : framed(part);
          bulk.merge(batch);
          single.merge(batch);
        }
        bulk.query(query);
        single.query(query);
        for (const { from, step, count, kinds, sorted } of rounds) {
          // Keys of held events (and of events removed already: not held), sorted as a budget's, or not.
          const keys: BusEvent[] = [];
          for (let k = 0, i = from; k < count && n > 0; k++, i += step) {
            const held = bulk.get(all[i % n]!.id);
            keys.push(held === undefined ? all[i % n]! : keyOf(held, kinds[k % kinds.length]!));
          }
          if (sorted) keys.sort(compareEvents);
          const before = bulk.view();
          const snapshot = bulk.snapshot();
          const sizes = keys.map((_, k) => k * 10);
          const removed = bulk.remove(keys, sizes);
          const one: BusEvent[] = [];
          for (const key of keys) one.push(...single.remove([key]));
          assert.equal(ids(removed), ids(one));
          assert.equal(plainEvents(removed), plainEvents(one));
          assert.equal(ids(before.events()), ids(snapshot), 'a reader before the round sees none of it');
          assert.equal(plainEvents(bulk.snapshot()), plainEvents(single.snapshot()));
          assert.is(bulk.size, single.size);
          assert.equal(bulk.query(query), bulk.scan(query));
          assert.equal(plainEvents(bulk.query(query)), plainEvents(single.query(query)));
          for (const key of keys) assert.not.ok(bulk.has(key.id));
        }
        for (const e of bulk.snapshot()) assert.equal(plainEvents([bulk.get(e.id)!]), plainEvents([e]));
      },
    ),
    { numRuns: 150 },
  );
});
}

test('remove - sizes given with the events reach the observer with the events removed (an eviction\'s, kept by its budget), none measured again', () => {
  const told: Array<[string, number | undefined]> = [];
  const history = new EventHistory({ observer: { added: () => undefined, removed: (e, bytes) => void told.push([e.id, bytes]) } });
  const all = Array.from({ length: 40 }, (_, i) => event(`e${String(i).padStart(2, '0')}`, i));
  history.merge(framed(all.slice(0, 20)));
  history.merge(all.slice(20));
  // Every fifth, sorted, one not held (e05 twice: counted once), as stamps and ids, places and objects.
  history.remove([all[7]!]);
  const keys = [0, 5, 5, 7, 10, 15, 25, 30, 35].map((i) => (i % 2 === 0 ? ({ timestamp: i, id: all[i]!.id } as BusEvent) : history.get(all[i]!.id) ?? all[i]!));
  told.length = 0;
  const removed = history.remove(keys, keys.map((_, k) => 100 + k));
  assert.equal(ids(removed), ['e00', 'e05', 'e10', 'e15', 'e25', 'e30', 'e35']);
  // A framed event given by stamp and id is measured (the size may be a stale entry's, of another place): e00, e10; e05 and e15 were their places.
  assert.equal(told, [['e00', undefined], ['e05', 101], ['e10', undefined], ['e15', 105], ['e25', 106], ['e30', 107], ['e35', 108]]);
  told.length = 0;
  history.remove([history.get('e01')!]);
  assert.equal(told, [['e01', undefined]], 'without sizes the observer measures');
});

test.run();
