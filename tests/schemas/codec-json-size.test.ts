/**
 * `jsonBytes`, the size-only walk of a JSON payload: what `sizeLimit`,
 * `maxBytes` and the memory budgets count of an event's payload. It must be
 * the length of what `encodeFrame` writes, byte for byte, without writing it.
 * And `writeJson`, which writes it: `JSON.stringify`'s text, byte for byte.
 */
import fc from 'fast-check';
import * as flatbuffers from 'flatbuffers';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidEventError } from '../../errors.js';
import { decodeFrame, encodeFrame, jsonBytes, utf8Length } from '../../schemas/codec/index.js';
import { decimalDigits } from '../../schemas/codec/json-size.js';
import * as wire from '../../schemas/generated/busline_generated.js';
import { copiedPayloadBytes, copyPayload } from '../../runtime/payload/payload-copy.js';
import type { EventBatch } from '../../runtime/wire/protocol.js';
import type { JsonValue, Payload } from '../../types.js';
import { batch, bodyOf, event, isWellFormedString, plain } from './fixtures.js';

const JsonSize = suite('jsonBytes');

const Writer = suite('writeJson');

/** The payload fields `encodeFrame` writes for `values` (an event each), as UTF-8. */
function encodedPayloads(...values: unknown[]): Buffer[] {
  const bb = new flatbuffers.ByteBuffer(bodyOf(encodeFrame(batch(values.map((value) => event({ payload: value as JsonValue }))))));
  const read = wire.Envelope.getRootAsEnvelope(bb).message(new wire.EventBatch()) as wire.EventBatch;
  return values.map((_, i) => Buffer.from((read.history(i) as wire.Event).payloadJson(flatbuffers.Encoding.UTF8_BYTES) as Uint8Array));
}

/** The bytes of the payload field `encodeFrame` writes for `value`. */
function encodedPayloadBytes(value: unknown): number {
  return encodedPayloads(value)[0]!.length;
}

const awkwardNumber = fc.oneof(
  fc.constantFrom(-0, 0.1, -1.5e-7, 1e20, 1e21, -1e21, 123456789012345680000, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, 5e-324),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);
// Surrogates in pairs only: the writer refuses lone ones (below).
const awkwardString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc
    .string({ unit: fc.constantFrom('"', '\\', '\b', '\t', '\n', '\f', '\r', '\u0000', '\u001f', '\u007f', '\u0080', '\u07ff', '\u0800', '\u2028', '\ud800', '\udc00', '\uffff', 'é', 'a'), maxLength: 10 })
    .filter(isWellFormedString),
);
const { payload } = fc.letrec<{ payload: unknown; member: unknown }>((tie) => ({
  payload: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    tie('member'),
    fc.array(tie('payload'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(awkwardString, fc.constantFrom('__proto__', '0', '10', '-1', '1.5')), tie('payload'), { maxKeys: 4, ...plain }),
  ),
  member: fc.oneof(awkwardNumber, awkwardString, fc.boolean(), fc.constant(null)),
}));

JsonSize('jsonBytes - equals the bytes encodeFrame writes for any JSON payload (property)', () => {
  fc.assert(
    fc.property(fc.oneof(payload, fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' })), (value) => {
      assert.is(jsonBytes(value), encodedPayloadBytes(value));
      assert.is(jsonBytes(value), Buffer.byteLength(JSON.stringify(value)));
    }),
    { numRuns: 2000 },
  );
});

JsonSize('jsonBytes - examples: escapes, non-ASCII, -0, large numbers, nesting', () => {
  const cases: Array<[unknown, string]> = [
    [-0, '0'],
    [1e21, '1e+21'],
    [123456789012345680000, '123456789012345680000'],
    [-(2 ** 31) - 1, '-2147483649'],
    ['Zoë 😀 ✓', '"Zoë 😀 ✓"'],
    ['"\\\n\u0001\u007f\u2028', '"\\"\\\\\\n\\u0001\u007f\u2028"'],
    [[[[]], {}, [1, [2, [3]]]], '[[[]],{},[1,[2,[3]]]]'],
    [{ 'ké': { '': [true, false, null] } }, '{"ké":{"":[true,false,null]}}'],
  ];
  for (const [value, text] of cases) {
    assert.is(JSON.stringify(value), text);
    assert.is(jsonBytes(value), Buffer.byteLength(text), text);
    assert.is(jsonBytes(value), encodedPayloadBytes(value), text);
  }
});

JsonSize('jsonBytes - -1 where encodeFrame refuses the payload', () => {
  const circular: Record<string, unknown> = {};
  circular['self'] = circular;
  let deep: unknown = 0;
  for (let i = 0; i < 300; i++) deep = [deep];
  const refused: unknown[] = [
    '\ud800',
    { '\udc00': 1 },
    ['a\ud83dz'],
    Number.NaN,
    Infinity,
    [undefined],
    { a: () => 1 },
    circular,
    deep,
    [1, , 3], // eslint-disable-line no-sparse-arrays
    new Date(0),
    { toJSON: () => 1 },
    10n,
  ];
  for (const value of refused) {
    assert.is(jsonBytes(value), -1, String(value));
    assert.throws(() => encodedPayloadBytes(value), (error: unknown) => error instanceof InvalidEventError);
  }
  // A refusal leaves nothing behind for the next walk.
  assert.is(jsonBytes([circular, 1].slice(1)), 3);
});

