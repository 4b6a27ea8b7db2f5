/**
 * The recording file: a sequence of the codec's frames (`schemas/codec/frame.ts`:
 * magic, version, flags, lengths, CRC32C of the body, snappy when it pays),
 * each body a chunk of records as UTF-8 JSON rather than a FlatBuffers
 * `Envelope`. Inspection records are JSON text already, and a recording is
 * read by tools and tests, not on the data plane; the envelope gives each
 * chunk its checksum and length, so a damaged or cut file is refused with a
 * `FrameError`, never read into garbage.
 *
 * ```
 * frame 0   {"format":"busline-recording","version":1,"startedAt":<ms>}
 * frame 1…  {"records":[{"at":<ms>,"inspection":"<message JSON>"} | {"at":<ms>,"event":<BusEvent>}, …]}
 * last      {"end":true,"stoppedAt":<ms>,"inspections":n,"events":n,"dropped":n}
 * ```
 *
 * `at` is the runtime's clock (its `clock` option) when the record reached
 * the root; a record's own `createdAt` is the wall clock of the realm that
 * wrote it. Byte payloads are written as `{"$bytes":"<base64>"}`.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { FrameError, InvalidOptionError } from '../../errors.js';
import { describe } from '../validate.js';
import { finishFrame, frameBody, FRAME_HEADER_BYTES, readFrameHeader } from '../../schemas/codec/frame.js';
import { resolveFrameLimits } from '../../schemas/codec/limits.js';
import type { BusEvent, Payload } from '../../types.js';
import type { StatelyMessage } from '../../inspector/protocol.js';

/** The `format` of a recording's first chunk. */
export const RECORDING_FORMAT = 'busline-recording';
/** The version of the recording format this build writes and reads. */
export const RECORDING_VERSION = 1;

/** One record as it is written. */
export type RecordLine = { readonly at: number; readonly inspection: string } | { readonly at: number; readonly event: unknown };

/** What a recording's last chunk says. */
export interface RecordingEnd {
  readonly stoppedAt: number;
  readonly inspections: number;
  readonly events: number;
  /** Records dropped because the file was written more slowly than the run produced them, or dropped on the way to the root. */
  readonly dropped: number;
}

/** An inspection record of a recording: the `@statelyai/inspect` message and when the root got it. */
export interface RecordedInspection {
  readonly kind: 'inspection';
  readonly at: number;
  readonly message: StatelyMessage;
}

/** A bus event of a recording: an event a main station accepted, and when. */
export interface RecordedEvent {
  readonly kind: 'event';
  readonly at: number;
  readonly event: BusEvent;
}

/** A recording read back. */
export interface Recording {
  readonly startedAt: number;
  readonly end: RecordingEnd;
  /** Every record in the order the root took them. */
  readonly records: readonly (RecordedInspection | RecordedEvent)[];
}

/** A chunk of records as one frame. */
export function chunkFrame(chunk: object): Uint8Array {
  const body = Buffer.from(JSON.stringify(chunk, bytesReplacer), 'utf8');
  return finishFrame(body, { kind: 'recording chunk' }, 'auto', resolveFrameLimits());
}

/** The event as JSON data: a byte payload becomes `{ $bytes }`. */
export function eventLine(at: number, event: BusEvent): RecordLine {
  return { at, event: event.payload instanceof Uint8Array ? { ...plainEvent(event), payload: { $bytes: Buffer.from(event.payload).toString('base64') } } : plainEvent(event) };
}

/** Only the fields of a `BusEvent` (a station may hold it as lazily decoded bytes with getters). */
function plainEvent(event: BusEvent): BusEvent {
  const { id, type, side, timestamp, origin, priority, topic, payload, meta } = event;
  return { id, type, side, timestamp, origin, priority, payload, ...(topic === undefined ? {} : { topic }), ...(meta === undefined ? {} : { meta }) };
}

function bytesReplacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { $bytes: Buffer.from(value).toString('base64') } : value;
}

function payloadOf(value: unknown): Payload {
  const bytes = (value as { $bytes?: unknown } | null)?.$bytes;
  return typeof bytes === 'string' && Object.keys(value as object).length === 1 ? new Uint8Array(Buffer.from(bytes, 'base64')) : (value as Payload);
}

