/**
 * Replay: the recorded run's events sent again to the machines, one fresh
 * actor per recorded actor, and the states they reach, to compare with the
 * states the run reached.
 *
 * From a recording, each actor's `@xstate.snapshot` messages say which event
 * it took and where that left it. Replay starts each actor where the
 * recording first shows it — its announcement's snapshot (an actor alive
 * when the recording began, restored with `machine.resolveState`), or its
 * start (`xstate.init`: a fresh actor whose input is the recorded initial
 * context, which is how the bus and station machines' inputs are kept) —
 * and sends it every later recorded event in order. Machines are pure
 * (DESIGN.md: time and effects come from the runtime), so the same machine
 * must reach the same states; a changed one shows where it departs.
 */
import { createActor, type AnyActorRef, type AnyStateMachine, type StateValue } from 'xstate';
import { bridgeMachine } from '../../machines/bridge.machine.js';
import { busMachine } from '../../machines/bus.machine.js';
import { stationMachine } from '../../machines/station.machine.js';
import type { StatelyMessage } from '../../inspector/protocol.js';
import { InvalidOptionError } from '../../errors.js';
import { assertKnownKeys, describe } from '../validate.js';
import type { Recording } from './recording-file.js';

/** One step of an actor: the event it took and the state it was left in. */
export interface Transition {
  /** The actor's id (`bridge`, `bus:…`, `station:…`, a user actor's). */
  readonly actor: string;
  /** The event's type (`xstate.init` for the actor's start). */
  readonly event: string;
  /** The state value, written as `direction.open, lock.unlocked`. */
  readonly state: string;
  /** The context after the step (JSON data). */
  readonly context?: unknown;
}

/**
 * A statechart made with XState (`createMachine`, `setup(...).createMachine`).
 * Typed by its shape only, so that busline's published types never load
 * XState's (which a consumer with `exactOptionalPropertyTypes` cannot check).
 */
export interface ReplayMachine {
  readonly id: string;
  readonly config: object;
}

/** Options of `replay()` and `recordedTransitions()`. */
export interface ReplayOptions {
  /**
   * Machines by their config id, over the built-in ones (`bridge`, `bus`,
   * `station`): a user machine to replay too, or a changed copy of a
   * built-in one to check against the recording.
   */
  readonly machines?: Readonly<Record<string, ReplayMachine>>;
  /** Only actors whose id this accepts. */
  readonly actors?: (actorId: string) => boolean;
  /** Compare contexts too (default true). */
  readonly context?: boolean;
}

/**
 * Throws `InvalidOptionError` naming `call` unless `recording` is a
 * recording (`readRecording()`, `recordingFromExport()`) and `options` are
 * `ReplayOptions`: a misspelt `machine` would otherwise replay the machines
 * that ran and pass.
 */
export function checkReplayArguments(recording: unknown, options: unknown, call: string): void {
  const records = (recording as { records?: unknown } | null)?.records;
  const end = (recording as { end?: unknown } | null)?.end;
  if (typeof recording !== 'object' || recording === null || !Array.isArray(records) || typeof end !== 'object' || end === null) {
    throw new InvalidOptionError(`${call} recording`, `expected a recording from readRecording() or recordingFromExport(), got ${describe(recording)}.`);
  }
  if (options === undefined) return;
  assertKnownKeys(options, ['machines', 'actors', 'context'], `${call} options`);
  const { machines, actors, context } = options as ReplayOptions;
  if (machines !== undefined && (typeof machines !== 'object' || machines === null || Array.isArray(machines))) {
    throw new InvalidOptionError(`${call} options.machines`, `expected machines by their config id, e.g. { bridge: changedBridge }, got ${describe(machines)}.`);
  }
  if (actors !== undefined && typeof actors !== 'function') {
    throw new InvalidOptionError(`${call} options.actors`, `expected a function of the actor's id, e.g. (id) => id === 'bridge', got ${describe(actors)}.`);
  }
  if (context !== undefined && typeof context !== 'boolean') throw new InvalidOptionError(`${call} options.context`, `expected true or false, got ${describe(context)}.`);
}

const BUILT_IN: Readonly<Record<string, AnyStateMachine>> = { bridge: bridgeMachine, bus: busMachine, station: stationMachine };

/** The state value as one line: `active`, or `direction.open, lock.unlocked` for parallel and nested states. */
export function stateText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return String(value);
  return Object.entries(value as Record<string, unknown>)
    .map(([key, child]) => {
      const inner = stateText(child);
      return typeof child === 'object' && child !== null && Object.keys(child).length > 1 ? `${key}.(${inner})` : `${key}.${inner}`;
    })
    .join(', ');
}

/** What replay needs of one recorded actor. */
interface Session {
  readonly actorId: string;
  readonly machine: AnyStateMachine;
  actor: AnyActorRef | undefined;
}

