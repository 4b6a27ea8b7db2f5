import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encodeFrame } from '../../../schemas/codec/index.js';
import { EventBlock } from '../../../runtime/store/blocks.js';
import { plainEvents, scanBatch, UNREAD_ENDPOINT } from '../../../runtime/store/encoded-events.js';
import { EventHistory, matchesQuery, type HistoryCompression, type HistoryObserver, type HistoryQuery } from '../../../runtime/store/history.js';
import { MemoryPolicies } from '../../../runtime/store/memory-policy.js';
import { Retention } from '../../../runtime/store/retention.js';
import { eventBytes } from '../../../runtime/store/event-bytes.js';
import type { BusEvent, Payload, Side } from '../../../types.js';
import { ids } from '../../helpers.js';

const TYPES = ['user', 'user.login', 'order', 'order.created', 'sys.tick'];

/** The event of `key`: the same key is always the same event (ids are unique in the runtime); stamps tie often. */
function eventOf(key: number): BusEvent {
  const payloads: Payload[] = [
    null,
    { user: `u${key}`, visits: key, tags: ['a', 'b'], nested: { ok: key % 2 === 0 } },
    `text ${'x'.repeat(key % 17)}`,
    new Uint8Array([key & 255, 1, 2, 3]),
    [key, 1.5, 'é', true],
  ];
  const event: BusEvent = {
    id: `${key % 3}.${(key >> 2) % 3}.${key}`,
    type: TYPES[key % TYPES.length]!,
    side: key % 2 === 0 ? 'internal' : 'external',
    timestamp: (key * 7) % 29,
    origin: { processor: key % 3, thread: (key >> 2) % 3, generation: 0 },
    priority: key % 5 === 0 ? 'immediate' : 'normal',
    payload: payloads[key % payloads.length]!,
  };
  if (key % 4 === 1) return { ...event, topic: `topic-${key % 3}`, meta: { trace: String(key) } };
  return event;
}

const arbEvent = fc.nat(299).map(eventOf);

const arbQuery: fc.Arbitrary<HistoryQuery> = fc.record(
  {
    types: fc.array(fc.constantFrom('user', 'user.login', 'order', 'sys', 'sys.tick'), { minLength: 1, maxLength: 3 }),
    side: fc.constantFrom<Side>('internal', 'external'),
    origin: fc.record({ processor: fc.nat(2), thread: fc.nat(2) }),
    since: fc.integer({ min: 0, max: 29 }),
    until: fc.integer({ min: 0, max: 29 }),
  },
  { requiredKeys: [] },
);

/** Events as a station keeps them: still in a frame. */
function encoded(events: readonly BusEvent[]): BusEvent[] {
  if (events.length === 0) return [];
  return [...scanBatch(encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events, queue: [] })).history];
}

/** Counts what joins and leaves, in events and bytes, as `Retention` counts them. */
class Tally implements HistoryObserver {
  count = 0;
  bytes = 0;
  added(event: BusEvent): void {
    this.count++;
    this.bytes += eventBytes(event);
  }
  removed(event: BusEvent, bytes?: number): void {
    this.count--;
    this.bytes -= bytes ?? eventBytes(event);
  }
}

const manual = (plain: boolean, options: Partial<HistoryCompression> = {}): HistoryCompression => ({
  plain,
  now: () => 0,
  schedule: 'manual',
  keepEvents: 2,
  blockEvents: 3,
  maxBlockBytes: 2000,
  ...options,
});

const test = suite('EventBlock');

test('EventBlock.of - many events compress together; reads give back exactly the events', () => {
  const events = Array.from({ length: 500 }, (_, i) => eventOf(i)).sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : 1));
  const block = EventBlock.of(events, { plain: true }, true);
  const plain = EventBlock.of(events, { plain: true }, false);
  assert.ok(block.compressed);
  assert.not.ok(plain.compressed);
  assert.ok(block.storedBytes < plain.storedBytes / 2, `${block.storedBytes} compressed against ${plain.storedBytes}`);
  assert.equal(block.events(), events);
  assert.equal(plainEvents(EventBlock.of(encoded(events), { plain: false }, true).events()), events);
  const fewer = block.without([0, 499])!;
  assert.is(fewer.live, 498);
  assert.equal(fewer.events(), events.slice(1, 499));
  assert.is(block.live, 500, 'a block never changes: removal makes a new one');
});

