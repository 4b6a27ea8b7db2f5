/**
 * A main station takes no event twice from a child processor: what it took
 * and then let go (evicted at its budget, removed after delivery or search,
 * expired) is not taken again when that processor sends it once more, after
 * an Ack it never saw or from a restart's journal. Readers that let their
 * copy go after delivering it would otherwise deliver the resent one too.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, type Runtime } from '../../../index.js';
import type { RemoteBus } from '../../../runtime/bus/remote-bus.js';
import type { RemoteStation } from '../../../runtime/hosting/processor-host.js';
import { STATION_THREAD } from '../../../runtime/station/links.js';
import type { Station } from '../../../runtime/station/station.js';
import { LET_GO_REMEMBERED, LET_GO_REMEMBERED_IN_ALL, LetGoIds } from '../../../runtime/station/let-go-ids.js';
import type { BusEvent } from '../../../types.js';
import fc from 'fast-check';
import { ids, loseNextAck, nextCrash } from '../../helpers.js';
import { encodeFrame } from '../../../schemas/codec/index.js';
import { scanBatch } from '../../../runtime/store/encoded-events.js';

const test = suite('LetGoIds');
let runtime: Runtime | undefined;
test.after.each(async () => {
  await runtime?.stop();
  runtime = undefined;
});

const BUDGET = 64 * 1024;
const line = (n: number) => `${n}:`.padEnd(512, String(n % 997));

/**
 * Child processor 1 (`sender`, a process of its own, with a journal) posts logs (low importance, removed once
 * delivered); `receiver`, added with addProcessor(), subscribes to them; `idle`, added too, is connected and never
 * reads (the main station holds logs for it); the root's fills (normal) push the main station over its budget, which
 * evicts the logs. The main station takes the sender's first push and its Ack is lost on the way back (as when the
 * channel closes): the push rejects in the child, whose station keeps the logs unsent (and in its journal).
 */
async function childSender() {
  runtime = createRuntime({
    processors: 1,
    deferred: 'manual',
    memory: { policies: { log: { importance: 'low', removeAfterDelivery: true } }, budget: { stationBytes: BUDGET, busBytes: 64 * BUDGET } },
  });
  const rt = runtime;
  await rt.ready;
  const sender = 1;
  const [receiver] = [rt.addProcessor().processor, rt.addProcessor().processor];
  const reader = rt.thread(receiver, 0).bus('external');
  const seen: string[] = [];
  reader.subscribe('log', (event) => void seen.push(event.id));
  await reader.fromStation();
  await rt.station('external', receiver).fromMain();
  const main = rt.mainStation('external') as Station;
  const fill = async (from: number) => {
    for (let n = from; n < from + 60; n++) rt.bus('external').post('fill', { n, line: line(n) });
    await rt.bus('external').toStation();
    await rt.station('external').toMain();
  };
  const deliver = async () => {
    await rt.station('external', receiver).fromMain();
    await reader.fromStation();
  };
  loseNextAck(main, sender);
  const station = () => rt.processor(sender).station('external') as RemoteStation;
  const bus = rt.thread(sender, 0).bus('external') as RemoteBus;
  const logs = [await bus.post('log', { n: 0, line: line(0) }), await bus.post('log', { n: 1, line: line(1) }), await bus.post('log', { n: 2, line: line(2) })];
  await bus.toStation();
  const refused = await station().toMain().then(() => undefined, (error: unknown) => error);
  assert.ok(refused instanceof Error, 'the Ack was lost');
  assert.equal(ids(main.history({ types: ['log'] })), ids(logs), 'the main station took them');
  assert.is((await station().memory())!.unsent!.count, 3, 'the sender still holds them unsent');
  await deliver();
  assert.equal(seen, ids(logs));
  assert.equal(ids(rt.station('external', receiver).history({ types: ['log'] })), [], 'the receiver\'s station let them go once delivered');
  // Held for the idle processor, until the root's fills take the main station over its budget: the logs go first.
  await fill(0);
  await fill(60);
  assert.equal(ids(main.history({ types: ['log'] })), [], 'evicted');
  return { rt, sender, station, seen, main, logs, deliver };
}

