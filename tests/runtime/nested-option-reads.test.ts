/**
 * `createRuntime()`'s nested option objects (`sync`, `memory` and its
 * `policies`, `limits`, `budget`, `compression`, `restart`, `workerLimits`,
 * `metrics`) are read once, as its top-level options are: a getter that
 * answers otherwise when read again is checked and used as it answered
 * first, and one that throws is refused with `InvalidOptionError` naming
 * its path, never a raw error.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidOptionError, createRuntime, type RuntimeOptions } from '../../index.js';
import { parseRuntimeOptions } from '../../runtime/options.js';

const test = suite('nested option reads');

/** Every read of any object made by `twoFaced`, by path. */
let reads: Record<string, number> = {};

/** An object whose fields are getters: the first read of each answers `first[key]`, every later one `later[key]`. */
function twoFaced<T extends object>(path: string, first: T, later: Readonly<Record<string, unknown>>): T {
  const made = {} as T;
  for (const key of Object.keys(first)) {
    const at = `${path}.${key}`;
    reads[at] = 0;
    Object.defineProperty(made, key, {
      enumerable: true,
      get: () => (reads[at]!++ === 0 ? (first as Record<string, unknown>)[key] : later[key]),
    });
  }
  return made;
}

/** `object` with a getter at `key` that throws. */
function throwing(object: object, key: string): object {
  return Object.defineProperty({ ...object }, key, {
    enumerable: true,
    get: () => {
      throw new TypeError(`no ${key} today`);
    },
  });
}

/** What `parseRuntimeOptions` resolves, as data (what travels to workers and child processors). */
const asData = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