/**
 * Reads a recording file and checks every chunk (frame header, length,
 * CRC32C, then the chunk's shape). A damaged, cut or unfinished file (no
 * last chunk: the run never called `stop()`) is refused with a `FrameError`
 * that says where. A session exported from the inspector page (JSON, format
 * `busline-inspector-recording`; no checksum) is read too, as inspection
 * records only.
 *
 * @example
 * const recording = await readRecording('run.blrec')
 * console.log(recording.records.length, recording.end.dropped)
 */
export async function readRecording(path: string | URL): Promise<Recording> {
  if (!(path instanceof URL && path.protocol === 'file:') && (typeof path !== 'string' || path.length === 0)) {
    throw new InvalidOptionError('readRecording path', `expected the path (or file: URL) of a recording, got ${describe(path)}.`);
  }
  const unreadable = (error: unknown) => {
    return new InvalidOptionError('readRecording path', `cannot read ${String(path)}: ${(error as Error)?.message ?? String(error)}.`, { cause: error });
  };
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw unreadable(error);
  }
  try {
    const first = new Uint8Array(1);
    // A directory opens, and fails here (EISDIR).
    await handle.read(first, 0, 1, 0).catch((error: unknown) => Promise.reject(unreadable(error)));
    if (first[0] === 0x7b) return fromPageExport(await handle.readFile(), String(path));
    const limits = resolveFrameLimits();
    const header = new Uint8Array(FRAME_HEADER_BYTES);
    const records: (RecordedInspection | RecordedEvent)[] = [];
    let startedAt: number | undefined;
    let end: RecordingEnd | undefined;
    let position = 0;
    for (let index = 0; ; index++) {
      const { bytesRead } = await handle.read(header, 0, FRAME_HEADER_BYTES, position);
      if (bytesRead === 0) break;
      const where = `chunk ${index} (byte ${position})`;
      if (end !== undefined) throw new FrameError('MALFORMED', `${where} follows the recording's last chunk.`);
      if (bytesRead < FRAME_HEADER_BYTES) throw new FrameError('TRUNCATED', `${where}: the file ends inside a chunk header.`);
      const { frameBytes } = readFrameHeaderAt(header, where);
      const frame = new Uint8Array(frameBytes);
      const read = await handle.read(frame, 0, frameBytes, position);
      if (read.bytesRead < frameBytes) throw new FrameError('TRUNCATED', `${where}: the file ends inside the chunk (${read.bytesRead} of ${frameBytes} bytes).`);
      position += frameBytes;
      const chunk = parseChunk(frameBodyAt(frame, limits, where), where);
      if (index === 0) {
        if (chunk.format !== RECORDING_FORMAT || chunk.version !== RECORDING_VERSION || typeof chunk.startedAt !== 'number') {
          throw new FrameError('MALFORMED', `${where} is not a busline recording header (format ${RECORDING_FORMAT}, version ${RECORDING_VERSION}).`);
        }
        startedAt = chunk.startedAt;
      } else if (chunk.end === true) {
        end = readEnd(chunk, where);
      } else if (Array.isArray(chunk.records)) {
        for (const line of chunk.records) records.push(readLine(line, where));
      } else {
        throw new FrameError('MALFORMED', `${where} holds neither records nor the end of the recording.`);
      }
    }
    if (startedAt === undefined) throw new FrameError('TRUNCATED', `${String(path)} is empty: not a busline recording.`);
    if (end === undefined) throw new FrameError('TRUNCATED', `${String(path)} has no last chunk: the recording was cut short or never stopped.`);
    return { startedAt, end, records };
  } finally {
    await handle.close();
  }
}

function readFrameHeaderAt(header: Uint8Array, where: string) {
  try {
    return readFrameHeader(header);
  } catch (error) {
    throw located(error, where);
  }
}

function frameBodyAt(frame: Uint8Array, limits: ReturnType<typeof resolveFrameLimits>, where: string): Uint8Array {
  try {
    return frameBody(frame, limits);
  } catch (error) {
    throw located(error, where);
  }
}

function located(error: unknown, where: string): unknown {
  return error instanceof FrameError ? new FrameError(error.reason, `${where}: ${error.message}`, { cause: error }) : error;
}

function parseChunk(body: Uint8Array, where: string): Record<string, unknown> {
  let chunk: unknown;
  try {
    chunk = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8'));
  } catch (cause) {
    throw new FrameError('MALFORMED', `${where} is not JSON.`, { cause });
  }
  if (typeof chunk !== 'object' || chunk === null || Array.isArray(chunk)) throw new FrameError('MALFORMED', `${where} is not a JSON object.`);
  return chunk as Record<string, unknown>;
}

