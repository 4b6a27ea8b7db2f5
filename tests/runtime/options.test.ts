/**
 * `parseRuntimeOptions`: the defaults `createRuntime()` runs with, and one
 * refusal format — an `InvalidOptionError` naming the option and what it
 * allows, and listing every wrong field of a whole configuration at once.
 */
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_PROCESSOR_EXEC_ARGV, InvalidOptionError, ManualClock, createRuntime, type RuntimeConfig, type RuntimeOptions } from '../../index.js';
import { FrameTransport, InMemoryTransport, parseRuntimeOptions, systemClock } from '../../internal.js';
import { DEFAULT_MAX_QUEUED } from '../../runtime/bus/bus-options.js';
import { DEFAULT_PROCESSOR_START_DEADLINE_MS, valueAt } from '../../runtime/options.js';
import { thrown } from '../helpers.js';

const test = suite('options');

test('parseRuntimeOptions - no options: one process, framed hops, manual sync, idle delivery', () => {
  const parsed = parseRuntimeOptions();
  assert.ok(parsed.transport instanceof FrameTransport);
  assert.is(parsed.clock, systemClock);
  assert.equal(
    {
      deferred: parsed.deferred,
      maxQueued: parsed.maxQueued,
      processors: parsed.processors,
      threadsPerProcessor: parsed.threadsPerProcessor,
      sync: parsed.sync,
      syncLimits: parsed.syncLimits,
      journal: parsed.journal,
      callDeadlineMs: parsed.callDeadlineMs,
      processorStartDeadlineMs: parsed.processorStartDeadlineMs,
      threadStartDeadlineMs: parsed.threadStartDeadlineMs,
    },
    {
      deferred: 'idle',
      maxQueued: DEFAULT_MAX_QUEUED,
      processors: 0,
      threadsPerProcessor: 0,
      sync: undefined,
      syncLimits: undefined,
      journal: undefined,
      callDeadlineMs: undefined,
      processorStartDeadlineMs: DEFAULT_PROCESSOR_START_DEADLINE_MS,
      threadStartDeadlineMs: 60_000,
    },
  );
  assert.equal(parsed.processorExecArgv, DEFAULT_PROCESSOR_EXEC_ARGV);
  assert.type(parsed.onError, 'function');
});

test('parseRuntimeOptions - given values are kept; a sync policy gets its bounds filled in', () => {
  const clock = new ManualClock(5);
  const parsed = parseRuntimeOptions({ transport: 'memory', clock, deferred: 'manual', maxQueued: 3, sync: { everyMs: 10, maxBatch: 2 } });
  assert.ok(parsed.transport instanceof InMemoryTransport);
  assert.is(parsed.clock, clock);
  assert.equal([parsed.deferred, parsed.maxQueued], ['manual', 3]);
  assert.equal(parsed.sync, { everyMs: 10, maxBatch: 2 });
  assert.is(parsed.syncLimits?.maxBatch, 2);
  assert.ok((parsed.syncLimits?.maxUnsent ?? 0) >= 2, 'maxUnsent is at least maxBatch');
});

