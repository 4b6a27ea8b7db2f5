/**
 * The `@statelyai/inspect` WebSocket protocol (0.7.2), as its own
 * `createWebSocketInspector` writes it and `createWebSocketReceiver` reads
 * it: one JSON text frame per inspection event, `@xstate.actor`,
 * `@xstate.event` or `@xstate.snapshot`, with `sessionId`, `rootId`,
 * `createdAt` (milliseconds as a string), `id` and `_version`; an actor
 * message carries the machine's `definition` (its config as JSON text) and
 * `snapshot`, an event message `event` and `sourceId`, a snapshot message
 * `event` and `snapshot`. XState's other inspection events (`@xstate.microstep`,
 * `@xstate.action`) are not part of it.
 *
 * busline adds one field, `busline`: where the actor runs. The package's
 * receivers pass unknown fields through.
 */
import { configure } from 'safe-stable-stringify';
import type { InspectionEvent } from '../types.js';

/** The `@statelyai/inspect` version whose protocol this is: every message's `_version`. */
export const STATELY_INSPECT_VERSION = '0.7.2';

/** The message types of the protocol. */
export type StatelyMessageType = '@xstate.actor' | '@xstate.event' | '@xstate.snapshot';

/** Where an actor runs, as busline tags its messages. */
export interface ActorPlace {
  readonly processor: number;
  /** The thread, or null for a station or the bridge (they belong to their processor, not to one of its threads). */
  readonly thread: number | null;
  /** The actor's id (`bus:…`, `station:…`, `bridge`, or a user actor's). */
  readonly actorId: string;
}

/** XState's inspection event before busline tags it with where its actor runs: what an actor's `inspect` hook gets. */
export type XStateInspectionEvent = InspectionEvent extends infer E ? (E extends InspectionEvent ? Omit<E, keyof ActorPlace> : never) : never;

/** One message of the protocol, as JSON. */
export interface StatelyMessage {
  readonly type: StatelyMessageType;
  readonly sessionId: string;
  readonly rootId: string | undefined;
  readonly createdAt: string;
  readonly id: null;
  readonly _version: string;
  readonly name?: string;
  readonly parentId?: string | undefined;
  readonly definition?: string;
  readonly snapshot?: unknown;
  readonly event?: unknown;
  readonly sourceId?: string | undefined;
  readonly busline?: ActorPlace;
}

/**
 * JSON that never throws and never walks far: cycles, BigInts and depth
 * beyond 10 (the package's own `serializationDepthLimit`) are cut short, so
 * a user actor's context that holds a large graph costs a bounded amount.
 */
const safeJson = configure({ maximumDepth: 10, deterministic: false, bigint: true, circularValue: '[Circular]' });

/** A machine config holds functions where it names inline actions and guards: the package writes `{ type: name }`. */
function definitionReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'function' ? { type: value.name } : value;
}

/** What XState's actor refs have that busline's published `InspectedActorRef` does not spell out. */
interface ActorRefInternals {
  readonly id?: string;
  readonly sessionId: string;
  readonly _parent?: { readonly sessionId: string };
  readonly logic?: { readonly config?: { readonly id?: string } };
  getSnapshot(): unknown;
}

/** The status a snapshot reports, `active` when it says none. */
export function snapshotStatus(snapshot: unknown): string {
  const status = (snapshot as { status?: unknown } | null | undefined)?.status;
  return typeof status === 'string' ? status : 'active';
}

/**
 * XState's inspection event as the protocol's message, its session ids put
 * under `realm` (each JavaScript realm — thread — numbers XState's sessions
 * from `x:0`, so a session id is unique only with its realm), or undefined
 * for the events the protocol leaves out.
 */
export function toStatelyMessage(event: XStateInspectionEvent, realm: string, place: ActorPlace, now = Date.now()): StatelyMessage | undefined {
  const ref = event.actorRef as unknown as ActorRefInternals;
  const session = (id: string | undefined) => (id === undefined ? undefined : `${realm}/${id}`);
  const base = {
    sessionId: session(ref.sessionId)!,
    rootId: session(event.rootId),
    createdAt: String(now),
    id: null,
    _version: STATELY_INSPECT_VERSION,
    busline: place,
  };
  switch (event.type) {
    case '@xstate.actor': {
      const config = ref.logic?.config;
      const name = ref.id === undefined || ref.id === ref.sessionId ? (config?.id ?? ref.sessionId) : ref.id;
      return {
        type: '@xstate.actor',
        ...base,
        name,
        parentId: session(ref._parent?.sessionId),
        definition: typeof config === 'object' ? safeJson(config, definitionReplacer) : safeJson({ id: name }),
        snapshot: plain(ref.getSnapshot()),
      };
    }
    case '@xstate.event':
      return { type: '@xstate.event', ...base, event: event.event, sourceId: session((event.sourceRef as ActorRefInternals | undefined)?.sessionId) };
    case '@xstate.snapshot':
      return { type: '@xstate.snapshot', ...base, event: event.event, snapshot: plain(event.snapshot) };
    default:
      return undefined;
  }
}

/**
 * A snapshot as plain JSON data: XState's snapshot objects carry the machine
 * and the children as live objects, which neither cross a thread nor belong
 * in a message.
 */
function plain(snapshot: unknown): unknown {
  if (typeof snapshot !== 'object' || snapshot === null) return snapshot;
  const { value, context, status, output, error, tags, historyValue: _history, machine: _machine, children: _children, ...rest } =
    snapshot as Record<string, unknown>;
  void rest;
  return {
    value,
    context,
    status,
    ...(output === undefined ? {} : { output }),
    ...(error === undefined ? {} : { error: String(error) }),
    ...(tags instanceof Set ? { tags: [...tags] } : {}),
  };
}

/** The message as one text frame (bounded, never throwing: see `safeJson`). */
export function messageText(message: StatelyMessage): string {
  return safeJson(message) ?? 'null';
}

/**
 * The protocol fields of a frame a client sent, or undefined when it is not
 * an inspection message (not JSON, not an object, no `@xstate.` type or no
 * session id): such frames are not relayed.
 */
export function readClientMessage(text: string): { readonly type: string; readonly sessionId: string; readonly ended: boolean } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { type, sessionId, snapshot } = parsed as Record<string, unknown>;
  if (typeof type !== 'string' || !type.startsWith('@xstate.') || typeof sessionId !== 'string') return undefined;
  return { type, sessionId, ended: type !== '@xstate.event' && snapshot !== undefined && snapshotStatus(snapshot) !== 'active' };
}
