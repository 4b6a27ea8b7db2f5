/**
 * The runtime side of the path tests: a runtime in one of two topologies,
 * the inspection log of every actor in it (root, worker threads and child
 * processors alike: the `inspect` option gets their `@xstate.event` and
 * `@xstate.snapshot`, in order per actor), and the check that an actor of the
 * runtime went along a machine path.
 *
 * - `embedded`: one process, one thread (thread 0.0 and processor 0's stations);
 * - `1x1`: one child processor with one worker thread; the paths run on
 *   thread 1.1's bus (a `RemoteBus`) and processor 1's station (a `RemoteStation`).
 */
import * as assert from 'uvu/assert';
import type { EventObject, StateValue } from 'xstate';
import { createRuntime, type BusEvent, type InspectionEvent, type Runtime, type RuntimeOptions, type Side } from '../../../index.js';
import { runtimeCore } from '../../../internal.js';
import { assertSorted } from '../../helpers.js';
import { describePath, type MachinePath } from './machine-paths.js';

export type Topology = 'embedded' | '1x1';
export const TOPOLOGIES: readonly Topology[] = ['embedded', '1x1'];

/** Where the paths run in a topology: the thread of the bus and the processor of the local station. */
export function placeOf(topology: Topology): { processor: number; thread: number } {
  return topology === 'embedded' ? { processor: 0, thread: 0 } : { processor: 1, thread: 1 };
}

/**
 * Events of type `capped` make a station refuse a batch on demand: a history
 * holds at most one (`refuseNew`), a bus lets each go once delivered (so it
 * can post another), and a station lets them go once searched (so the test
 * can make room again). The path tests use it for HANDOVER_FAILED,
 * RECEIVE_FAILED and UPSTREAM_FAILED; no other event type has a policy.
 */
export const CAPPED = 'capped';

export function startRuntime(topology: Topology, log: InspectionLog, options: RuntimeOptions = {}): Runtime {
  const runtime = createRuntime({
    ...(topology === '1x1' ? { processors: 1, threadsPerProcessor: 1 } : {}),
    deferred: 'manual',
    callDeadlineMs: 30_000,
    inspect: (event) => log.push(event),
    memory: { policies: { [CAPPED]: { maxEvents: 1, discard: 'refuseNew', removeAfterDelivery: true, removeAfterSearch: true } } },
    ...options,
  });
  // A second thread that never reads: a station holds the `capped` events it may want (interest-based removal lets an
  // event go at once when no other thread may want it), so they stay there until a search lets them go.
  if (topology === 'embedded') runtime.addThread();
  return runtime;
}

/** One event an actor took, with its state value before and after. */
export interface Taken {
  readonly type: string;
  readonly before: StateValue | undefined;
  readonly after: StateValue;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Every actor's `@xstate.event` / `@xstate.snapshot` pairs, as the runtime's `inspect` option saw them. */
export class InspectionLog {
  readonly #taken = new Map<string, Taken[]>();
  readonly #open = new Map<string, { type: string; before: StateValue | undefined }[]>();
  readonly #last = new Map<string, StateValue>();
  readonly #waiters = new Set<() => void>();

  push(event: InspectionEvent): void {
    const id = event.actorId;
    if (event.type === '@xstate.event') {
      const open = this.#open.get(id) ?? [];
      open.push({ type: event.event.type, before: this.#last.get(id) });
      this.#open.set(id, open);
      return;
    }
    if (event.type !== '@xstate.snapshot') return;
    const value = (event.snapshot as { value?: StateValue }).value;
    if (value === undefined) return;
    // Each event is followed by the snapshot it led to (one per macrostep, in order per actor).
    const open = this.#open.get(id)?.shift();
    if (open !== undefined && open.type !== 'xstate.init') {
      const taken = this.#taken.get(id) ?? [];
      taken.push({ type: open.type, before: open.before, after: value });
      this.#taken.set(id, taken);
    }
    this.#last.set(id, value);
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** What the actor has taken so far (a cursor for `follows`). */
  count(actorId: string): number {
    return this.#taken.get(actorId)?.length ?? 0;
  }

  /** The actor's last state value seen. */
  last(actorId: string): StateValue | undefined {
    return this.#last.get(actorId);
  }

  /** Resolves once `check` is true (checked as records arrive); fails after `ms`. */
  until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      const waiter = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve();
      };
      this.#waiters.add(waiter);
      waiter();
    });
  }

