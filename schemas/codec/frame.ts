/**
 * The frame envelope: a fixed 20-byte header followed by the body, a
 * FlatBuffers `Envelope` (`schemas/busline.fbs`), snappy-compressed when the
 * header says so:
 *
 * ```
 * offset size  field
 *  0     4     magic "BLF1" (0x42 0x4C 0x46 0x31)
 *  4     1     version (1)
 *  5     1     flags: bit 0 = body is snappy-compressed (raw snappy); bits 1-7 are 0
 *  6     2     reserved, 0
 *  8     4     body length in bytes as transmitted (u32 LE)
 * 12     4     body length in bytes uncompressed (u32 LE; equals the above when not compressed)
 * 16     4     CRC32C (Castagnoli) of the body as transmitted (u32 LE)
 * 20     ...   body
 * ```
 *
 * This module puts a body in a frame (size cap, compression, header,
 * checksum) and takes it out again (header, length caps, checksum,
 * decompression); what is in the body is for the writers and the reader.
 */
import { crc32c } from '@node-rs/crc32';
import { compressSync, uncompressSync } from 'snappy';
import { FrameError, InvalidOptionError, isBusError } from '../../errors.js';
import { resolveFrameLimits, type FrameLimits } from './limits.js';
import { describe } from './wire-values.js';

/** Bytes of the fixed frame header that precedes every body. */
export const FRAME_HEADER_BYTES = 20;

/** The frame format version this module writes and reads. */
export const FRAME_VERSION = 1;

/** The four bytes every frame starts with. */
export const FRAME_MAGIC = 'BLF1';
const MAGIC_BYTES = [0x42, 0x4c, 0x46, 0x31];

/** Header flag: the body is raw-snappy compressed. */
export const FLAG_SNAPPY = 0x01;

/** With `compress: 'auto'`, bodies smaller than this are never compressed. */
export const AUTO_COMPRESS_MIN_BYTES = 1024;

/**
 * With `compress: 'auto'`, a compressed body is sent only when it is at most
 * this fraction of the original: saving a few bytes is not worth the
 * receiver's decompression.
 */
export const AUTO_COMPRESS_MAX_RATIO = 0.875;

/** How `encodeFrame` writes a frame. */
export interface EncodeOptions {
  /**
   * `true`: always snappy-compress the body; `false` (default): never;
   * `'auto'`: compress bodies of at least `AUTO_COMPRESS_MIN_BYTES` when that
   * makes them at least 1/8 smaller (`AUTO_COMPRESS_MAX_RATIO`).
   */
  readonly compress?: boolean | 'auto';
  /** The receiver's limits; a message they would refuse is refused here. Default `DEFAULT_FRAME_LIMITS`. */
  readonly limits?: Partial<FrameLimits>;
}

/** What a frame's header says, once checked (see `readFrameHeader`). */
export interface FrameHeader {
  readonly version: number;
  /** The body is snappy-compressed. */
  readonly compressed: boolean;
  /** Body bytes as transmitted. */
  readonly bodyBytes: number;
  /** Body bytes after decompression. */
  readonly uncompressedBytes: number;
  /** CRC32C of the body as transmitted. */
  readonly checksum: number;
  /** Header plus body: how many bytes the whole frame takes. */
  readonly frameBytes: number;
}

/** `options.compress`, checked: `InvalidOptionError` for anything but true, false and 'auto'. */
export function compressOption(options: EncodeOptions | undefined): boolean | 'auto' {
  const compress = options?.compress ?? false;
  if (compress !== true && compress !== false && compress !== 'auto') {
    throw new InvalidOptionError('compress', `expected true, false or 'auto', got ${describe(compress)}.`);
  }
  return compress;
}

