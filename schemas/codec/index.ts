/**
 * The codec: how a `WireMessage` crosses a thread or process boundary, as one
 * frame (`frame.ts`: magic, version, flags, lengths, CRC32C, then a
 * FlatBuffers body of `schemas/busline.fbs`, snappy-compressed when asked).
 *
 * The FlatBuffers JS runtime has no verifier (out-of-range offsets read as 0,
 * random bytes "decode"), so bodies are read with our own verifying reader
 * (`body-reader.ts`): every offset, length, enum, string and union is checked
 * against the body and the `FrameLimits` before it is read, and anything wrong
 * is a `FrameError`. Control messages are encoded through the generated
 * builders (`control-messages.ts`); event batches, the data plane, are written
 * by hand in the same layout (`batch-writer.ts`, `body-writer.ts`,
 * `layout.ts`). Only this folder touches `schemas/generated/`.
 *
 * Where the time goes, for a 256-event batch of small events: encoding is one
 * walk per event writing straight into a reused buffer, plus one allocation
 * per frame (the frame must own its ArrayBuffer to be transferred); decoding is
 * mostly one `JSON.parse` for all the batch's small payloads (`json-reader.ts`).
 * Types, topics and meta keys are written once per body and decoded once per body.
 *
 * A reader that keeps what it receives, and looks at little of it, reads
 * batches with `scanFrame` instead: the same verification, but the history
 * stays bytes (`EncodedBatch`), indexed, and no object is made per event.
 * `decodeEvents` and the `event*At` accessors decode what is asked for, and
 * `encodeForwardFrame` sends events on by copying their bytes
 * (`encoded-batch.ts`).
 *
 * The modules, from the bottom up (each imports only those before it):
 * `utf8`, `wire-values` (checks and enum mappings), `limits`, `frame`,
 * `layout`, `json-reader`, `body-reader`, `event-reader`, `encoded-batch`,
 * `control-messages`, `decode`; and for writing `body-writer`,
 * `json-size` (what JSON text takes, value by value), `json-writer`
 * (`writeJson`, and `jsonBytes`, its size-only walk), `batch-writer`, `encode`.
 */
export {
  AUTO_COMPRESS_MAX_RATIO,
  AUTO_COMPRESS_MIN_BYTES,
  FLAG_SNAPPY,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FRAME_VERSION,
  readFrameHeader,
  type EncodeOptions,
  type FrameHeader,
} from './frame.js';
export { DEFAULT_FRAME_LIMITS, resolveFrameLimits, type FrameLimits } from './limits.js';
export { encodeForwardFrame, encodeFrame, encodeMeasuredFrame } from './encode.js';
export { NOT_MEASURED, type EventSizeRule } from './body-writer.js';
export { jsonBytes } from './json-writer.js';
export { utf8Length } from './utf8.js';
export { decodeFrame, scanAndDecodeFrame, scanFrame, type ScannedAndDecoded } from './decode.js';
export {
  decodeEvents,
  eventIdAt,
  eventIdSpanAt,
  eventOriginAt,
  eventPositionAt,
  eventSideAt,
  eventTimestampAt,
  eventTypeAt,
  isEncodedEventRef,
  type EncodedBatch,
  type EncodedEventRef,
  type ForwardBatch,
} from './encoded-batch.js';

/**
 * Deepest nesting of a JSON payload that `encodeFrame` accepts and `decodeFrame`
 * returns (root = depth 1): post()'s rule, from `runtime/validate.ts`.
 */
export { MAX_PAYLOAD_DEPTH } from '../../runtime/payload/payload-copy.js';