/** The machine's config id, from an `@xstate.actor` message's `definition`. */
function definitionId(message: StatelyMessage): string | undefined {
  if (message.definition === undefined) return undefined;
  try {
    const id = (JSON.parse(message.definition) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

interface RecordedSnapshot {
  readonly value?: StateValue;
  readonly context?: unknown;
  readonly status?: string;
}

type Walked =
  | { readonly kind: 'announce'; readonly session: Session; readonly snapshot: RecordedSnapshot | undefined }
  | { readonly kind: 'step'; readonly session: Session; readonly snapshot: RecordedSnapshot; readonly event: { readonly type: string } };

/** The recording's inspection messages as announcements and steps of the actors replay knows, in order. */
function* walk(recording: Recording, options: ReplayOptions): Generator<Walked> {
  const machines = { ...BUILT_IN, ...(options.machines as Readonly<Record<string, AnyStateMachine>> | undefined) };
  const sessions = new Map<string, Session | null>();
  for (const record of recording.records) {
    if (record.kind !== 'inspection') continue;
    const message = record.message;
    if (message.type === '@xstate.actor') {
      // Announced again (a later listener attached): replay goes on from where it stands, or the check would be lost.
      if (sessions.get(message.sessionId) != null) continue;
      const actorId = message.busline?.actorId ?? message.name ?? message.sessionId;
      const session = sessionFor(actorId, machines[definitionId(message) ?? ''], options);
      sessions.set(message.sessionId, session);
      if (session !== null) yield { kind: 'announce', session, snapshot: message.snapshot as RecordedSnapshot | undefined };
      continue;
    }
    if (message.type !== '@xstate.snapshot') continue;
    const event = message.event as { type?: unknown } | undefined;
    const snapshot = message.snapshot as RecordedSnapshot | undefined;
    if (typeof event?.type !== 'string' || snapshot === undefined) continue;
    // Stopping is the runtime's doing, not a step of the chart.
    if (event.type === 'xstate.stop' || snapshot.status === 'stopped') continue;
    let session = sessions.get(message.sessionId);
    if (session === undefined) {
      // Its announcement came after its first steps (a realm told to announce its actors while they ran) or not at
      // all: a busline actor's machine is known by its id, and it starts here, where the run was.
      const actorId = message.busline?.actorId ?? message.sessionId;
      session = sessionFor(actorId, machines[builtInOf(actorId) ?? ''], options);
      sessions.set(message.sessionId, session);
      if (session !== null) yield { kind: 'announce', session, snapshot };
      continue;
    }
    if (session === null) continue;
    yield { kind: 'step', session, snapshot, event: event as { type: string } };
  }
}

/** A session to replay, or null when its machine is unknown or `options.actors` leaves it out. */
function sessionFor(actorId: string, machine: AnyStateMachine | undefined, options: ReplayOptions): Session | null {
  if (machine === undefined || (options.actors !== undefined && !options.actors(actorId))) return null;
  return { actorId, machine, actor: undefined };
}

/** The built-in machine of a busline actor, by its id (`bus:…`, `station:…`, `bridge`). */
function builtInOf(actorId: string): string | undefined {
  if (actorId === 'bridge') return 'bridge';
  if (actorId.startsWith('bus:')) return 'bus';
  if (actorId.startsWith('station:')) return 'station';
  return undefined;
}

function transition(actorId: string, event: string, snapshot: { value?: unknown; context?: unknown }, withContext: boolean): Transition {
  return { actor: actorId, event, state: stateText(snapshot.value), ...(withContext ? { context: snapshot.context } : {}) };
}

/** What the run did: every recorded step of the actors whose machines replay knows, in the order the root took them. */
export function recordedTransitions(recording: Recording, options: ReplayOptions = {}): Transition[] {
  checkReplayArguments(recording, options, 'recordedTransitions');
  const withContext = options.context ?? true;
  const steps: Transition[] = [];
  for (const walked of walk(recording, options)) {
    if (walked.kind === 'step') steps.push(transition(walked.session.actorId, walked.event.type, walked.snapshot, withContext));
  }
  return steps;
}

/**
 * Re-drives the machines with the recorded events and yields the state each
 * step reaches, in the recording's order: what `recordedTransitions()`
 * returns when the machines are the ones that ran.
 *
 * @example
 * const recording = await readRecording('run.blrec')
 * assertTransitions([...replay(recording)], recordedTransitions(recording))
 */
export function replay(recording: Recording, options: ReplayOptions = {}): Generator<Transition> {
  // Checked at the call, not at the first step a generator would take.
  checkReplayArguments(recording, options, 'replay');
  return replaySteps(recording, options);
}

function* replaySteps(recording: Recording, options: ReplayOptions): Generator<Transition> {
  const withContext = options.context ?? true;
  const live = new Set<Session>();
  try {
    for (const walked of walk(recording, options)) {
      const { session, snapshot } = walked;
      if (walked.kind === 'announce') {
        // Announced while alive (the recording began after it started): resume where it was.
        if (snapshot?.value !== undefined && snapshot.status === 'active') session.actor = resume(session.machine, snapshot);
        if (session.actor !== undefined) live.add(session);
        continue;
      }
      const { event } = walked;
      if (event.type === 'xstate.init' || session.actor === undefined) {
        // A fresh actor (its input is in the recorded initial context), or, when the recording missed the
        // actor's announcement, one resumed where the run was.
        session.actor?.stop();
        session.actor = event.type === 'xstate.init' ? createActor(session.machine, { input: snapshot!.context }).start() : resume(session.machine, snapshot!);
        live.add(session);
      } else {
        session.actor.send(event);
      }
      yield transition(session.actorId, event.type, session.actor.getSnapshot() as RecordedSnapshot, withContext);
    }
  } finally {
    for (const session of live) session.actor?.stop();
  }
}

function resume(machine: AnyStateMachine, snapshot: RecordedSnapshot): AnyActorRef {
  return createActor(machine, { snapshot: machine.resolveState({ value: snapshot.value!, context: snapshot.context }) }).start();
}
