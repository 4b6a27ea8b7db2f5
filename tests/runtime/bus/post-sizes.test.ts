/**
 * The size a post is admitted at — by its type's `sizeLimit` and by the
 * memory budget — is its event's `eventBytes`, for every kind of payload and
 * wherever it came from (as posted, a schema's output, a `before`
 * middleware's): post() measures it as it copies the payload and hands the
 * number on, and that number must be the one a later walk would give.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, isBusError, type Middleware } from '../../../index.js';
import { eventBytes } from '../../../runtime/store/event-bytes.js';
import type { BusEvent, Payload } from '../../../types.js';

const test = suite('post sizes');

/** A Standard Schema that wraps the payload: the event carries its output. */
const wrapping = { '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => ({ value: { wrapped: value, by: 'schemä' } }) } };
/** A `before` that replaces the payload of `*.middleware` posts. */
const replacing: Middleware = {
  name: 'replacing',
  before: (draft) => (draft.type.endsWith('.middleware') ? { payload: [draft.payload, 'ünd'] as Payload } : undefined),
};
const SOURCES = ['direct', 'schema', 'middleware'] as const;
type Source = (typeof SOURCES)[number];
/** The payload the event carries when `value` is posted from `source`. */
function carried(value: Payload, source: Source): Payload {
  if (source === 'schema') return { wrapped: value, by: 'schemä' } as Payload;
  if (source === 'middleware') return [value, 'ünd'] as Payload;
  return value;
}

const text = fc.string({ unit: 'grapheme', maxLength: 8 });
const payloads: fc.Arbitrary<Payload> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => value as Payload),
  fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((value) => value as Payload),
  fc.array(fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), { maxLength: 5 }) as fc.Arbitrary<Payload>,
  text as fc.Arbitrary<Payload>,
  fc.double({ noNaN: true, noDefaultInfinity: true }) as fc.Arbitrary<Payload>,
  fc.constantFrom<Payload>(null, true, false, 0, -0, 1e21),
  fc.uint8Array({ maxLength: 16 }) as fc.Arbitrary<Payload>,
);
const options = fc.record(
  { topic: text, meta: fc.dictionary(text, text, { maxKeys: 3 }) },
  { requiredKeys: [] },
);

test('post - sizeLimit and the memory budget count eventBytes of the event, for every payload kind and source (property)', async () => {
  const runtime = createRuntime({
    deferred: 'manual',
    middleware: [replacing],
    schemas: { 'kept.schema': wrapping, 'sized.schema': wrapping } as never,
    memory: { policies: { sized: { sizeLimit: 1 } } },
  });
  try {
    const bus = runtime.bus('external');
    fc.assert(
      fc.property(payloads, fc.constantFrom(...SOURCES), options, fc.boolean(), (value, source, extra, immediate) => {
        // Bytes travel only as the whole payload: a schema or a middleware that puts them inside data is refused.
        fc.pre(source === 'direct' || !(value instanceof Uint8Array));
        const priority = immediate ? 'immediate' : 'normal';
        // Kept: the budget counts it; its history's and its unsent events' bytes grow by its size.
        const before = bus.memory()!;
        const kept = bus.post(`kept.${source}`, value as never, { priority, ...extra });
        assert.is(JSON.stringify(kept.payload), JSON.stringify(carried(value, source)));
        const after = bus.memory()!;
        assert.is(after.bytes - before.bytes, eventBytes(kept));
        assert.is(after.unsent!.bytes - before.unsent!.bytes, eventBytes(kept));
        // Over its sizeLimit: refused, with the size it was measured at. Its id is the next one.
        try {
          bus.post(`sized.${source}`, value as never, { priority, ...extra });
          assert.unreachable('a post over its sizeLimit was accepted');
        } catch (error) {
          if (!isBusError(error, 'EVENT_TOO_LARGE')) throw error;
          const sequence = Number(kept.id.slice(kept.id.lastIndexOf('.') + 1));
          const refused = { ...kept, id: `${kept.id.slice(0, kept.id.lastIndexOf('.') + 1)}${sequence + 1}`, type: `sized.${source}`, payload: carried(value, source) } as BusEvent;
          assert.is((error as { size?: number }).size, eventBytes(refused));
        }
      }),
      { numRuns: 500 },
    );
  } finally {
    await runtime.stop();
  }
});

test('post - a getter of the payload that posts while it is copied: each event is counted at its own size', async () => {
  const runtime = createRuntime({ deferred: 'manual', memory: { policies: { sized: { sizeLimit: 1 } } } });
  try {
    const bus = runtime.bus('external');
    let inner: BusEvent | undefined;
    const payload = {
      before: 'x',
      get during() {
        inner = bus.post('kept.inner', { big: 'z'.repeat(500) });
        return 1;
      },
      after: 'yyy',
    };
    const start = bus.memory()!.bytes;
    const outer = bus.post('kept.outer', payload as never);
    assert.equal(outer.payload, { before: 'x', during: 1, after: 'yyy' });
    assert.equal(bus.memory()!.types['kept.inner']!.bytes, eventBytes(inner!));
    assert.equal(bus.memory()!.types['kept.outer']!.bytes, eventBytes(outer));
    assert.is(bus.memory()!.bytes - start, eventBytes(outer) + eventBytes(inner!));
    // A sizeLimit measures it the same way (the getter posts again: the refused event's id is the one after that post's).
    try {
      bus.post('sized.outer', payload as never);
      assert.unreachable('a post over its sizeLimit was accepted');
    } catch (error) {
      if (!isBusError(error, 'EVENT_TOO_LARGE')) throw error;
      assert.is((error as { size?: number }).size, eventBytes({ ...outer, id: `0.0.${Number(inner!.id.split('.')[2]) + 1}`, type: 'sized.outer' }));
    }
  } finally {
    await runtime.stop();
  }
});

test('post - a getter that posts a payload whose copy throws, and catches it: the outer event is still counted at its own size', async () => {
  const runtime = createRuntime({ deferred: 'manual' });
  try {
    const bus = runtime.bus('external');
    let caught: unknown;
    const payload = {
      before: 'x'.repeat(40),
      get during() {
        try {
          // Its copy throws part way, after it has counted some bytes of its own.
          bus.post('kept.inner', {
            counted: 'z'.repeat(300),
            nested: {
              get broken(): never {
                throw new Error('broken getter');
              },
            },
          } as never);
        } catch (error) {
          caught = error;
        }
        return 1;
      },
      after: 'yyy',
    };
    const start = bus.memory()!;
    const outer = bus.post('kept.outer', payload as never);
    assert.match(String(caught), 'broken getter');
    assert.equal(outer.payload, { before: 'x'.repeat(40), during: 1, after: 'yyy' });
    assert.is(bus.memory()!.types['kept.inner'], undefined);
    assert.is(bus.memory()!.types['kept.outer']!.bytes, eventBytes(outer));
    assert.is(bus.memory()!.bytes - start.bytes, eventBytes(outer));
    assert.is(bus.memory()!.unsent!.bytes - start.unsent!.bytes, eventBytes(outer));
  } finally {
    await runtime.stop();
  }
});

test.run();