test('parseRuntimeOptions - each wrong option is refused by name, saying what is allowed', () => {
  const cases: Array<[RuntimeOptions, string, RegExp]> = [
    [{ transprt: 'memory' } as never, 'createRuntime options.transprt', /unknown option\. Did you mean "transport"\? Allowed: transport, clock/],
    [{ processor: 2 } as never, 'createRuntime options.processor', /unknown option\. Did you mean "processors"\?/],
    [{ threads: 2 } as never, 'createRuntime options.threads', /unknown option\. Did you mean "threadsPerProcessor"\?/],
    [{ sync: { every: 10, everyMs: 10 } } as never, 'sync.every', /unknown option\. Did you mean "everyMs"\?/],
    [{ memory: { policies: { user: { ttl: 5 } } } } as never, 'memory.policies["user"].ttl', /unknown option\. Did you mean "ttlMs"\?/],
    [{ frobnicate: 1 } as never, 'createRuntime options.frobnicate', /^Invalid option "createRuntime options\.frobnicate": unknown option\. Allowed: /],
    [{ threadsPerProcessor: 65 }, 'threadsPerProcessor', /integer from 0 to 64/],
    [{ processors: -1 }, 'processors', /integer from 0 to 64/],
    [{ processorExecArgv: ['no-dash'] }, 'processorExecArgv', /array of flags/],
    [{ callDeadlineMs: 0 }, 'callDeadlineMs', /whole milliseconds/],
    [{ callDeadlineMs: 999 }, 'callDeadlineMs', /from 1000 to .*250 ms a step/],
    [{ processorStartDeadlineMs: 0 }, 'processorStartDeadlineMs', /whole milliseconds from 1 to 2147483647/],
    [{ processorStartDeadlineMs: 2 ** 31 }, 'processorStartDeadlineMs', /whole milliseconds/],
    [{ processorStartDeadlineMs: '5000' as never }, 'processorStartDeadlineMs', /whole milliseconds/],
    [{ threadStartDeadlineMs: 0 }, 'threadStartDeadlineMs', /whole milliseconds from 1 to 2147483647/],
    [{ threadStartDeadlineMs: 2.5 }, 'threadStartDeadlineMs', /whole milliseconds/],
    [{ clock: {} as never }, 'clock', /now\(\)/],
    [{ clock: { now: () => new Date(0) } as never }, 'clock', /now\(\) must return milliseconds since the epoch .*got a Date \(return date\.getTime\(\)\)\.$/],
    [{ clock: { now: () => 5n } as never }, 'clock', /got a bigint/],
    [{ clock: { now: () => Number.NaN } }, 'clock', /got NaN/],
    [{ clock: { now: () => -1 } }, 'clock', /not negative\), got -1/],
    [{ clock: { now: () => '1000' } as never }, 'clock', /got "1000"/],
    [{ clock: { now: () => { throw new Error('no time'); } } }, 'clock', /now\(\) threw: no time\.$/],
    [{ transport: 'pigeon' as never }, 'transport', /'memory', 'frames' or a Transport/],
    [{ deferred: 'later' as never }, 'deferred', /'idle' or 'manual'/],
    [{ maxQueued: 0 }, 'maxQueued', /positive integer/],
    [{ onError: 'log' as never }, 'onError', /function/],
    [{ journal: '' }, 'journal', /directory path or false/],
  ];
  for (const [options, option, allowed] of cases) {
    try {
      parseRuntimeOptions(options);
      assert.unreachable(`${option} should be refused`);
    } catch (error) {
      assert.instance(error, InvalidOptionError, option);
      assert.is((error as InvalidOptionError).option, option);
      assert.match((error as Error).message, allowed);
      // One problem: the message is that problem's, as it always was, and `issues` holds it.
      assert.ok((error as Error).message.startsWith(`Invalid option "${option}": `), (error as Error).message);
      assert.is((error as InvalidOptionError).issues.length, 1);
      assert.is((error as InvalidOptionError).issues[0]!.path, option);
    }
  }
});

