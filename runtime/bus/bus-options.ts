/**
 * The options of a bus's calls (`post`, `room`, `sync`, `fromStation`) and
 * their checks, shared by `Bus` and `RemoteBus` (which checks before anything
 * crosses to the thread), so both refuse the same input with the same error.
 */
import { InvalidOptionError } from '../../errors.js';
import type { BusEvent, Priority, Side } from '../../types.js';
import { assertKnownKeys, assertLabel, assertPriority, assertTypeList, describe, knownOptions, MAX_META_ENTRIES } from '../validate.js';

/** `maxQueued` (deferred events a thread may hold per side, queued or parked) when `createRuntime` does not set it. */
export const DEFAULT_MAX_QUEUED = 65_536;

/** Options of `bus.post()`. */
export interface PostOptions {
  /** When subscribers get it; `normal` by default. */
  readonly priority?: Priority;
  /** A topic for topic subscriptions. */
  readonly topic?: string;
  /** Free-form string metadata carried with the event. */
  readonly meta?: Readonly<Record<string, string>>;
  /**
   * Delivered in this thread only: the event goes to this bus's subscribers
   * and history (by its memory policy) and never to a station, so no other
   * thread or processor sees it and no sync carries it (like Moleculer's
   * `broadcastLocal` or Socket.IO's `local` flag). Not with `deferred`
   * priority, whose queue is parked at the station. Default false.
   */
  readonly local?: boolean;
}

/** What `priority` is on post options that say `local: true` and `priority: 'deferred'`: a compile error naming why. */
export interface LocalIsNeverDeferred {
  readonly 'a local event is never deferred: post it normal or immediate': never;
}

/**
 * The type of `post()` and `publish()` options: `PostOptions`, except that
 * options known at compile time to say both `local: true` and `priority:
 * 'deferred'` (refused at run time) fail to compile. A conditional type
 * rather than a union, so interfaces that extend `PostOptions` and variables
 * of it still fit; its `PostOptions` branch keeps the excess-property check.
 */
export type PostOptionsArg<O> = O extends { readonly local: true; readonly priority: 'deferred' }
  ? O & { readonly priority: LocalIsNeverDeferred }
  : PostOptions;

const POST_OPTIONS = ['priority', 'topic', 'meta', 'local'] as const;

/** The `meta` key that marks an event as a request (`request-reply.ts`): `bus.reply()` answers only those. */
export const REQUEST_META = 'busline.request';

/** The value of `REQUEST_META` on a `local` request (`'true'` on others): its replier posts the reply local too. */
export const LOCAL_REQUEST = 'local';

/** Post options checked and filled in: what an event carries, and whether it is local. */
export interface CheckedPostOptions {
  readonly priority: Priority;
  readonly topic: string | undefined;
  readonly meta: Readonly<Record<string, string>> | undefined;
  readonly local: boolean;
}

/**
 * Checks `bus.post()` options (known keys, a priority, a well-formed topic,
 * string meta) and fills in the default priority. Each option is read once:
 * what was checked is what it returns. Throws `InvalidOptionError`.
 */
export function checkPostOptions(options: PostOptions): CheckedPostOptions {
  // Not an options object (null, a string, an array): refused as such.
  if (typeof options !== 'object' || options === null || Array.isArray(options)) assertKnownKeys(options, POST_OPTIONS, 'post options');
  // A for-in over the few keys is cheaper than Object.keys on the hot path of post().
  for (const key in options) if (!POST_OPTIONS.includes(key as never)) assertKnownKeys(options, POST_OPTIONS, 'post options');
  const { priority = 'normal', topic, meta: given, local = false } = options;
  assertPriority(priority, 'post options.priority');
  if (topic !== undefined) assertLabel(topic, 'post options.topic');
  if (typeof local !== 'boolean') {
    throw new InvalidOptionError('post options.local', `expected true or false, got ${describe(local)}.`);
  }
  if (local && priority === 'deferred') {
    throw new InvalidOptionError(
      'post options.local',
      "a local event cannot be deferred: a deferred event is parked at the station by toStation(). Post it 'normal' or 'immediate'.",
    );
  }
  const meta = given === undefined ? undefined : validMeta(given);
  // A replier posts its reply where it is, local: a request marked local that went to the station would be answered where its poster never hears.
  if (meta?.[REQUEST_META] === LOCAL_REQUEST && !local) {
    throw new InvalidOptionError(
      `post options.meta.${REQUEST_META}`,
      `"${LOCAL_REQUEST}" marks a local request, whose reply stays in the replier's thread: post it with local: true (or use request(type, payload, { local: true })).`,
    );
  }
  return { priority, topic, meta, local };
}