JsonSize('copyPayload - copies and measures own keys only, though Object.prototype has an enumerable key', () => {
  const prototype = Object.prototype as Record<string, unknown>;
  for (const inherited of [5, { y: 1 }, [1, 2]]) {
    try {
      prototype['inherited'] = inherited;
      const value = { a: 1, nested: { b: [{ c: 'é' }] } };
      const copy = copyPayload(value as Payload) as typeof value;
      assert.equal(Object.keys(copy), ['a', 'nested'], JSON.stringify(inherited));
      assert.equal(Object.keys(copy.nested), ['b']);
      assert.is(copiedPayloadBytes(), jsonBytes(value));
      assert.is(copiedPayloadBytes(), Buffer.byteLength(JSON.stringify(value)));
      // A payload that is not data is refused for its own keys, not for the inherited one.
      assert.throws(() => copyPayload({ a: NaN } as never), /\$\.a is NaN/);
    } finally {
      delete prototype['inherited'];
    }
  }
});

JsonSize("copyPayload - measures the copy in the same walk, as jsonBytes does (property)", () => {
  const objects = fc.oneof(fc.array(payload, { maxLength: 4 }), fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }).filter(isWellFormedString), payload, { maxKeys: 4, ...plain }));
  fc.assert(
    fc.property(objects, (value) => {
      const copy = copyPayload(value as Payload);
      assert.is(copiedPayloadBytes(), jsonBytes(value));
      assert.is(copiedPayloadBytes(), encodedPayloadBytes(copy));
      // Only the last copy is known.
      copyPayload({ other: 1 });
      assert.is(copiedPayloadBytes(), 11);
      // Bytes and values that are not objects are not measured by the copy.
      copyPayload(new Uint8Array(3));
      assert.is(copiedPayloadBytes(), -1);
      copyPayload('text');
      assert.is(copiedPayloadBytes(), -1);
    }),
    { numRuns: 1000 },
  );
});

JsonSize('utf8Length - equals Buffer.byteLength, lone surrogates as U+FFFD (property)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary', minLength: 250, maxLength: 300 }), fc.string({ unit: fc.constantFrom('\ud800', '\udc00', 'a', 'é') })), (text) => {
      assert.is(utf8Length(text), Buffer.byteLength(text));
    }),
    { numRuns: 1000 },
  );
});

JsonSize('decimalDigits - the length String writes, at each side of every power of ten below 1e21', () => {
  for (let exponent = 0; exponent <= 20; exponent++) {
    const power = 10 ** exponent;
    for (const n of [power - 1, power, power + 1, 2 * power, 10 * power - 1]) {
      if (n < 0 || n >= 1e21) continue;
      // Above 2^53 a double is a multiple of a power of two: the integer String writes is the one compared.
      const whole = Math.floor(n);
      assert.is(decimalDigits(whole), String(whole).length, `decimalDigits(${whole})`);
      assert.is(jsonBytes(whole), String(whole).length);
      assert.is(jsonBytes(-whole), whole === 0 ? 1 : String(-whole).length);
    }
  }
});

// Longer than the writer's first reservation, and past the ASCII fast path's first character.
const longString = fc.oneof(
  fc.string({ unit: 'binary', minLength: 100, maxLength: 3000 }).filter(isWellFormedString),
  fc.tuple(fc.string({ maxLength: 300 }), awkwardString, fc.string({ unit: 'grapheme', maxLength: 300 })).map((parts) => parts.join('')),
);

Writer("writeJson - writes JSON.stringify's text in UTF-8, byte for byte (property)", () => {
  fc.assert(
    fc.property(fc.oneof(payload, fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }), longString, fc.dictionary(longString, longString, { maxKeys: 3, ...plain })), (value) => {
      assert.equal(encodedPayloads(value)[0], Buffer.from(JSON.stringify(value)));
    }),
    { numRuns: 2000 },
  );
});

Writer('writeJson - examples: every escape JSON.stringify writes, and UTF-8 of 1 to 4 bytes', () => {
  const controls = Array.from({ length: 0x20 }, (_, code) => String.fromCharCode(code)).join('');
  const values = [controls, '"\\/\u007f', 'aé€😀z', 'é', '\u2028\u2029', { [controls]: 'ü', 'ü': controls }, ['Zoë', { 'ké': '😀' }]];
  const written = encodedPayloads(...values);
  values.forEach((value, i) => assert.is(written[i]!.toString('utf8'), JSON.stringify(value)));
});

Writer("writeJson - writes an object's own keys only, though Object.prototype has an enumerable one", () => {
  const prototype = Object.prototype as Record<string, unknown>;
  try {
    prototype['inherited'] = 1;
    assert.equal(encodedPayloads({ a: 1, nested: { b: [{ c: 2 }] } })[0]!.toString('utf8'), '{"a":1,"nested":{"b":[{"c":2}]}}');
  } finally {
    delete prototype['inherited'];
  }
});

