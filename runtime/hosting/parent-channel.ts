/**
 * A processor's IPC channel to the root, as the child process has it. A send
 * can fail once the root is gone: with EPIPE when the root died and the
 * kernel closed its end before Node here saw the channel's 'disconnect', or
 * with ERR_IPC_CHANNEL_CLOSED after it. Without a callback Node raises either
 * as an uncaught 'error' and the processor dies with a stack trace; here every
 * send has a callback, and a failed one means the root is gone.
 */
import type { FramePort } from '../wire/frame-channel.js';
import type { ProcessorReport } from '../wire/protocol.js';

/** The IPC channel to the root, as a child process has it. */
export interface ParentChannel {
  /** Sends `message`; `sent` runs once it is written to the channel (not when the send failed). */
  send(message: ProcessorReport | Uint8Array, sent?: () => void): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/** What `processParent` needs of a process: Node's `process` in a forked child. */
export interface ForkedProcess {
  send?: NodeJS.Process['send'];
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * The channel of a forked child process to its parent. `gone` runs (with the
 * send's error) when a send fails: the parent is gone, and so is the child's
 * reason to run; a processor exits there.
 */
export function processParent(child: ForkedProcess, gone: (error: Error) => void): ParentChannel {
  if (child.send === undefined) throw new Error('processParent: this process was not forked with an IPC channel');
  return {
    send: (message, sent) =>
      void child.send!(message, undefined, undefined, (error: Error | null) => {
        if (error !== null && error !== undefined) gone(error);
        else sent?.();
      }),
    on: (event, listener) => child.on(event, listener),
    off: (event, listener) => child.off(event, listener),
  };
}

/** Frames over the IPC channel (they are copied; IPC cannot transfer). */
export function parentFrames(parent: ParentChannel): FramePort {
  return {
    send: (frame) => parent.send(frame),
    listen: (listener) => {
      const onMessage = (message: unknown) => {
        if (message instanceof Uint8Array) listener(message);
      };
      parent.on('message', onMessage);
      return () => void parent.off('message', onMessage);
    },
  };
}