test('accept - a child processor\'s piece whose Ack was lost and that the main station evicted meanwhile is not taken again: readers deliver it once', async () => {
  const { station, seen, main, logs, deliver } = await childSender();
  // The sender pushes them again.
  await station().toMain();
  assert.is((await station().memory())!.unsent!.count, 0, 'the main station acknowledged them');
  assert.equal(ids(main.history({ types: ['log'] })), [], 'not taken again');
  await deliver();
  assert.equal(seen, ids(logs), 'delivered once');
});

test('accept - a restarted child processor\'s journal resend of events the main station evicted is not taken again', async () => {
  const { rt, sender, station, seen, main, logs, deliver } = await childSender();
  // The sender is killed: restarted, its journal gives its local station the logs again, unsent, which it pushes again.
  const pid = rt.processor(sender).pid!;
  const crashed = nextCrash(rt, 'processor');
  process.kill(pid, 'SIGKILL');
  assert.is(((await crashed).payload as { restarted: boolean }).restarted, true);
  assert.ok(rt.processor(sender).pid !== pid, 'a new process');
  await station().toMain();
  assert.is((await station().memory())!.unsent!.count, 0, 'the main station acknowledged them');
  assert.equal(ids(main.history({ types: ['log'] })), [], 'not taken again');
  await deliver();
  assert.equal(seen, ids(logs), 'delivered once');
});

/** The child processors (1 to this) the unit tests' `LetGoIds` remember. */
const CHILDREN = 16;

/** A child processor's event with `sequence`. */
const event = (sequence: number, processor: number): BusEvent => ({
  id: `${processor}.0.${sequence}`,
  type: 'log',
  side: 'external',
  timestamp: 1_000 + sequence,
  origin: { processor, thread: 0, generation: 0 },
  priority: 'normal',
  payload: sequence,
});

test('notLetGo - remembers the last LET_GO_REMEMBERED ids of each child processor\'s events let go, never the root\'s', () => {
  const letGo = new LetGoIds(CHILDREN);
  const busy = Array.from({ length: LET_GO_REMEMBERED + 10 }, (_, i) => event(i, 1));
  const quiet = [event(7, 2)];
  const root = event(3, 0);
  letGo.remember(quiet);
  letGo.remember([...busy, root]);
  assert.equal(ids(letGo.notLetGo([...busy, ...quiet, root])), [...ids(busy.slice(0, 10)), root.id], 'a busy processor forgets its oldest, not another processor\'s');
  assert.is(letGo.size, LET_GO_REMEMBERED + 1);
  // Same stamp, other id: taken.
  const twin = { ...busy[20]!, id: '1.1.20' };
  assert.equal(ids(letGo.notLetGo([twin])), [twin.id]);
  const fresh = [event(LET_GO_REMEMBERED + 10, 1)];
  assert.is(letGo.notLetGo(fresh), fresh, 'nothing it remembers: the same array');
});