/** A Standard Schema that takes any payload. */
const ORDER_SCHEMA = { '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => ({ value }) } };

function nestedOptions(): RuntimeOptions {
  const policy = twoFaced(
    'memory.policies.audit',
    { importance: 'high', ttlMs: 60_000, maxEvents: 50, discard: 'oldest', sizeLimit: 4_096, compress: true, removeAfterDelivery: true },
    { importance: 'urgent', ttlMs: -1, maxEvents: -1, discard: 'never', sizeLimit: 'big', compress: 'yes', removeAfterDelivery: 'yes' },
  );
  return {
    sync: twoFaced('sync', { everyMs: 3_600_000, maxBatch: 8, maxUnsent: 16, maxInFlight: 4, maxBacklog: 32 }, { everyMs: 0, maxBatch: 0, maxUnsent: 1, maxInFlight: 0, maxBacklog: 0 }),
    memory: twoFaced(
      'memory',
      {
        policies: twoFaced('memory.policies', { audit: policy }, { audit: 5 }),
        limits: twoFaced('memory.limits', { maxEvents: 10_000, maxAgeMs: 5_000, discard: 'refuseNew' }, { maxEvents: -1, maxAgeMs: -1, discard: 'never' }),
        budget: twoFaced('memory.budget', { busBytes: 1 << 20, stationBytes: 1 << 21 }, { busBytes: 0, stationBytes: 'all' }),
        compression: twoFaced('memory.compression', { keepEvents: 64, keepMs: 100, blockEvents: 128, maxBlockBytes: 1 << 16 }, { keepEvents: -1, keepMs: -1, blockEvents: 0, maxBlockBytes: 0 }),
      },
      { policies: 5, limits: 5, budget: 5, compression: 5 },
    ),
    restart: twoFaced('restart', { maxRestarts: 2, withinMs: 500 }, { maxRestarts: -1, withinMs: 0 }),
    workerLimits: twoFaced('workerLimits', { maxOldGenerationSizeMb: 256 }, { maxOldGenerationSizeMb: -5 }),
    metrics: twoFaced('metrics', { intervalMs: 1_000 }, { intervalMs: -1 }),
    schemas: twoFaced('schemas', { order: ORDER_SCHEMA }, { order: 5 }),
  } as RuntimeOptions;
}

test('parseRuntimeOptions - each field of a nested option is read once; what runs is what was checked', () => {
  reads = {};
  const resolved = parseRuntimeOptions(nestedOptions());
  assert.is(resolved.schemas.get('order'), ORDER_SCHEMA);
  // What the runtime hands on (to workers, to child processors) is read from the copies, not from the getters.
  const data = asData({ sync: resolved.sync, memory: resolved.memory.options, restart: resolved.restart, workerLimits: resolved.workerLimits, metrics: resolved.metrics });
  for (const [path, count] of Object.entries(reads)) assert.ok(count <= 1, `${path} was read ${count} times`);
  assert.equal(data, {
    sync: { everyMs: 3_600_000, maxBatch: 8, maxUnsent: 16, maxInFlight: 4, maxBacklog: 32 },
    memory: {
      policies: { audit: { maxEvents: 50, discard: 'oldest', sizeLimit: 4_096, removeAfterDelivery: true, ttlMs: 60_000, importance: 'high', compress: true } },
      limits: { maxEvents: 10_000, maxAgeMs: 5_000, discard: 'refuseNew' },
      budget: { busBytes: 1 << 20, stationBytes: 1 << 21 },
      compression: { keepEvents: 64, keepMs: 100, blockEvents: 128, maxBlockBytes: 1 << 16 },
    },
    restart: { maxRestarts: 2, withinMs: 500 },
    workerLimits: { maxOldGenerationSizeMb: 256 },
    metrics: { intervalMs: 1_000 },
  });
});

test('createRuntime - nested options read once run as checked', async () => {
  reads = {};
  const runtime = createRuntime({ deferred: 'manual', ...nestedOptions() });
  try {
    assert.equal(runtime.syncPolicy, { everyMs: 3_600_000, maxBatch: 8, maxUnsent: 16, maxInFlight: 4, maxBacklog: 32 });
    runtime.bus('external').post('audit', 1);
    await runtime.bus('external').sync();
    assert.is(runtime.station('external').memory()!.budget, 1 << 21);
    for (const [path, count] of Object.entries(reads)) assert.ok(count <= 1, `${path} was read ${count} times`);
  } finally {
    await runtime.stop();
  }
});

test('createRuntime - a nested option whose getter throws is refused with InvalidOptionError naming its path', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['sync.everyMs', { sync: throwing({ maxBatch: 8 }, 'everyMs') }],
    ['memory.budget.stationBytes', { memory: { budget: throwing({ busBytes: 1 << 20 }, 'stationBytes') } }],
    ['memory.policies["audit"].ttlMs', { memory: { policies: { audit: throwing({ importance: 'high' }, 'ttlMs') } } }],
    ['memory.policies["audit"]', { memory: { policies: throwing({}, 'audit') } }],
    ['memory.limits.maxEvents', { memory: { limits: throwing({}, 'maxEvents') } }],
    ['memory.compression.keepMs', { memory: { compression: throwing({}, 'keepMs') } }],
    ['memory.budget', { memory: throwing({}, 'budget') }],
    ['restart.maxRestarts', { restart: throwing({ withinMs: 100 }, 'maxRestarts') }],
    ['workerLimits.stackSizeMb', { workerLimits: throwing({}, 'stackSizeMb') }],
    ['metrics.intervalMs', { metrics: throwing({}, 'intervalMs') }],
    ['schemas["order"]', { schemas: throwing({}, 'order') }],
    ['sync', throwing({}, 'sync') as Record<string, unknown>],
  ];
  for (const [path, options] of cases) {
    let refusal: unknown;
    try {
      parseRuntimeOptions(options as never);
    } catch (error) {
      refusal = error;
    }
    assert.ok(refusal instanceof InvalidOptionError, `${path}: expected InvalidOptionError, got ${String(refusal)}`);
    assert.is(refusal.option, path);
    assert.match(refusal.message, 'today');
    // That alone: the field left unread is not refused again as missing.
    assert.equal(refusal.issues.map((issue) => issue.path), [path], `${path}: ${refusal.message}`);
  }
});

test('parseRuntimeOptions - a policy or schema keyed "__proto__" (a valid event type, e.g. from JSON) is kept and checked as any other', () => {
  const schema = { '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => ({ value }) } };
  const schemas = Object.defineProperty({}, '__proto__', { value: schema, enumerable: true });
  assert.ok(Object.hasOwn(schemas, '__proto__'));
  const parsed = parseRuntimeOptions({ schemas, memory: { policies: JSON.parse('{"__proto__": {"ttlMs": 5}, "a": {"ttlMs": 6}}') } } as RuntimeOptions);
  assert.is(parsed.schemas.get('__proto__'), schema as never);
  assert.equal(parsed.memory.policies.map((policy) => [policy.pattern, policy.ttlMs]), [['__proto__', 5], ['a', 6]]);
  // And refused like any other when wrong.
  assert.throws(() => parseRuntimeOptions({ memory: { policies: JSON.parse('{"__proto__": {"ttlMs": -1}}') } } as RuntimeOptions), (error: unknown) => error instanceof InvalidOptionError && error.message.includes('memory.policies["__proto__"].ttlMs'));
});

test.run();
