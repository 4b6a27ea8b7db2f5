/**
 * One chaos run: a loaded runtime, the plan's kills, then the checks (see
 * scripts/chaos.ts).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRuntime, isBusError, type BusEvent, type Runtime, type SpawnedActor } from '../../index.js';
import { isRunning, killProcess, processesOf } from '../processes.mjs';
import { ALL_THREADS, PROCESSORS, THREADS, below, planRun, type PlannedKill } from './plan.js';
import { seededRandom } from '../../tests/helpers.js';
import { HEAL_MS, describeRun, emptyReport, type Kill, type RunReport } from './report.js';

const CRASHER = new URL('../../tests/runtime/fixtures/crashing.machine.ts', import.meta.url);
const LOAD_TYPE = 'chaos.load';
/** How long a kill waits for its target to be up (after an earlier kill) before it is skipped. */
const TARGET_WAIT_MS = 10_000;
/** How long anything that must settle (the load, `stop()`) may take before it counts as stuck. */
const SETTLE_MS = 30_000;
/**
 * The runtime's own bound on a processor's start (`processorStartDeadlineMs`, its default, said here so the
 * watchdog below follows it); its worker threads' starts have a shorter one (`threadStartDeadlineMs`, 60 s) inside
 * it. Every wait of `ready` is bounded by them, and a start under load may take that long
 * without being a hang: the 30 s watchdog this had took slow starts for stuck ones (measured: `ready` of this
 * runtime takes 9-10 s at load 11-13 on 2 cores, 17-18 s on one core at load 15-18, 29 s for two on one core at load
 * 14-20).
 */
const START_DEADLINE_MS = 120_000;
/** How long `ready` may take before it counts as stuck: past the runtime's start deadline, then a failed start's cleanup. */
const READY_MS = START_DEADLINE_MS + SETTLE_MS;

/** Options of `runChaos`. */
export interface ChaosOptions {
  readonly runs: number;
  /** The first run's seed; run i has seed + i. */
  readonly seed: number;
  /** Kills per run: a number drawn from this range. Default [3, 6]. */
  readonly kills?: readonly [number, number];
  /** Stop starting runs after this long. */
  readonly maxMs?: number;
  /** Called with a line per run. */
  readonly log?: (line: string) => void;
}