test('notLetGo - is what a list of each processor\'s last let go says, stamps shared between processors and repeated within one', () => {
  // Processor 4 is one added with addProcessor() (past the 3 children): never remembered, as the root's.
  const removal = fc.record({ processor: fc.integer({ min: 0, max: 4 }), stamp: fc.integer({ min: 0, max: 40 }), thread: fc.integer({ min: 0, max: 2 }) });
  const bounds = fc.record({ perOrigin: fc.integer({ min: 1, max: 24 }), inAll: fc.integer({ min: 1, max: 60 }) });
  fc.assert(
    fc.property(bounds, fc.array(fc.array(removal, { maxLength: 30 }), { maxLength: 40 }), ({ perOrigin, inAll }, rounds) => {
      const letGo = new LetGoIds(3, perOrigin, inAll, 4);
      // The reference: a list per processor, in the order processors first let something go.
      const model = new Map<number, { stamp: number; id: string }[]>();
      const total = () => [...model.values()].reduce((n, list) => n + list.length, 0);
      const made = (r: { processor: number; stamp: number; thread: number }): BusEvent => ({
        ...event(r.stamp, r.processor),
        id: `${r.processor}.${r.thread}.${r.stamp}`,
        timestamp: 1_000 + r.stamp / 4,
        origin: { processor: r.processor, thread: r.thread, generation: 0 },
      });
      for (const round of rounds) {
        const removed = round.map(made);
        letGo.remember(removed);
        // A processor that holds none leaves the model (and counts in no share) until it holds one again.
        const forgetOldest = (processor: number) => {
          model.get(processor)!.shift();
          if (model.get(processor)!.length === 0) model.delete(processor);
        };
        for (const e of removed) {
          const processor = e.origin.processor;
          if (processor === 0 || processor > 3) continue;
          const held = model.get(processor)?.length ?? 0;
          if (held >= perOrigin) forgetOldest(processor);
          else if (total() >= inAll) {
            const holding = model.size + (held === 0 ? 1 : 0);
            if ((held + 1) * holding < inAll) forgetOldest([...model].reduce((a, b) => (b[1].length > a[1].length ? b : a))[0]);
            else if (held === 0) continue;
            else forgetOldest(processor);
          }
          if (!model.has(processor)) model.set(processor, []);
          model.get(processor)!.push({ stamp: e.timestamp, id: e.id });
        }
        const probe = Array.from({ length: 5 * 41 * 3 }, (_, i) => made({ processor: i % 5, stamp: Math.floor(i / 15), thread: Math.floor(i / 5) % 3 }));
        const expected = probe.filter((e) => ![...model.values()].some((list) => list.some((r) => r.stamp === e.timestamp && r.id === e.id)));
        assert.equal(ids(letGo.notLetGo(probe)), ids(expected));
        assert.is(letGo.size, total());
      }
    }),
    { numRuns: 300 },
  );
});

test('remember - past LET_GO_REMEMBERED_IN_ALL, a busy processor forgets its own oldest, down to its share, before a quiet one forgets any', () => {
  const letGo = new LetGoIds(CHILDREN);
  const quiet = Array.from({ length: 1_000 }, (_, i) => event(i, 2));
  letGo.remember(quiet);
  for (let p = 3; p < 3 + LET_GO_REMEMBERED_IN_ALL / LET_GO_REMEMBERED; p++) {
    letGo.remember(Array.from({ length: LET_GO_REMEMBERED }, (_, i) => event(i, p)));
  }
  assert.is(letGo.size, LET_GO_REMEMBERED_IN_ALL);
  assert.equal(letGo.notLetGo(quiet), [], 'the quiet processor\'s are all remembered');
});

test('notLetGo - an event let go still in its frame is found sent again as an object, and the reverse; the root\'s are not hashed', () => {
  const from = { processor: 1, thread: STATION_THREAD, generation: 0, side: 'external' as const };
  // A thread's ids, another processor's, one that names no processor (its origin's), one that is not ASCII.
  const events = [event(1, 1), event(2, 12), { ...event(3, 2), id: 'x-3' }, { ...event(4, 3), id: '3.0.é-4' }, event(5, 0)];
  const encoded = () => scanBatch(encodeFrame({ kind: 'batch', seq: 0, from, history: events, queue: [] })).history;
  const fromFrame = new LetGoIds(CHILDREN);
  fromFrame.remember(encoded());
  assert.is(fromFrame.size, 4, 'not the root\'s');
  assert.equal(ids(fromFrame.notLetGo(events.map((e) => ({ ...e })))), [events[4]!.id]);
  const fromObjects = new LetGoIds(CHILDREN);
  fromObjects.remember(events);
  assert.equal(ids(fromObjects.notLetGo(encoded())), [events[4]!.id]);
});

