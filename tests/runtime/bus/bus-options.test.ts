/**
 * `priorityOnly`, `post()`'s fast path, against `checkPostOptions`, the
 * whole check it stands in for: whatever options it answers for, the check
 * accepts them with the same priority and nothing else set (a property over
 * options of every shape, arrays and inherited keys included).
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkPostOptions, priorityOnly, type PostOptions } from '../../../runtime/bus/bus-options.js';

const test = suite('post options');

const values = fc.constantFrom<unknown>(undefined, null, true, false, 'immediate', 'normal', 'deferred', 'soon', 'a.topic', 0, 1, {}, [], { k: 'v' });
const keys = fc.constantFrom('priority', 'local', 'topic', 'meta', 'other');
const record = fc.dictionary(keys, values, { maxKeys: 4 });
/** Options of every shape: records, the same keys inherited, arrays (with keys set on them), and non-objects. */
const options = fc.oneof(
  record,
  fc.tuple(record, record).map(([own, inherited]) => Object.assign(Object.create(inherited) as object, own)),
  record.map((keys) => Object.assign([], keys)),
  values,
);

/** What `checkPostOptions` makes of `value`: its result, or that it threw. */
function checked(value: unknown): ReturnType<typeof checkPostOptions> | 'refused' {
  try {
    return checkPostOptions(value as PostOptions);
  } catch {
    return 'refused';
  }
}

test('priorityOnly - answers only for options checkPostOptions accepts, with the same priority and local and no topic or meta', () => {
  fc.assert(
    fc.property(options, (value) => {
      const fast = priorityOnly(value);
      if (fast === undefined) return;
      assert.equal(checked(value), { ...fast, topic: undefined, meta: undefined }, `priorityOnly(${JSON.stringify(value)}) = ${JSON.stringify(fast)}`);
    }),
    { numRuns: 2_000 },
  );
});

test('priorityOnly - answers for the common shapes', () => {
  assert.equal(priorityOnly({}), { priority: 'normal', local: false });
  assert.equal(priorityOnly({ priority: 'immediate' }), { priority: 'immediate', local: false });
  assert.equal(priorityOnly({ local: true }), { priority: 'normal', local: true });
  assert.equal(priorityOnly({ priority: 'immediate', local: true }), { priority: 'immediate', local: true });
  assert.equal(priorityOnly({ priority: undefined, local: true }), { priority: 'normal', local: true });
  assert.equal(priorityOnly({ priority: 'deferred', local: false }), { priority: 'deferred', local: false });
  assert.equal(priorityOnly({ local: undefined }), { priority: 'normal', local: false });
  assert.is(priorityOnly({ priority: 'deferred', local: true }), undefined, 'refused by the whole check');
  assert.is(priorityOnly([]), undefined, 'not an options object: the whole check refuses it');
});

test.run();