/** The error `parseRuntimeOptions(options)` throws (it must throw one). */
function refusal(options: unknown): InvalidOptionError {
  try {
    parseRuntimeOptions(options as RuntimeOptions);
  } catch (error) {
    assert.instance(error, InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected a refusal');
}

test('parseRuntimeOptions - a whole configuration: every wrong field at once, with its path, value and what is allowed', () => {
  const error = refusal({
    processors: -1,
    deferred: 'later',
    transprt: 'memory',
    sync: { everyMs: 0, maxBatch: 'many', every: 5 },
    memory: {
      policies: { user: { ttlMs: -5, importance: 'urgent', removeAfterDelivery: 'yes' }, 'bad..type': {} },
      limits: { maxEvents: 0, discard: 'newest' },
      budget: 1,
    },
    restart: { maxRestarts: -1, withinMs: 1000 },
  });
  assert.is(error.code, 'INVALID_OPTION');
  assert.is(error.option, 'createRuntime options.transprt', 'the first problem');
  assert.equal(
    error.issues.map(({ path, value }) => [path, value]),
    [
      ['createRuntime options.transprt', 'memory'],
      ['sync.every', 5],
      ['sync.everyMs', 0],
      ['sync.maxBatch', 'many'],
      ['processors', -1],
      ['deferred', 'later'],
      ['restart.maxRestarts', -1],
      ['memory.policies["user"].removeAfterDelivery', 'yes'],
      ['memory.policies["user"].ttlMs', -5],
      ['memory.policies["user"].importance', 'urgent'],
      ['memory.policies["bad..type"]', {}],
      ['memory.limits.maxEvents', 0],
      ['memory.limits.discard', 'newest'],
      ['memory.budget', 1],
    ],
  );
  const ttl = error.issues.find((issue) => issue.path === 'memory.policies["user"].ttlMs')!;
  assert.is(ttl.allowed, 'expected a number of milliseconds > 0');
  assert.is(error.issues.find((issue) => issue.path === 'deferred')!.allowed, "expected 'idle' or 'manual'");
  assert.match(error.message, /^Invalid createRuntime options: 14 problems\.\n/);
  assert.match(error.message, /\n {2}- "memory\.policies\["user"\]\.ttlMs": expected a number of milliseconds > 0, got -5\./);
  assert.match(error.message, /\n {2}- "sync\.maxBatch": expected a positive integer, got "many"\./);
});

test('parseRuntimeOptions - every option is checked even when an earlier one is wrong (each alone would be refused)', () => {
  const error = refusal({ threadsPerProcessor: 65, clock: {}, onError: 'log', journal: '', workerLimits: { maxOldGenerationSizeMb: -1 } });
  assert.equal(error.issues.map((issue) => issue.path), ['threadsPerProcessor', 'clock', 'onError', 'workerLimits.maxOldGenerationSizeMb', 'journal']);
  assert.is(error.issues[0]!.value, 65);
});

test('parseRuntimeOptions - options that are not an object are refused as such', () => {
  assert.is(refusal(null).option, 'createRuntime options');
  assert.is(refusal([1]).option, 'createRuntime options');
});

test('valueAt - follows option paths: names, quoted keys (types with dots), indices; undefined where they lead nowhere', () => {
  const options = { memory: { policies: { 'user.login': { ttlMs: 5 } } }, processorExecArgv: ['--a', 7] };
  assert.is(valueAt(options, 'memory.policies["user.login"].ttlMs'), 5);
  assert.is(valueAt(options, 'processorExecArgv[1]'), 7);
  assert.is(valueAt({ transprt: 'memory' }, 'createRuntime options.transprt'), 'memory');
  assert.is(valueAt(options, 'memory.limits.maxEvents'), undefined);
  assert.is(valueAt(options, 'memory.policies["user.login"].ttlMs.deeper'), undefined);
});

test('post - a clock whose now() stops answering milliseconds, or throws, refuses the post with InvalidOptionError; what was posted stays', async () => {
  let reading: unknown = 1_000;
  let unplugged: Error | undefined;
  const runtime = createRuntime({
    clock: {
      now: () => {
        if (unplugged !== undefined) throw unplugged;
        return reading as number;
      },
    },
  });
  try {
    const bus = runtime.bus('external');
    const first = bus.post('tick', { n: 1 });
    for (const bad of [Number.NaN, new Date(2_000), 'later', undefined]) {
      reading = bad;
      assert.throws(() => bus.post('tick', { n: 2 }), (error: unknown) => error instanceof InvalidOptionError && error.option === 'clock' && /now\(\) must return milliseconds/.test(error.message));
    }
    // A now() that throws is the clock's fault too: the same refusal, what it threw the cause, as createRuntime() says it.
    unplugged = new Error('clock unplugged');
    const threw = thrown(() => bus.post('tick', { n: 2 }), InvalidOptionError);
    assert.equal([threw.option, threw.message, threw.cause], ['clock', 'Invalid option "clock": now() threw: clock unplugged.', unplugged]);
    unplugged = undefined;
    reading = 1_001;
    const second = bus.post('tick', { n: 3 });
    // The refused posts used up no id.
    assert.equal([first.id, second.id], ['0.0.0', '0.0.1']);
    assert.equal(bus.history().map((event) => [event.payload, event.timestamp]), [
      [{ n: 1 }, first.timestamp],
      [{ n: 3 }, 1_001],
    ]);
    // What was accepted still travels: the stamps are ones a sync can carry.
    await bus.toStation();
    assert.is(runtime.station('external').size, 2);
    assert.ok(second.timestamp > first.timestamp);
  } finally {
    await runtime.stop();
  }
});

test('createRuntime - a configuration read from a JSON file works as it is', async () => {
  const config = JSON.parse(readFileSync(new URL('./fixtures/runtime-config.json', import.meta.url), 'utf8')) as RuntimeConfig;
  const runtime = createRuntime(config);
  try {
    assert.equal(runtime.syncPolicy, { everyMs: 50, maxBatch: 64 });
    assert.is(runtime.maxQueued, 1000);
    const bus = runtime.bus();
    let delivered = 0;
    bus.subscribe('user', () => void delivered++);
    bus.post('user.login', { id: 7 }, { priority: 'immediate' });
    // The file's memory policy applies: a login leaves the history once delivered.
    assert.equal([delivered, bus.history().length], [1, 0]);
  } finally {
    await runtime.stop();
  }
  // The same file with mistakes: every one is explained, by path.
  const broken = { ...config, maxQueued: 'lots', memory: { policies: { 'user.login': { importance: 'top' } } } };
  try {
    createRuntime(broken as never);
    assert.unreachable('refused');
  } catch (error) {
    assert.equal((error as InvalidOptionError).issues.map((issue) => issue.path), ['maxQueued', 'memory.policies["user.login"].importance']);
  }
});

test.run();
