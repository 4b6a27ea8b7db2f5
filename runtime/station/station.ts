/**
 * A bus station: a local one per processor and side, or a main one per side in
 * the root. Its history is the union of what was sent to it; its queue holds
 * the parked queues of the threads that sent them, filed by origin thread.
 * Writes go through the station actor (`machines/station.machine.ts`), one
 * batch at a time; readers get their own arrays, never a half-merged batch.
 */
import type { Actor } from 'xstate';
import { BusBusyError, BusFullError, InvalidOptionError, TransportError, UnsupportedError, isBusError } from '../../errors.js';
import type { stationMachine } from '../../machines/station.machine.js';
import { readableSide, readOptionsOnce } from '../bridge/bridge.js';
import type { BusEvent, Endpoint, Side, ReaderBacklog, StationKind } from '../../types.js';
import { EventSet, plainEvent } from '../store/encoded-events.js';
import { searchHistory } from '../store/history-search.js';
import { type EventHistory, assertOrigin, checkHistoryQuery, compareEvents, originKey } from '../store/history.js';
import type { HistoryQuery } from '../store/history-query.js';
import type { AnyEvents, StationEventOf, StationHistoryQuery, TypedReadOptions } from '../bus/typed-events.js';
import type { FromMainOptions } from './station-options.js';
import type { EventBatch, SyncRequest } from '../wire/protocol.js';
import { Arrivals, sourceKey } from './arrivals.js';
import { STATION_THREAD, type StationHost, type SyncReply } from './links.js';
import { ParkedQueues, type HandBack } from './parked-queues.js';
import type { JournalEntry, Need, StationJournal } from '../store/journal.js';
import { describe } from '../validate.js';
import { systemClock } from '../clock.js';
import { DEFAULT_STATION_BUDGET_BYTES, NO_MEMORY_POLICIES } from '../store/memory-policy.js';
import { UnsentBatches, journalNeeds } from './unsent-batches.js';
import { LetGoIds } from './let-go-ids.js';
import { pushError, pushInPieces, type PushOutcome } from './upstream-push.js';
import { Retention } from '../store/retention.js';
import type { MemoryChange, MemoryStats } from '../store/memory-stats.js';
import { Interest, withoutDeliveredTransient } from './interest.js';
import { UpstreamInterest, declaration, isDeclaration } from './upstream-interest.js';
import { FrameCompactor } from '../store/frame-compactor.js';
import { framesKept, keepable, relocateStation } from './repack.js';

/**
 * A bus station.
 *
 * @example
 * const station = runtime.station('external')      // the local station of processor 0
 * await station.roundTrip()                        // toMain() then fromMain()
 * station.history({ types: ['order'] })
 */
