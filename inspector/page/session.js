// @ts-check
/**
 * The page's record of an inspection session, without the DOM: every
 * `@statelyai/inspect` message in the order it arrived, and from it every
 * actor's state at any earlier moment (the time slider). Position `at` means
 * "after the first `at` messages".
 *
 * Bounded: past `max` messages the oldest are folded into a base table of
 * actors, so the slider reaches back `max` messages and memory stays flat
 * however long the page is left open.
 */

/** Messages kept before the oldest are folded into the base. */
export const MAX_MESSAGES = 100_000;

/** The recording file's format name and version (what `export` writes and `fromRecording` reads). */
export const RECORDING_FORMAT = 'busline-inspector-recording';
export const RECORDING_VERSION = 1;

/**
 * @typedef {{ processor: number | null, thread: number | null, actorId: string }} Place
 * @typedef {{ type: string, sessionId: string, createdAt?: string, name?: string, parentId?: string,
 *   definition?: string, snapshot?: { value?: unknown, context?: unknown, status?: string }, event?: { type?: string },
 *   sourceId?: string, busline?: Place }} Message
 * @typedef {{ sessionId: string, name: string, place: Place, definition: string | undefined,
 *   snapshot: Message['snapshot'], ended: boolean, lastEvent: string | undefined }} ActorState
 */

/** Where a message's actor runs: busline's tag, or nowhere known for an XState app connected beside it. */
export function placeOf(/** @type {Message} */ message) {
  return message.busline ?? { processor: null, thread: null, actorId: message.name ?? message.sessionId };
}

/** A busline actor's side, read from its id (`bus:0.1:external#2`, `station:main:internal`); '' for the others. */
export function sideOf(/** @type {string} */ actorId) {
  const match = /:(internal|external)(?:#|$)/.exec(actorId);
  return match === null ? '' : /** @type {string} */ (match[1]);
}

/** The thread a place names in the filters: `p.t`, `p` for a processor's own actors, `other` for outside apps. */
export function threadOf(/** @type {Place} */ place) {
  if (place.processor === null) return 'other';
  return place.thread === null ? `${place.processor}` : `${place.processor}.${place.thread}`;
}

const statusEnded = (/** @type {Message['snapshot']} */ snapshot) =>
  snapshot !== undefined && typeof snapshot.status === 'string' && snapshot.status !== 'active';

/**
 * One message applied to a table of actors. Entries are replaced, never
 * changed in place, so the base table can be shared by every replay.
 * @param {Map<string, ActorState>} actors
 * @param {Message} message
 */
function apply(actors, message) {
  const previous = actors.get(message.sessionId);
  if (message.type === '@xstate.actor') {
    actors.set(message.sessionId, {
      sessionId: message.sessionId,
      name: message.name ?? message.sessionId,
      place: placeOf(message),
      definition: message.definition,
      snapshot: message.snapshot,
      ended: statusEnded(message.snapshot),
      lastEvent: previous?.lastEvent,
    });
  } else if (previous === undefined) {
    // Events of an actor announced before this page connected and already ended: nothing to show.
  } else if (message.type === '@xstate.snapshot') {
    actors.set(message.sessionId, { ...previous, snapshot: message.snapshot, ended: statusEnded(message.snapshot) });
  } else if (message.type === '@xstate.event') {
    actors.set(message.sessionId, { ...previous, lastEvent: message.event?.type });
  }
}

export class Session {
  /** @type {Message[]} */
  messages = [];
  /** Messages folded into `#base` (the first kept message's number since the session began). */
  folded = 0;
  /** @type {Map<string, ActorState>} */
  #base = new Map();
  /** @type {{ at: number, actors: Map<string, ActorState> } | undefined} */
  #cache;

  constructor(max = MAX_MESSAGES) {
    this.max = max;
  }

  get length() {
    return this.messages.length;
  }

  /** Adds a message; folds the oldest into the base past `max`. */
  add(/** @type {Message} */ message) {
    this.messages.push(message);
    if (this.messages.length > this.max) {
      const dropped = this.messages.splice(0, this.messages.length - this.max);
      for (const old of dropped) apply(this.#base, old);
      this.folded += dropped.length;
      this.#cache = undefined;
    }
  }

  /** Every actor as of position `at` (0 … length), ended ones included. */
  actorsAt(/** @type {number} */ at) {
    const end = Math.max(0, Math.min(at, this.messages.length));
    // The live view asks for a growing `at`: continue from the last answer rather than replaying everything.
    const start = this.#cache !== undefined && this.#cache.at <= end ? this.#cache.at : 0;
    const actors = start === 0 ? new Map(this.#base) : /** @type {Map<string, ActorState>} */ (this.#cache?.actors);
    for (let i = start; i < end; i++) apply(actors, /** @type {Message} */ (this.messages[i]));
    this.#cache = { at: end, actors: new Map(actors) };
    return actors;
  }

  /** The session as a recording file's JSON object. */
  toRecording(now = new Date()) {
    return {
      format: RECORDING_FORMAT,
      version: RECORDING_VERSION,
      exportedAt: now.toISOString(),
      // Actors announced in messages folded away, so that a recording opens with every actor it mentions.
      base: [...this.#base.values()],
      messages: this.messages,
    };
  }
}

/**
 * Which messages a filter lets through into the event log.
 * @param {Message} message
 * @param {{ type?: string, side?: string, actor?: string, thread?: string }} filters
 */
export function passes(message, filters) {
  const place = placeOf(message);
  if (filters.type && !(message.event?.type ?? '').toLowerCase().includes(filters.type.toLowerCase())) return false;
  if (filters.side && sideOf(place.actorId) !== filters.side) return false;
  if (filters.actor && message.sessionId !== filters.actor) return false;
  if (filters.thread && threadOf(place) !== filters.thread) return false;
  return true;
}
