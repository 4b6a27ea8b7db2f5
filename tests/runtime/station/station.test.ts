/**
 * Station arrivals: every event that joins a station's history gets the next
 * arrival number, and a read with `since` gets exactly those after it — also
 * after a bridge clearing removed some (property test against a plain model).
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BusEvent, type Side } from '../../../index.js';
import { compareEvents } from '../../../runtime/store/history.js';

const test = suite('Station arrivals');

/** A step: a batch of events of these sides arrives, or the other side is cleared. */
type Step = { readonly kind: 'batch'; readonly sides: readonly Side[] } | { readonly kind: 'clear' };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('batch' as const), sides: fc.array(fc.constantFrom<Side>('internal', 'external'), { maxLength: 6 }) }),
  fc.constant({ kind: 'clear' as const }),
);

test('serve({ since, limit }) - exactly the events that arrived after `since` and are still held (the first `limit` of them), sorted', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(arbStep, { maxLength: 12 }), async (steps) => {
      const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
      try {
        const station = runtime.station('internal');
        /** The model: every event that arrived, with its arrival number, while it is held. */
        let arrived: Array<{ readonly number: number; readonly event: BusEvent }> = [];
        let number = 0;
        let n = 0;
        for (const step of steps) {
          if (step.kind === 'clear') {
            station.clearSide('external');
            arrived = arrived.filter(({ event }) => event.side !== 'external');
            continue;
          }
          // Timestamps decrease from batch to batch, so arrival order is not history order.
          const history: BusEvent[] = step.sides.map((side) => {
            n++;
            return {
              id: `0.1.${n}`,
              type: 'a.b',
              side,
              timestamp: 10_000 - n * 10 + (n % 3),
              origin: { processor: 0, thread: 1, generation: 0 },
              priority: 'normal' as const,
              payload: n,
            };
          });
          station.accept({ kind: 'batch', seq: 0, from: { processor: 0, thread: 1, generation: 0, side: 'internal' }, history, queue: [] });
          // A merge numbers a batch's new events in history order.
          for (const event of [...history].sort(compareEvents)) arrived.push({ number: ++number, event });
        }
        const reader = { processor: 0, thread: 2, generation: 0, side: 'internal' } as const;
        for (let since = 0; since <= number; since++) {
          const { batch, through } = station.serve({ kind: 'syncRequest', seq: 0, from: reader, side: 'internal', since });
          const after = arrived.filter((entry) => entry.number > since);
          assert.equal(batch.history, after.map(({ event }) => event).sort(compareEvents), `since ${since}`);
          assert.is(through, number);
          // A limited read: the earliest arrivals first, complete through the last one it took.
          for (const limit of [1, 2, 5]) {
            const limited = station.serve({ kind: 'syncRequest', seq: 0, from: reader, side: 'internal', since, limit });
            const taken = after.slice(0, limit);
            assert.equal(limited.batch.history, taken.map(({ event }) => event).sort(compareEvents), `since ${since}, limit ${limit}`);
            assert.is(limited.through, after.length > limit ? taken[taken.length - 1]!.number : number, `through, since ${since}, limit ${limit}`);
          }
          // A reader that has delivered everything through D: those first, counted, then the rest; each part sorted.
          for (let delivered = since + 1; delivered <= number; delivered++) {
            const read = station.serve({ kind: 'syncRequest', seq: 0, from: reader, side: 'internal', since, deliveredThrough: delivered });
            const known = after.filter((entry) => entry.number <= delivered).map(({ event }) => event).sort(compareEvents);
            const fresh = after.filter((entry) => entry.number > delivered).map(({ event }) => event).sort(compareEvents);
            assert.equal(read.batch.history, [...known, ...fresh], `since ${since}, delivered through ${delivered}`);
            assert.is(read.alreadyDelivered, after.length === 0 ? undefined : known.length, `alreadyDelivered, since ${since}, through ${delivered}`);
          }
          const notAhead = station.serve({ kind: 'syncRequest', seq: 0, from: reader, side: 'internal', since, deliveredThrough: since });
          assert.is(notAhead.alreadyDelivered, undefined, 'a mark at or before `since` changes nothing');
        }
      } finally {
        await runtime.stop();
      }
    }),
    { numRuns: 60 },
  );
});

test('serve({ limit }) - a first read (since 0) also brings what the reader sent itself, as an unlimited one does', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    bus.post('a.b', 1);
    bus.post('a.b', 2);
    await bus.sync(); // the station got them from this bus generation
    const station = runtime.station('external');
    const read = (limit?: number) =>
      station.serve({ kind: 'syncRequest', seq: 0, from: bus.endpoint, side: 'external', ...(limit === undefined ? {} : { limit }) });
    assert.equal(read(5).batch.history.map((event) => event.payload), [1, 2]);
    assert.equal(read(5).batch.history, read().batch.history);
    // A later read (since > 0) leaves out what the reader sent since.
    const { through } = read(5);
    bus.post('a.b', 3);
    await bus.sync();
    assert.equal(station.serve({ kind: 'syncRequest', seq: 0, from: bus.endpoint, side: 'external', since: through, limit: 5 }).batch.history, []);
  } finally {
    await runtime.stop();
  }
});

test('served - counts reads that hand something out; a read that finds nothing leaves the actor as it was', async () => {
  const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  try {
    const station = runtime.station('external');
    const reader = { processor: 0, thread: 2, generation: 0, side: 'external' as const };
    const served = () => station.actor.getSnapshot().context.served;
    const read = (since: number) => station.serve({ kind: 'syncRequest', seq: 0, from: reader, side: 'external', since });
    const bus = runtime.bus('external');
    bus.post('a.b', 1);
    await bus.toStation();
    const { through } = read(0);
    assert.is(served(), 1);
    const before = station.actor.getSnapshot();
    assert.equal(read(through).batch.history, []);
    assert.is(station.actor.getSnapshot(), before, 'no transition for an empty read');
    assert.is(served(), 1);
  } finally {
    await runtime.stop();
  }
});

test.run();