export class Station<E = AnyEvents> {
  /**
   * Types only: undefined at run time. Lets a typed runtime's station be
   * passed as a `Station` (any station: it posts nothing, and reads any
   * events); a mapped type, kept in the published types (never stripped).
   */
  declare readonly eventTypes?: { readonly [K in keyof E]?: unknown };
  readonly kind: StationKind;
  readonly side: Side;
  readonly processor: number;
  readonly #host: StationHost;
  readonly #actor: Actor<typeof stationMachine>;
  /** The history and what the memory policies let it keep. */
  readonly #retention: Retention;
  readonly #history: EventHistory;
  /** The queue: deferred events parked by origin thread. */
  readonly #parked = new ParkedQueues();
  /** Batches of events accepted from buses that the main station has not seen (local stations), held to the budget. */
  readonly #unsent: UnsentBatches;
  /** The order events joined the history in, so that a reader that says how far it has read gets only what came after. */
  readonly #arrivals = new Arrivals((keys) => this.#history.find(keys));
  /** Its readers, and what of the events that leave once delivered they still hold (`interest.ts`). */
  readonly #interest: Interest;
  /** A main station: what it let go of child processors' events, not taken again when they are sent again (`let-go-ids.ts`). */
  readonly #letGo: LetGoIds;
  /** A local station's interest as its main station knows it, widened there at once (`upstream-interest.ts`). */
  readonly #upstream: UpstreamInterest | undefined;
  /** Copies the few events left in mostly emptied frames out of them, so that those frames can go (`repack.ts`). */
  readonly #frames = new FrameCompactor(() => this.#history, (moves) => relocateStation(moves, { arrivals: this.#arrivals, retention: this.#retention, interest: this.#interest, unsent: this.#unsent.all }));
  /** The `through` of this local station's last unfiltered `fromMain()`, per side read. */
  #mainThrough: Record<Side, number> = { internal: 0, external: 0 };
  /** The main station refused this local station's last `toMain()` (`BUS_FULL`: a reader elsewhere is behind, or no room): its threads' batches are refused too once `maxBacklog` events wait here, and the next push asks with one batch first. */
  #heldUpstream = false;
  /** Events of a `toMain()` under way: they count as waiting here until the main station has taken them. */
  #pushing = 0;
  /** This local station's last read of its own side's main station was limited: the main station counts it as a slow reader. */
  #slowAtMain = false;
  /** @internal Where accepted batches and parked-queue changes are made durable (local stations of child processors). */
  journal: StationJournal | undefined;
  /** @internal Told of each change of this history's memory budget (the runtime posts it as an internal event). */
  onMemoryChange: ((change: MemoryChange) => void) | undefined = undefined;
  /** @internal Told of the events each accepted batch added (a recording of the run). */
  onAccepted: ((events: readonly BusEvent[]) => void) | undefined = undefined;

  /** @internal Created by the runtime; use `runtime.station()` or `runtime.mainStation()`. */
  constructor(host: StationHost, kind: StationKind, side: Side, processor: number, actor: Actor<typeof stationMachine>) {
    this.#host = host;
    this.kind = kind;
    this.side = side;
    this.processor = processor;
    this.#actor = actor;
    this.#letGo = new LetGoIds(kind === 'main' ? host.childProcessors ?? 0 : 0);
    const clock = host.clock ?? systemClock;
    // A stopped station compresses no more (its idle steps would run on, and hold it, after stop()).
    const blocks = { plain: false, allow: () => actor.getSnapshot().status === 'active' };
    this.#retention = new Retention(host.memory ?? NO_MEMORY_POLICIES, () => clock.now(), { kind: 'station', blocks, name: kind === 'main' ? `station:main:${side}` : `station:local:${processor}:${side}` });
    this.#retention.onMemoryChange = (change) => this.onMemoryChange?.(change);
    this.#history = this.#retention.history;
    this.#history.onCompressed = (events) => this.#arrivals.compressed(events);
    this.#interest = new Interest(side, this.#retention.policies);
    const { budget } = this.#retention.policies;
    this.#unsent = new UnsentBatches(kind === 'main' || budget === undefined ? undefined : budget.stationBytes ?? DEFAULT_STATION_BUDGET_BYTES, (event) => this.#retention.sizeOf(event), (type) => this.#retention.policies.of(type)?.importance, `station:local:${processor}:${side}`);
    this.#upstream = kind === 'main' ? undefined : new UpstreamInterest(this.#interest, (interest) => host.mainLink(side).serve(declaration(this.#endpoint(), side, interest)));
  }

  /** @internal The station actor, for inspection (tests, the runtime); not in the published types. */
  get actor(): Actor<typeof stationMachine> {
    return this.#actor;
  }

  /** The actor's state, e.g. `{ upstream: 'idle' }`. */
  get state(): unknown {
    return this.#actor.getSnapshot().value;
  }

