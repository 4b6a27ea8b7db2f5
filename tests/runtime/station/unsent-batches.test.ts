/**
 * A local station's unsent batches against its budget while a `toMain()` is
 * under way (manual syncs, where the oldest unsent events go at the budget):
 * the push's batches are on their way out, so no newer event is dropped for
 * them; what a failed push brings back is counted once, and dropped from
 * oldest first, as if it had never been pushed.
 */
import { suite } from 'uvu';
import fc from 'fast-check';
import { UnsentBatches } from '../../../runtime/station/unsent-batches.js';
import type { Importance } from '../../../runtime/store/memory-policy.js';
import * as assert from 'uvu/assert';
import { createRuntime, type BusEvent, type Runtime } from '../../../index.js';
import { gate } from '../../helpers.js';
import { STATION_THREAD } from '../../../runtime/station/links.js';
import type { Station } from '../../../runtime/station/station.js';
import { FrameTransport, type Transport } from '../../../runtime/wire/transport.js';
import type { WireMessage } from '../../../runtime/wire/protocol.js';

const test = suite('UnsentBatches');
let runtime: Runtime | undefined;
test.after.each(async () => {
  await runtime?.stop();
  runtime = undefined;
});

/** Frames every hop; a local station's push waits at `held` while it is set (and fails if it opens with false). */
function holdingTransport(): Transport & { held: ReturnType<typeof gate<boolean>> | undefined } {
  const frames = new FrameTransport();
  const transport = {
    name: 'holding',
    carriesEncoded: true,
    held: undefined as ReturnType<typeof gate<boolean>> | undefined,
    async carry(message: WireMessage, receiver?: Parameters<Transport['carry']>[1]): Promise<WireMessage> {
      const held = transport.held;
      if (held !== undefined && message.kind === 'batch' && message.from.thread === STATION_THREAD && message.history.length > 0) {
        if (!(await held.promise)) throw new Error('link down');
      }
      return frames.carry(message, receiver);
    },
  };
  return transport;
}

/** Each log about 600 bytes encoded: a budget of 16 KiB holds about 27. */
const BUDGET = 16 * 1024;
const line = (n: number) => `${n}:`.padEnd(512, String(n % 997));

/** A runtime under manual syncs whose local station holds 20 logs unsent (about three quarters of its budget). */
async function twentyUnsent(transport: Transport) {
  runtime = createRuntime({ deferred: 'manual', transport, memory: { budget: { stationBytes: BUDGET, busBytes: 16 * BUDGET } } });
  const rt = runtime;
  const drops: BusEvent[] = [];
  rt.bus('internal').subscribe('busline.memory.dropped', (event) => void drops.push(event));
  const taken: number[] = [];
  (rt.mainStation('external') as Station).onAccepted = (added) => void taken.push(...added.map((event) => (event.payload as { n: number }).n));
  for (let n = 0; n < 20; n++) rt.bus('external').post('log', { n, line: line(n) });
  await rt.bus('external').toStation();
  const local = rt.station('external');
  const before = local.memory()!.unsent!;
  assert.is(before.count, 20);
  assert.ok(before.bytes < 0.8 * BUDGET && before.bytes > 0.5 * BUDGET, `20 logs are ${before.bytes} bytes`);
  return { rt, local, drops, taken, before };
}

/** Posts logs `from`..`to - 1`, one sync each (a drop, if any, comes at a sync). */
async function postEach(rt: Runtime, from: number, to: number): Promise<void> {
  for (let n = from; n < to; n++) {
    rt.bus('external').post('log', { n, line: line(n) });
    await rt.bus('external').toStation();
  }
}

test('admit - under manual syncs, logs that arrive while a toMain() is under way are not dropped for the logs it carries: once it has gone, all of them reach the main station', async () => {
  const transport = holdingTransport();
  const { rt, local, drops, taken } = await twentyUnsent(transport);
  transport.held = gate<boolean>();
  const pushing = local.toMain();
  // Ten more while the push waits: with the push's twenty they are past the budget, alone a third of it.
  await postEach(rt, 20, 30);
  assert.is(local.memory()!.unsent!.count, 30, 'the push\'s 20 and the 10 that came meanwhile');
  transport.held.open(true);
  transport.held = undefined;
  await pushing;
  await local.toMain();
  rt.bus('internal').drain();
  assert.equal(drops.map((event) => event.payload), [], 'nothing dropped');
  assert.equal(taken, Array.from({ length: 30 }, (_, n) => n), 'every log reached the main station, once');
  assert.is(local.memory()!.unsent!.count, 0);
  assert.is(local.memory()!.unsent!.bytes, 0);
});

