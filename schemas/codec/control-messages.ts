/**
 * Control messages (`syncRequest`, `clearSide`, `bridgeState`, `ack`): written
 * through the generated builders, which are fast enough for messages that
 * come once per batch or per sync step, and read back by the verifying reader;
 * and the `Endpoint` table, which batches carry too.
 */
import type * as flatbuffers from 'flatbuffers';
import { FrameError, InvalidEventError } from '../../errors.js';
import type { Ack, BridgeState, ClearSide, SyncRequest, WireMessage } from '../../runtime/wire/protocol.js';
import type { BridgeDirection, Endpoint, Side } from '../../types.js';
import * as wire from '../generated/busline_generated.js';
import type { BodyReader } from './body-reader.js';
import {
  ACK_ALREADY_DELIVERED,
  ACK_CREDITS,
  ACK_ERROR_CODE,
  ACK_ERROR_DETAILS,
  ACK_ERROR_MESSAGE,
  ACK_OK,
  ACK_PARKED,
  ACK_SEQ,
  ACK_THROUGH,
  BRIDGE_DIRECTION,
  BRIDGE_LOCKED,
  BRIDGE_SEQ,
  CLEAR_REMOVE,
  CLEAR_SCOPE,
  CLEAR_SEQ,
  ENDPOINT_GENERATION,
  ENDPOINT_PROCESSOR,
  ENDPOINT_SIDE,
  ENDPOINT_THREAD,
  SYNC_DELIVERED_THROUGH,
  SYNC_FROM,
  SYNC_INTEREST,
  SYNC_LIMIT,
  SYNC_SEQ,
  SYNC_SIDE,
  SYNC_SINCE,
  SYNC_TYPES,
} from './layout.js';
import type { FrameLimits } from './limits.js';
import { SHORT_ASCII_CHARS, isWellFormed, utf8Length } from './utf8.js';
import {
  DIRECTION_FROM_WIRE,
  SIDE_FROM_WIRE,
  checkEndpoint,
  describe,
  isUint32,
  seqToWire,
  sideToWire,
} from './wire-values.js';
import type { Mutable } from './json-reader.js';

// --- written through the generated builders --------------------------------

/** The union tag of `message` in an `Envelope`. */
export function messageTypeOf(message: WireMessage): wire.Message {
  switch (message.kind) {
    case 'batch':
      return wire.Message.EventBatch;
    case 'syncRequest':
      return wire.Message.SyncRequest;
    case 'clearSide':
      return wire.Message.ClearSide;
    case 'bridgeState':
      return wire.Message.BridgeState;
    case 'ack':
      return wire.Message.Ack;
  }
}

/** Writes a control message (not a batch: `batch-writer.ts`) with `builder`; returns its offset. */
export function writeMessage(builder: flatbuffers.Builder, message: WireMessage, limits: FrameLimits): flatbuffers.Offset {
  if (typeof message !== 'object' || message === null) {
    throw new InvalidEventError(`Cannot encode ${describe(message)}: expected a WireMessage object.`);
  }
  switch (message.kind) {
    case 'syncRequest':
      return writeSyncRequest(builder, message, limits);
    case 'clearSide': {
      const seq = seqToWire(message.seq, 'clearSide');
      const remove = sideToWire(message.remove, 'clearSide.remove');
      const scope = sideToWire(message.scope, 'clearSide.scope');
      return wire.ClearSide.createClearSide(builder, seq, remove, scope);
    }
    case 'bridgeState': {
      const seq = seqToWire(message.seq, 'bridgeState');
      const direction = directionToWire(message.direction);
      if (typeof message.locked !== 'boolean') {
        throw new InvalidEventError(`Cannot encode bridgeState: locked must be a boolean, got ${describe(message.locked)}.`);
      }
      return wire.BridgeState.createBridgeState(builder, seq, direction, message.locked);
    }
    case 'ack':
      return writeAck(builder, message, limits);
    default:
      throw new InvalidEventError(
        `Cannot encode a message of kind ${describe((message as { kind?: unknown }).kind)}: ` +
          'expected batch, syncRequest, clearSide, bridgeState or ack.',
      );
  }
}