/** Checks the body's size, compresses it if asked, and puts the header in front of it. */
export function finishFrame(body: Uint8Array, message: { readonly kind: string }, compress: boolean | 'auto', limits: FrameLimits): Uint8Array {
  if (body.length > limits.maxFrameBytes) {
    throw new FrameError(
      'TOO_LARGE',
      `the ${message.kind} body is ${body.length} bytes, more than limits.maxFrameBytes (${limits.maxFrameBytes}). ` +
        'Send the events in smaller batches.',
    );
  }
  let transmitted = body;
  if (compress === true || (compress === 'auto' && body.length >= AUTO_COMPRESS_MIN_BYTES)) {
    const compressed = compressSync(body);
    if (compress === true || compressed.length <= body.length * AUTO_COMPRESS_MAX_RATIO) transmitted = compressed;
  }
  return assembleFrame(transmitted, body.length, transmitted !== body);
}

function assembleFrame(transmitted: Uint8Array, uncompressedBytes: number, compressed: boolean): Uint8Array {
  // A frame owns its ArrayBuffer (it may be transferred). Left uninitialised:
  // every byte is written below, and zero-filling a large frame first cost
  // as much as writing it.
  const frame = new Uint8Array(Buffer.allocUnsafeSlow(FRAME_HEADER_BYTES + transmitted.length).buffer);
  const view = new DataView(frame.buffer);
  frame.set(MAGIC_BYTES, 0);
  frame[4] = FRAME_VERSION;
  frame[5] = compressed ? FLAG_SNAPPY : 0;
  frame[6] = 0; // reserved
  frame[7] = 0;
  view.setUint32(8, transmitted.length, true);
  view.setUint32(12, uncompressedBytes, true);
  frame.set(transmitted, FRAME_HEADER_BYTES);
  // The checksum of the copy in the frame: the bytes sent are the bytes summed.
  view.setUint32(16, crc32c(frame.subarray(FRAME_HEADER_BYTES)) >>> 0, true);
  return frame;
}

/**
 * Checks a frame's header (the first `FRAME_HEADER_BYTES` of `bytes`) and
 * returns what it says; a stream transport uses `frameBytes` to know how many
 * bytes to wait for. Checks nothing past the header. Throws `FrameError` only.
 *
 * @example
 * if (received.length >= FRAME_HEADER_BYTES) {
 *   const { frameBytes } = readFrameHeader(received)
 *   if (received.length >= frameBytes) handle(decodeFrame(received.subarray(0, frameBytes)))
 * }
 */
export function readFrameHeader(bytes: Uint8Array, limits?: Partial<FrameLimits>): FrameHeader {
  if (!(bytes instanceof Uint8Array)) throw new FrameError('MALFORMED', `expected a Uint8Array, got ${describe(bytes)}.`);
  return checkHeader(bytes, resolveFrameLimits(limits));
}