/**
 * Post options read once, their keys checked first: what a `RemoteBus` then
 * checks, frames and sends (`local` too), so all see what one read answered.
 * Anything but an options object is returned for `checkPostOptions` to refuse.
 */
export function readPostOptions(options: PostOptions | undefined): PostOptions | undefined {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return options;
  return knownOptions(options, POST_OPTIONS, 'post options');
}

/** What `priorityOnly` answers: one object per case, made once. */
export interface PriorityOnly {
  readonly priority: Priority;
  readonly local: boolean;
}

const PRIORITY_ONLY = {
  immediate: { priority: 'immediate', local: false },
  normal: { priority: 'normal', local: false },
  deferred: { priority: 'deferred', local: false },
} as const satisfies Record<Priority, PriorityOnly>;
const LOCAL_ONLY = {
  immediate: { priority: 'immediate', local: true },
  normal: { priority: 'normal', local: true },
} as const satisfies Partial<Record<Priority, PriorityOnly>>;

/**
 * The priority and `local` of post options that hold nothing but a valid
 * `priority` and a boolean `local` (the common cases), each read once;
 * undefined for anything else, which `checkPostOptions` then checks whole.
 * No object is made: `post()` is hot.
 */
export function priorityOnly(options: unknown): PriorityOnly | undefined {
  // An array has no keys either: `checkPostOptions` refuses it as not an options object.
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return undefined;
  for (const key in options) if (key !== 'priority' && key !== 'local') return undefined;
  const { priority = 'normal', local = false } = options as PostOptions;
  if (local === true) return priority === 'immediate' || priority === 'normal' ? LOCAL_ONLY[priority] : undefined;
  return local === false && (priority === 'immediate' || priority === 'normal' || priority === 'deferred') ? PRIORITY_ONLY[priority] : undefined;
}

function validMeta(meta: unknown): Readonly<Record<string, string>> {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new InvalidOptionError('post options.meta', 'expected an object of string values.');
  }
  // Each entry read once, and the event keeps what was checked (a getter read again could answer a number).
  const entries = Object.entries(meta);
  if (entries.length > MAX_META_ENTRIES) {
    throw new InvalidOptionError('post options.meta', `has ${entries.length} entries; at most ${MAX_META_ENTRIES} are allowed.`);
  }
  for (const [key, value] of entries) {
    assertLabel(key, 'post options.meta key');
    assertLabel(value, `post options.meta.${key}`);
  }
  // fromEntries defines keys, so a "__proto__" key stays a key, as the spread kept it.
  return Object.fromEntries(entries) as Record<string, string>;
}

/** Options of `bus.room()`. */
export interface RoomOptions {
  /** Gives up waiting: the call rejects with an `AbortedError` (`ABORTED`) whose `cause` is the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Checks `room()`'s options; returns the signal. */
export function checkRoomOptions(options: RoomOptions | undefined): AbortSignal | undefined {
  assertKnownKeys(options, ['signal'], 'room options');
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionError('room options.signal', 'expected an AbortSignal.');
  }
  return signal;
}

/** Options of `bus.sync()`. */
export interface SyncOptions {
  /** Only these event types (with subtype matching) are merged back. */
  readonly types?: readonly string[];
}

/** Checks `sync()`'s options; returns them as one read of each (and of each type) gave them, for the sync to use. */
export function checkSyncOptions(options: SyncOptions | undefined): SyncOptions | undefined {
  const read = knownOptions(options, ['types'], 'sync options', ['types']);
  if (read?.types !== undefined) assertTypeList(read.types, 'sync options.types');
  return read;
}

/** Options of `bus.fromStation()` and `bus.roundTrip()`. */
export interface FromStationOptions {
  /** Only these event types (with subtype matching). */
  readonly types?: readonly string[];
  /** Read the station of this side; the other side only if the bridge allows it. */
  readonly side?: Side;
}

/** What a `fromStation()` brought: events `Ev` (on a typed runtime, those its `types` match, of either side). */
export interface FromStationResult<Ev = BusEvent> {
  /** Events new to this bus, oldest first (already delivered to its subscribers). */
  readonly added: readonly Ev[];
  /** This thread's parked queue entries handed back by the station. */
  readonly handedBack: number;
}