  /**
   * Waits until the actor, after its `from`-th step, has taken the path's
   * events in order, each from the state the path is in before it and into
   * the state the path reaches; other steps may come between (a sync's own
   * MERGED, a setup's round trip), as long as each step of the path is taken
   * from where the path stands. Resolves with the cursor after the last.
   */
  async follows(actorId: string, from: number, path: MachinePath<EventObject>, what: string): Promise<number> {
    let end = -1;
    const match = (): boolean => {
      const taken = this.#taken.get(actorId) ?? [];
      let at = from;
      let state = path.initial;
      for (const step of path.steps) {
        while (at < taken.length && !(taken[at]!.type === step.event.type && same(taken[at]!.before, state) && same(taken[at]!.after, step.value))) at++;
        if (at === taken.length) return false;
        state = step.value;
        at++;
      }
      end = at;
      return true;
    };
    try {
      await this.until(match, `${actorId} to follow ${describePath(path)} (${what})`);
    } catch (error) {
      const taken = (this.#taken.get(actorId) ?? []).slice(from).map((t) => `${JSON.stringify(t.before)} -${t.type}-> ${JSON.stringify(t.after)}`);
      assert.unreachable(`${(error as Error).message}; it took:\n  ${taken.join('\n  ')}`);
    }
    return end;
  }
}

// ─── Invariants (docs/ARCHITECTURE.md, "The model in detail") ────────────────

/** A history as the checks see it, wherever it is kept. */
export interface Store {
  readonly name: string;
  readonly side: Side;
  /** Main stations hold only their own side's events. */
  readonly main: boolean;
  history(): Promise<readonly BusEvent[]> | readonly BusEvent[];
}

/** Every history in (timestamp, id) order with no id twice; main stations hold only their own side. Returns the histories. */
export async function assertStores(stores: readonly Store[], where: string): Promise<Map<string, readonly BusEvent[]>> {
  const seen = new Map<string, readonly BusEvent[]>();
  for (const store of stores) {
    const history = await store.history();
    assertSorted(history, `${where}: ${store.name}`);
    assert.is(new Set(history.map((event) => event.id)).size, history.length, `${where}: ${store.name} holds an id twice`);
    if (store.main) {
      const foreign = history.filter((event) => event.side !== store.side);
      assert.is(foreign.length, 0, `${where}: main station ${store.name} holds ${foreign.map((event) => event.id).join(', ')} of the other side`);
    }
    seen.set(store.name, history);
  }
  return seen;
}

/** The ledger: ids of events the test posted that must not be lost; each must be in one of `stores`. */
export async function assertNothingLost(ledger: ReadonlySet<string>, stores: readonly Store[], where: string): Promise<void> {
  const everywhere = new Set<string>();
  for (const store of stores) for (const event of await store.history()) everywhere.add(event.id);
  const lost = [...ledger].filter((id) => !everywhere.has(id));
  assert.equal(lost, [], `${where}: lost ${lost.join(', ')}`);
}

// ─── Buses and stations, wherever they run ───────────────────────────────────

/** A bus as the path tests drive it: `Bus` and `RemoteBus` alike. A post happens before `post()` returns. */
export interface PathBus {
  readonly generation: number;
  readonly actorId: string;
  post(type: string, payload: number, priority?: 'immediate' | 'normal'): Promise<BusEvent>;
  toStation(): Promise<unknown>;
  fromStation(side?: Side): Promise<unknown>;
  sync(): Promise<unknown>;
  history(): Promise<BusEvent[]>;
}

/** A local station as the path tests drive it: `Station` and `RemoteStation` alike. */
export interface PathStation {
  readonly actorId: string;
  toMain(): Promise<void>;
  fromMain(side?: Side): Promise<unknown>;
  history(types?: readonly string[]): Promise<BusEvent[]>;
}

interface LooseBus {
  readonly generation: number;
  post(type: string, payload: number, options: { priority: 'immediate' | 'normal' }): BusEvent | Promise<BusEvent>;
  toStation(): Promise<unknown>;
  fromStation(options?: { side: Side }): Promise<unknown>;
  sync(): Promise<unknown>;
  history(): BusEvent[] | Promise<BusEvent[]>;
}

interface LooseStation {
  toMain(): Promise<void>;
  fromMain(options?: { side: Side }): Promise<unknown>;
  history(query?: { types: string[] }): BusEvent[] | Promise<BusEvent[]>;
}

/** The thread's current bus of `side` (a new generation after each `toStation()`). */
export function busOf(runtime: Runtime, topology: Topology, side: Side): PathBus {
  const { processor, thread } = placeOf(topology);
  const bus = runtime.thread(processor, thread).bus(side) as unknown as LooseBus;
  return {
    generation: bus.generation,
    actorId: `bus:${processor}.${thread}:${side}#${bus.generation}`,
    post: (type, payload, priority = 'immediate') => Promise.resolve(bus.post(type, payload, { priority })),
    toStation: () => bus.toStation(),
    fromStation: (from) => bus.fromStation(from === undefined ? undefined : { side: from }),
    sync: () => bus.sync(),
    history: async () => bus.history(),
  };
}

/** The processor's local station of `side`. */
export function stationOf(runtime: Runtime, topology: Topology, side: Side): PathStation {
  const { processor } = placeOf(topology);
  const station = runtime.processor(processor).station(side) as unknown as LooseStation;
  return {
    actorId: `station:local:${processor}:${side}`,
    toMain: () => station.toMain(),
    fromMain: (from) => station.fromMain(from === undefined ? undefined : { side: from }),
    history: async (types) => station.history(types === undefined ? undefined : { types: [...types] }),
  };
}

/**
 * Holds the replies the topology's test thread gets from its local station
 * (`true`), or lets them through (`false`): a call of that thread's bus stays
 * under way while a test makes a second call meet it. Embedded, nothing to
 * hold: a call made right after another in the same thread meets it under way.
 */
export async function holdStationReplies(runtime: Runtime, topology: Topology, hold: boolean): Promise<void> {
  if (topology === 'embedded') return;
  const { processor, thread } = placeOf(topology);
  const outcome = await runtimeCore(runtime).threadApi(processor, thread).call('holdStationReplies', hold);
  assert.ok(outcome.ok, `holdStationReplies(${hold}): ${JSON.stringify(outcome)}`);
}

/** The stores of a topology's test thread and processor, and the main stations. */
export function storesOf(runtime: Runtime, topology: Topology): Store[] {
  const stores: Store[] = [];
  for (const side of ['internal', 'external'] as const) {
    stores.push({ name: `bus ${side}`, side, main: false, history: () => busOf(runtime, topology, side).history() });
    stores.push({ name: `station ${side}`, side, main: false, history: () => stationOf(runtime, topology, side).history() });
    stores.push({ name: `main ${side}`, side, main: true, history: () => runtime.mainStation(side).history() });
  }
  return stores;
}

/** Starts a call whose outcome a later step checks: its rejection is handled at once (else Node reports it unhandled meanwhile). */
export function begin<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** Asserts that `promise` is refused with `code` (a `BusError`, from any thread or process). */
export async function refused(promise: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.is((error as { code?: string }).code, code, `${what}: ${String(error)}`);
    return;
  }
  assert.unreachable(`${what}: expected ${code}`);
}
