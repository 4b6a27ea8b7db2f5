/**
 * Users' own XState machines hosted in a thread: `runtime.spawn(module, { processor, thread })`.
 * A machine module exports the machine (default export, or `machine`) and
 * may export `subscribes`, the bus event types it wants. Bus events of those
 * types reach the actor as XState events `{ type, payload, event }` through
 * its inbox (`actor-inbox.ts`): its subscription is an async subscriber, so a
 * slow actor holds the thread's credits and is given no more than they allow,
 * and the thread gets its turn between its events. What the actor emits
 * (XState `emit`) is posted on the thread's bus. A module may also export
 * `schemas` (payload schemas by event type): they are registered in its
 * thread, the way a worker's code registers schemas of its own.
 */
import { pathToFileURL } from 'node:url';
import { createActor, type AnyActorRef, type AnyStateMachine } from 'xstate';
import { InvalidOptionError, RuntimeStoppedError, UnsupportedError } from '../../errors.js';
import type { BusEvent, Payload, Side } from '../../types.js';
import { ActorInbox } from './actor-inbox.js';
import { loadTypeScriptIn } from '../hosting/entries.js';
import type { Bus } from '../bus/bus.js';
import type { ErrorHandler, Subscription } from '../bus/subscriptions.js';
import { REPLY_TYPE, replyOptions } from '../bus/request-reply.js';
import { assertSide, assertTypeList, describe, knownOptions } from '../validate.js';
import type { InspectionTap } from '../inspection/tap.js';
import { checkSchemaMap, type PayloadSchemaMap, type PayloadSchemas } from '../payload/payload-schemas.js';
import { Service } from '../services/service.js';

/** Throws `InvalidOptionError` unless `event` is an XState event for a user actor: an object with a non-empty string `type`. */
export function checkActorEvent(event: unknown): asserts event is { type: string; [key: string]: unknown } {
  const type = (event as { type?: unknown } | null)?.type;
  if (typeof event !== 'object' || event === null || Array.isArray(event) || typeof type !== 'string' || type.length === 0) {
    throw new InvalidOptionError('send event', `expected an event object with a non-empty string type, got ${describe(event)}.`);
  }
}

/**
 * Throws `InvalidOptionError` unless `value` can be copied to another thread
 * (the structured clone: no functions, symbols or class instances with native
 * state); checked before anything crosses, so the error says which option.
 */
export function assertClonable(value: unknown, option: string): void {
  try {
    structuredClone(value);
  } catch (error) {
    throw new InvalidOptionError(option, `cannot be copied to another thread: ${(error as Error).message}`, { cause: error });
  }
}

/** Options of `runtime.spawn()`. */
export interface SpawnOptions {
  /** The processor to run in (default 0, the root). */
  readonly processor?: number;
  /** The thread to run in (default 0, the processor's own). */
  readonly thread?: number;
  /** Which bus the actor listens to and posts on (default `external`). */
  readonly side?: Side;
  /** The machine's input. Must be structured-clonable to reach another thread. */
  readonly input?: unknown;
  /** The actor's id (default `<module name>-<n>`). */
  readonly id?: string;
  /** Bus event types delivered to the actor (subtype matching); default the module's `subscribes`. */
  readonly types?: readonly string[];
}

/** The internal event posted when a user actor fails. */
export const ACTOR_FAILED = 'busline.actor.failed';

export const SPAWN_OPTIONS = ['processor', 'thread', 'side', 'input', 'id', 'types'] as const;

/** A user actor, where it runs and its state. */
export interface UserActorInfo {
  readonly id: string;
  readonly module: string;
  readonly processor: number;
  readonly thread: number;
  readonly side: Side;
  readonly state: unknown;
  readonly status: string;
}

/** The module specifier as a URL string: file paths become file URLs. */
export function moduleHref(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module.length === 0) {
    throw new InvalidOptionError('spawn module', `expected a module URL or path, got ${describe(module)}.`);
  }
  return /^[a-z]+:/i.test(module) ? module : pathToFileURL(module).href;
}

/** Checks `runtime.spawn()` options before anything starts; returns them as read (once each), for the spawn to use. */
export function checkSpawnOptions<O extends Partial<SpawnOptions>>(given: O | undefined): O {
  const options = (knownOptions(given, SPAWN_OPTIONS, 'spawn options', ['types']) ?? {}) as O;
  for (const key of ['processor', 'thread'] as const) {
    const index = options?.[key];
    if (index !== undefined && (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0)) {
      throw new InvalidOptionError(`spawn options.${key}`, `expected an integer from 0, got ${describe(index)}.`);
    }
  }
  if (options?.side !== undefined) assertSide(options.side, 'spawn options.side');
  if (options?.types !== undefined) assertTypeList(options.types, 'spawn options.types');
  if (options?.id !== undefined && (typeof options.id !== 'string' || options.id.length === 0)) {
    throw new InvalidOptionError('spawn options.id', `expected a non-empty string, got ${describe(options.id)}.`);
  }
  return options;
}