/** Runs the chaos and returns one report per run. */
export async function runChaos(options: ChaosOptions): Promise<RunReport[]> {
  const reports: RunReport[] = [];
  const started = Date.now();
  for (let i = 0; i < options.runs; i++) {
    if (options.maxMs !== undefined && Date.now() - started > options.maxMs) break;
    const seed = (options.seed + i) >>> 0;
    const report = await runOnce(seed, options.kills ?? [3, 6]);
    reports.push(report);
    options.log?.(`run ${i + 1}/${options.runs} ${describeRun(report)}`);
  }
  return reports;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const codeOf = (error: unknown) => (isBusError(error) ? error.code : error instanceof Error ? error.name : typeof error);
const describeError = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** Resolves with `promise`'s value, or with `timedOut` once `ms` have passed. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof timedOut> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof timedOut>((resolve) => (timer = setTimeout(() => resolve(timedOut), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
const timedOut = Symbol('timed out');

/** What the load needs of a bus, local (`Bus`) or in another thread (`RemoteBus`). */
interface LoadBus {
  post(type: string, payload: { marker: string } | { p: number; t: number }): BusEvent | Promise<BusEvent>;
  sync(): Promise<unknown>;
  toStation(): Promise<unknown>;
  roundTrip(): Promise<unknown>;
}

const busOf = (runtime: Runtime, processor: number, thread: number) => runtime.thread(processor, thread).bus('external') as LoadBus;

/** An event of the load as its post returned it. */
interface Posted {
  readonly marker: string;
  readonly id: string;
  readonly processor: number;
  accepted: boolean;
}

/** Child processes of this process running a processor entry. */
function processorChildren(): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== process.pid || state === 'Z') continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('processor.worker')) found.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** One seeded run. */
async function runOnce(seed: number, killRange: readonly [number, number]): Promise<RunReport> {
  const started = Date.now();
  const plan = planRun(seed, killRange);
  const report: RunReport = emptyReport(seed, killRange);
  const phase = (name: string) => void (report.phases[name] = Date.now() - started);
  const countError = (error: unknown) => {
    const code = codeOf(error);
    report.callErrors[code] = (report.callErrors[code] ?? 0) + 1;
  };
  // Every process the runtime starts inherits this environment: what carries the token after stop() is left over.
  const token = `busline-chaos-${process.pid}-${seed}-${randomBytes(4).toString('hex')}`;
  const previousToken = process.env.BUSLINE_CHAOS_TOKEN;
  process.env.BUSLINE_CHAOS_TOKEN = token;
  const onRootError = (error: unknown) => void report.rootErrors.push(describeError(error));
  process.on('uncaughtException', onRootError);
  process.on('unhandledRejection', onRootError);
  const seenPids = new Set<number>();
  let runtime: Runtime | undefined;
  try {
    runtime = createRuntime({
      processors: PROCESSORS,
      threadsPerProcessor: THREADS,
      sync: { everyMs: plan.everyMs },
      callDeadlineMs: 4_000,
      // A worker's buses hold every event of the run (the policy merges the stations back): room for that, not for a hoard.
      workerLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 },
      // Chaos tests recovery, not the budget: a budget that runs out would end the run as unhealthy.
      restart: { maxRestarts: 10, withinMs: 10_000 },
      processorStartDeadlineMs: START_DEADLINE_MS,
    });
    // A slow start (its time is the `ready` phase) is not a hang: stuck is only a ready that outlives the runtime's
    // own start deadlines; a ready that rejects (a deadline missed) is a start that failed, told with its reason.
    const ready = await within(
      runtime.ready.then(
        () => undefined,
        (error: unknown) => error,
      ),
      READY_MS,
    );
    if (ready === timedOut) {
      report.stuck.push(`runtime.ready (neither resolved nor rejected within ${READY_MS / 1000} s)`);
      return report;
    }
    if (ready !== undefined) {
      report.notStarted.push(`runtime.ready rejected after ${((Date.now() - started) / 1000).toFixed(1)} s: ${describeError(ready)}`);
      return report;
    }
    phase('ready');
    for (let p = 1; p <= PROCESSORS; p++) seenPids.add(runtime.processor(p).pid!);
    for (const kind of ['thread', 'processor'] as const) {
      runtime.bus('internal').subscribe(`busline.${kind}.crashed`, (event) => {
        const { processor, thread, reason, restarted } = event.payload as { processor: number; thread: number | null; reason: string; restarted: boolean };
        const line = `${kind} ${processor}${thread === null ? '' : `.${thread}`}: ${reason}${restarted ? '' : ', not restarted'}`;
        report.crashReports.push(line);
        if (kind === 'processor' && reason !== 'SIGKILL') report.collateral.push(line);
      });
    }

    const ledger: Posted[] = [];
    let stopping = false;
    const loads = ALL_THREADS.map(([p, t], i) =>
      load(runtime!, p, t, seededRandom(plan.loadSeeds[i]!), ledger, countError, () => stopping),
    );
    await pause(plan.warmupMs);
    for (const planned of plan.kills) {
      report.kills.push(await chaosKill(runtime, planned, seenPids, countError));
      await pause(planned.gapMs);
    }
    await pause(plan.tailMs);
    phase('chaos');
    stopping = true;
    if ((await within(Promise.all(loads), SETTLE_MS)) === timedOut) report.stuck.push('a load call never settled');
    phase('load');
    await heal(runtime, report, seenPids);
    phase('heal');
    await check(runtime, report, ledger);
    phase('check');
  } catch (error) {
    report.stuck.push(`the run itself failed: ${describeError(error)}`);
  } finally {
    if (runtime !== undefined && (await within(runtime.stop(), SETTLE_MS)) === timedOut) report.stuck.push('runtime.stop()');
    phase('stop');
    const leftover = new Map(processesOf({ token }).map((found) => [found.pid, found]));
    for (const pid of seenPids) if (isRunning(pid) && !leftover.has(pid)) leftover.set(pid, { pid, command: 'a processor' });
    for (const found of leftover.values()) {
      killProcess(found.pid);
      report.leftover.push(found);
    }
    process.off('uncaughtException', onRootError);
    process.off('unhandledRejection', onRootError);
    if (previousToken === undefined) delete process.env.BUSLINE_CHAOS_TOKEN;
    else process.env.BUSLINE_CHAOS_TOKEN = previousToken;
    report.ms = Date.now() - started;
  }
  return report;
}