Writer('writeJson - writes own keys only, though a getter gives Object.prototype an enumerable key midway', () => {
  const prototype = Object.prototype as Record<string, unknown>;
  const polluting = {
    get a(): number {
      prototype['inherited'] = 1;
      return 1;
    },
  };
  try {
    const written = encodedPayloads(polluting, { b: 2 }, [{ c: 3 }]);
    assert.equal(
      written.map((text) => text.toString('utf8')),
      ['{"a":1}', '{"b":2}', '[{"c":3}]'],
    );
  } finally {
    delete prototype['inherited'];
  }
});

Writer('writeJson - writes own keys only, though a getter gives Object.prototype an enumerable key that JSON cannot carry', () => {
  const prototype = Object.prototype as Record<string, unknown>;
  // Written as inherited, either key would refuse the event (not JSON; over maxPayloadBytes) before the body ends.
  for (const [key, value] of [['polluted', () => 0], ['large', 'x'.repeat(600)]] as const) {
    const polluting = {
      get a(): object {
        prototype[key] = value;
        return { b: [{}, {}] };
      },
    };
    try {
      const bb = new flatbuffers.ByteBuffer(bodyOf(encodeFrame(batch([event({ payload: polluting as unknown as JsonValue })]), { limits: { maxPayloadBytes: 1024 } })));
      const read = wire.Envelope.getRootAsEnvelope(bb).message(new wire.EventBatch()) as wire.EventBatch;
      assert.is((read.history(0) as wire.Event).payloadJson(), '{"a":{"b":[{},{}]}}', key);
    } finally {
      delete prototype[key];
    }
  }
});

Writer('writeJson - every UTF-16 code unit, alone and after plain text, in a pair, and its measured size', () => {
  const units = Array.from({ length: 0x10000 }, (_, code) => String.fromCharCode(code)).filter((unit) => isWellFormedString(unit));
  const pairs = [];
  for (let code = 0xd800; code <= 0xdbff; code++) pairs.push(String.fromCharCode(code, 0xdc00), String.fromCharCode(code, 0xdfff));
  for (let code = 0xdc00; code <= 0xdfff; code++) pairs.push(String.fromCharCode(0xd800, code), String.fromCharCode(0xdbff, code));
  const texts = [...units, ...units.map((unit) => `ab${unit}c${unit}`), ...pairs, ...pairs.map((pair) => `a${pair}\n${pair}`)];
  for (let from = 0; from < texts.length; from += 4096) {
    const chunk = texts.slice(from, from + 4096);
    encodedPayloads(...chunk).forEach((written, i) => {
      const expected = Buffer.from(JSON.stringify(chunk[i]));
      if (!written.equals(expected)) assert.equal(written, expected, JSON.stringify(chunk[i]));
      if (jsonBytes(chunk[i]) !== written.length) assert.is(jsonBytes(chunk[i]), written.length, JSON.stringify(chunk[i]));
    });
  }
  // A lone surrogate, anywhere in the text, is refused.
  for (const text of ['\ud800', '\udfff', 'a\udbffb', 'é\ud800', '😀\udc00', 'x'.repeat(100) + '\ud83d']) {
    assert.throws(() => encodedPayloads(text), (error: unknown) => error instanceof InvalidEventError, JSON.stringify(text));
    assert.is(jsonBytes(text), -1);
  }
});

Writer('writeJson - strings longer than the writer holds, escaped or encoded from their first, middle or last character', () => {
  const plainText = 'x'.repeat(100_000);
  const texts = ['\n', 'é', '😀', '\u0001', '"'].flatMap((odd) => [odd + plainText, plainText.slice(50_000) + odd + plainText.slice(50_000), plainText + odd]);
  // Six bytes a character, more than twice a kept writer (1 MiB at most): a short reservation would lose bytes.
  texts.push('😀'.repeat(50_000), '\u0000'.repeat(30_000), '€'.repeat(70_000), '\u0001'.repeat(400_000));
  const written = encodedPayloads(...texts, texts);
  texts.forEach((text, i) => {
    assert.ok(written[i]!.equals(Buffer.from(JSON.stringify(text))), `text ${i}`);
    assert.is(jsonBytes(text), written[i]!.length);
  });
  assert.ok(written[texts.length]!.equals(Buffer.from(JSON.stringify(texts))));
});

Writer('writeJson - what it writes decodes to the value, and jsonBytes is its length (property)', () => {
  fc.assert(
    fc.property(fc.oneof(payload, fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }), fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' }), longString), (value) => {
      const message = decodeFrame(encodeFrame(batch([event({ payload: value as JsonValue })]))) as EventBatch;
      // JSON's value: -0 comes back as 0.
      assert.equal(message.history[0]!.payload, JSON.parse(JSON.stringify(value)));
      assert.is(jsonBytes(value), Buffer.byteLength(JSON.stringify(value)));
    }),
    { numRuns: 1000 },
  );
});

JsonSize.run();
Writer.run();