function writeSyncRequest(builder: flatbuffers.Builder, request: SyncRequest, limits: FrameLimits): flatbuffers.Offset {
  const seq = seqToWire(request.seq, 'syncRequest');
  const side = sideToWire(request.side, 'syncRequest.side');
  const typesOffset = writeTypeList(builder, request.types, 'types', limits);
  const interestOffset = writeTypeList(builder, request.interest, 'interest', limits);
  const from = writeEndpoint(builder, request.from, 'syncRequest.from');
  const since = request.since === undefined ? undefined : seqToWire(request.since, 'syncRequest.since');
  if (request.limit !== undefined && (!isUint32(request.limit) || request.limit < 1)) {
    throw new InvalidEventError(`Cannot encode syncRequest: limit must be an integer from 1 to 4294967295, got ${describe(request.limit)}.`);
  }
  const deliveredThrough =
    request.deliveredThrough === undefined ? undefined : seqToWire(request.deliveredThrough, 'syncRequest.deliveredThrough');
  wire.SyncRequest.startSyncRequest(builder);
  wire.SyncRequest.addSeq(builder, seq);
  wire.SyncRequest.addFrom(builder, from);
  if (typesOffset !== 0) wire.SyncRequest.addTypes(builder, typesOffset);
  wire.SyncRequest.addSide(builder, side);
  // Written even when 0 (FlatBuffers would drop a default), so that absent and 0 stay apart.
  if (since !== undefined) builder.addFieldInt64(4, since, BigInt(-1));
  if (request.limit !== undefined) wire.SyncRequest.addLimit(builder, request.limit);
  // 0 (none) is the default and is left out.
  if (deliveredThrough !== undefined) wire.SyncRequest.addDeliveredThrough(builder, deliveredThrough);
  if (interestOffset !== 0) wire.SyncRequest.addInterest(builder, interestOffset);
  return wire.SyncRequest.endSyncRequest(builder);
}

/** A sync request's list of types or patterns (`types`, `interest`): 0 when absent, a vector (possibly empty) when present. */
function writeTypeList(
  builder: flatbuffers.Builder,
  types: readonly string[] | undefined,
  field: 'types' | 'interest',
  limits: FrameLimits,
): flatbuffers.Offset {
  if (types === undefined) return 0;
  if (!Array.isArray(types)) {
    throw new InvalidEventError(`Cannot encode syncRequest: ${field} must be an array of strings, got ${describe(types)}.`);
  }
  if (types.length > limits.maxTypes) {
    throw new FrameError('TOO_LARGE', `the sync request names ${types.length} ${field === 'types' ? 'types' : 'interest patterns'}, more than limits.maxTypes (${limits.maxTypes}).`);
  }
  const offsets: number[] = [];
  for (let i = 0; i < types.length; i++) {
    offsets.push(writeControlString(builder, types[i], limits.maxStringBytes, `syncRequest.${field}[${i}]`));
  }
  return writeOffsetVector(builder, offsets);
}

function writeAck(builder: flatbuffers.Builder, ack: Ack, limits: FrameLimits): flatbuffers.Offset {
  const seq = seqToWire(ack.seq, 'ack');
  if (typeof ack.ok !== 'boolean') {
    throw new InvalidEventError(`Cannot encode ack: ok must be a boolean, got ${describe(ack.ok)}.`);
  }
  if (!isUint32(ack.credits)) {
    throw new InvalidEventError(`Cannot encode ack: credits must be an integer from 0 to 4294967295, got ${describe(ack.credits)}.`);
  }
  if (ack.alreadyDelivered !== undefined && !isUint32(ack.alreadyDelivered)) {
    throw new InvalidEventError(
      `Cannot encode ack: alreadyDelivered must be an integer from 0 to 4294967295, got ${describe(ack.alreadyDelivered)}.`,
    );
  }
  const errorCode =
    ack.errorCode === undefined ? 0 : writeControlString(builder, ack.errorCode, limits.maxStringBytes, 'ack.errorCode');
  const errorMessage =
    ack.errorMessage === undefined
      ? 0
      : writeControlString(builder, ack.errorMessage, limits.maxStringBytes, 'ack.errorMessage');
  const errorDetails =
    ack.errorDetails === undefined ? 0 : writeControlString(builder, ack.errorDetails, limits.maxStringBytes, 'ack.errorDetails');
  wire.Ack.startAck(builder);
  wire.Ack.addSeq(builder, seq);
  wire.Ack.addOk(builder, ack.ok);
  if (errorCode !== 0) wire.Ack.addErrorCode(builder, errorCode);
  if (errorMessage !== 0) wire.Ack.addErrorMessage(builder, errorMessage);
  wire.Ack.addCredits(builder, ack.credits);
  // Written even when 0 (FlatBuffers would drop a default), so that absent and 0 stay apart.
  if (ack.through !== undefined) builder.addFieldInt64(5, seqToWire(ack.through, 'ack.through'), BigInt(-1));
  if (ack.parked !== undefined) builder.addFieldInt64(6, seqToWire(ack.parked, 'ack.parked'), BigInt(-1));
  // 0 (none) is the default and is left out.
  if (ack.alreadyDelivered !== undefined) wire.Ack.addAlreadyDelivered(builder, ack.alreadyDelivered);
  if (errorDetails !== 0) wire.Ack.addErrorDetails(builder, errorDetails);
  return wire.Ack.endAck(builder);
}