test('remember - a processor past the children (added with addProcessor(), in the root\'s thread) is not remembered, named by its id or by its origin', () => {
  const from = { processor: 3, thread: STATION_THREAD, generation: 0, side: 'external' as const };
  const added = [event(1, 3), event(2, 30), { ...event(3, 3), id: 'x-3' }, { ...event(4, 3), id: '3.0.é-4' }, event(5, 0)];
  const none = new LetGoIds(0);
  none.remember(added);
  assert.is(none.size, 0, 'no child processors: nothing remembered');
  const two = new LetGoIds(2);
  two.remember(added);
  two.remember(scanBatch(encodeFrame({ kind: 'batch', seq: 0, from, history: added, queue: [] })).history);
  assert.is(two.size, 0, 'processors 3 and 30 are not children of a runtime of 2');
  const child = event(6, 2);
  two.remember([child]);
  assert.equal(ids(two.notLetGo([...added, child])), ids(added), 'a child\'s is');
});

test('notLetGo - two ids of one stamp are told apart where two 32-bit hashes of each, run side by side, would both collide', () => {
  // Found in seconds (Joux's multicollision): 18 blocks, each a pair of equal FNV-1a states, give 2^18 ids of one such
  // state, two of which share the other state too. Two hashes of 32-bit states are one of 32 bits to a search.
  const [first, second] = JOUX_PAIR;
  const letGo = new LetGoIds(CHILDREN);
  letGo.remember([{ ...event(1, 1), id: first }]);
  const resent = { ...event(1, 1), id: second };
  assert.equal(ids(letGo.notLetGo([resent])), [second], 'a new event');
  assert.equal(ids(letGo.notLetGo([{ ...event(1, 1), id: first }])), [], 'the one let go');
});

test('remember - takes at most 32 bytes an event, at LET_GO_REMEMBERED_IN_ALL and at LET_GO_REMEMBERED of one processor', () => {
  const one = new LetGoIds(CHILDREN);
  for (let i = 0; i < 2 * LET_GO_REMEMBERED; i += 256) one.remember(Array.from({ length: 256 }, (_, k) => event(i + k, 1)));
  assert.is(one.size, LET_GO_REMEMBERED);
  assert.ok(one.bytes <= 32 * LET_GO_REMEMBERED, `${one.bytes / LET_GO_REMEMBERED} bytes an event`);
  const all = new LetGoIds(CHILDREN);
  for (let i = 0; i < 2 * LET_GO_REMEMBERED; i += 256) {
    for (let p = 1; p <= 5; p++) all.remember(Array.from({ length: 256 }, (_, k) => event(i + k, p)));
  }
  assert.is(all.size, LET_GO_REMEMBERED_IN_ALL);
  assert.ok(all.bytes <= 32 * LET_GO_REMEMBERED_IN_ALL, `${all.bytes / LET_GO_REMEMBERED_IN_ALL} bytes an event`);
});

/** Two ids whose FNV-1a states collide, and whose states of a second multiplicative hash (×0x5bd1e995) do too. */
const JOUX_PAIR = ["1.0.drruu75hbzumupmn3o6aqr2sxpxlo5tclfqtlsfess8dkecj066xlyw4tn59n55m6ac7ekdrs6gs2s4hlblaortyjogz1p270oyew03dk9qrrxuet5al4oj7q08h8l7hsgyygo7dqjgikufx","1.0.drruu75hesf269kf3o6aqr2suqglhlvflfqtlsferx018n6n066xlyw4tn59n55m6ac7ekdrn5ndsslorbmg10osr3cf6it95b9fuezm7r1gntmst5al4oj7smyrajtzsgyygo7dqjgikufx"] as const;

test.run();
