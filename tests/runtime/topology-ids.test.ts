/**
 * Event ids are unique across the runtime (`<processor>.<thread>.<sequence>`)
 * whatever made its threads: `addProcessor()`, `addThread()`, worker threads,
 * child processors, restarts, in any order. A property over random
 * topologies: many embedded ones (cheap), a few with workers (seconds each).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createRuntime, type BusEvent, type Runtime } from '../../index.js';

/** One way to grow a topology. */
type Step = { readonly kind: 'addProcessor' } | { readonly kind: 'addThread'; readonly processor: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  fc.constant<Step>({ kind: 'addProcessor' }),
  fc.nat({ max: 7 }).map((processor): Step => ({ kind: 'addThread', processor })),
);

/** Applies `steps` to the processors this runtime has in this process (`embedded`, growing); returns every thread made. */
function grow(runtime: Runtime, embedded: number[], steps: readonly Step[]): Array<{ p: number; t: number }> {
  const made: Array<{ p: number; t: number }> = [];
  for (const step of steps) {
    if (step.kind === 'addProcessor') {
      const { processor } = runtime.addProcessor();
      embedded.push(processor);
      made.push({ p: processor, t: 0 });
    } else {
      const processor = embedded[step.processor % embedded.length]!;
      const handle = runtime.addThread({ processor });
      made.push({ p: handle.processor, t: handle.thread });
    }
  }
  return made;
}

/** Posts on both buses of every thread, hands everything to the stations and the main stations; returns the posted events. */
async function postEverywhere(runtime: Runtime, threads: ReadonlyArray<{ p: number; t: number }>): Promise<BusEvent[]> {
  const posted: BusEvent[] = [];
  for (const { p, t } of threads) {
    for (const side of ['internal', 'external'] as const) {
      const bus = runtime.thread(p, t).bus(side);
      posted.push(await bus.post('id.check', { p, t }), await bus.post('id.check', { p, t, again: true }));
      await bus.toStation();
    }
  }
  return posted;
}

/** Ids unique among `posted`, each held once by the main station of its side (after every station's toMain), actor ids unique. */
async function assertUnique(runtime: Runtime, posted: readonly BusEvent[], processors: readonly number[]): Promise<void> {
  const ids = posted.map((event) => event.id);
  const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert.equal(duplicates, [], `duplicate ids ${duplicates.join(', ')}`);
  for (const processor of processors) {
    for (const side of ['internal', 'external'] as const) await runtime.processor(processor).station(side).toMain();
  }
  for (const side of ['internal', 'external'] as const) {
    const held = runtime.mainStation(side).history({ types: ['id.check'] });
    assert.is(held.length, posted.filter((event) => event.side === side).length, `main ${side} holds every posted event once`);
  }
  const actors = (await runtime.actors()).map((actor) => actor.id);
  const doubled = actors.filter((id, i) => actors.indexOf(id) !== i);
  assert.equal(doubled, [], `actors listed twice: ${doubled.join(', ')}`);
}

const test = suite('event ids across topologies');

test('ids - the sequence in decimal without leading zeros, across the thousands (ids are built from a table of last digits)', () => {
  const runtime = createRuntime({ deferred: 'manual', memory: { budget: false } });
  try {
    const bus = runtime.bus('external');
    const ids = Array.from({ length: 3_005 }, (_, n) => bus.post('seq', n, { priority: 'immediate' }).id);
    assert.equal(ids.slice(0, 3), ['0.0.0', '0.0.1', '0.0.2']);
    for (const n of [9, 10, 99, 100, 999, 1_000, 1_001, 1_010, 1_099, 1_100, 1_999, 2_000, 2_007, 3_004]) assert.is(ids[n], `0.0.${n}`);
    assert.is(new Set(ids).size, ids.length);
    // The other side of the same thread draws from the same sequence.
    assert.is(runtime.bus('internal').post('seq', 0).id, '0.0.3005');
  } finally {
    void runtime.stop();
  }
});

test('ids - embedded: addProcessor() and addThread() in any order never repeat an id', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(arbStep, { maxLength: 10 }), async (steps) => {
      const runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
      try {
        const embedded = [0];
        const threads = [{ p: 0, t: 0 }, ...grow(runtime, embedded, steps)];
        await assertUnique(runtime, await postEverywhere(runtime, threads), embedded);
      } finally {
        await runtime.stop();
      }
    }),
    { numRuns: 100 },
  );
});

test('ids - worker threads: addThread() and addProcessor() before or after they start never repeat their ids', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 2 }),
      fc.boolean(),
      fc.array(arbStep, { minLength: 1, maxLength: 4 }),
      async (workers, beforeReady, steps) => {
        const runtime = createRuntime({ threadsPerProcessor: workers, deferred: 'manual', callDeadlineMs: 20_000 });
        try {
          const embedded = [0];
          if (!beforeReady) await runtime.ready;
          const grown = grow(runtime, embedded, steps);
          await runtime.ready;
          const threads = [{ p: 0, t: 0 }, ...Array.from({ length: workers }, (_, i) => ({ p: 0, t: i + 1 })), ...grown];
          await assertUnique(runtime, await postEverywhere(runtime, threads), embedded);
        } finally {
          await runtime.stop();
        }
      },
    ),
    // Workers take a second or more to start on a busy machine: a few runs, always with an addThread on processor 0.
    { numRuns: 3, examples: [[1, true, [{ kind: 'addThread', processor: 0 }]], [1, false, [{ kind: 'addThread', processor: 0 }]]] },
  );
});

test('ids - a restarted worker and an added thread never repeat each other\'s ids', async () => {
  const runtime = createRuntime({ threadsPerProcessor: 1, deferred: 'manual' });
  try {
    await runtime.ready;
    const added = runtime.addThread();
    const crashed = runtime.bus('internal').waitFor('busline.thread.crashed');
    const before = await postEverywhere(runtime, [{ p: 0, t: 1 }, { p: 0, t: added.thread }]);
    const crasher = await runtime.spawn(new URL('./fixtures/crashing.machine.ts', import.meta.url), { processor: 0, thread: 1 });
    await crasher.send({ type: 'crash.exit' }).catch(() => undefined);
    await crashed;
    const after = await postEverywhere(runtime, [{ p: 0, t: 0 }, { p: 0, t: 1 }, { p: 0, t: added.thread }]);
    await assertUnique(runtime, [...before, ...after], [0]);
  } finally {
    await runtime.stop();
  }
});

test('ids - addProcessor() next to child processors takes a number of its own', async () => {
  const runtime = createRuntime({ processors: 1, deferred: 'manual' });
  try {
    const { processor } = runtime.addProcessor();
    await runtime.ready;
    assert.is.not(processor, 1, 'processor 1 is the child process');
    const posted = await postEverywhere(runtime, [{ p: 0, t: 0 }, { p: 1, t: 0 }, { p: processor, t: 0 }]);
    await assertUnique(runtime, posted, [0, 1, processor]);
  } finally {
    await runtime.stop();
  }
});

test.run();