function checkHeader(bytes: Uint8Array, limits: FrameLimits): FrameHeader {
  if (bytes.length < FRAME_HEADER_BYTES) {
    throw new FrameError('TRUNCATED', `${bytes.length} bytes are fewer than the ${FRAME_HEADER_BYTES}-byte header.`);
  }
  if (bytes[0] !== MAGIC_BYTES[0] || bytes[1] !== MAGIC_BYTES[1] || bytes[2] !== MAGIC_BYTES[2] || bytes[3] !== MAGIC_BYTES[3]) {
    throw new FrameError('BAD_MAGIC', 'the frame does not start with "BLF1"; it is not a busline frame or the stream lost sync.');
  }
  const version = bytes[4] as number;
  if (version !== FRAME_VERSION) {
    throw new FrameError('BAD_VERSION', `version ${version} is not supported; this build reads version ${FRAME_VERSION}.`);
  }
  const flags = bytes[5] as number;
  if ((flags & ~FLAG_SNAPPY) !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new FrameError('BAD_FLAGS', `unknown flags 0x${flags.toString(16)} or non-zero reserved bytes.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, FRAME_HEADER_BYTES);
  const bodyBytes = view.getUint32(8, true);
  const uncompressedBytes = view.getUint32(12, true);
  const checksum = view.getUint32(16, true);
  const compressed = (flags & FLAG_SNAPPY) !== 0;
  if (bodyBytes > limits.maxFrameBytes || uncompressedBytes > limits.maxFrameBytes) {
    throw new FrameError(
      'TOO_LARGE',
      `the body claims ${Math.max(bodyBytes, uncompressedBytes)} bytes, more than limits.maxFrameBytes (${limits.maxFrameBytes}).`,
    );
  }
  if (!compressed && uncompressedBytes !== bodyBytes) {
    throw new FrameError('LENGTH_MISMATCH', `an uncompressed body of ${bodyBytes} bytes claims ${uncompressedBytes} uncompressed.`);
  }
  return { version, compressed, bodyBytes, uncompressedBytes, checksum, frameBytes: FRAME_HEADER_BYTES + bodyBytes };
}

/**
 * Snappy turns at most 3 input bytes into 64 output bytes (a 2-byte-offset copy),
 * so a compressed body can never honestly claim more than about 21.4 times its size.
 */
const SNAPPY_MAX_EXPANSION = 22;

/** Our own errors as they are; anything else thrown while reading (a bug) as a `FrameError`, so that callers need catch no other. */
export function asFrameError(error: unknown): unknown {
  if (isBusError(error)) return error;
  return new FrameError('MALFORMED', `decoding failed unexpectedly: ${String(error)}`, { cause: error });
}

/**
 * Checks a whole frame (type, header, length, CRC32C) and returns its body,
 * decompressed: a view of `bytes` unless it was compressed or in shared memory.
 */
export function frameBody(bytes: Uint8Array, limits: FrameLimits): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new FrameError('MALFORMED', `expected a Uint8Array, got ${describe(bytes)}.`);
  const header = checkHeader(bytes, limits);
  if (bytes.length < header.frameBytes) {
    throw new FrameError('TRUNCATED', `the frame has ${bytes.length} bytes; its header announces ${header.frameBytes}.`);
  }
  if (bytes.length > header.frameBytes) {
    throw new FrameError(
      'LENGTH_MISMATCH',
      `the frame has ${bytes.length} bytes; its header announces ${header.frameBytes}. Pass exactly one frame.`,
    );
  }
  // A plain view of exactly the body. Bodies in shared memory are copied
  // first, so that the bytes checksummed are the bytes verified and read.
  let body = new Uint8Array(bytes.buffer, bytes.byteOffset + FRAME_HEADER_BYTES, header.bodyBytes);
  if (typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer) body = body.slice();
  if (crc32c(body) >>> 0 !== header.checksum) {
    throw new FrameError('CHECKSUM', 'the body does not match its CRC32C; it was damaged in transit.');
  }
  return header.compressed ? decompress(body, header) : body;
}

function decompress(body: Uint8Array, header: FrameHeader): Uint8Array {
  // Raw snappy starts with the uncompressed length as a little-endian base-128 varint.
  let claimed = 0;
  let i = 0;
  for (let shift = 0; ; shift += 7, i++) {
    if (i >= body.length || i >= 5) throw new FrameError('DECOMPRESS', 'the snappy length prefix is truncated or too long.');
    const byte = body[i] as number;
    claimed += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  if (claimed !== header.uncompressedBytes) {
    throw new FrameError(
      'LENGTH_MISMATCH',
      `the snappy body claims ${claimed} uncompressed bytes; the header says ${header.uncompressedBytes}.`,
    );
  }
  if (claimed > body.length * SNAPPY_MAX_EXPANSION) {
    throw new FrameError('DECOMPRESS', `${body.length} snappy bytes cannot expand to the ${claimed} they claim.`);
  }
  let output: Uint8Array;
  try {
    output = uncompressSync(body, { asBuffer: true }) as Uint8Array;
  } catch (cause) {
    throw new FrameError('DECOMPRESS', `snappy refused the body: ${String(cause)}`, { cause });
  }
  if (output.length !== claimed) {
    throw new FrameError('DECOMPRESS', `snappy produced ${output.length} bytes instead of ${claimed}.`);
  }
  return new Uint8Array(output.buffer, output.byteOffset, output.length);
}
