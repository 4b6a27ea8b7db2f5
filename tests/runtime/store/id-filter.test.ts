import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { IdFilter } from '../../../runtime/store/id-filter.js';
import { idHash } from '../../../runtime/store/history-indices.js';

const test = suite('IdFilter');

test('mayHold - true for every id added; false for most others when as full as it was sized for', () => {
  const filter = new IdFilter(2048);
  assert.is(filter.byteLength, 2048);
  for (let i = 0; i < 2048; i++) {
    assert.not.ok(filter.full);
    filter.add(idHash(`0.0.${i}`));
  }
  assert.ok(filter.full);
  for (let i = 0; i < 2048; i++) assert.ok(filter.mayHold(idHash(`0.0.${i}`)));
  let maybes = 0;
  for (let i = 0; i < 20_000; i++) if (filter.mayHold(idHash(`0.1.${i}`))) maybes++;
  // 8 bits an id and 3 probes: about 3 % in theory.
  assert.ok(maybes < 20_000 * 0.045, `false maybes: ${maybes} of 20000`);
});

test('constructor - sized up to a power of two, never below 32 events', () => {
  assert.is(new IdFilter(0).byteLength, 32);
  assert.is(new IdFilter(33).byteLength, 64);
  assert.is(new IdFilter(4096).byteLength, 4096);
});

test('idHash - 32 unsigned bits, spread over the whole range', () => {
  const high = new Set<number>();
  for (let i = 0; i < 4096; i++) {
    const hash = idHash(`0.0.${i}`);
    assert.ok(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 32);
    high.add(hash >>> 23);
  }
  // The top 9 bits (the index keys' share) take nearly all of their 512 values.
  assert.ok(high.size > 500, `top-9-bit values: ${high.size}`);
});

test.run();
