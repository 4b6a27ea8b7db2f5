/**
 * The automatic sync policy: `createRuntime({ sync: { everyMs, maxBatch } })`.
 * Every `everyMs` each bus shares its new events with its station and merges
 * the station's history back (`bus.sync()`: no bus retires, no queue moves),
 * and each local station round-trips with its main station — so threads see
 * each other's events without manual calls. A bus that has posted `maxBatch`
 * events since its last sync asks for one at once.
 */
import { InvalidOptionError, isBusError } from '../../errors.js';
import { assertKnownKeys, describe, readOnce, throwReport, type Report } from '../validate.js';

/** `maxBatch` when a policy does not set it. */
export const DEFAULT_MAX_BATCH = 4096;

/** `maxUnsent` when a policy does not set it: this many times `maxBatch`. */
export const DEFAULT_UNSENT_BATCHES = 16;

/** `maxInFlight` when a policy does not set it. */
export const DEFAULT_MAX_IN_FLIGHT = 1024;

/** `maxBacklog` when a policy does not set it: this many times `maxBatch`. */
export const DEFAULT_BACKLOG_BATCHES = 16;

/** The automatic sync policy's settings. */
export interface SyncPolicy {
  /** Milliseconds between syncs. */
  readonly everyMs: number;
  /** Posts on one bus that trigger a sync before the period is over. Default 4096. */
  readonly maxBatch?: number;
  /**
   * Events one bus may hold that its station has not taken yet; a post beyond
   * it is refused with `BusFullError` (`BUS_FULL`), so a producer that outruns
   * its station is told so instead of growing memory. At least `maxBatch`.
   * Default 16 × `maxBatch`.
   */
  readonly maxUnsent?: number;
  /**
   * Credits of one thread's subscribers of a side: every unsettled promise an
   * async subscriber returned takes one, so a slow subscriber is given no
   * more than that. A sync reads at most the events the credits left allow
   * (one per async subscriber each; the station keeps the rest until they
   * catch up), and `normal` and `immediate` posts on that bus are refused with
   * `BusFullError` (`BUS_FULL`, `bound: 'inFlight'`) while all are taken;
   * `bus.room()` waits until half are back. Default 1024; at most 2^32 − 1.
   */
  readonly maxInFlight?: number;
  /**
   * Events a station may hold that one of its readers has not read yet while
   * that reader's subscribers are behind (its reads are limited by
   * `maxInFlight`), not counting the reader's own. While some reader is that
   * far behind, the station refuses batches from every other thread with
   * `BusFullError` (`BUS_FULL`, `bound: 'backlog'`): their events stay unsent
   * in their buses, later syncs offer them again, and once `maxUnsent` wait
   * their posts are refused and `bus.room()` waits — so a slow consumer slows
   * the producers of other threads instead of piling events at the station,
   * like JetStream's interest retention with "discard new". Across
   * processors alike: such a reader's local station reads the main station
   * only as far as this bound leaves room, the main station refuses other
   * processors' `toMain()` while that station is this far behind, and a
   * station so refused refuses its threads' batches once this many events
   * wait in it. Default 16 × `maxBatch`.
   */
  readonly maxBacklog?: number;
}

/** The bounds a thread's buses take from a policy, its defaults filled in. */
export interface PolicyLimits {
  /** Posts on one bus that ask for a sync at once. */
  readonly maxBatch: number;
  /** Events one bus may hold unsent. */
  readonly maxUnsent: number;
  /** Unsettled subscriber promises one thread's side may have. */
  readonly maxInFlight: number;
  /** Events a station may hold unread by a reader whose subscribers are behind before it refuses other threads' batches. */
  readonly maxBacklog: number;
}

/** `policy`'s bounds, with the defaults of those it leaves out. */
export function policyLimits(policy: SyncPolicy): PolicyLimits {
  const maxBatch = policy.maxBatch ?? DEFAULT_MAX_BATCH;
  return {
    maxBatch,
    maxUnsent: policy.maxUnsent ?? DEFAULT_UNSENT_BATCHES * maxBatch,
    maxInFlight: policy.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    maxBacklog: policy.maxBacklog ?? DEFAULT_BACKLOG_BATCHES * maxBatch,
  };
}