test('EventBlock.of - keeps each event at the size its history counts (sizeOf): objects sized as encoded, frames\' events asked', () => {
  const unicode: BusEvent[] = [
    { ...eventOf(1), id: 'ü.1', topic: 'tópic ✓', meta: { 'clé': 'valeur 😀', k: '' }, timestamp: 30 },
    { ...eventOf(2), id: '0.0.2', payload: { 'naïve': ['😀', 'é', 1.5e21] }, timestamp: 31 },
    { ...eventOf(3), id: '0.0.3', meta: {}, timestamp: 32 },
  ];
  const events = [...Array.from({ length: 60 }, (_, i) => eventOf(i)).sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : 1)), ...unicode];
  let asked = 0;
  const sizeOf = (event: BusEvent) => (asked++, eventBytes(event));
  const fromObjects = EventBlock.of(events, { plain: true, sizeOf }, true);
  assert.equal(events.map((_, i) => fromObjects.sizeAt(i)), events.map(eventBytes));
  assert.is(asked, 0, 'measured as encoded: sizeOf is not asked for an object');
  // A station's events (still in frames), and a block's (merged again) are asked: their size is their frame's, or the one they were counted at.
  const inFrames = encoded(events);
  const fromFrames = EventBlock.of(inFrames, { plain: false, sizeOf }, true);
  assert.equal(inFrames.map((_, i) => fromFrames.sizeAt(i)), inFrames.map(eventBytes));
  assert.is(asked, inFrames.length);
  const counted = fromObjects.storedEvents();
  const merged = EventBlock.of([...counted.slice(0, 10), ...events.slice(10)], { plain: true, sizeOf }, true);
  assert.equal(events.map((_, i) => merged.sizeAt(i)), events.map(eventBytes));
  assert.is(EventBlock.of(events, { plain: true }, true).sizeAt(0), undefined, 'no sizeOf: no sizes kept');
});

test('EventBlock.of - a block that compression would not shrink is kept as it is: no larger, and read as it was', () => {
  const events = Array.from({ length: 200 }, (_, i) => ({ ...eventOf(i), id: `0.0.${i}`, timestamp: i, payload: new Uint8Array(randomBytes(512)) }));
  const block = EventBlock.of(encoded(events), { plain: false }, true);
  const plain = EventBlock.of(encoded(events), { plain: false }, false);
  assert.not.ok(block.compressed, 'random bytes: kept uncompressed');
  assert.is(block.storedBytes, plain.storedBytes);
  assert.equal(plainEvents(block.events()), events);
});

test('mayHold - true for every id of the block; false for nearly every other id', () => {
  for (const count of [1, 7, 1024, 16_384]) {
    const events = Array.from({ length: count }, (_, i) => ({ ...eventOf(i), id: `0.0.${i}`, timestamp: i }));
    const block = EventBlock.of(events, { plain: true }, false);
    for (const event of events) assert.ok(block.mayHold(event.id), event.id);
    let maybe = 0;
    for (let i = count; i < count + 20_000; i++) if (block.mayHold(`0.0.${i}`)) maybe++;
    // 10 bits an event and 3 probes: under 2 % in theory when full, fewer in the 64 bits a small block has at least.
    assert.ok(maybe < 20_000 * 0.025, `${maybe} of 20000 other ids may be held in a block of ${count}`);
  }
});

test('compact - bounded steps; a query that cannot match a block leaves it unread', () => {
  const history = new EventHistory({ compression: manual(true, { keepEvents: 10, blockEvents: 100, maxBlockBytes: 1 << 20 }) });
  const users = Array.from({ length: 300 }, (_, i) => ({ ...eventOf(i * 5), type: 'user', timestamp: i, id: `u${i}` }));
  const ticks = Array.from({ length: 20 }, (_, i) => ({ ...eventOf(i), type: 'sys.tick', timestamp: 1000 + i, id: `t${i}` }));
  history.merge(users);
  history.merge(ticks);
  assert.is(history.compressedCount, 0, 'nothing is compressed on the write path');
  while (history.compact(0));
  assert.is(history.compressedCount, 300, 'all but keepEvents, in whole blocks');
  assert.equal(history.query({ types: ['sys'] }), ticks);
  assert.equal(history.query({ types: ['user'], since: 295 }), users.slice(295));
  assert.is(history.get('u7'), history.snapshot()[7]);
  assert.equal(history.get('u7'), users[7]);
  assert.is(history.get('nope'), undefined);
});