/**
 * One thread's load until `stopped()`: a few posts, then `sync()` (or, one
 * time in four, a handover: `toStation()`) carries them. They are accepted
 * once that resolves.
 */
async function load(
  runtime: Runtime,
  processor: number,
  thread: number,
  random: () => number,
  ledger: Posted[],
  countError: (error: unknown) => void,
  stopped: () => boolean,
): Promise<void> {
  let sequence = 0;
  while (!stopped()) {
    // A turn of the event loop per round: a thread whose calls fail at once must not starve the timers.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const bus = busOf(runtime, processor, thread);
    const posts: Array<Promise<Posted | undefined>> = [];
    for (let n = 1 + below(random, 64); n > 0; n--) {
      const marker = `${processor}.${thread}#${sequence++}`;
      posts.push(
        Promise.resolve()
          .then(() => bus.post(LOAD_TYPE, { marker }))
          .then(
            (event: BusEvent) => ({ marker, id: event.id, processor, accepted: false }),
            (error: unknown) => void countError(error),
          ),
      );
    }
    const posted = (await Promise.all(posts)).filter((entry): entry is Posted => entry !== undefined);
    ledger.push(...posted);
    try {
      if (random() < 0.25) await bus.toStation();
      else await bus.sync();
      for (const entry of posted) entry.accepted = true;
    } catch (error) {
      countError(error);
      await pause(10 + below(random, 40));
    }
  }
}

/** Carries out one planned kill. */
async function chaosKill(runtime: Runtime, planned: PlannedKill, seenPids: Set<number>, countError: (error: unknown) => void): Promise<Kill> {
  const { kind, point, processor, delayMs } = planned;
  if (kind === 'processor-sigkill') {
    const kill: Kill = { kind, point, target: `processor ${processor}`, done: false };
    // A processor still down from an earlier kill is waited for: a kill should land on something alive.
    const pid = await waitFor(() => {
      const current = runtime.processor(processor).pid;
      return current !== null && isRunning(current) ? current : undefined;
    }, TARGET_WAIT_MS);
    if (pid === undefined) {
      kill.note = `it was down for ${TARGET_WAIT_MS / 1000} s`;
      return kill;
    }
    // Every processor process there is now is known: a new one after the kill is this one's successor.
    for (let p = 1; p <= PROCESSORS; p++) seenPids.add(runtime.processor(p).pid ?? pid);
    for (const child of processorChildren()) seenPids.add(child);
    if (point === 'handover') {
      // During a station's handover to the main station.
      void runtime.processor(processor).station('external').toMain().catch(countError);
    }
    if (point !== 'replay') await pause(delayMs);
    killProcess(pid);
    kill.done = true;
    if (point === 'replay') {
      // The successor is forked at once; kill it while it loads and replays the journal.
      const successor = await waitFor(() => processorChildren().find((child) => !seenPids.has(child)), 20_000);
      if (successor === undefined) kill.note = 'no successor was forked';
      else {
        seenPids.add(successor);
        await pause(delayMs);
        killProcess(successor);
        kill.note = `successor ${successor} killed after ${delayMs} ms`;
      }
    } else if (point === 'restart') {
      // Killed again as soon as the runtime has its successor: before that one synced with the main station.
      const successor = await waitFor(() => {
        const next = runtime.processor(processor).pid;
        return next !== null && next !== pid ? next : undefined;
      }, 30_000);
      if (successor === undefined) kill.note = 'it did not come back';
      else {
        seenPids.add(successor);
        killProcess(successor);
        kill.note = `successor ${successor} killed once up`;
      }
    }
    return kill;
  }
  const thread = planned.thread!;
  const kill: Kill = { kind, point, target: `thread ${processor}.${thread}`, done: false };
  let actor: SpawnedActor | undefined;
  const deadline = Date.now() + TARGET_WAIT_MS;
  while (actor === undefined) {
    try {
      actor = await runtime.spawn(CRASHER, { processor, thread });
    } catch (error) {
      // A thread or processor still down from an earlier kill is waited for.
      if (!isBusError(error, 'WORKER_CRASHED') || Date.now() > deadline) {
        kill.note = `spawn refused (${codeOf(error)})`;
        return kill;
      }
      await pause(50);
    }
  }
  if (point === 'handover') void busOf(runtime, processor, thread).roundTrip().catch(countError);
  await pause(delayMs);
  void actor.send({ type: `crash.${kind.slice('worker-'.length)}` }).catch(countError);
  kill.done = true;
  return kill;
}

