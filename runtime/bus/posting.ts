/**
 * The first half of `bus.post()`: checks a post, runs the `before`
 * middleware, copies the payload and stamps the event. `bus.ts` keeps the
 * second half (history, outbox, delivery).
 */
import { isBusError } from '../../errors.js';
import type { BusEvent, Origin, Payload, Priority, Side } from '../../types.js';
import { copiedPayloadBytes, copyPayload } from '../payload/payload-copy.js';
import { assertEventType } from '../validate.js';
import { checkPostOptions, priorityOnly, type PostOptions } from './bus-options.js';
import type { BusThread } from './bus-thread.js';
import type { Pipeline, PostDraft } from './middleware.js';
import { conformPayload, type PayloadSchemas } from '../payload/payload-schemas.js';

/** What a bus hands `stampPost()`. */
export interface PostContext {
  readonly thread: BusThread<unknown>;
  readonly side: Side;
  /** Shared by all of the bus's events. */
  readonly origin: Origin;
  readonly pipeline: Pipeline;
  /** The payload schemas of this JS thread: a post's payload is its schema's output. */
  readonly schemas: PayloadSchemas | undefined;
  /** Refuses the post when a bound is reached (`BackPressure.admit`); a `local` one holds no room among unsent events. */
  admit(type: string, priority: Priority, local: boolean): void;
  /** Set by `stampPost`: the JSON bytes of the payload of the event it returned last (`copiedPayloadBytes`). */
  payloadBytes: number;
  /** Set by `stampPost`: the sequence of the id of the event it returned last (`BusThread.idOf`). */
  sequence: number;
  /** Set by `stampPost`: whether the event it returned last was posted `local` (as its options said when read, once). */
  local: boolean;
}

/**
 * Checks the post, applies the type's payload schema, runs the `before` middleware (which may drop it:
 * `EventDroppedError`, or refuse it: `MiddlewareFailedError`), copies the
 * payload, admits it and stamps the event.
 */
export function stampPost(context: PostContext, type: string, payload: Payload, options: PostOptions | undefined): BusEvent<Payload> {
  assertEventType(type);
  let priority: Priority = 'normal';
  let topic: string | undefined;
  let meta: Readonly<Record<string, string>> | undefined;
  // Each option read once, here: a getter read again may answer otherwise than what was checked.
  let local = false;
  if (options !== undefined) {
    const only = priorityOnly(options);
    if (only !== undefined) ({ priority, local } = only);
    else ({ priority, topic, meta, local } = checkPostOptions(options));
  }
  const { pipeline, side } = context;
  // Its schema first (InvalidEventError, or its output): middleware sees the payload as it will be stored.
  payload = conformPayload(context.schemas, type, payload) as Payload;
  if (pipeline.hasBefore) {
    // One literal shape per case, as below.
    const draft: PostDraft =
      topic === undefined && meta === undefined
        ? local
          ? { type, payload, side, priority, local }
          : { type, payload, side, priority }
        : { type, payload, side, priority, topic, meta, ...(local ? { local } : {}) };
    try {
      payload = pipeline.before(draft);
    } catch (error) {
      if (isBusError(error, 'EVENT_DROPPED')) context.thread.subscriptions(side).metrics?.dropped(type);
      throw error;
    }
  }
  // Its value now: the application may change its object afterwards, the event does not change with it.
  const value = copyPayload(payload);
  const payloadBytes = copiedPayloadBytes();
  context.admit(type, priority, local);
  const thread = context.thread;
  // Stamped before the id is taken: a clock that answers no milliseconds refuses the post with nothing used up.
  const timestamp = thread.clock.next();
  const id = thread.nextId();
  const sequence = thread.issued - 1;
  // One literal shape per case keeps post() monomorphic; the origin object is shared by all of this bus's events.
  const event: BusEvent<Payload> =
    topic === undefined && meta === undefined
    ? { id, type, side, timestamp, origin: context.origin, priority, payload: value }
    : {
        id,
        type,
        side,
        timestamp,
        origin: context.origin,
        priority,
        ...(topic === undefined ? {} : { topic }),
        payload: value,
        ...(meta === undefined ? {} : { meta }),
      };
  // Set last (the clock may be the application's): no other post comes before the bus reads it.
  context.payloadBytes = payloadBytes;
  context.sequence = sequence;
  context.local = local;
  return event;
}