interface Hosted {
  readonly info: Omit<UserActorInfo, 'state' | 'status'>;
  readonly actor: AnyActorRef;
  readonly inbox: ActorInbox;
  readonly subscription: Subscription | undefined;
}

/** A running service spawned from a module (`export const service = defineService(...)`, or a `Service` subclass). */
interface HostedService {
  readonly info: Omit<UserActorInfo, 'state' | 'status'>;
  readonly service: Service;
}

type ServiceClass = new (bus: Bus) => Service;

function isServiceClass(value: unknown): value is ServiceClass {
  return typeof value === 'function' && value.prototype instanceof Service;
}

/** A service's status as an actor's: `active` while it lives, `error` once failed, `stopped`. */
function serviceActorStatus(service: Service): string {
  return service.status === 'failed' ? 'error' : service.status === 'stopped' ? 'stopped' : 'active';
}

function isMachine(value: unknown): value is AnyStateMachine {
  return typeof value === 'object' && value !== null && typeof (value as AnyStateMachine).transition === 'function' &&
    typeof (value as AnyStateMachine).getInitialSnapshot === 'function';
}

/**
 * What user actors need from the thread that hosts them (`thread/thread.ts`
 * implements it; this module does not import it).
 */
export interface ActorThread {
  readonly processor: number;
  readonly index: number;
  readonly host: {
    readonly subscriberErrorHandler: ErrorHandler;
    /** @internal Inspection in the thread's realm: a spawned actor is created with its hook. */
    readonly inspection?: InspectionTap;
    /** The payload schemas of the thread's JS thread: a module's `schemas` export is registered there. */
    readonly schemas?: PayloadSchemas;
  };
  /** The thread's current bus of `side`: what an actor emits is posted there. */
  bus(side: Side): Pick<Bus, 'post' | 'subscribe'>;
}

/** The user actors of one thread. */
export class UserActors {
  readonly #thread: ActorThread;
  readonly #actors = new Map<string, Hosted>();
  readonly #services = new Map<string, HostedService>();
  #count = 0;
  /** `stopAll()` ran (the thread halts): a spawn still loading its module starts nothing. */
  #closed = false;

  constructor(thread: ActorThread) {
    this.#thread = thread;
  }