test('merge - blocks merge by size tiers: each event is recompressed a logarithmic number of times, and reads give back every event', () => {
  const text = randomBytes(6000).toString('base64');
  // About 10 KiB per block of 16 (above the size under which any neighbours merge), up to 16 blocks in one.
  const events = Array.from({ length: 1024 }, (_, i) => ({ ...eventOf(i), type: 'user', timestamp: i, id: `e${i}`, payload: { n: i, text: text.slice(i % 64, (i % 64) + 600) } }));
  const bytes = encodeFrame({ kind: 'batch', seq: 0, from: UNREAD_ENDPOINT, history: events.slice(0, 16), queue: [] }).byteLength;
  const history = new EventHistory({ compression: manual(true, { keepEvents: 0, blockEvents: 16, maxBlockBytes: 16 * bytes }) });
  const encodes = { events: 0 };
  const of = EventBlock.of;
  EventBlock.of = (blockEvents, format, compress) => {
    encodes.events += blockEvents.length;
    return of.call(EventBlock, blockEvents, format, compress);
  };
  try {
    // Posted as they come, each step compressing the newest old ones and merging.
    for (let i = 0; i < events.length; i += 16) {
      history.merge(events.slice(i, i + 16));
      while (history.compact(0));
    }
  } finally {
    EventBlock.of = of;
  }
  assert.is(history.compressedCount, 1024);
  assert.equal(history.snapshot(), events);
  const blocks = history.view();
  assert.is(blocks.size, 1024);
  // Once into a block, then at most log2(16) = 4 merges (merging every new block into one growing block: 8.5 on average).
  assert.ok(encodes.events <= 1024 * 5, `${encodes.events / 1024} encodes per event`);
  assert.ok(history.compressedBytes < 1024 * 600, 'compressed');
});

test('merge - an event among the blocks brings them back; duplicates of compressed events are skipped', () => {
  const history = new EventHistory({ compression: manual(true, { keepEvents: 0, blockEvents: 4 }) });
  const first = Array.from({ length: 12 }, (_, i) => ({ ...eventOf(i), timestamp: i * 10, id: `e${i}` }));
  history.merge(first);
  while (history.compact(0));
  assert.is(history.compressedCount, 12);
  assert.equal(history.merge(first.slice(2, 5)), [], 'held in a block: not new');
  assert.not.ok(history.insert(first[3]!));
  assert.is(history.compressedCount, 12, 'a duplicate thaws nothing');
  const late = { ...eventOf(1), timestamp: 55, id: 'late' };
  assert.equal(history.merge([late]), [late]);
  assert.equal(ids(history.snapshot()), [...ids(first.slice(0, 6)), 'late', ...ids(first.slice(6))]);
  assert.ok(history.compressedCount < 12);
});

for (const plain of [true, false]) {
  test(`history - any interleaving of merges, removals, compression and merges of blocks reads back as the uncompressed model (${plain ? 'bus' : 'station'}, property)`, () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('merge' as const), batch: fc.array(arbEvent, { maxLength: 12 }) }),
            fc.record({ op: fc.constant('insert' as const), event: arbEvent }),
            fc.record({ op: fc.constant('removeWhere' as const), side: fc.constantFrom<Side>('internal', 'external'), type: fc.constantFrom(...TYPES) }),
            fc.record({ op: fc.constant('remove' as const), events: fc.array(arbEvent, { maxLength: 8 }) }),
            fc.record({ op: fc.constant('compact' as const), steps: fc.integer({ min: 1, max: 6 }) }),
            fc.record({ op: fc.constant('query' as const), query: arbQuery }),
            fc.record({ op: fc.constant('view' as const), page: fc.integer({ min: 1, max: 7 }) }),
          ),
          { maxLength: 30 },
        ),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 200, max: 3000 }),
        (ops, keepEvents, blockEvents, maxBlockBytes) => {
          const tally = new Tally();
          const modelTally = new Tally();
          const history = new EventHistory({ observer: tally, sizeOf: eventBytes, compression: manual(plain, { keepEvents, blockEvents, maxBlockBytes }) });
          const model = new EventHistory({ observer: modelTally });
          const read = (events: readonly BusEvent[]): BusEvent[] => (plain ? [...events] : plainEvents(events));
          const views: Array<{ view: ReturnType<EventHistory['view']>; expected: BusEvent[]; page: number; pages?: Iterator<BusEvent[]>; seen: BusEvent[] }> = [];
          for (const op of ops) {
            if (op.op === 'merge') {
              const batch = plain ? op.batch : encoded(op.batch);
              assert.equal(read(history.merge(batch)), read(model.merge(batch)));
            } else if (op.op === 'insert') {
              const event = plain ? op.event : encoded([op.event])[0]!;
              assert.is(history.insert(event), model.insert(event));
            } else if (op.op === 'removeWhere') {
              const predicate = (e: BusEvent): boolean => e.side === op.side && e.type === op.type;
              assert.equal(ids(history.removeWhere(predicate)).sort(), ids(model.removeWhere(predicate)).sort());
            } else if (op.op === 'remove') {
              assert.equal(ids(history.remove(op.events)).sort(), ids(model.remove(op.events)).sort());
            } else if (op.op === 'compact') {
              for (let i = 0; i < op.steps; i++) history.compact(0);
            } else if (op.op === 'query') {
              assert.equal(read(history.query(op.query)), read(model.scan(op.query)));
            } else {
              views.push({ view: history.view(), expected: read(model.snapshot()), page: op.page, seen: [] });
            }
            // Readers that hold a view read on, a page per operation, whatever happens meanwhile.
            for (const reader of views) {
              reader.pages ??= reader.view.pages(reader.page);
              const next = reader.pages.next();
              if (!next.done) reader.seen.push(...read(next.value));
            }
          }
          while (history.compact(0));
          const expected = read(model.snapshot());
          assert.equal(read(history.snapshot()), expected);
          assert.is(history.size, expected.length);
          for (const e of expected) assert.equal(read([history.get(e.id)!]), [e]);
          for (const type of ['user', 'order', 'sys.tick']) assert.equal(read(history.oldestOf(type, 3, undefined, 20)), read(model.oldestOf(type, 3, undefined, 20)));
          assert.equal(read(history.through(12)), read(model.through(12)));
          assert.equal(read(history.oldest(4, (e) => e.side === 'external')), read(model.oldest(4, (e) => e.side === 'external')));
          assert.equal(history.missing(expected.concat(eventOf(7))).length, model.missing(expected.concat(eventOf(7))).length);
          // Each view read the history as it was when taken, all of it, in pages.
          for (const reader of views) {
            for (let next = reader.pages!.next(); !next.done; next = reader.pages!.next()) reader.seen.push(...read(next.value));
            assert.equal(reader.seen, reader.expected);
            assert.equal(read(reader.view.events()), reader.expected);
          }
          // Counted as they joined, whether they left from a block or not.
          assert.is(tally.count, modelTally.count);
          assert.is(tally.bytes, modelTally.bytes);
        },
      ),
      { numRuns: 150 },
    );
  });
}

