import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { EventHistory, compareEvents, matchesQuery, typeMatches, type HistoryQuery } from '../../../runtime/store/history.js';
import { encodeFrame } from '../../../schemas/codec/index.js';
import { EncodedEvent, UNREAD_ENDPOINT, plainEvents, scanBatch } from '../../../runtime/store/encoded-events.js';
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

test('insert - many out-of-order inserts split segments and stay sorted', () => {
  const history = new EventHistory({ segmentSize: 4 });
  const stamps = Array.from({ length: 200 }, (_, i) => (i * 37) % 200);
  for (const stamp of stamps) assert.ok(history.insert(event(`e${stamp}`, stamp)));
  for (const stamp of stamps) assert.not.ok(history.insert(event(`e${stamp}`, stamp)));
  assert.equal(history.snapshot().map((e) => e.timestamp), Array.from({ length: 200 }, (_, i) => i));
  assert.is(history.size, 200);
});

test.run();