  /** Loads the module, starts its machine, and wires it to the bus. */
  async spawn(module: string, given: Omit<SpawnOptions, 'processor' | 'thread'> = {}): Promise<UserActorInfo> {
    const options = checkSpawnOptions(given);
    if (typeof module !== 'string') throw new InvalidOptionError('spawn module', `expected a module URL, got ${describe(module)}.`);
    let loaded: { default?: unknown; machine?: unknown; subscribes?: unknown; schemas?: unknown; service?: unknown };
    // A .ts module needs tsx (an optional peer): without it this is refused naming tsx, not with Node's ERR_UNKNOWN_FILE_EXTENSION.
    await loadTypeScriptIn(module);
    try {
      loaded = (await import(module)) as typeof loaded;
    } catch (error) {
      // The module or one of its own imports: the loader's message names which, and why.
      throw new InvalidOptionError('spawn module', `${module} could not be loaded: ${(error as Error)?.message ?? String(error)}`, {
        cause: error,
      });
    }
    // The thread stopped while the module loaded: an actor started now would outlive it (its timers keep the process up).
    if (this.#closed) throw new RuntimeStoppedError('spawn');
    const serviceClass = loaded.service ?? loaded.default;
    if (isServiceClass(serviceClass)) return this.#spawnService(module, serviceClass, options);
    const machine = isMachine(loaded.machine) ? loaded.machine : loaded.default;
    if (!isMachine(machine)) {
      throw new InvalidOptionError(
        'spawn module',
        `${module} must export an XState machine (default export or "machine") or a Service class (default export or "service").`,
      );
    }
    const types = options.types ?? (loaded.subscribes as readonly string[] | undefined);
    if (types !== undefined) assertTypeList(types, `${module} subscribes`);
    if (loaded.schemas !== undefined) checkSchemaMap(loaded.schemas, `${module} schemas`);
    const side = options.side ?? 'external';
    const id = options.id ?? `${module.split('/').pop()?.replace(/\.(machine\.)?[mc]?[jt]s$/, '') ?? 'actor'}-${this.#count++}`;
    if (this.#actors.has(id)) throw new InvalidOptionError('spawn options.id', `an actor "${id}" already runs in this thread.`);
    const inspection = this.#thread.host.inspection;
    const actor = createActor(machine, {
      id,
      input: options.input,
      ...(inspection === undefined ? {} : { inspect: inspection.hook(this.#thread.processor, this.#thread.index) }),
    });
    const inbox = new ActorInbox((event) => actor.send({ type: event.type, payload: event.payload, event }));
    // What the actor emits goes on the bus; a bad emission is refused there and reported, never thrown into the actor.
    actor.on('*', (emitted: { type: string; payload?: unknown; local?: unknown }) => {
      const { type, ...rest } = emitted;
      const payload = ('payload' in emitted ? emitted.payload : rest) as Payload;
      try {
        // A reply to a local request (`replyEvent()` says so) stays in the thread, as the request did.
        this.#thread.bus(side).post(type, payload, replyOptions(type === REPLY_TYPE && emitted.local === true));
      } catch (error) {
        this.#thread.host.subscriberErrorHandler(error, { id: `${id}:emit`, type } as BusEvent);
      }
    });
    // An actor that fails (an action throws) stops with an error. Listening here keeps XState from
    // rethrowing it as an uncaught exception, which would take the whole thread down; the failure is
    // posted as an internal event instead.
    actor.subscribe({
      error: (error: unknown) => {
        // A stopped actor takes no more events: what waits for it is dropped, its credits come back.
        inbox.close();
        console.error(`[busline] actor "${id}" (${module}) failed:`, error);
        try {
          this.#thread.bus('internal').post(ACTOR_FAILED, {
            id,
            module,
            message: error instanceof Error ? error.message : String(error),
          });
        } catch {
          // The thread is stopping: the log line above is all there is.
        }
      },
    });
    // Checked above, registered only once nothing else can refuse the spawn. They stay when the actor stops: they are its thread's.
    if (loaded.schemas !== undefined) {
      for (const [type, schema] of Object.entries(loaded.schemas as PayloadSchemaMap)) this.#thread.host.schemas?.set(type, schema);
    }
    actor.start();
    const subscription =
      types === undefined
        ? undefined
        : // An async function: the subscription holds credits from its first event on.
          this.#thread.bus(side).subscribe(types, async (event: BusEvent) => inbox.take(event));
    const info = { id, module, processor: this.#thread.processor, thread: this.#thread.index, side };
    this.#actors.set(id, { info, actor, inbox, subscription });
    return this.#describe(this.#actors.get(id)!);
  }

  /**
   * Starts a service on this thread's bus of `side` and resolves once it
   * runs; a start that fails rejects (SERVICE_FAILED) and leaves nothing.
   * `types` and `input` are for machines: a service subscribes itself.
   */
  async #spawnService(module: string, serviceClass: ServiceClass, options: Omit<SpawnOptions, 'processor' | 'thread'>): Promise<UserActorInfo> {
    if (options.types !== undefined) throw new InvalidOptionError('spawn options.types', `${module} exports a service, which subscribes itself.`);
    const side = options.side ?? 'external';
    const service = new serviceClass(this.#thread.bus(side) as Bus);
    const id = options.id ?? `${service.name}-${this.#count++}`;
    if (this.#actors.has(id) || this.#services.has(id)) throw new InvalidOptionError('spawn options.id', `an actor "${id}" already runs in this thread.`);
    const info = { id, module, processor: this.#thread.processor, thread: this.#thread.index, side };
    const hosted = { info, service };
    this.#services.set(id, hosted);
    try {
      await service.start();
    } catch (error) {
      this.#services.delete(id);
      throw error;
    }
    return this.#describeService(hosted);
  }

  #describeService(hosted: HostedService): UserActorInfo {
    return { ...hosted.info, state: hosted.service.status, status: serviceActorStatus(hosted.service) };
  }

  #describe(hosted: Hosted): UserActorInfo {
    const snapshot = hosted.actor.getSnapshot() as { value?: unknown; status: string };
    return { ...hosted.info, state: snapshot.value ?? null, status: snapshot.status };
  }

  /** Every user actor of this thread with its state. */
  list(): UserActorInfo[] {
    return [
      ...[...this.#actors.values()].map((hosted) => this.#describe(hosted)),
      ...[...this.#services.values()].map((hosted) => this.#describeService(hosted)),
    ];
  }

  /** Sends an XState event to one actor. */
  send(id: string, event: { type: string; [key: string]: unknown }): UserActorInfo {
    checkActorEvent(event);
    if (this.#services.has(id)) throw new UnsupportedError(`"${id}" is a service: it takes events from its bus, not sent ones.`);
    const hosted = this.#get(id);
    hosted.actor.send(event);
    return this.#describe(hosted);
  }

  /** Stops one actor and its subscription, or one service (resolving once it has stopped). */
  stop(id: string): void | Promise<void> {
    const service = this.#services.get(id);
    if (service !== undefined) {
      this.#services.delete(id);
      return service.service.stop();
    }
    const hosted = this.#get(id);
    hosted.subscription?.unsubscribe();
    hosted.inbox.close();
    hosted.actor.stop();
    this.#actors.delete(id);
  }

  /**
   * Stops every actor, and refuses spawns that still load their module. Services are stopped before
   * (see `stopServices`); any left are stopped here without waiting.
   */
  stopAll(): void {
    this.#closed = true;
    for (const id of [...this.#actors.keys(), ...this.#services.keys()]) void Promise.resolve(this.stop(id)).catch(() => undefined);
  }

  #get(id: string): Hosted {
    const hosted = this.#actors.get(id);
    if (hosted === undefined) throw new UnsupportedError(`No actor "${id}" runs in thread ${this.#thread.processor}.${this.#thread.index}.`);
    return hosted;
  }
}