  /**
   * This station's history against its memory budget: bytes, count, multipliers, by type, and (a local station) what
   * its main station has not taken yet (`unsent`, held to the same budget; a push under way counts); undefined without `memory.budget`.
   */
  memory(): MemoryStats | undefined {
    const stats = this.#retention.memoryStats((buffers) => framesKept(buffers, { arrivals: this.#arrivals, parked: this.#parked, unsent: this.#unsent.all }));
    return stats === undefined || this.kind === 'main' ? stats : { ...stats, unsent: { count: this.#unsent.count + this.#pushing, bytes: this.#unsent.bytes } };
  }

  /** Number of events in the history. */
  get size(): number {
    return this.#history.size;
  }

  /** @internal Bytes of events held, as `memory.limits.maxBytes` counts them (0 unless some `maxBytes` is set). */
  get bytes(): number {
    return this.#retention.bytes;
  }

  /**
   * The history, oldest first, optionally filtered (answered from indices).
   * Events whose policy says `removeAfterSearch` leave once returned.
   */
  history<const T extends readonly string[] = readonly string[]>(query?: StationHistoryQuery<E, T>): Array<StationEventOf<E, T>> {
    return searchHistory(this.#retention, checkHistoryQuery(query, 'history query') as HistoryQuery, (removed) => this.#forget(removed)) as Array<StationEventOf<E, T>>;
  }

  /** The event with this id, if held; it leaves if its policy says `removeAfterSearch`. */
  get(id: string): StationEventOf<E> | undefined {
    if (typeof id !== 'string') throw new InvalidOptionError('get id', `expected an event id (a string), got ${describe(id)}.`);
    this.#forget(this.#retention.expire());
    const event = this.#history.get(id);
    if (event === undefined) return undefined;
    const plain = plainEvent(event);
    this.#forget(this.#retention.afterSearch([event]));
    return plain as StationEventOf<E>;
  }

  /**
   * Events the memory policies removed leave the arrivals too: no read hands
   * them out again (nor a replay of the journal). `delivered`: every reader
   * that may want them has read them, so where slow readers stand is still right.
   */
  #forget(removed: readonly BusEvent[], delivered = false): void {
    if (removed.length === 0) return;
    this.#arrivals.remove(removed, delivered);
    this.journal?.record({ op: 'remove', side: this.side, ids: removed.map((event) => event.id) });
    this.#frames.removed(removed.length);
    if (this.kind === 'main') this.#letGo.remember(removed);
  }

  /** Events that leave once delivered and that every reader who may want them has read leave now. */
  #release(): void {
    if (!this.#interest.active) return;
    this.#forget(this.#retention.remove(this.#interest.release(this.#arrivals, this.#history.size)), true);
  }

  /**
   * What of `added` (events that just joined the history, not yet numbered)
   * the memory policies keep; older events they let go leave the arrivals.
   */
  #kept(added: BusEvent[]): BusEvent[] {
    const gone = this.#retention.settle();
    if (gone.length === 0) return added;
    this.#forget(gone);
    const left = new EventSet(gone);
    return added.filter((event) => !left.has(event));
  }

  /**
   * @internal Whether a replay of the journal still needs an event this
   * station accepted (a compaction asks): held, or let go once delivered and
   * not yet taken by the main station (which it must still reach).
   */
  journalNeeds(): (event: BusEvent) => Need {
    return journalNeeds(this.#history, this.#unsent.all);
  }

  /** Parked queue entries, oldest first: all, or those of one origin thread. */
  queued(origin?: { readonly processor: number; readonly thread: number }): Array<StationEventOf<E>> {
    if (origin !== undefined) {
      assertOrigin(origin, 'queued origin');
      return this.#parked.list(origin) as Array<StationEventOf<E>>;
    }
    return this.#parked.list() as Array<StationEventOf<E>>;
  }

  /**
   * @internal How many deferred events of `origin`'s thread the stations hold
   * parked: here, and (for a local station) pushed on to the main station and
   * not taken back. A bus counts them against its `maxQueued`.
   */
  parkedFor(origin: { readonly processor: number; readonly thread: number }): number {
    return this.#parked.countFor(origin);
  }

  /**
   * @internal Merges one batch: history sorted and deduplicated, queue filed
   * by origin thread. Refuses it (`BusFullError`, `bound: 'backlog'`) while a
   * reader of another thread is `maxBacklog` behind.
   */
  accept(batch: EventBatch): number {
    const sender = originKey(batch.from);
    const maxBacklog = this.#host.maxBacklog;
    if (batch.history.length > 0 && maxBacklog !== undefined) {
      this.#arrivals.refuseWhileBehind(sender, maxBacklog);
      this.#refuseWhileHeldUpstream(sender, maxBacklog);
    }
    // Its budget of what the main station has not taken (its slow readers' batches go, as above); manual syncs: the oldest go.
    const admit = batch.history.length > 0 && this.kind === 'local' && (maxBacklog === undefined || !this.#arrivals.isSlowReader(sender));
    const dropped = admit ? this.#unsent.admit(maxBacklog === undefined) : undefined;
    if (dropped !== undefined) this.onMemoryChange?.({ type: 'busline.memory.dropped', payload: dropped });
    // What this main station let go is not taken again (resent after a lost Ack, or from a restarted processor's journal).
    const history = this.#letGo.notLetGo(batch.history);
    // A history at a `refuseNew` limit, or whose budget only `high` evictions would meet, refuses the whole batch, which stays unsent in its sender.
    this.#retention.admitBatch(history);
    // The merge is synchronous, so the actor hears one MERGED per batch (see station.machine.ts).
    const added = this.#history.merge(history);
    this.#arrivals.add(this.#kept(added), sourceKey(batch.from), sender);
    this.#release();
    if (this.kind === 'local' && added.length > 0) this.#unsent.push(added);
    if (this.onAccepted !== undefined && added.length > 0) this.onAccepted(added);
    if (batch.queue.length > 0) this.#parked.park(batch.queue);
    if (added.length > 0 || batch.queue.length > 0) {
      this.journal?.record({ op: 'accept', side: this.side, history: added, queue: batch.queue });
    }
    this.#actor.send({ type: 'MERGED', added: added.length, size: this.#history.size, queued: this.#parked.size });
    return added.length;
  }

  /**
   * Held back upstream (the main station refuses this station's batches for a
   * slow reader in another processor), a local station takes no more than
   * `maxBacklog` events it cannot pass on: its threads' batches are refused
   * the same way (`BUS_FULL`, `bound: 'backlog'`), so their buses keep the
   * events and their producers wait in `room()`. Its own slow readers' batches
   * still go, as at any station: a consumer can always publish its results.
   */
  #refuseWhileHeldUpstream(sender: string, maxBacklog: number): void {
    if (!this.#heldUpstream || this.#arrivals.isSlowReader(sender)) return;
    // Events accepted here that the main station has not taken yet.
    const waiting = this.#pushing + this.#unsent.count;
    if (waiting >= maxBacklog) throw new BusFullError(waiting, maxBacklog, 'backlog');
  }

  /**
   * @internal Answers a read: the history (only `types`, if asked) and the
   * parked entries of the reader, which leave this station. History events
   * may still be encoded (`EncodedEvent`): links copy their bytes on, and
   * hand plain events to buses.
   */
  serve(request: SyncRequest): SyncReply {
    if (isDeclaration(request)) return this.#noteDeclaration(request);
    // A reader of the other side gets history only; a bus gets its thread's
    // parked entries, a local station those of its processor's threads.
    const handBack: HandBack =
      request.from.side !== this.side ? 'none' : request.from.thread === STATION_THREAD ? 'processor' : 'thread';
    const since = request.since ?? 0;
    this.#forget(this.#retention.expire());
    // A limited read takes the earliest arrivals first and says how far it got.
    let through = this.#arrivals.count;
    let history: BusEvent[];
    if (request.limit !== undefined) ({ history, through } = this.#arrivals.since(since, request.types, sourceKey(request.from), request.limit));
    else if (since > 0) history = this.#arrivals.since(since, request.types, sourceKey(request.from)).history;
    else history = request.types === undefined ? this.#history.snapshot() : this.#history.query({ types: request.types });
    // What the reader has delivered already goes first, counted, so that it is not delivered again.
    let alreadyDelivered: number | undefined;
    if ((request.deliveredThrough ?? 0) > since && history.length > 0) {
      ({ history, alreadyDelivered } = this.#arrivals.deliveredFirst(history, request.deliveredThrough!));
    }
    if (this.#interest.active) {
      // What the reader delivered already and leaves once delivered is not read back into a new generation.
      if (alreadyDelivered !== undefined) ({ history, alreadyDelivered } = withoutDeliveredTransient(history, alreadyDelivered, this.#retention.policies));
      this.#interest.noteRead(request.from, request.types, through, this.#arrivals.count, request.interest);
      this.#release();
      this.#upstream?.check();
    }
    // A bus's sync read says where it stands: limited by its subscribers' credits, or caught up; and so
    // does a local station's read of its main station: limited by how far its own readers are behind.
    if (handBack !== 'none' && request.types === undefined && this.#host.maxBacklog !== undefined) {
      this.#arrivals.noteReader(request.from, request.limit === undefined ? undefined : through);
    }
    const queue = this.#parked.take(request.from, handBack);
    if (queue.length > 0) this.journal?.record({ op: 'unpark', side: this.side, ids: queue.map((event) => event.id) });
    // A read that finds nothing new changes nothing here: the actor hears only of reads that hand something out
    // (the sync policy polls idle stations; each transition allocates, and garbage collection sets the tail latency).
    if (history.length > 0 || queue.length > 0) this.#actor.send({ type: 'SERVED', events: history.length, handedBack: queue.length });
    return {
      batch: {
        kind: 'batch',
        seq: request.seq,
        from: { processor: this.processor, thread: STATION_THREAD, generation: 0, side: this.side },
        history,
        queue,
      },
      through,
      // A bus hears what its thread still has parked (here, or pushed on to the main station).
      ...(handBack === 'thread' ? { parked: this.parkedFor(request.from) } : {}),
      ...(alreadyDelivered === undefined ? {} : { alreadyDelivered }),
      // Wider interest it declared upstream: the reply goes once the main station has it (`upstream-interest.ts`).
      ...(this.#upstream?.pending === undefined ? {} : { declaring: this.#upstream.pending }),
    };
  }

  /** A reader's declaration of its interest (a read of no types, `upstream-interest.ts`): noted; nothing read or handed back. */
  #noteDeclaration(request: SyncRequest): SyncReply {
    this.#interest.noteDeclared(request.from, request.interest);
    this.#release();
    return { batch: { kind: 'batch', seq: request.seq, from: this.#endpoint(), history: [], queue: [] }, through: this.#arrivals.count };
  }

  /** @internal Puts back parked entries whose reply never arrived. */
  restoreParked(events: readonly BusEvent[]): void {
    this.#parked.park(events);
    if (events.length > 0) this.journal?.record({ op: 'park', side: this.side, queue: events });
  }

  /** Resolves once every change so far is durable (at once without a journal). */
  async committed(): Promise<void> {
    await this.journal?.committed();
  }

  /**
   * @internal Rebuilds this station from journal entries of its side, without
   * recording them again. What it restores counts as not yet sent to the main
   * station. Returns how many events it restored.
   */
  replay(entries: readonly JournalEntry[]): number {
    let restored = 0;
    const removed = new Set<string>(); // left once all is restored: still unsent, for the main station, but out of the history
    for (const entry of entries) {
      if (entry.side !== this.side) continue;
      if (entry.op === 'accept') {
        const added = this.#history.merge(entry.history);
        this.#arrivals.add(this.#kept(added));
        if (added.length > 0) this.#unsent.push(added);
        if (entry.queue.length > 0) this.#parked.park(entry.queue);
        restored += added.length;
      } else if (entry.op === 'park') {
        this.#parked.park(entry.queue);
      } else if (entry.op === 'unpark') {
        this.#parked.remove(new Set(entry.ids));
      } else if (entry.op === 'remove') {
        for (const id of entry.ids) removed.add(id);
      } else {
        this.#removeSide(entry.remove);
      }
    }
    if (removed.size > 0) this.#arrivals.remove(this.#retention.remove([...removed].flatMap((id) => this.#history.get(id) ?? [])));
    this.#actor.send({ type: 'MERGED', added: restored, size: this.#history.size, queued: this.#parked.size });
    return restored;
  }

  /**
   * The readers whose subscribers are behind: threads whose last sync read
   * was limited by `sync.maxInFlight` credits, each with how many events
   * other threads sent here since (`behind`). While one is `sync.maxBacklog`
   * behind, batches of other threads are refused with `BUS_FULL`.
   */
  backlog(): ReaderBacklog[] {
    return this.#arrivals.backlog();
  }

  /** @internal The thread is gone: where it stood holds nobody back any more. */
  forgetReader(origin: { readonly processor: number; readonly thread: number }): void {
    this.#arrivals.forgetReader(origin);
    this.#interest.forget(origin);
    this.#release();
  }

  /**
   * @internal A reader that will read this station (a connected thread's bus of
   * this side, or a processor's local station at a main station): until it
   * has read, it holds every event whose policy removes it after delivery.
   */
  expectReader(origin: { readonly processor: number; readonly thread: number }): void {
    this.#interest.expect(origin, this.side);
    this.#upstream?.check();
  }

  /** @internal Removes every event of `side` (a bridge clearing). Returns how many. */
  clearSide(side: Side): number {
    // The main station may have forgotten where this station stood (a clearing resets its slow readers):
    // a read held for want of room says so again before it is skipped.
    this.#slowAtMain = false;
    const count = this.#removeSide(side);
    if (count > 0) {
      this.journal?.record({ op: 'clear', side: this.side, remove: side });
      this.#actor.send({ type: 'CLEARED', removed: count });
    }
    return count;
  }

  /** Removes every event of `side` from the history, the parked queues and what is unsent. Returns how many. */
  #removeSide(side: Side): number {
    const removed = this.#history.removeWhere((event) => event.side === side);
    this.#arrivals.remove(removed);
    // Removed events may be wanted again later (the bridge reopens): read the main stations whole next time.
    if (removed.length > 0) this.#mainThrough = { internal: 0, external: 0 };
    const parked = this.#parked.size;
    this.#parked.remove(undefined, side);
    const count = removed.length + parked - this.#parked.size;
    if (count > 0) this.#unsent.removeSide(side);
    return count;
  }

  /**
   * Sends the history the main station has not seen and the parked queues to
   * the main station of this side: in one batch, or, when the main station
   * has room for only part of it (its budget, a `refuseNew` limit), as many
   * of the batches accepted here as it takes, whole and oldest first
   * (`upstream-push.ts`). What does not go stays here, and the call rejects
   * (for want of room, with `BusFullError`'s `pushed` and `left`).
   */
  async toMain(): Promise<void> {
    this.#host.assertRunning('toMain');
    this.#assertLocal('toMain');
    this.#enterUpstream('TO_MAIN', 'toMain', 'pushing');
    const total = (this.#pushing = this.#unsent.count);
    const batches = this.#unsent.take();
    const queue = this.#parked.takeAll();
    const link = this.#host.mainLink(this.side);
    const push = (events: readonly BusEvent[], parked: readonly BusEvent[]) =>
      link.accept({ kind: 'batch', seq: 0, from: this.#endpoint(), history: events, queue: parked });
    let outcome: PushOutcome;
    try {
      // Durable here before the main station has it: a processor killed after a push restores what it pushed from
      // its journal (no read brings a processor's own events back to it from the main station).
      await this.committed();
      outcome = await pushInPieces(batches, queue, push, this.#heldUpstream);
    } catch (error) {
      outcome = { batches: 0, events: 0, error };
    }
    this.#pushing = 0;
    // What the main station took stays taken; the rest waits here for the next toMain().
    this.#unsent.settled(batches, outcome.batches);
    // The queue went with the first batch taken (or alone).
    if (outcome.error === undefined || outcome.batches > 0) this.#queuePushed(queue);
    else this.#parked.park(queue);
    this.#heldUpstream = outcome.error !== undefined && isBusError(outcome.error, 'BUS_FULL');
    if (outcome.error === undefined) {
      this.#actor.send({ type: 'PUSHED', events: total + queue.length });
      return;
    }
    this.#actor.send({ type: 'UPSTREAM_FAILED', reason: String(outcome.error) });
    throw pushError(outcome, total);
  }

  /** Parked entries the main station took: they wait there for their threads now. */
  #queuePushed(queue: readonly BusEvent[]): void {
    if (queue.length > 0) this.journal?.record({ op: 'unpark', side: this.side, ids: queue.map((event) => event.id) });
    this.#parked.pushedUpstream(queue);
  }

  /**
   * Merges the main station's history (only `types`, if given) into this
   * station and takes back the parked entries of this processor's threads.
   * With `side` set to the other side, reads that main station if the bridge
   * allows it (history only). Under the sync policy, while readers here are
   * behind, an unfiltered read of this side takes only what is left of
   * `sync.maxBacklog` for the slowest of them, and nothing once none is left
   * (`added: 0`; the main station keeps the rest, and this processor's parked
   * entries, for a later read).
   */
  async fromMain<const T extends readonly string[] = readonly string[]>(options?: TypedReadOptions<FromMainOptions, E, T>): Promise<{ readonly added: number; readonly handedBack: number }> {
    this.#host.assertRunning('fromMain');
    this.#assertLocal('fromMain');
    const side = readableSide((options = readOptionsOnce(options, 'fromMain')), 'fromMain', this.side, this.#host);
    const unfiltered = options?.types === undefined;
    // Behind readers here limit what this station takes from its main station (see #readRoom).
    const room = unfiltered && side === this.side ? this.#readRoom() : undefined;
    if (room === 0 && this.#slowAtMain) return { added: 0, handedBack: 0 };
    this.#enterUpstream('FROM_MAIN', 'fromMain', 'pulling');
    const since = unfiltered ? this.#mainThrough[side] : 0;
    // What an earlier unfiltered read brought is here, or was let go by a memory policy: the main
    // station puts it first and counts it, and it is not merged again (it would come back as new).
    const merged = this.#retention.policies.none ? 0 : this.#mainThrough[side];
    const request: SyncRequest = {
      kind: 'syncRequest',
      seq: 0,
      from: this.#endpoint(),
      side,
      ...(options?.types === undefined ? {} : { types: [...options.types] }),
      ...(since > 0 ? { since } : {}),
      // A read's limit is at least 1 on the wire: with no room, one event tells the main station where this stands.
      ...(room === undefined ? {} : { limit: Math.max(1, room) }),
      ...(merged > since ? { deliveredThrough: merged } : {}),
      // What its readers are interested in (every type while one of them has not said).
      ...(!this.#interest.active ? {} : side === this.side ? this.#upstream!.carried() : this.#interest.upstream()),
    };
    let reply: EventBatch;
    let known = 0;
    try {
      const answer = await this.#host.mainLink(side).serve(request);
      reply = answer.batch;
      known = answer.alreadyDelivered ?? 0;
      if (unfiltered) this.#mainThrough[side] = answer.through;
      if (side === this.side && unfiltered) this.#slowAtMain = room !== undefined;
    } catch (error) {
      this.#actor.send({ type: 'UPSTREAM_FAILED', reason: String(error) });
      throw isBusError(error) ? error : new TransportError('fromMain() failed; nothing changed.', { cause: error });
    }
    let incoming = known === 0 ? reply.history : reply.history.slice(known);
    // This processor's events reached the main station through here: one let go once delivered is not taken back.
    if (this.#interest.active && side === this.side) incoming = incoming.filter((event) => !this.#ownTransient(event));
    incoming = this.#retention.fitBatch(incoming);
    const added = this.#kept(this.#history.merge(keepable(incoming, this.#history)));
    this.#arrivals.add(added);
    this.#release();
    // The main station handed back every parked entry of this processor's threads.
    if (side === this.side) this.#parked.takenBackFromUpstream();
    this.#parked.park(reply.queue);
    if (reply.queue.length > 0) this.journal?.record({ op: 'park', side: this.side, queue: reply.queue });
    this.#actor.send({ type: 'MERGED', added: added.length, size: this.#history.size, queued: this.#parked.size });
    this.#actor.send({ type: 'PULLED', added: added.length });
    return { added: added.length, handedBack: reply.queue.length };
  }

  /**
   * How many events an unfiltered read of the main station may bring while
   * readers here are behind (their reads limited by their subscribers'
   * credits): what is left of `maxBacklog` for the slowest of them; undefined
   * (no limit) when none is. The main station keeps the rest, counts this
   * station as a slow reader, and refuses other processors' batches once it
   * is `maxBacklog` behind there: "held back" passes upstream, and producers
   * in other processors are slowed as the ones here are.
   */
  #readRoom(): number | undefined {
    const maxBacklog = this.#host.maxBacklog;
    const behind = maxBacklog === undefined ? undefined : this.#arrivals.mostBehind();
    return behind === undefined ? undefined : Math.max(0, maxBacklog! - behind);
  }

  /**
   * @internal The sync policy's round trip: `toMain()` then `fromMain()`, the
   * read even when the main station refused the push for a slow reader
   * elsewhere (`BUS_FULL`): a held-back processor still sees the others'
   * events. Rejects with that refusal afterwards.
   */
  async syncUpstream(): Promise<void> {
    let refused: unknown;
    try {
      await this.toMain();
    } catch (error) {
      if (!isBusError(error, 'BUS_FULL')) throw error;
      refused = error;
    }
    await this.fromMain();
    if (refused !== undefined) throw refused;
  }

  /** `toMain()` then `fromMain()`: this station ends with the entire main history. */
  async roundTrip<const T extends readonly string[] = readonly string[]>(options?: TypedReadOptions<FromMainOptions, E, T>): Promise<void> {
    this.#host.assertRunning('roundTrip');
    this.#assertLocal('roundTrip');
    // What the read would refuse is refused before the push: a refused call changes nothing.
    readableSide((options = readOptionsOnce(options, 'roundTrip')), 'roundTrip', this.side, this.#host);
    await this.toMain();
    await this.fromMain(options);
  }

  #ownTransient(event: BusEvent): boolean {
    return event.origin.processor === this.processor && this.#retention.policies.removesAfterDelivery(event.type);
  }

  #endpoint(): Endpoint {
    return { processor: this.processor, thread: STATION_THREAD, generation: 0, side: this.side };
  }

  #assertLocal(call: string): void {
    if (this.kind !== 'local') throw new UnsupportedError(`${call}() is for local stations; a main station has no upstream.`);
  }

  #enterUpstream(type: 'TO_MAIN' | 'FROM_MAIN', call: string, expected: string): void {
    const before = (this.#actor.getSnapshot().value as { upstream: string }).upstream;
    this.#actor.send({ type });
    const upstream = (this.#actor.getSnapshot().value as { upstream: string }).upstream;
    // Already `expected` before is a call of the same kind under way: the chart refused this one too.
    if (upstream !== expected || before === expected) throw new BusBusyError(call, upstream === 'pushing' ? 'toMain' : 'fromMain', 'this station');
  }
}
