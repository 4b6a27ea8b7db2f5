/**
 * `encodeMeasuredFrame`: the sizes it reports as it writes each event must be
 * what `eventBytes` counts for it, byte for byte (a compressing history keeps
 * them as the sizes its budget counted), and the frame must be the one
 * `encodeForwardFrame` writes.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidEventError, InvalidOptionError } from '../../errors.js';
import { NOT_MEASURED, encodeForwardFrame, encodeFrame, encodeMeasuredFrame, scanFrame, type EncodedBatch } from '../../schemas/codec/index.js';
import { EVENT_OVERHEAD_BYTES, META_ENTRY_OVERHEAD_BYTES, eventBytes } from '../../runtime/store/event-bytes.js';
import type { BusEvent } from '../../types.js';
import { busEvent, event, from } from './fixtures.js';

const Sizes = suite('encodeMeasuredFrame');

const rule = (length: number) => ({ eventBytes: EVENT_OVERHEAD_BYTES, metaEntryBytes: META_ENTRY_OVERHEAD_BYTES, into: new Uint32Array(length) });

/** The frame and sizes `encodeMeasuredFrame` gives for `history`. */
function measured(history: readonly BusEvent[], compress: boolean | 'auto' = false): { frame: Uint8Array; sizes: number[] } {
  const sizes = rule(history.length);
  const frame = encodeMeasuredFrame({ kind: 'batch', seq: 0, from, history, queue: [] }, { compress }, sizes);
  return { frame, sizes: [...sizes.into] };
}

const forward = (history: readonly BusEvent[], compress: boolean | 'auto' = false) =>
  encodeForwardFrame({ kind: 'batch', seq: 0, from, history, queue: [] }, { compress });

/** True when the encoder accepts `e` (the arbitrary makes lone surrogates, bad labels, ...; those are refused, as ever). */
function encodable(e: BusEvent): boolean {
  try {
    encodeFrame({ kind: 'batch', seq: 0, from, history: [e], queue: [] });
    return true;
  } catch {
    return false;
  }
}

Sizes('encodeMeasuredFrame - each size equals eventBytes, and the frame is encodeForwardFrame\'s (property)', () => {
  fc.assert(
    fc.property(fc.array(busEvent.filter(encodable), { maxLength: 6 }), fc.constantFrom(false, true, 'auto' as const), (history, compress) => {
      const { frame, sizes } = measured(history, compress);
      assert.equal(sizes, history.map(eventBytes));
      assert.equal(frame, forward(history, compress));
    }),
    { numRuns: 500 },
  );
});

Sizes('encodeMeasuredFrame - examples: unicode labels, meta, topics, byte payloads, types and topics shared across the batch', () => {
  const history: BusEvent[] = [
    event({ id: '0.0.1', payload: { user: 'Zoë 😀', tags: ['✓', 'é'] } }),
    event({ id: 'id-é-✓', type: 'user.login', topic: 'ünïcode', meta: { 'trace-é': 'v😀', k: '' } }),
    event({ id: '0.0.3', type: 'user.login', topic: 'ünïcode', meta: { 'trace-é': 'other' } }),
    event({ id: '0.0.4', type: 'order.created', payload: new Uint8Array([1, 2, 3, 250]) }),
    event({ id: '0.0.5', type: 'order.created', payload: 'x'.repeat(300), meta: {} }),
    event({ id: '0.0.6', payload: null, topic: '' }),
  ];
  assert.equal(measured(history).sizes, history.map(eventBytes));
  // Spelled out for one: overhead, id, type, topic, per meta entry its overhead, key and value, and the JSON text.
  const e = history[1]!;
  const json = Buffer.byteLength(JSON.stringify(e.payload));
  const labels = Buffer.byteLength(e.id) + Buffer.byteLength(e.type) + Buffer.byteLength(e.topic!);
  const meta = 2 * META_ENTRY_OVERHEAD_BYTES + Buffer.byteLength('trace-év😀') + Buffer.byteLength('k');
  assert.is(measured([e]).sizes[0], EVENT_OVERHEAD_BYTES + labels + meta + json);
});

Sizes('encodeMeasuredFrame - events still in frames are copied and left NOT_MEASURED, among measured ones', () => {
  const source = scanFrame(encodeFrame({ kind: 'batch', seq: 0, from, history: [event({ id: 'a.1' }), event({ id: 'a.2', meta: { m: 'é' } })], queue: [] }));
  const refs = [0, 1].map((index) => ({ batch: source as EncodedBatch, index }));
  const objects = [event({ id: 'b.1', topic: 't' }), event({ id: 'b.2' })];
  const history = [refs[0]!, objects[0]!, refs[1]!, objects[1]!] as unknown as BusEvent[];
  const { frame, sizes } = measured(history);
  assert.equal(sizes, [NOT_MEASURED, eventBytes(objects[0]!), NOT_MEASURED, eventBytes(objects[1]!)]);
  assert.equal(frame, forward(history));
});

Sizes('encodeMeasuredFrame - a refused event leaves nothing behind: the next frames, measured or not, are as ever', () => {
  const good = [event({ id: '0.0.1', type: 'a.b', meta: { k: 'v' } }), event({ id: '0.0.2', type: 'a.c' })];
  assert.throws(() => measured([good[0]!, event({ id: '0.0.9', payload: { bad: Number.NaN } })]), (error: unknown) => error instanceof InvalidEventError);
  assert.equal(measured(good).sizes, good.map(eventBytes));
  assert.equal(encodeFrame({ kind: 'batch', seq: 0, from, history: good, queue: [] }), forward(good));
  assert.throws(
    () => encodeMeasuredFrame({ kind: 'batch', seq: 0, from, history: good, queue: [] }, undefined, rule(1)),
    (error: unknown) => error instanceof InvalidOptionError && error.option === 'sizes.into',
  );
});

Sizes.run();