test('view - a paged reader sees a removal and a merge all or nothing (interleaved by hand)', () => {
  const history = new EventHistory({ compression: manual(false, { keepEvents: 2, blockEvents: 4 }) });
  const events = Array.from({ length: 20 }, (_, i) => ({ ...eventOf(i), timestamp: i, id: `e${String(i).padStart(2, '0')}` }));
  history.merge(encoded(events));
  while (history.compact(0));
  const before = history.view();
  const pages = before.pages(5);
  const first = plainEvents(pages.next().value as BusEvent[]);
  // Meanwhile: a removal in a block, a batch among the blocks, and compression again.
  history.remove([events[7]!, events[12]!]);
  history.merge(encoded([{ ...eventOf(1), timestamp: 9.5, id: 'new1' }, { ...eventOf(2), timestamp: 30, id: 'new2' }]));
  while (history.compact(0));
  const rest: BusEvent[] = [];
  for (let next = pages.next(); !next.done; next = pages.next()) rest.push(...plainEvents(next.value));
  assert.equal(ids(first.concat(rest)), ids(events), 'the view taken before sees none of it');
  const after = history.view();
  const seen = ids(plainEvents(after.events()));
  assert.ok(seen.includes('new1') && seen.includes('new2') && !seen.includes('e07') && !seen.includes('e12'), 'a view taken after sees all of it');
  assert.is(after.size, 20);
});

test('Retention - memory.compression and a policy with compress: false', () => {
  const policies = new MemoryPolicies({ policies: { audit: { compress: false } }, compression: { keepEvents: 0, blockEvents: 8 } });
  const retention = new Retention(policies, () => 0, { blocks: { plain: true, schedule: 'manual' } });
  const audit = Array.from({ length: 8 }, (_, i) => ({ ...eventOf(i), type: 'audit', timestamp: i, id: `a${i}` }));
  const users = Array.from({ length: 8 }, (_, i) => ({ ...eventOf(i), type: 'user', timestamp: 100 + i, id: `u${i}` }));
  retention.history.merge([...audit, ...users]);
  while (retention.history.compact(0));
  assert.is(retention.history.compressedCount, 16);
  assert.equal(retention.history.snapshot(), [...audit, ...users]);
  const off = new Retention(new MemoryPolicies({ compression: false }), () => 0, { blocks: { plain: true, schedule: 'manual' } });
  off.history.merge(users);
  assert.not.ok(off.history.compact(0));
  assert.is(off.history.compressedCount, 0);
});

test('matchesQuery - the block summaries never rule out a match (property)', () => {
  fc.assert(
    fc.property(fc.array(arbEvent, { minLength: 1, maxLength: 30 }), arbQuery, (events, query) => {
      const sorted = new EventHistory();
      sorted.merge(events);
      const block = EventBlock.of(sorted.snapshot(), { plain: true }, true);
      const matching = sorted.snapshot().filter((e) => matchesQuery(query, e));
      if (matching.length > 0) assert.ok(block.mayMatch(query));
      assert.equal(block.query(query), matching);
    }),
    { numRuns: 150 },
  );
});

test.run();
