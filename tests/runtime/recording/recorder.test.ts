/**
 * `runtime.record(path)` and `readRecording(path)`: what a recording holds
 * (inspection records and the events main stations accepted, stamped with
 * the runtime's clock), how it ends (`stop()`, `runtime.stop()`), how much
 * memory it may hold (drop-oldest, counted), and that a damaged, cut or
 * unfinished file is refused with a `FrameError`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, FrameError, isBusError, ManualClock, Service, type InvalidOptionError } from '../../../index.js';
import { readRecording, type RecordedEvent, type RecordedInspection } from '../../../testing.js';
import { Recorder } from '../../../runtime/recording/recorder.js';
import { FRAME_HEADER_BYTES } from '../../../schemas/codec/frame.js';
import { rejects } from '../../helpers.js';

const test = suite('recording');
const dir = mkdtempSync(join(tmpdir(), 'busline-recording-'));
let files = 0;
const file = () => join(dir, `run-${files++}.blrec`);

const inspections = (records: readonly (RecordedInspection | RecordedEvent)[]) =>
  records.filter((record): record is RecordedInspection => record.kind === 'inspection');

/** A short run: the bridge opens at t=1000, locks at 1010; one event reaches the main station at 1020. */
async function shortRun(path: string) {
  const clock = new ManualClock(1000);
  const runtime = createRuntime({ clock });
  const recording = await runtime.record(path);
  await runtime.bridge.open();
  clock.advance(10);
  await runtime.bridge.lock();
  clock.advance(10);
  runtime.bus('external').post('user.login', { id: 7 });
  runtime.bus('external').post('blob.saved', new Uint8Array([1, 2, 255]));
  await runtime.bus('external').toStation();
  await runtime.station('external').toMain();
  return { runtime, recording, clock };
}

test('record - writes the actors\' inspection records and the events main stations accept, at the runtime clock', async () => {
  const path = file();
  const { runtime, recording } = await shortRun(path);
  const summary = await recording.stop();
  await runtime.stop();
  const read = await readRecording(path);
  assert.is(read.startedAt, 1000);
  assert.equal(read.end, { stoppedAt: 1020, inspections: summary.inspections, events: 2, dropped: 0 });
  assert.is(summary.bytes, readFileSync(path).length);
  const bridge = inspections(read.records).filter((record) => record.message.busline?.actorId === 'bridge');
  // Announced with its state when the recording began, then one event and one snapshot per command.
  assert.equal(
    bridge.map((record) => [record.at, record.message.type, (record.message.event as { type: string } | undefined)?.type ?? '']),
    [
      [1000, '@xstate.actor', ''],
      [1000, '@xstate.event', 'OPEN'],
      [1000, '@xstate.snapshot', 'OPEN'],
      [1010, '@xstate.event', 'LOCK'],
      [1010, '@xstate.snapshot', 'LOCK'],
    ],
  );
  const events = read.records.filter((record): record is RecordedEvent => record.kind === 'event');
  assert.equal(events.map((record) => [record.at, record.event.type, record.event.side]), [
    [1020, 'user.login', 'external'],
    [1020, 'blob.saved', 'external'],
  ]);
  assert.equal(events[0]!.event.payload, { id: 7 });
  assert.equal(events[1]!.event.payload, new Uint8Array([1, 2, 255]), 'byte payloads come back as bytes');
});

test('record - runtime.stop() finishes the file; the handle\'s stop() after it answers the same summary', async () => {
  const path = file();
  const { runtime, recording } = await shortRun(path);
  await runtime.stop();
  const read = await readRecording(path);
  const stopped = inspections(read.records).filter((record) => (record.message.snapshot as { status?: string } | undefined)?.status === 'stopped');
  assert.ok(stopped.length >= 5, `the actors' last snapshots (stopped) are in it: ${stopped.length}`);
  assert.is((await recording.stop()).events, read.end.events);
  await rejects(runtime.record(file()), 'RUNTIME_STOPPED', 'record after stop');
});

test('record - started while runtime.stop() runs (by a service\'s onStop()): stop() finishes that file too before it resolves; record() then rejects RUNTIME_STOPPED', async () => {
  const path = file();
  const runtime = createRuntime();
  let recording: Promise<string> | undefined;
  class RecordsOnStop extends Service {
    protected onStart() {}
    protected override onStop() {
      recording = runtime.record(path).then(
        () => 'recording',
        (error: { code?: string }) => String(error.code),
      );
    }
  }
  await new RecordsOnStop(runtime.bus('external')).start();
  await runtime.stop();
  // Read at once: a file still open (its last chunk unwritten) reads as TRUNCATED.
  const read = await readRecording(path);
  assert.ok(read.end.stoppedAt >= 0, 'it has its last chunk');
  assert.is(await recording, 'RUNTIME_STOPPED');
});

