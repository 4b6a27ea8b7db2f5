/**
 * A bus's history under the memory policies, with its budget's changes
 * (multiplier lowered or recovered, eviction, refusal) reported as internal
 * events of its thread: `busline.memory.multiplier`, `busline.memory.evicted`,
 * `busline.memory.refused` (payloads in `memory-budget.ts`), and its outbox's
 * bound, the same budget, whose drops are reported as `busline.memory.dropped`.
 */
import type { Side } from '../../types.js';
import type { MemoryChange } from '../store/memory-budget.js';
import { DEFAULT_BUS_BUDGET_BYTES, NO_MEMORY_POLICIES } from '../store/memory-policy.js';
import { Retention } from '../store/retention.js';
import type { BusThread } from './bus-thread.js';
import { Outbox, type OutboxBound } from './outbox.js';
import { frameReadsOf } from './read-framer.js';

/** Something that takes a post: the thread's internal bus. */
interface Poster {
  post(type: string, payload: MemoryChange['payload'], options: { priority: 'immediate' }): unknown;
}

/** The retention of a bus of `side` in `thread`: its budget reports to the thread's internal bus. */
export function busRetention(thread: BusThread<Poster>, side: Side): Retention {
  const retention = new Retention(thread.host.memory ?? NO_MEMORY_POLICIES, () => thread.host.clock.now(), {
    kind: 'bus',
    name: `bus:${thread.processor}.${thread.index}:${side}`,
    // A stopped runtime's buses compress no more (their idle steps would run on, and hold them, after stop()).
    blocks: { plain: true, allow: () => thread.host.running },
  });
  retention.onMemoryChange = (change) => queueMicrotask(() => postMemoryChange(() => thread.bus('internal'), change));
  // Small reads stay objects until memory is short, as unsent posts do (`outbox.ts`); no budget, never short.
  if (retention.policies.budget !== undefined) frameReadsOf(retention, { due: () => retention.pressed });
  return retention;
}

/**
 * The outbox of a bus of `side` in `thread` whose history is `retention`:
 * bounded by its budget; what it frames, the history adopts; and its framed
 * events follow the history's when it repacks sparse frames.
 */
export function busOutbox(thread: BusThread<Poster>, side: Side, retention: Retention): Outbox {
  const outbox = new Outbox(outboxBound(thread, side, retention), {
    adopt: (sent, framed) => retention.adopt(sent, framed),
    due: () => retention.pressed,
  });
  retention.relocateAlso = (moves) => outbox.relocate(moves);
  return outbox;
}

/** The bound of the outbox of a bus of `side` in `thread` whose history is `retention`: its budget; none without one. */
export function outboxBound(thread: BusThread<Poster>, side: Side, retention: Retention): OutboxBound | undefined {
  const policies = thread.host.memory ?? NO_MEMORY_POLICIES;
  if (policies.budget === undefined) return undefined;
  return {
    budget: policies.budget.busBytes ?? DEFAULT_BUS_BUDGET_BYTES,
    option: 'memory.budget.busBytes',
    name: `bus:${thread.processor}.${thread.index}:${side}`,
    refuse: thread.host.maxBatch !== undefined,
    sizeOf: (event) => retention.sizeOf(event),
    ...(policies.policies.some((policy) => policy.importance !== undefined) ? { importance: (type: string) => policies.of(type)?.importance ?? 'normal' } : {}),
    dropped: (payload) => queueMicrotask(() => postMemoryChange(() => thread.bus('internal'), { type: 'busline.memory.dropped', payload })),
  };
}

/**
 * Posts a budget change on `bus()`, called a microtask after the post or
 * batch that caused it (never inside another bus's post). A stopped runtime
 * or thread, or a full bus, drops it: a report is not worth an error.
 */
export function postMemoryChange(bus: () => Poster, change: MemoryChange): void {
  try {
    bus().post(change.type, change.payload, { priority: 'immediate' });
  } catch {
    // Dropped, as said above.
  }
}
