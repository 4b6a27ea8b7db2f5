/**
 * Values between JavaScript and the wire: the checks the writers apply to
 * sequence numbers, sides and endpoints, the wire enums read back as protocol
 * values, and how a value is named in an error message. It imports no other
 * module of the codec.
 */
import { InvalidEventError } from '../../errors.js';
import type { BridgeDirection, Endpoint, Priority, Side } from '../../types.js';
import * as wire from '../generated/busline_generated.js';

/** An integer from 0 to 2^32 - 1. */
export function isUint32(value: unknown): value is number {
  return typeof value === 'number' && value >>> 0 === value;
}

/** `seq` if it is a sequence number the wire carries (a safe integer, not negative); throws `InvalidEventError` otherwise. */
export function checkSeq(seq: unknown, what: string): number {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new InvalidEventError(`Cannot encode ${what}: seq must be an integer from 0 to 2^53 - 1, got ${describe(seq)}.`);
  }
  return seq;
}

/** `checkSeq`, as the `uint64` the builders take. */
export function seqToWire(seq: unknown, what: string): bigint {
  return BigInt(checkSeq(seq, what));
}

/** A side as the wire enum; throws `InvalidEventError` naming `what` for anything else. */
export function sideToWire(side: unknown, what: string): wire.Side {
  if (side === 'internal') return wire.Side.Internal;
  if (side === 'external') return wire.Side.External;
  throw new InvalidEventError(`Cannot encode ${what}: expected 'internal' or 'external', got ${describe(side)}.`);
}

/** Checks an endpoint; returns it with its side as the wire enum. */
export function checkEndpoint(endpoint: Endpoint, what: string): { processor: number; thread: number; generation: number; side: wire.Side } {
  if (typeof endpoint !== 'object' || endpoint === null) {
    throw new InvalidEventError(`Cannot encode ${what}: expected an Endpoint, got ${describe(endpoint)}.`);
  }
  const { processor, thread, generation } = endpoint;
  if (!isUint32(processor) || !isUint32(thread) || !isUint32(generation)) {
    throw new InvalidEventError(
      `Cannot encode ${what}: processor, thread and generation must be integers from 0 to 4294967295.`,
    );
  }
  return { processor, thread, generation, side: sideToWire(endpoint.side, `${what}.side`) };
}

// Wire enum value -> protocol value, built from the generated enums.
export const SIDE_FROM_WIRE: Side[] = [];
SIDE_FROM_WIRE[wire.Side.Internal] = 'internal';
SIDE_FROM_WIRE[wire.Side.External] = 'external';
export const PRIORITY_FROM_WIRE: Priority[] = [];
PRIORITY_FROM_WIRE[wire.Priority.Immediate] = 'immediate';
PRIORITY_FROM_WIRE[wire.Priority.Normal] = 'normal';
PRIORITY_FROM_WIRE[wire.Priority.Deferred] = 'deferred';
export const DIRECTION_FROM_WIRE: BridgeDirection[] = [];
DIRECTION_FROM_WIRE[wire.BridgeDirection.Closed] = 'closed';
DIRECTION_FROM_WIRE[wire.BridgeDirection.Open] = 'open';
DIRECTION_FROM_WIRE[wire.BridgeDirection.OneWayExternal] = 'oneWayExternal';
DIRECTION_FROM_WIRE[wire.BridgeDirection.OneWayInternal] = 'oneWayInternal';

/** How `value` is named in an error message: short, and never its whole text. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    default:
      return typeof value;
  }
}