/** Checks `createRuntime`'s `sync` option; `undefined` means manual. */
export function syncPolicyOf(value: unknown, report: Report = throwReport): SyncPolicy | undefined {
  if (value === undefined || value === 'manual') return undefined;
  if (typeof value !== 'object' || value === null) {
    report(new InvalidOptionError('sync', `expected 'manual' or { everyMs, maxBatch?, maxUnsent?, maxInFlight?, maxBacklog? }, got ${describe(value)}.`));
    return undefined;
  }
  const keys = ['everyMs', 'maxBatch', 'maxUnsent', 'maxInFlight', 'maxBacklog'];
  assertKnownKeys(value, keys, 'sync', report);
  // Each field read once: what is checked is what runs (a getter that throws is refused as an option).
  let unreadable = false;
  const read = readOnce(value as Record<string, unknown>, keys, [], 'sync', (error) => ((unreadable ||= error.option === 'sync.everyMs'), report(error)))!;
  const { everyMs, maxBatch, maxUnsent, maxInFlight, maxBacklog } = read;
  // An everyMs whose getter threw is refused as such, not again as missing.
  if (!unreadable && (typeof everyMs !== 'number' || !Number.isInteger(everyMs) || everyMs < 1)) {
    report(new InvalidOptionError('sync.everyMs', `expected a positive integer of milliseconds, got ${describe(everyMs)}.`));
  }
  const batchOk = maxBatch === undefined || (typeof maxBatch === 'number' && Number.isInteger(maxBatch) && maxBatch >= 1);
  if (!batchOk) report(new InvalidOptionError('sync.maxBatch', `expected a positive integer, got ${describe(maxBatch)}.`));
  if (maxInFlight !== undefined && (typeof maxInFlight !== 'number' || !Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > 0xffff_ffff)) {
    // A read's limit crosses as a uint32.
    report(new InvalidOptionError('sync.maxInFlight', `expected an integer from 1 to 4294967295, got ${describe(maxInFlight)}.`));
  }
  if (maxBacklog !== undefined && (typeof maxBacklog !== 'number' || !Number.isSafeInteger(maxBacklog) || maxBacklog < 1)) {
    report(new InvalidOptionError('sync.maxBacklog', `expected a positive integer, got ${describe(maxBacklog)}.`));
  }
  // Against a wrong maxBatch (reported above) the default stands in, so maxUnsent is still checked.
  const batch = batchOk ? ((maxBatch as number | undefined) ?? DEFAULT_MAX_BATCH) : DEFAULT_MAX_BATCH;
  if (maxUnsent !== undefined && (typeof maxUnsent !== 'number' || !Number.isInteger(maxUnsent) || maxUnsent < batch)) {
    report(new InvalidOptionError('sync.maxUnsent', `expected an integer of at least maxBatch (${batch}), got ${describe(maxUnsent)}.`));
  }
  return {
    everyMs: everyMs as number,
    ...(maxBatch === undefined ? {} : { maxBatch: maxBatch as number }),
    ...(maxUnsent === undefined ? {} : { maxUnsent: maxUnsent as number }),
    ...(maxInFlight === undefined ? {} : { maxInFlight: maxInFlight as number }),
    ...(maxBacklog === undefined ? {} : { maxBacklog: maxBacklog as number }),
  };
}

/** What started a sync tick: its period, or a bus that asked (`maxBatch` posts, a producer waiting for room). */
export type TickCause = 'period' | 'request';

/**
 * Errors a sync tick expects and skips: a user's own sync call was running,
 * the runtime stopped, or a station held a batch back for a slow reader
 * (`BUS_FULL`: the events wait in their bus for a later tick).
 */
function expected(error: unknown): boolean {
  return (
    isBusError(error) &&
    (error.code === 'BUS_BUSY' || error.code === 'BUS_RETIRED' || error.code === 'RUNTIME_STOPPED' || error.code === 'BUS_FULL')
  );
}

/**
 * Runs `tick` every `everyMs`, never two at once, and at once on `trigger()`.
 * The tick hears which: `'period'` (sync everything) or `'request'` (sync what
 * asked for it; a request made while a tick runs starts one more afterwards).
 * Requests never put the period off: a tick that asks on behalf of one bus
 * must not keep the others from their period (a period that falls due while
 * a tick runs comes right after it, before any request).
 */
export class SyncTimer {
  readonly #everyMs: number;
  readonly #tick: (cause: TickCause) => Promise<unknown>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** A request came while a tick ran. */
  #requested = false;
  /** The period fell due while a tick ran. */
  #periodDue = false;
  #stopped = false;
  /** Ticks completed; for tests and the inspector. */
  ticks = 0;

  constructor(everyMs: number, tick: (cause: TickCause) => Promise<unknown>) {
    this.#everyMs = everyMs;
    this.#tick = tick;
  }

  start(): void {
    this.#schedule();
  }

  /** Syncs as soon as the running tick (if any) is done. */
  trigger(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) this.#requested = true;
    else this.#run('request');
  }

  /** Stops the timer and waits for a running tick. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /**
   * Resolves once no tick runs, nor one asked for while it ran: a test's own
   * sync calls then meet none of the policy's (which would refuse them with
   * `BUS_BUSY`).
   */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** The next period, `everyMs` after the last period tick ended. */
  #schedule(): void {
    if (this.#stopped) return;
    // Referenced on purpose: a runtime that syncs keeps the process alive until stop(), like a server.
    this.#timer = setTimeout(() => {
      if (this.#running !== undefined) this.#periodDue = true;
      else this.#run('period');
    }, this.#everyMs);
  }

  #run(cause: TickCause): void {
    this.#running = this.#tick(cause)
      .then(() => undefined)
      .catch((error: unknown) => {
        if (!expected(error)) console.error('[busline] an automatic sync failed; it will be retried:', error);
      })
      .finally(() => {
        this.ticks++;
        this.#running = undefined;
        // After stop() no tick runs again, even one asked for while this one ran.
        if (this.#stopped) return;
        if (cause === 'period') this.#schedule();
        if (this.#periodDue) {
          // A period syncs everything: it answers the requests made meanwhile too.
          this.#periodDue = false;
          this.#requested = false;
          this.#run('period');
        } else if (this.#requested) {
          this.#requested = false;
          this.#run('request');
        }
      });
  }
}

/** Runs every step, even when some fail; rethrows the first unexpected failure afterwards. */
export async function settleAll(steps: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(steps.map((step) => step()));
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected' && !expected(result.reason));
  if (failure !== undefined) throw failure.reason;
}