/** Polls `probe` until it returns something, or `ms` have passed. */
async function waitFor<T>(probe: () => T | undefined, ms: number): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = probe();
    if (found !== undefined || Date.now() > deadline) return found;
    await pause(5);
  }
}

/** Every thread must take a post and a round trip again within HEAL_MS; then the local stations send everything on to main. */
async function heal(runtime: Runtime, report: RunReport, seenPids: Set<number>): Promise<void> {
  const deadline = Date.now() + HEAL_MS;
  const attempt = async (step: () => Promise<unknown>, what: string): Promise<boolean> => {
    let last: unknown;
    for (;;) {
      try {
        const result = await within(step(), SETTLE_MS);
        if (result !== timedOut) return true;
        last = new Error('did not settle');
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline) {
        report.unhealthy.push(`${what}: ${describeError(last)}`);
        return false;
      }
      await pause(100);
    }
  };
  await Promise.all(
    ALL_THREADS.map(([p, t]) =>
      attempt(async () => {
        const bus = busOf(runtime, p, t);
        await bus.post('chaos.health', { p, t });
        await bus.roundTrip();
      }, `thread ${p}.${t}`),
    ),
  );
  for (let p = 1; p <= PROCESSORS; p++) {
    const pid = runtime.processor(p).pid;
    if (pid !== null) seenPids.add(pid);
    await attempt(() => runtime.processor(p).station('external').toMain(), `processor ${p} toMain`);
  }
  await attempt(() => runtime.station('external').toMain(), 'processor 0 toMain');
}

/** Every accepted event once in its local station and in the main station; nothing twice; no id shared. */
async function check(runtime: Runtime, report: RunReport, ledger: readonly Posted[]): Promise<void> {
  const markersOf = (events: readonly BusEvent[]) => {
    const byMarker = new Map<string, string[]>();
    for (const event of events) {
      const marker = (event.payload as { marker: string }).marker;
      byMarker.set(marker, [...(byMarker.get(marker) ?? []), event.id]);
    }
    return byMarker;
  };
  const query = { types: [LOAD_TYPE] };
  const main = markersOf(runtime.mainStation('external').history(query));
  // A local station that cannot be read (its processor is down: already unhealthy) is left out; main is still checked.
  const locals: Array<Map<string, string[]> | undefined> = [markersOf(runtime.station('external', 0).history(query))];
  for (let p = 1; p <= PROCESSORS; p++) {
    try {
      locals.push(markersOf(await runtime.processor(p).station('external').history(query)));
    } catch (error) {
      locals.push(undefined);
      report.unhealthy.push(`processor ${p}: its station's history could not be read (${describeError(error)}); its local station was not checked`);
    }
  }
  const owners = new Map<string, string>();
  for (const entry of ledger) {
    const other = owners.get(entry.id);
    if (other !== undefined) report.idCollisions.push(`${entry.id}: ${other} and ${entry.marker}`);
    owners.set(entry.id, entry.marker);
    if (entry.accepted) report.accepted++;
    else report.unconfirmed++;
    const local = locals[entry.processor];
    for (const [where, found, lost] of [
      ['main', main.get(entry.marker) ?? [], report.lostMain],
      ...(local === undefined ? [] : [[`local ${entry.processor}`, local.get(entry.marker) ?? [], report.lostLocal] as const]),
    ] as const) {
      if (found.length === 0 && entry.accepted) lost.push(`${entry.marker} ${entry.id}`);
      else if (found.length > 1) report.duplicated.push(`${entry.marker} ${where}: ${found.join(', ')}`);
      else if (found.length === 1 && found[0] !== entry.id) report.duplicated.push(`${entry.marker} ${where}: as ${found[0]}, posted as ${entry.id}`);
    }
  }
}