function writeEndpoint(builder: flatbuffers.Builder, endpoint: Endpoint, what: string): flatbuffers.Offset {
  const { processor, thread, generation, side } = checkEndpoint(endpoint, what);
  return wire.Endpoint.createEndpoint(builder, processor, thread, generation, side);
}

/** A vector of offsets (tables or strings), written the way the generated `create*Vector` helpers do. */
function writeOffsetVector(builder: flatbuffers.Builder, offsets: readonly number[]): flatbuffers.Offset {
  builder.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) builder.addOffset(offsets[i] as number);
  return builder.endVector();
}

/**
 * `builder.createString(text)`, byte for byte, without its `TextEncoder`
 * allocation for short ASCII strings (ids, types, small JSON payloads: most of
 * a batch). Uses only the builder's public API, as `createString` itself does.
 * Returns 0 (never a valid offset) when `text` holds a lone surrogate, which
 * UTF-8 cannot carry: `TextEncoder` would silently write U+FFFD instead.
 */
function writeString(builder: flatbuffers.Builder, text: string): flatbuffers.Offset {
  const length = text.length;
  if (length <= SHORT_ASCII_CHARS) {
    let ascii = true;
    for (let i = 0; i < length; i++) {
      if (text.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      builder.addInt8(0);
      builder.startVector(1, length, 1);
      for (let i = length - 1; i >= 0; i--) builder.writeInt8(text.charCodeAt(i));
      return builder.endVector();
    }
  }
  return isWellFormed(text) ? builder.createString(text) : 0;
}

/** Writes a string field of a control message, or says why it cannot be written. */
function writeControlString(builder: flatbuffers.Builder, value: unknown, maxBytes: number, what: string): flatbuffers.Offset {
  if (typeof value !== 'string') throw new InvalidEventError(`Cannot encode ${what}: expected a string, got ${describe(value)}.`);
  if (value.length > maxBytes / 3 && utf8Length(value) > maxBytes) {
    throw new InvalidEventError(`Cannot encode ${what}: it is more than limits.maxStringBytes (${maxBytes}) bytes of UTF-8.`);
  }
  const offset = writeString(builder, value);
  if (offset === 0) {
    throw new InvalidEventError(`Cannot encode ${what}: it holds a lone UTF-16 surrogate, which UTF-8 cannot carry.`);
  }
  return offset;
}

function directionToWire(direction: unknown): wire.BridgeDirection {
  switch (direction) {
    case 'closed':
      return wire.BridgeDirection.Closed;
    case 'open':
      return wire.BridgeDirection.Open;
    case 'oneWayExternal':
      return wire.BridgeDirection.OneWayExternal;
    case 'oneWayInternal':
      return wire.BridgeDirection.OneWayInternal;
    default:
      throw new InvalidEventError(
        `Cannot encode bridgeState: direction must be 'closed', 'open', 'oneWayExternal' or 'oneWayInternal', got ${describe(direction)}.`,
      );
  }
}

// --- read back, every field checked -------------------------------------------

/** Reads the endpoint table at `position` (a batch's or a sync request's `from`). */
export function readEndpoint(r: BodyReader, position: number): Endpoint {
  r.openTable(position, 'endpoint');
  const processor = r.uint32(r.field(ENDPOINT_PROCESSOR, 4));
  const thread = r.uint32(r.field(ENDPOINT_THREAD, 4));
  const generation = r.uint32(r.field(ENDPOINT_GENERATION, 4));
  const side = SIDE_FROM_WIRE[r.uint8Enum(r.field(ENDPOINT_SIDE, 1), wire.Side.Internal, SIDE_FROM_WIRE.length, 'side')] as Side;
  return { processor, thread, generation, side };
}

/** Reads the sync request at `position`; absent optional fields stay absent. */
export function readSyncRequest(r: BodyReader, position: number): SyncRequest {
  r.where = 'syncRequest';
  r.openTable(position, 'syncRequest');
  const seqAt = r.field(SYNC_SEQ, 8);
  const fromAt = r.field(SYNC_FROM, 4);
  const typesAt = r.field(SYNC_TYPES, 4);
  const sideAt = r.field(SYNC_SIDE, 1);
  const sinceAt = r.field(SYNC_SINCE, 8);
  const limitAt = r.field(SYNC_LIMIT, 4);
  const deliveredThroughAt = r.field(SYNC_DELIVERED_THROUGH, 8);
  const interestAt = r.field(SYNC_INTEREST, 4);
  if (fromAt === 0) r.fail('from is required');
  const seq = r.seq(seqAt);
  const side = SIDE_FROM_WIRE[r.uint8Enum(sideAt, wire.Side.Internal, SIDE_FROM_WIRE.length, 'side')] as Side;
  const limit = limitAt === 0 ? 0 : r.uint32(limitAt);
  const deliveredThrough = deliveredThroughAt === 0 ? 0 : r.seq(deliveredThroughAt);
  const since = sinceAt === 0 ? undefined : r.seq(sinceAt);
  // Opens the endpoint's table: every field of this one is located before.
  const from = readEndpoint(r, r.follow(fromAt, 'from endpoint'));
  const types = typesAt === 0 ? undefined : readTypeList(r, typesAt, 'types');
  const interest = interestAt === 0 ? undefined : readTypeList(r, interestAt, 'interest');
  return {
    kind: 'syncRequest',
    seq,
    from,
    ...(types === undefined ? {} : { types }),
    side,
    ...(since === undefined ? {} : { since }),
    ...(limit === 0 ? {} : { limit }),
    ...(deliveredThrough === 0 ? {} : { deliveredThrough }),
    ...(interest === undefined ? {} : { interest }),
  };
}

/** Reads a sync request's `types` or `interest` vector at `at` (a field's position). */
function readTypeList(r: BodyReader, at: number, field: 'types' | 'interest'): string[] {
  const vector = r.follow(at, `${field} vector`);
  const length = r.vectorLength(vector, 4, r.limits.maxTypes, field, 'maxTypes');
  const types: string[] = [];
  r.where = `syncRequest.${field}`;
  for (let i = 0; i < length; i++) {
    r.index = i;
    types.push(r.string(vector + 4 + 4 * i, r.limits.maxStringBytes, field === 'types' ? 'type' : 'pattern', 'maxStringBytes'));
  }
  r.index = -1;
  return types;
}

/** Reads the clearSide message at `position`. */
export function readClearSide(r: BodyReader, position: number): ClearSide {
  r.where = 'clearSide';
  r.openTable(position, 'clearSide');
  const seq = r.seq(r.field(CLEAR_SEQ, 8));
  const remove = SIDE_FROM_WIRE[r.uint8Enum(r.field(CLEAR_REMOVE, 1), wire.Side.Internal, SIDE_FROM_WIRE.length, 'remove')] as Side;
  const scope = SIDE_FROM_WIRE[r.uint8Enum(r.field(CLEAR_SCOPE, 1), wire.Side.Internal, SIDE_FROM_WIRE.length, 'scope')] as Side;
  return { kind: 'clearSide', seq, remove, scope };
}

/** Reads the bridgeState message at `position`. */
export function readBridgeState(r: BodyReader, position: number): BridgeState {
  r.where = 'bridgeState';
  r.openTable(position, 'bridgeState');
  const seq = r.seq(r.field(BRIDGE_SEQ, 8));
  const direction = DIRECTION_FROM_WIRE[
    r.uint8Enum(r.field(BRIDGE_DIRECTION, 1), wire.BridgeDirection.Closed, DIRECTION_FROM_WIRE.length, 'direction')
  ] as BridgeDirection;
  const locked = r.bool(r.field(BRIDGE_LOCKED, 1), 'locked');
  return { kind: 'bridgeState', seq, direction, locked };
}

/** Reads the ack at `position`; absent optional fields stay absent. */
export function readAck(r: BodyReader, position: number): Ack {
  r.where = 'ack';
  r.openTable(position, 'ack');
  const seq = r.seq(r.field(ACK_SEQ, 8));
  const ok = r.bool(r.field(ACK_OK, 1), 'ok');
  const errorCodeAt = r.field(ACK_ERROR_CODE, 4);
  const errorMessageAt = r.field(ACK_ERROR_MESSAGE, 4);
  const credits = r.uint32(r.field(ACK_CREDITS, 4));
  const throughAt = r.field(ACK_THROUGH, 8);
  const parkedAt = r.field(ACK_PARKED, 8);
  const alreadyDeliveredAt = r.field(ACK_ALREADY_DELIVERED, 4);
  const errorDetailsAt = r.field(ACK_ERROR_DETAILS, 4);
  const ack: Mutable<Ack> = { kind: 'ack', seq, ok, credits };
  if (throughAt !== 0) ack.through = r.seq(throughAt);
  if (parkedAt !== 0) ack.parked = r.seq(parkedAt);
  if (alreadyDeliveredAt !== 0) {
    const alreadyDelivered = r.uint32(alreadyDeliveredAt);
    if (alreadyDelivered > 0) ack.alreadyDelivered = alreadyDelivered;
  }
  const max = r.limits.maxStringBytes;
  if (errorCodeAt !== 0) ack.errorCode = r.string(errorCodeAt, max, 'errorCode', 'maxStringBytes');
  if (errorMessageAt !== 0) ack.errorMessage = r.string(errorMessageAt, max, 'errorMessage', 'maxStringBytes');
  if (errorDetailsAt !== 0) ack.errorDetails = r.string(errorDetailsAt, max, 'errorDetails', 'maxStringBytes');
  return ack;
}
