/**
 * The caller's half of `RemoteBus.publish()`: the thread runs `bus.publish()`
 * under a ticket (`thread/remote-listeners.ts`), and this polls it in steps
 * of at most PUBLISHED_WAIT_MS until the handlers there have finished.
 */
import { RuntimeStoppedError } from '../../errors.js';
import { fromWireError } from '../wire/wire-errors.js';
import type { BusEvent } from '../../types.js';
import type { Outcome } from '../wire/protocol.js';
import { fromPortableOutcome } from '../wire/portable-outcome.js';
import type { RemoteScope, ThreadCall } from './remote-subscription.js';
import type { Dropped, Published } from './bus-awaits.js';
import { eventsFromFrame, unwrap } from '../thread/thread-service.js';
import { PUBLISHED_WAIT_MS } from './wait-steps.js';

/** What `RemoteBus.publish()` resolves with: `Bus.publish()`'s answer, after crossing (see `RemoteBus.publish`). */
export type RemotePublished<Ev = BusEvent> = Published<Ev> | Dropped;


/** Polls the publish that `started` began until it is over; rejects with its refusal, a crash, or the runtime stopping. */
export async function publishRemote(started: Promise<Outcome<string>>, call: ThreadCall, scope: RemoteScope): Promise<RemotePublished> {
  let stopped = false;
  let onStop: (() => void) | undefined;
  const halted = new Promise<never>((_, reject) => {
    onStop = () => {
      stopped = true;
      reject(new RuntimeStoppedError('publish'));
    };
  });
  halted.catch(() => undefined);
  const forget = scope.whenStopped(() => onStop!());
  try {
    const ticket = unwrap(await Promise.race([started, halted]));
    for (;;) {
      if (stopped) throw new RuntimeStoppedError('publish');
      const done = unwrap(await Promise.race([call('published', ticket, PUBLISHED_WAIT_MS), halted]));
      if (done === null) continue;
      if ('dropped' in done) return { dropped: done.dropped, middleware: done.middleware, outcomes: [], failed: 0 };
      const [event] = eventsFromFrame(done.event);
      if (event === undefined) throw fromWireError({ code: 'FRAME_CORRUPT', message: 'publish: the thread answered no event.' });
      const outcomes = done.outcomes.map(fromPortableOutcome);
      return { event, outcomes, failed: done.failed };
    }
  } catch (error) {
    // runtime.stop() ends workers before the root thread halts: a worker gone then was stopped, not crashed.
    if (!stopped && scope.stopping?.() === true) throw new RuntimeStoppedError('publish');
    throw error;
  } finally {
    forget();
  }
}
