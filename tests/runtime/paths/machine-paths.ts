/**
 * Paths through a statechart that together take every transition of it,
 * generated with `@xstate/graph`, for the runtime path tests.
 *
 * A transition is one entry of the chart: a state node, an event type and the
 * branch of that entry (`bridge.direction|CLOSE|0` is CLOSE with
 * `clearOtherSide`, `|1` without), plus eventless (`always`) branches. They
 * are read from the machine itself, so a transition added to a chart is a
 * transition the tests must cover. Which transitions a path takes is what
 * XState says it took (`@xstate.microstep` inspection of a pure actor), not
 * what the test expects.
 */
import { getShortestPaths } from '@xstate/graph';
import { createActor, type AnyStateMachine, type EventObject, type StateValue } from 'xstate';

/** One step of a path: the event, the state value the pure machine reaches, and the transitions it took. */
export interface PathStep<E extends EventObject> {
  readonly event: E;
  readonly value: StateValue;
  readonly transitions: readonly string[];
}

/** A path from the machine's initial state; `covers` names the transitions it was kept for. */
export interface MachinePath<E extends EventObject> {
  readonly initial: StateValue;
  /** Transitions taken when the actor starts (eventless branches of the initial state). */
  readonly start: readonly string[];
  readonly steps: readonly PathStep<E>[];
  readonly covers: readonly string[];
}

interface TransitionLike {
  readonly source: { readonly id: string; readonly transitions: Map<string, readonly unknown[]>; readonly always?: readonly unknown[] };
  readonly eventType: string;
}

interface StateNodeLike {
  readonly id: string;
  readonly transitions: Map<string, readonly unknown[]>;
  readonly always?: readonly unknown[];
  readonly states: Record<string, StateNodeLike>;
}

/** A transition's name: `<state node id>|<event type>|<branch>` (an eventless one has no event type). */
function transitionId(transition: TransitionLike): string {
  const eventless = transition.source.always?.indexOf(transition) ?? -1;
  if (eventless >= 0) return `${transition.source.id}||${eventless}`;
  return `${transition.source.id}|${transition.eventType}|${transition.source.transitions.get(transition.eventType)!.indexOf(transition)}`;
}

/** Every transition the chart defines, on every state node. */
export function machineTransitions(machine: AnyStateMachine): string[] {
  const all: string[] = [];
  const walk = (node: StateNodeLike) => {
    for (const [type, branches] of node.transitions) branches.forEach((_, i) => all.push(`${node.id}|${type}|${i}`));
    (node.always ?? []).forEach((_, i) => all.push(`${node.id}||${i}`));
    for (const child of Object.values(node.states)) walk(child);
  };
  walk(machine.root as unknown as StateNodeLike);
  return all.sort();
}

/** Every leaf state's path (`active`, `direction.open`), for checking which states the paths reach. */
export function machineLeafStates(machine: AnyStateMachine): string[] {
  const leaves: string[] = [];
  const walk = (node: StateNodeLike, path: string[]) => {
    const children = Object.entries(node.states);
    if (children.length === 0 && path.length > 0) leaves.push(path.join('.'));
    for (const [key, child] of children) walk(child, [...path, key]);
  };
  walk(machine.root as unknown as StateNodeLike, []);
  return leaves.sort();
}

/** The leaf states a state value is in (`{ upstream: 'none' }` → `upstream.none`). */
export function leavesOf(value: StateValue): string[] {
  if (typeof value === 'string') return [value];
  return Object.entries(value).flatMap(([key, child]) => (child === undefined ? [key] : leavesOf(child).map((leaf) => `${key}.${leaf}`)));
}

/** Replays `events` on a fresh pure actor; each step with the value reached and the transitions taken. */
export function replay<E extends EventObject>(
  machine: AnyStateMachine,
  events: readonly E[],
  input?: unknown,
): { initial: StateValue; start: string[]; steps: PathStep<E>[] } {
  let taken: string[] = [];
  const actor = createActor(machine, {
    ...(input === undefined ? {} : { input }),
    inspect: (event) => {
      if (event.type === '@xstate.microstep') {
        for (const transition of (event as unknown as { _transitions: TransitionLike[] })._transitions) taken.push(transitionId(transition));
      }
    },
  });
  actor.start();
  const start = taken;
  const initial = actor.getSnapshot().value as StateValue;
  const steps: PathStep<E>[] = [];
  for (const event of events) {
    taken = [];
    actor.send(event);
    steps.push({ event, value: actor.getSnapshot().value as StateValue, transitions: taken });
  }
  actor.stop();
  return { initial, start, steps };
}

export interface CoverOptions<E extends EventObject> {
  /** Every event the traversal may send (one of each kind that matters: `CLOSE` with and without `clearOtherSide`). */
  readonly events: readonly E[];
  readonly input?: unknown;
  /** What makes two snapshots different states for the traversal (default: the state value). */
  readonly serializeState?: (snapshot: { value: StateValue; context: unknown }) => string;
  /** Transitions left out, each with why the runtime cannot take it (they must exist in the chart). */
  readonly skip?: Readonly<Record<string, string>>;
}

/**
 * Paths that, together, take every transition the machine can take from
 * `input` with `events`: the shortest path to each state (`getShortestPaths`)
 * followed by one more event, kept when it takes a transition no shorter
 * path took. `reachable` is every transition some such path takes.
 */
export function coveringPaths<E extends EventObject>(
  machine: AnyStateMachine,
  options: CoverOptions<E>,
): { paths: MachinePath<E>[]; reachable: Set<string> } {
  const skip = new Set(Object.keys(options.skip ?? {}));
  const statePaths = getShortestPaths(machine, {
    events: options.events as never,
    ...(options.input === undefined ? {} : { input: options.input }),
    serializeState: (options.serializeState ?? ((snapshot: { value: StateValue }) => JSON.stringify(snapshot.value))) as never,
  });
  const prefixes = statePaths
    .map((path) => path.steps.map((step) => step.event as E).filter((event) => (event.type as string) !== 'xstate.init'))
    .sort((a, b) => a.length - b.length);
  const candidates: E[][] = [[]];
  for (const prefix of prefixes) for (const event of options.events) candidates.push([...prefix, event]);
  const covered = new Set<string>();
  const reachable = new Set<string>();
  const paths: MachinePath<E>[] = [];
  for (const events of candidates) {
    const { initial, start, steps } = replay(machine, events, options.input);
    const taken = [...start, ...steps.flatMap((step) => step.transitions)];
    for (const id of taken) reachable.add(id);
    const fresh = [...new Set(taken)].filter((id) => !covered.has(id) && !skip.has(id));
    if (fresh.length === 0) continue;
    for (const id of fresh) covered.add(id);
    paths.push({ initial, start, steps, covers: fresh });
  }
  return { paths, reachable };
}

/** A path as one line, for failure messages: `OPEN → CLOSE{clearOtherSide}`. */
export function describePath(path: MachinePath<EventObject>): string {
  if (path.steps.length === 0) return '(start)';
  return path.steps
    .map(({ event }) => {
      const { type, ...rest } = event;
      return Object.keys(rest).length === 0 ? type : `${type}${JSON.stringify(rest)}`;
    })
    .join(' → ');
}
