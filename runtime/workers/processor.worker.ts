/**
 * The entry of a processor: a child process forked by
 * `runtime/hosting/processor-host.ts`. It waits for `init`, starts the processor's
 * stations and threads, says `ready`, and answers control messages until
 * `stop`. It exits when the root goes away (the IPC channel disconnects), so
 * no processor outlives its runtime.
 */
import { ProcessorNode } from '../hosting/processor-node.js';
import { parentFrames, processParent } from '../hosting/parent-channel.js';
import { isBusError } from '../../errors.js';
import { toWireError } from '../wire/wire-errors.js';
import type { Outcome, ProcessorControl, ProcessorReport } from '../wire/protocol.js';

if (process.send === undefined) {
  console.error('busline: processor.worker.ts runs only as a child process forked by the runtime.');
  process.exit(2);
}

// A failed send means the root is gone (see parent-channel.ts), and so is this processor's reason to run.
const parent = processParent(process, () => process.exit(0));
const report = (message: ProcessorReport) => parent.send(message);
let node: ProcessorNode | undefined;

process.on('disconnect', () => process.exit(0));

process.on('message', (message: unknown) => {
  if (message instanceof Uint8Array) return; // frames belong to the node's channel
  const control = message as ProcessorControl;
  // The root's heartbeat: answered at once, so a main thread that is blocked (or a stopped process) answers nothing.
  if (control.type === 'ping') {
    report({ type: 'pong' });
    return;
  }
  if (control.type === 'init') {
    node = new ProcessorNode(
      parentFrames(parent),
      control.init,
      (thread, incarnation) => report({ type: 'threadReplaced', thread, incarnation }),
      // The next batch goes once this one is written to the channel: a root that reads slowly holds it back.
      (batch, written) => parent.send({ type: 'inspection', batch }, written),
      (failure) => report({ type: 'failure', report: failure }),
    );
    node.start().then(
      () => report({ type: 'ready' }),
      (error: unknown) =>
        report(isBusError(error, 'INVALID_OPTION') ? { type: 'failed', message: String(error), refused: toWireError(error) } : { type: 'failed', message: String(error) }),
    );
    return;
  }
  if (node === undefined) return;
  // control() answers every call with an Outcome; should one reject anyway, it is that call's failure, not this process's.
  void node
    .control(control)
    .catch((error: unknown): Outcome<unknown> => ({ ok: false, ...toWireError(error) }))
    .then((outcome) => {
      report({ type: 'result', id: control.id, outcome });
      if (control.type === 'stop') process.disconnect();
    });
});
