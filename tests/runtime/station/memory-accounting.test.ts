/**
 * What a station's `memory()` reports against what it holds: `frameBytes`
 * counts every frame the station keeps alive, also those its arrival runs
 * keep for events that already left (they let go of them lazily, at their
 * next compaction) and those of events it has not pushed upstream yet,
 * checked against the frames it accepted that are still alive once
 * collected.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type BusEvent, type Runtime } from '../../../index.js';
import type { Station } from '../../../runtime/station/station.js';
import { EncodedEvent } from '../../../runtime/store/encoded-events.js';
import { collectUntil } from '../../helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const test = suite('Station memory accounting');
let runtime: Runtime | undefined;
test.after.each(async () => {
  await runtime?.stop();
});

/** Watches the frames `station` accepts from now on: each buffer once, weakly. */
function watchFrames(station: Station): { frames: Array<WeakRef<ArrayBufferLike>>; stop: () => void } {
  const frames: Array<WeakRef<ArrayBufferLike>> = [];
  const seen = new WeakSet<ArrayBufferLike>();
  const previous = station.onAccepted;
  station.onAccepted = (events) => {
    previous?.(events);
    for (const event of events) {
      if (!(event instanceof EncodedEvent)) continue;
      const { buffer } = event.batch.body;
      if (seen.has(buffer)) continue;
      seen.add(buffer);
      frames.push(new WeakRef(buffer));
    }
  };
  return { frames, stop: () => void (station.onAccepted = previous) };
}

/** Bytes of the watched frames still alive once collected. */
async function aliveBytes(frames: ReadonlyArray<WeakRef<ArrayBufferLike>>): Promise<number> {
  await collectUntil(gc, frames, 0);
  return frames.reduce((bytes, frame) => bytes + (frame.deref()?.byteLength ?? 0), 0);
}

test('memory - frameBytes counts the frames of ticks removed once delivered while the arrival runs keep them, or the events not pushed upstream yet, and not once they let go', async () => {
  runtime = createRuntime({
    deferred: 'manual',
    memory: { policies: { tick: { removeAfterDelivery: true } }, budget: { stationBytes: 64 << 20, busBytes: 64 << 20 } },
  });
  const writer = runtime.bus('external');
  const reader = runtime.addThread().bus('external');
  let ticks = 0;
  reader.subscribe('tick', (_event: BusEvent) => void ticks++);
  await reader.fromStation(); // its interest in ticks, declared
  const local = runtime.station('external') as Station;
  const watched = watchFrames(local);
  // Logs in frames about 15 times the ticks' frame: removing the ticks leaves the runs below their early compaction.
  for (let i = 0; i < 2_000; i++) writer.post('log', { i, line: 'x'.repeat(2_000) });
  await writer.sync();
  const logFrames = local.memory()!.frameBytes;
  for (let i = 0; i < 1_000; i++) writer.post('tick', { i, pad: 'y'.repeat(200) });
  await writer.sync();
  const before = local.memory()!.frameBytes;
  assert.is(before, await aliveBytes(watched.frames), 'every frame the station accepted, and only those');

  await reader.fromStation();
  assert.is(ticks, 1_000);
  assert.is(local.memory()!.count, 2_000, 'the ticks left the history once read');
  const alive = await aliveBytes(watched.frames);
  assert.is(alive, before, 'the arrival runs still keep the ticks\' frame');
  assert.is(local.memory()!.frameBytes, alive, 'and memory() says so');

  // As many ticks again, read: the runs compact (half of what they hold was removed) and let go of the ticks' frames,
  // but what the station has not pushed to the main station yet keeps them: counted.
  for (let i = 0; i < 2_000; i++) writer.post('tick', { i, pad: 'y'.repeat(200) });
  await writer.sync();
  await reader.fromStation();
  assert.is(ticks, 3_000);
  watched.stop();
  const unsent = await aliveBytes(watched.frames);
  assert.ok(unsent > before, 'both ticks\' frames are alive');
  assert.is(local.memory()!.frameBytes, unsent);
  // Pushed, they go from this station (the main station holds them in this process: not counted here).
  await local.toMain();
  assert.is(local.memory()!.frameBytes, logFrames);
});

test.run();
