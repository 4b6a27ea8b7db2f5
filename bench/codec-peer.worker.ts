/**
 * The "codec, no bus" peer of the cross-thread benchmark: the per-batch work
 * any framed data plane does, without busline's bus, station or statecharts.
 * Each batch of ready-made events is encoded (`encodeFrame`, as a bus's link
 * does), transferred on the data port, scanned and acknowledged with an Ack
 * frame by the host (`scanMessage`, as a station's channel does), one batch
 * after the ack of the one before. Timed here, from the encode to the ack.
 */
import type { BusEvent } from '../types.js';
import { encodeFrame } from '../schemas/codec/index.js';
import { serveWorker } from '../runtime/hosting/serve-worker.js';
import type { WorkerContext } from '../runtime/hosting/worker-api.js';

function createApi({ port }: WorkerContext) {
  const from = { processor: 0, thread: 1, generation: 0, side: 'external' as const };
  const origin = { processor: 0, thread: 1, generation: 0 };
  const acked = () => new Promise<void>((resolve) => port.once('message', () => resolve()));
  return {
    /** `batches` batches of `size` events, numbered from `first`: the ns from the first encode to the last ack. */
    async stream(batches: number, size: number, first: number): Promise<number> {
      let ns = 0;
      let n = first;
      for (let b = 0; b < batches; b++) {
        // Made before the clock starts, as the toStation() row does not time the posts either.
        const history: BusEvent[] = [];
        for (let i = 0; i < size; i++, n++) {
          history.push({
            id: `0.1.${n}`,
            type: n % 3 === 0 ? 'order.created' : 'user.login',
            side: 'external',
            timestamp: 1_700_000_000_000 + n,
            origin,
            priority: 'normal',
            payload: { user: 'u1', n },
          });
        }
        const start = process.hrtime.bigint();
        const frame = encodeFrame({ kind: 'batch', seq: 2 * b + 1, from, history, queue: [] }, { compress: false });
        const ack = acked();
        port.postMessage(frame, [frame.buffer as ArrayBuffer]);
        await ack;
        ns += Number(process.hrtime.bigint() - start);
      }
      return ns;
    },
  };
}

/** The control API of the codec peer worker. */
export type CodecPeerApi = ReturnType<typeof createApi>;

await serveWorker(createApi);