test('record - refuses a path that is not a string, unknown options and a file it cannot open (INVALID_OPTION, the file system\'s error its cause)', async () => {
  const runtime = createRuntime();
  try {
    await rejects(runtime.record(7 as unknown as string), 'INVALID_OPTION', 'path 7');
    await rejects(runtime.record(file(), { maxBufferedBytes: -1 }), 'INVALID_OPTION', 'maxBufferedBytes -1');
    await rejects(runtime.record(file(), { every: 1 } as never), 'INVALID_OPTION', 'unknown option');
    const missing = join(dir, 'missing', 'dir', 'x.blrec');
    await runtime.record(missing).then(
      () => assert.unreachable('a file in a missing directory was opened'),
      (error: InvalidOptionError) => {
        assert.ok(isBusError(error, 'INVALID_OPTION'), String(error));
        assert.is(error.option, 'record path');
        assert.ok(error.message.startsWith(`Invalid option "record path": cannot write ${missing}: ENOENT: `), error.message);
        assert.is((error.cause as NodeJS.ErrnoException).code, 'ENOENT');
      },
    );
    // Refused with nothing started: a recording to a path that works still records the run.
    const recording = await runtime.record(file());
    runtime.bus('external').post('after.refusal', {});
    await runtime.bus('external').toStation();
    await runtime.station('external').toMain();
    assert.is((await recording.stop()).events, 1);
  } finally {
    await runtime.stop();
  }
});

test('Recorder - a run that never yields is recorded in full: chunks are encoded as they fill', async () => {
  const path = file();
  const recorder = await Recorder.open(path, () => 0, () => 0);
  // 20 000 records without a turn of the event loop (a loop of awaited promises gives none).
  for (let i = 0; i < 20_000; i++) recorder.publish(record(i));
  assert.ok(recorder.bufferedBytes > 0, 'the stream asked to wait: chunks are held, encoded');
  assert.ok(recorder.bufferedBytes < 20_000 * 40, `held compressed: ${recorder.bufferedBytes} bytes`);
  const summary = await recorder.stop();
  assert.equal([summary.inspections, summary.dropped], [20_000, 0]);
  assert.is((await readRecording(path)).records.length, 20_000);
});

test('Recorder - holds at most maxBufferedBytes of chunks; the oldest held are dropped and counted in the file', async () => {
  const path = file();
  const recorder = await Recorder.open(path, () => 0, () => 0, 1);
  // 100 chunks of 1024 records, far more than a write stream's buffer takes before it asks to wait
  // (its highWaterMark: 16 KiB on Node 20, 64 KiB from Node 22).
  const total = 100 * 1024;
  for (let i = 0; i < total; i++) recorder.publish(record(i));
  const summary = await recorder.stop();
  const kept = inspections((await readRecording(path)).records).map((line) => (line.message as unknown as { i: number }).i);
  // The first chunks went to the stream until it asked to wait; of those held after them only the newest is kept.
  const written = kept.findIndex((value, i) => value !== i);
  assert.ok(written >= 1024 && written % 1024 === 0, `whole chunks written first: ${written}`);
  assert.equal(kept.slice(written), Array.from({ length: 1024 }, (_, i) => total - 1024 + i), 'then the newest chunk');
  assert.equal([summary.inspections, summary.dropped], [kept.length, total - kept.length]);
  assert.ok(summary.dropped >= total / 2, `${summary.dropped} dropped`);
  assert.is((await readRecording(path)).end.dropped, summary.dropped);
});

/** An inspection record numbered `i`. */
function record(i: number) {
  return { type: '@xstate.event' as const, sessionId: 'x:0', ended: false, json: JSON.stringify({ type: '@xstate.event', sessionId: 'x:0', i }) };
}

test('Recorder - a run longer than one chunk is written in several frames, read back in order', async () => {
  const path = file();
  const recorder = await Recorder.open(path, () => 5, () => 0);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 1500; i++) recorder.publish(record(round * 1500 + i));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await recorder.stop();
  const read = await readRecording(path);
  assert.equal(inspections(read.records).map((record) => (record.message as unknown as { i: number }).i), Array.from({ length: 4500 }, (_, i) => i));
});

/** The error `readRecording` refuses `bytes` with. */
async function refusal(bytes: Uint8Array): Promise<FrameError> {
  const path = file();
  writeFileSync(path, bytes);
  try {
    await readRecording(path);
  } catch (error) {
    assert.instance(error, FrameError);
    return error as FrameError;
  }
  return assert.unreachable('a damaged recording was read') as never;
}

test('readRecording - refuses a flipped byte, a cut file, an unfinished one, another file, and a chunk after the last', async () => {
  const path = file();
  const { runtime, recording } = await shortRun(path);
  await recording.stop();
  await runtime.stop();
  const good = readFileSync(path);
  const flipped = Uint8Array.from(good);
  flipped[good.length - 3]! ^= 0x10;
  assert.is((await refusal(flipped)).reason, 'CHECKSUM');
  assert.match((await refusal(flipped)).message, /chunk \d+ \(byte \d+\)/);
  assert.is((await refusal(good.subarray(0, good.length - 5))).reason, 'TRUNCATED');
  // Without its last chunk: the run was cut short (no stop()).
  const lastStart = lastChunkStart(good);
  assert.is((await refusal(good.subarray(0, lastStart))).reason, 'TRUNCATED');
  assert.match((await refusal(good.subarray(0, lastStart))).message, /never stopped/);
  assert.is((await refusal(new TextEncoder().encode('not a recording\n'.repeat(3)))).reason, 'BAD_MAGIC');
  assert.is((await refusal(Buffer.concat([good, good.subarray(lastStart)]))).reason, 'MALFORMED');
  assert.is((await refusal(new Uint8Array())).reason, 'TRUNCATED');
});

/** Where the last frame of a recording starts (frames are read one header at a time). */
function lastChunkStart(bytes: Uint8Array): number {
  let at = 0;
  let last = 0;
  while (at < bytes.length) {
    last = at;
    at += FRAME_HEADER_BYTES + new DataView(bytes.buffer, bytes.byteOffset + at + 8, 4).getUint32(0, true);
  }
  return last;
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