function readEnd(chunk: Record<string, unknown>, where: string): RecordingEnd {
  const { stoppedAt, inspections, events, dropped } = chunk;
  if (![stoppedAt, inspections, events, dropped].every((value) => typeof value === 'number')) {
    throw new FrameError('MALFORMED', `${where}: the last chunk lacks its counts.`);
  }
  return { stoppedAt, inspections, events, dropped } as RecordingEnd;
}

function readLine(line: unknown, where: string): RecordedInspection | RecordedEvent {
  const { at, inspection, event } = (line ?? {}) as Record<string, unknown>;
  if (typeof at === 'number' && typeof inspection === 'string') {
    let message: unknown;
    try {
      message = JSON.parse(inspection);
    } catch (cause) {
      throw new FrameError('MALFORMED', `${where}: an inspection record is not JSON.`, { cause });
    }
    const { type, sessionId } = (message ?? {}) as Record<string, unknown>;
    if (typeof type !== 'string' || typeof sessionId !== 'string') throw new FrameError('MALFORMED', `${where}: an inspection record has no type or session id.`);
    return { kind: 'inspection', at, message: message as StatelyMessage };
  }
  if (typeof at === 'number' && typeof event === 'object' && event !== null && typeof (event as { id?: unknown }).id === 'string') {
    const plain = event as BusEvent;
    return { kind: 'event', at, event: { ...plain, payload: payloadOf(plain.payload) } };
  }
  throw new FrameError('MALFORMED', `${where}: a record is neither an inspection record nor a bus event.`);
}

/** The inspector page's export (`inspector/page/session.js`, `toRecording()`). */
const PAGE_EXPORT_FORMAT = 'busline-inspector-recording';

/**
 * A session exported from the inspector page as a recording: its base (the
 * actors whose first messages the page folded away, each as an announcement
 * with its state then) and its messages, `at` their `createdAt`.
 */
function fromPageExport(bytes: Uint8Array, path: string): Recording {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch (cause) {
    throw new FrameError('MALFORMED', `${path} is neither a recording nor an inspector page export (not JSON).`, { cause });
  }
  return recordingFromExport(parsed, path);
}

/**
 * A session exported from the inspector page (its JSON, parsed) as a
 * recording, as `readRecording()` reads it from a file; `where` names it in
 * errors. A damaged export is refused with a `FrameError` (`MALFORMED`).
 *
 * @example
 * const recording = recordingFromExport(JSON.parse(readFileSync('session.json', 'utf8')))
 * assertReplay(recording)
 */
export function recordingFromExport(parsed: unknown, where = 'the export'): Recording {
  const path = where;
  const { format, version, base, messages } = (parsed ?? {}) as Record<string, unknown>;
  if (format !== PAGE_EXPORT_FORMAT || version !== 1 || !Array.isArray(base) || !Array.isArray(messages)) {
    throw new FrameError('MALFORMED', `${path} is not an inspector page export (format ${PAGE_EXPORT_FORMAT}, version 1).`);
  }
  const records: RecordedInspection[] = [];
  for (const actor of base as Record<string, unknown>[]) {
    const { sessionId, name, definition, snapshot, place } = actor ?? {};
    if (typeof sessionId !== 'string') throw new FrameError('MALFORMED', `${path}: an actor of the export's base has no session id.`);
    const message = { type: '@xstate.actor', sessionId, rootId: undefined, createdAt: '0', id: null, _version: '', name, definition, snapshot, busline: place };
    records.push({ kind: 'inspection', at: 0, message: message as StatelyMessage });
  }
  for (const message of messages as Record<string, unknown>[]) {
    const { type, sessionId, createdAt } = message ?? {};
    if (typeof type !== 'string' || typeof sessionId !== 'string') throw new FrameError('MALFORMED', `${path}: a message of the export has no type or session id.`);
    records.push({ kind: 'inspection', at: Number(createdAt) || 0, message: message as unknown as StatelyMessage });
  }
  const stoppedAt = records.at(-1)?.at ?? 0;
  return { startedAt: records[0]?.at ?? 0, end: { stoppedAt, inspections: records.length, events: 0, dropped: 0 }, records };
}
