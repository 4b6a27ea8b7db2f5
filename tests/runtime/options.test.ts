/**
 * `parseRuntimeOptions`: the defaults `createRuntime()` runs with, and one
 * refusal format — an `InvalidOptionError` naming the option and what it allows.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_PROCESSOR_EXEC_ARGV, InvalidOptionError, ManualClock, type RuntimeOptions } from '../../index.js';
import { FrameTransport, InMemoryTransport, parseRuntimeOptions, systemClock } from '../../internal.js';
import { DEFAULT_MAX_QUEUED } from '../../runtime/bus/bus-options.js';
import { DEFAULT_PROCESSOR_START_DEADLINE_MS } from '../../runtime/options.js';

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
    [{ transprt: 'memory' } as never, 'createRuntime options.transprt', /unknown option\. Allowed: transport, clock/],
    [{ threadsPerProcessor: 65 }, 'threadsPerProcessor', /integer from 0 to 64/],
    [{ processors: -1 }, 'processors', /integer from 0 to 64/],
    [{ processorExecArgv: ['no-dash'] }, 'processorExecArgv', /array of flags/],
    [{ callDeadlineMs: 0 }, 'callDeadlineMs', /whole milliseconds/],
    [{ processorStartDeadlineMs: 0 }, 'processorStartDeadlineMs', /whole milliseconds from 1 to 2147483647/],
    [{ processorStartDeadlineMs: 2 ** 31 }, 'processorStartDeadlineMs', /whole milliseconds/],
    [{ processorStartDeadlineMs: '5000' as never }, 'processorStartDeadlineMs', /whole milliseconds/],
    [{ clock: {} as never }, 'clock', /now\(\)/],
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
    }
  }
});

test.run();