test('settled - what a failed toMain() brings back is counted once, and the next admission drops from it oldest first, as if it had not been pushed', async () => {
  const transport = holdingTransport();
  const { rt, local, drops, taken, before } = await twentyUnsent(transport);
  transport.held = gate<boolean>();
  const pushing = local.toMain();
  await postEach(rt, 20, 30);
  const during = local.memory()!.unsent!;
  transport.held.open(false);
  transport.held = undefined;
  await pushing.then(() => assert.unreachable('the link failed'), () => undefined);
  const after = local.memory()!.unsent!;
  assert.equal(after, during, 'the same events and bytes as while it was under way');
  assert.is(after.count, 30);
  assert.ok(after.bytes > BUDGET && after.bytes < 2 * before.bytes, `counted once: ${after.bytes} bytes for 30 logs, ${before.bytes} for 20`);
  // The next sync's batch makes room: the oldest go, down to 0.9 of the budget.
  await postEach(rt, 30, 31);
  rt.bus('internal').drain();
  assert.is(drops.length, 1);
  const dropped = (drops[0]!.payload as { count: number }).count;
  assert.ok(dropped > 0 && dropped < 10, `${dropped} dropped`);
  await local.toMain();
  assert.equal(taken, Array.from({ length: 31 - dropped }, (_, n) => n + dropped), 'the oldest went; the rest reached the main station, once, in order');
  assert.is(local.memory()!.unsent!.bytes, 0);
});

test('admit, take, settled, removeSide - count every byte that waits or is pushed once, never below 0, and no drop takes a push\'s events', () => {
  let n = 0;
  const made = (size: number, side: 'internal' | 'external', importance: string) => ({ id: `1.0.${n++}`, type: importance, side, size }) as unknown as BusEvent;
  const sizeOf = (event: BusEvent) => (event as unknown as { size: number }).size;
  const added = fc.array(fc.record({ size: fc.integer({ min: 1, max: 50 }), side: fc.constantFrom('internal' as const, 'external' as const), importance: fc.constantFrom('low', 'normal', 'high') }), { minLength: 1, maxLength: 5 });
  const step = fc.oneof(
    fc.record({ op: fc.constant('batch' as const), events: added, drop: fc.boolean() }),
    fc.record({ op: fc.constant('take' as const) }),
    fc.record({ op: fc.constant('settled' as const), pushed: fc.nat(6) }),
    fc.record({ op: fc.constant('clear' as const), side: fc.constantFrom('internal' as const, 'external' as const) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 20, max: 200 }), fc.array(step, { maxLength: 60 }), (budget, steps) => {
      const unsent = new UnsentBatches(budget, sizeOf, (type) => type as Importance, 'station:local:1:external');
      let taken: BusEvent[][] | undefined;
      for (const s of steps) {
        if (s.op === 'batch') {
          let admitted = true;
          try {
            unsent.admit(s.drop);
          } catch {
            admitted = false;
          }
          if (admitted) unsent.push(s.events.map((e) => made(e.size, e.side, e.importance)));
          const all = new Set(unsent.all.flat());
          for (const event of taken?.flat() ?? []) assert.ok(all.has(event), 'a push under way keeps its events');
        } else if (s.op === 'take' && taken === undefined) taken = unsent.take();
        else if (s.op === 'settled' && taken !== undefined) {
          unsent.settled(taken, Math.min(s.pushed, taken.length));
          taken = undefined;
        } else if (s.op === 'clear') unsent.removeSide(s.side);
        assert.is(unsent.bytes, unsent.all.flat().reduce((sum, event) => sum + sizeOf(event), 0), `bytes after ${s.op}`);
      }
    }),
    { numRuns: 500 },
  );
});

test.run();
