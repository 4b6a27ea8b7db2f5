/**
 * `busline/testing`: recordings in tests. Read a file that
 * `runtime.record()` wrote, replay it against the statecharts, and assert a
 * run's transitions against the recording or against a list written in the
 * test; a mismatch fails with a readable diff (`ReplayMismatchError`).
 *
 * Apart from `busline` because it loads the machines and XState's types;
 * an application that never tests with recordings never loads it.
 *
 * @example
 * import { createRuntime } from 'busline'
 * import { assertReplay, readRecording } from 'busline/testing'
 * const runtime = createRuntime()
 * const recording = await runtime.record('run.blrec')
 * runtime.bridge.open()
 * await runtime.stop()                                  // finishes the file
 * assertReplay(await readRecording('run.blrec'))        // the machines still do what they did
 *
 * @packageDocumentation
 */
import { FrameError, ReplayMismatchError } from './errors.js';
import type { Recording } from './runtime/recording/recording-file.js';
import { checkReplayArguments, recordedTransitions, replay, type ReplayOptions } from './runtime/recording/replay.js';
import { assertTransitions } from './runtime/recording/transitions-diff.js';

// Types first.
export type { Recording, RecordedEvent, RecordedInspection, RecordingEnd } from './runtime/recording/recording-file.js';
export type { ReplayMachine, ReplayOptions, Transition } from './runtime/recording/replay.js';
export type { StatelyMessage, ActorPlace } from './inspector/protocol.js';

// Values.
export { readRecording, recordingFromExport, RECORDING_FORMAT, RECORDING_VERSION } from './runtime/recording/recording-file.js';
export { recordedTransitions, replay, stateText } from './runtime/recording/replay.js';
export { assertTransitions, diffTransitions } from './runtime/recording/transitions-diff.js';

/**
 * Replays `recording` (optionally against other machines: `options.machines`)
 * and throws a `ReplayMismatchError` with a readable diff unless every actor
 * goes through the recorded transitions. A recording that lost records
 * (`recording.end.dropped`) cannot be replayed faithfully and is refused.
 *
 * @example
 * assertReplay(await readRecording('run.blrec'), { machines: { bridge: myChangedBridge } })
 */
export function assertReplay(recording: Recording, options: ReplayOptions = {}): void {
  checkReplayArguments(recording, options, 'assertReplay');
  if (recording.end.dropped > 0) {
    throw new ReplayMismatchError(
      `The recording lost ${recording.end.dropped} records (the file or the inspection path was slower than the run); ` +
        'it cannot be replayed faithfully. Record a shorter run or raise record options.maxBufferedBytes.',
      0,
    );
  }
  assertTransitions(replay(recording, options), recordedTransitions(recording, options));
}

/** Damaged recordings are refused with this error (`FRAME_CORRUPT`, `error.reason` says how). */
export { FrameError };
