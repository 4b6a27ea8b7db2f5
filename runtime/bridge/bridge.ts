/**
 * The event bridge between the internal and external sides, as users call it.
 * The rules live in `machines/bridge.machine.ts`; this wraps the actor, turns
 * refusals into `BridgeLockedError`, and carries out the clearings it asks for.
 */
import type { Actor } from 'xstate';
import { BridgeClosedError, BridgeLockedError, InvalidOptionError } from '../../errors.js';
import { canReach, type bridgeMachine } from '../../machines/bridge.machine.js';
import type { BridgeMachineEvent, ClearOption, ClearRequest } from '../../machines/events.js';
import type { BridgeDirection, Side } from '../../types.js';
import { assertKnownKeys, assertSide, assertTypeList, knownOptions } from '../validate.js';

/** Options of the bridge commands that close at least one direction. */
export type CloseOptions = ClearOption;

const CLOSE_OPTIONS = ['clearOtherSide'] as const;

/** What the bridge needs from the runtime: carrying out a clearing everywhere. */
export interface BridgeHost {
  clear(requests: readonly ClearRequest[]): Promise<void>;
  /** Tells every thread and processor the bridge's new state; resolves when all know it. */
  broadcastBridgeState(direction: BridgeDirection, locked: boolean): Promise<void>;
  assertRunning(call: string): void;
}

/**
 * The bridge: direction (`closed`, `open`, `oneWayExternal`, `oneWayInternal`)
 * and lock (`unlocked`, `locked`), two orthogonal regions.
 *
 * @example
 * await runtime.bridge.open()
 * await runtime.bridge.close({ clearOtherSide: true })  // removes crossed events everywhere
 * await runtime.bridge.lock()                            // stays closed until unlock()
 */
export class Bridge {
  readonly #actor: Actor<typeof bridgeMachine>;
  readonly #host: BridgeHost;
  readonly #takeClearings: () => ClearRequest[];

  /** @internal Created by the runtime; use `runtime.bridge`. */
  constructor(actor: Actor<typeof bridgeMachine>, host: BridgeHost, takeClearings: () => ClearRequest[]) {
    this.#actor = actor;
    this.#host = host;
    this.#takeClearings = takeClearings;
  }

  /** The direction region's state. */
  get direction(): BridgeDirection {
    return (this.#actor.getSnapshot().value as { direction: BridgeDirection }).direction;
  }

  /** True while locked. */
  get locked(): boolean {
    return (this.#actor.getSnapshot().value as { lock: string }).lock === 'locked';
  }

  /** Both sides may read each other's history. */
  async open(): Promise<void> {
    return this.#command('open', { type: 'OPEN' });
  }

  /** Neither side may read the other's; with `clearOtherSide`, crossed events are removed everywhere. */
  async close(options?: CloseOptions): Promise<void> {
    return this.#command('close', { type: 'CLOSE', ...closeOptions('close', options) });
  }

  /** Only the internal side may read the external side; with `clearOtherSide`, internal events leave the external side. */
  async onlyToExternal(options?: CloseOptions): Promise<void> {
    return this.#command('onlyToExternal', { type: 'ONLY_TO_EXTERNAL', ...closeOptions('onlyToExternal', options) });
  }

  /** Only the external side may read the internal side; with `clearOtherSide`, external events leave the internal side. */
  async onlyToInternal(options?: CloseOptions): Promise<void> {
    return this.#command('onlyToInternal', { type: 'ONLY_TO_INTERNAL', ...closeOptions('onlyToInternal', options) });
  }

  /** Forces `closed` and refuses direction commands until `unlock()`; remembers the direction it left. */
  async lock(options?: CloseOptions): Promise<void> {
    return this.#command('lock', { type: 'LOCK', ...closeOptions('lock', options) });
  }

  /** Returns to the direction the bridge had when it was locked. */
  async unlock(): Promise<void> {
    return this.#command('unlock', { type: 'UNLOCK' });
  }

  async #command(name: string, event: BridgeMachineEvent): Promise<void> {
    this.#host.assertRunning(`bridge.${name}`);
    const before = this.#actor.getSnapshot();
    this.#actor.send(event);
    const clearings = this.#takeClearings();
    const after = this.#actor.getSnapshot();
    if (after.context.refusals !== before.context.refusals) throw new BridgeLockedError(name);
    if (JSON.stringify(after.value) !== JSON.stringify(before.value)) await this.#host.broadcastBridgeState(this.direction, this.locked);
    if (clearings.length > 0) await this.#host.clear(clearings);
  }
}

function closeOptions(command: string, options: unknown): ClearOption {
  assertKnownKeys(options, CLOSE_OPTIONS, `bridge.${command} options`);
  const clear = (options as ClearOption | undefined)?.clearOtherSide;
  if (clear !== undefined && typeof clear !== 'boolean') {
    throw new InvalidOptionError(`bridge.${command} options.clearOtherSide`, 'expected true or false.');
  }
  return clear === undefined ? {} : { clearOtherSide: clear };
}

/** What a read's bridge check needs from where the reader runs. */
export interface BridgeView {
  bridgeDirection(): BridgeDirection;
  /** True while the bridge is locked (a refused cross-side read then says to unlock first); unknown: false. */
  bridgeLocked?(): boolean;
}

/** Options of a read from a station (`fromStation`, `fromMain`, their round trips). */
export interface ReadOptions {
  readonly types?: readonly string[];
  readonly side?: Side;
}

const READ_OPTIONS = ['types', 'side'] as const;

/**
 * A read's options as one read of each gave them (and of each type), its keys
 * checked: what its checks and the read then use, however its getters answer later.
 */
export function readOptionsOnce<O extends ReadOptions>(options: O | undefined, call: string): O | undefined {
  return knownOptions(options, READ_OPTIONS, `${call} options`, ['types']);
}

/**
 * Checks a read's options and that the bridge lets side `own` read the side
 * they name; returns that side. Throws `InvalidOptionError` or `BridgeClosedError`.
 * One check for a bus reading its station and a local station reading its main station.
 */
export function readableSide(options: ReadOptions | undefined, call: string, own: Side, view: BridgeView): Side {
  assertKnownKeys(options, READ_OPTIONS, `${call} options`);
  if (options?.types !== undefined) assertTypeList(options.types, `${call} options.types`);
  const side = options?.side ?? own;
  assertSide(side, `${call} options.side`);
  if (side !== own) {
    const direction = view.bridgeDirection();
    if (!canReach(direction, own, side)) throw new BridgeClosedError(own, side, direction, view.bridgeLocked?.() === true);
  }
  return side;
}
