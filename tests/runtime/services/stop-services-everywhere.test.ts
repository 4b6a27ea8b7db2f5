/**
 * `runtime.stop()` stops the services of every thread while the runtime still
 * moves events: those of the root's worker threads and of the child
 * processors' threads (their thread 0 and workers) first, each thread's last
 * started first, then the root's own. So a service's `onStop()` that posts a
 * last event and hands it to its station is heard, wherever it runs. A root
 * service that stops last reads the stations (the main one, and processor 1's
 * local one) in its own `onStop()`: nothing sleeps.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, Service, type Runtime } from '../../../index.js';

const LAST_WORD = new URL('../fixtures/last-word.service.ts', import.meta.url);
const NEVER_STOPS = new URL('../fixtures/never-stops.service.ts', import.meta.url);

const test = suite('stop - services everywhere');

/** The threads (`processor.thread`) whose `last.word` a station holds. */
const speakers = (events: ReadonlyArray<{ origin: { processor: number; thread: number } }>) =>
  events.map((event) => `${event.origin.processor}.${event.origin.thread}`).sort();

/** A root service that reads, as it stops, whose last words reached the stations. */
class Witness extends Service {
  heard: { main: string[]; local: string[] } | undefined;
  readonly #runtime: Runtime;

  constructor(runtime: Runtime) {
    super(runtime.bus('external'));
    this.#runtime = runtime;
  }

  protected onStart(): void {}

  protected override async onStop(): Promise<void> {
    this.heard = {
      main: speakers(this.#runtime.station('external').history({ types: ['last.word'] })),
      local: speakers(await this.#runtime.processor(1).station('external').history({ types: ['last.word'] })),
    };
  }
}

test('stop - a worker\'s and a child processor\'s services stop before the root\'s, while their stations still take events', async () => {
  const errors: unknown[] = [];
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, onError: (error) => void errors.push(error) });
  await runtime.ready;
  await runtime.spawn(LAST_WORD, { processor: 0, thread: 1 });
  await runtime.spawn(LAST_WORD, { processor: 1, thread: 0 });
  await runtime.spawn(LAST_WORD, { processor: 1, thread: 1 });
  const witness = new Witness(runtime);
  await witness.start();
  await runtime.stop();
  assert.equal(witness.heard, { main: ['0.1'], local: ['1.0', '1.1'] }, 'every last word reached its station before the root\'s service stopped');
  assert.equal(errors, []);
});

// Bounded by callDeadlineMs (the least allowed here): a root worker's is taken as hung, a processor's step is given up.
test('stop - services whose onStop() never settles (a root worker\'s, a processor\'s thread 0\'s and worker\'s) hold no stop; the others still stop', async () => {
  const runtime = createRuntime({ processors: 1, threadsPerProcessor: 1, callDeadlineMs: 1_000, onError: () => undefined });
  await runtime.ready;
  await runtime.spawn(NEVER_STOPS, { processor: 0, thread: 1 });
  await runtime.spawn(NEVER_STOPS, { processor: 1, thread: 0 });
  await runtime.spawn(NEVER_STOPS, { processor: 1, thread: 1 });
  await runtime.spawn(LAST_WORD, { processor: 1, thread: 1 });
  const witness = new Witness(runtime);
  await witness.start();
  await runtime.stop();
  assert.equal(witness.heard?.local, ['1.1'], 'the others still stopped');
});

test.run();
