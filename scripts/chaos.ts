/**
 * `npm run chaos -- --runs N --seed S`: kills workers and processors of a
 * loaded runtime at random points and checks that nothing accepted was lost.
 *
 * Each run starts `createRuntime({ processors: 2, threadsPerProcessor: 2,
 * sync: { everyMs } })`, posts from every thread (the root's, each
 * processor's own and every worker) and carries the posts to the stations
 * with `sync()` or a handover (`toStation()`), while a seeded schedule kills:
 * a worker (it exits, throws, hangs or runs out of memory, at a sync or during
 * a handover) or a processor (SIGKILL at a sync, during a station's
 * `toMain()`, while its successor starts and replays its journal, or right
 * after it is back). Then it checks:
 *
 * - every event accepted before a kill (its carrying `sync()`/`toStation()`
 *   resolved: README, "What is guaranteed") is in its processor's local
 *   station and in the main station exactly once; no event is there twice;
 * - no two events have one id;
 * - every thread is healthy again (a post and a round trip succeed);
 * - nothing is stuck (every call settles, `stop()` ends) and no process is
 *   left over after `stop()`; the root process never saw an uncaught error;
 * - processors die only of the SIGKILLs: a worker's fault takes that worker
 *   down alone.
 *
 * Every run prints its seed: `--seed S --runs 1` replays that run's schedule
 * (what is killed, how and where, and the delays); the interleaving with the
 * load is the machine's. `--max-minutes M` stops starting runs after M minutes.
 * The exit code is 1 when any run failed.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createRuntime, isBusError, type BusEvent, type Runtime, type SpawnedActor } from '../index.js';
import { isRunning, killProcess, processesOf, type FoundProcess } from './processes.mjs';

const CRASHER = new URL('../tests/runtime/fixtures/crashing.machine.ts', import.meta.url);
const PROCESSORS = 2;
const THREADS = 2;
/** Every thread of the topology: the root's own (0.0) and workers, each processor's own and workers. */
const ALL_THREADS: ReadonlyArray<readonly [number, number]> = Array.from({ length: PROCESSORS + 1 }, (_, p) =>
  Array.from({ length: THREADS + 1 }, (_, t) => [p, t] as const),
).flat();
const LOAD_TYPE = 'chaos.load';
/** How long a thread may take to be healthy again once the chaos stops. */
const HEAL_MS = 60_000;
/** How long a kill waits for its target to be up (after an earlier kill) before it is skipped. */
const TARGET_WAIT_MS = 10_000;
/** How long anything that must settle (the load, `stop()`) may take before it counts as stuck. */
const SETTLE_MS = 30_000;

export const KILL_KINDS = ['worker-exit', 'worker-throw', 'worker-hang', 'worker-oom', 'processor-sigkill'] as const;
export type KillKind = (typeof KILL_KINDS)[number];
/** Where a kill lands: during a sync, during a handover, while the successor starts and replays its journal, right after it is back. */
export type KillPoint = 'sync' | 'handover' | 'replay' | 'restart';

/** One kill of a run's plan. */
export interface PlannedKill {
  readonly kind: KillKind;
  readonly point: KillPoint;
  readonly processor: number;
  /** The worker thread, for a worker kill. */
  readonly thread?: number;
  /** Milliseconds between reaching the point and the kill (for `replay`: after the successor was forked). */
  readonly delayMs: number;
  /** Milliseconds of load after this kill before the next one. */
  readonly gapMs: number;
}

/** Everything random about a run, drawn from its seed alone, so that `--seed S --runs 1` replays it. */
export interface RunPlan {
  readonly seed: number;
  /** The sync policy's period. */
  readonly everyMs: number;
  /** Load before the first kill. */
  readonly warmupMs: number;
  readonly kills: readonly PlannedKill[];
  /** Load after the last kill. */
  readonly tailMs: number;
  /** Seeds of the load of each thread (batch sizes, sync or handover). */
  readonly loadSeeds: readonly number[];
}

/** One kill as it went. */
export interface Kill {
  readonly kind: KillKind;
  readonly point: KillPoint;
  /** `thread p.t` or `processor p`. */
  readonly target: string;
  /** False when the target could not be reached (it was down); then nothing was killed. */
  done: boolean;
  note?: string;
}

/** What one run found. Any non-empty list is a failure. */
export interface RunReport {
  readonly seed: number;
  /** The range the number of kills was drawn from (part of what the seed replays). */
  readonly killRange: readonly [number, number];
  readonly kills: Kill[];
  /** Events whose carrying sync or handover resolved. */
  accepted: number;
  /** Events posted whose carrying call failed: they may or may not be at the stations, but at most once. */
  unconfirmed: number;
  /** Accepted events missing from their processor's local station (`<marker> <id>`). */
  readonly lostLocal: string[];
  /** Accepted events missing from the main station. */
  readonly lostMain: string[];
  /** Events found more than once in a station, or under another id than their post returned. */
  readonly duplicated: string[];
  /** Ids given to two different events. */
  readonly idCollisions: string[];
  /** Processes still running after `stop()` (killed then). */
  readonly leftover: FoundProcess[];
  /** Threads where a post and a round trip did not succeed within HEAL_MS, with the last error. */
  readonly unhealthy: string[];
  /** Calls or steps that never settled. */
  readonly stuck: string[];
  /** Uncaught exceptions and unhandled rejections in this (the root) process. */
  readonly rootErrors: string[];
  /** Processors that died of something other than the chaos's SIGKILL (a worker's fault must take down that worker alone). */
  readonly collateral: string[];
  /** Crash reports the runtime posted (`busline.*.crashed`) as `<kind> <where>: <reason>`. */
  readonly crashReports: string[];
  /** Failed calls of the load, by error code: expected while things die, listed for the record. */
  readonly callErrors: Record<string, number>;
  ms: number;
  /** When each phase ended, in ms from the start. */
  readonly phases: Record<string, number>;
}

/** True when the run found nothing wrong. */
export function runPassed(report: RunReport): boolean {
  return (
    report.lostLocal.length +
      report.lostMain.length +
      report.duplicated.length +
      report.idCollisions.length +
      report.leftover.length +
      report.unhealthy.length +
      report.stuck.length +
      report.rootErrors.length +
      report.collateral.length ===
    0
  );
}

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

/** A small seeded PRNG (mulberry32): the same seed gives the same schedule. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const below = (random: () => number, n: number) => Math.floor(random() * n);

/** The plan of the run with `seed`: how many kills (within `killRange`), of what, where and when. */
export function planRun(seed: number, [minKills, maxKills]: readonly [number, number] = [3, 6]): RunPlan {
  const random = seededRandom(seed);
  const everyMs = 2 + below(random, 19);
  const warmupMs = 100 + below(random, 400);
  const kills: PlannedKill[] = [];
  for (let n = minKills + below(random, maxKills - minKills + 1); n > 0; n--) {
    const kind = KILL_KINDS[below(random, KILL_KINDS.length)]!;
    if (kind === 'processor-sigkill') {
      const processor = 1 + below(random, PROCESSORS);
      const point = (['sync', 'handover', 'replay', 'restart'] as const)[below(random, 4)]!;
      // A start (loading, journal replay, workers) takes a second or more here: the replay kill lands somewhere in it.
      const delayMs = below(random, point === 'replay' ? 1_500 : 20);
      kills.push({ kind, point, processor, delayMs, gapMs: 50 + below(random, 500) });
    } else {
      const processor = below(random, PROCESSORS + 1);
      const thread = 1 + below(random, THREADS);
      const point = random() < 0.5 ? 'sync' : 'handover';
      kills.push({ kind, point, processor, thread, delayMs: below(random, 20), gapMs: 50 + below(random, 500) });
    }
  }
  const tailMs = 200 + below(random, 400);
  const loadSeeds = ALL_THREADS.map(() => Math.floor(random() * 2 ** 32));
  return { seed, everyMs, warmupMs, kills, tailMs, loadSeeds };
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
  const report: RunReport = {
    seed,
    killRange,
    kills: [],
    accepted: 0,
    unconfirmed: 0,
    lostLocal: [],
    lostMain: [],
    duplicated: [],
    idCollisions: [],
    leftover: [],
    unhealthy: [],
    stuck: [],
    rootErrors: [],
    collateral: [],
    crashReports: [],
    callErrors: {},
    ms: 0,
    phases: {},
  };
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
    });
    const ready = await within(runtime.ready, SETTLE_MS);
    if (ready === timedOut) {
      report.stuck.push('runtime.ready');
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

/** One line about a run. */
export function describeRun(report: RunReport): string {
  const kills = report.kills
    .map((kill) => `${kill.kind}@${kill.point} ${kill.target}${kill.done ? '' : ' skipped'}${kill.note === undefined ? '' : ` (${kill.note})`}`)
    .join(', ');
  const verdict = runPassed(report) ? 'ok' : 'FAILED';
  const problems = [
    report.lostLocal.length > 0 ? `lost in local ${report.lostLocal.length}` : '',
    report.lostMain.length > 0 ? `lost in main ${report.lostMain.length}` : '',
    report.duplicated.length > 0 ? `duplicated ${report.duplicated.length}` : '',
    report.idCollisions.length > 0 ? `id collisions ${report.idCollisions.length}` : '',
    report.leftover.length > 0 ? `leftover: ${report.leftover.map((p) => `${p.pid} (…${p.command.slice(-60)})`).join(', ')}` : '',
    report.unhealthy.length > 0 ? `unhealthy: ${report.unhealthy.join('; ')}` : '',
    report.stuck.length > 0 ? `stuck: ${report.stuck.join('; ')}` : '',
    report.rootErrors.length > 0 ? `root errors: ${report.rootErrors.join('; ')}` : '',
    report.collateral.length > 0 ? `collateral crashes: ${report.collateral.join('; ')}` : '',
  ].filter(Boolean);
  return (
    `seed ${report.seed}: ${verdict} in ${(report.ms / 1000).toFixed(1)} s; ${report.accepted} accepted, ${report.unconfirmed} unconfirmed; ` +
    `kills: ${kills || 'none'}; ` +
    `phases (s): ${Object.entries(report.phases).map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)}`).join(', ')}` +
    (problems.length > 0 ? `\n  ${problems.join('\n  ')}` : '') +
    (problems.length > 0 && report.crashReports.length > 0 ? `\n  crash reports: ${report.crashReports.join('; ')}` : '')
  );
}

/** The totals over runs, as printed at the end. */
export function summarize(reports: readonly RunReport[]): string {
  const sum = (of: (report: RunReport) => number) => reports.reduce((total, report) => total + of(report), 0);
  const kills = new Map<string, number>();
  for (const kill of reports.flatMap((report) => report.kills)) {
    if (!kill.done) continue;
    const key = kill.kind === 'processor-sigkill' ? `${kill.kind}@${kill.point}` : kill.kind;
    kills.set(key, (kills.get(key) ?? 0) + 1);
  }
  const failed = reports.filter((report) => !runPassed(report));
  const lines = [
    `runs: ${reports.length} (${failed.length} failed)`,
    `kills: ${[...kills].sort().map(([key, n]) => `${key} ${n}`).join(', ') || 'none'}`,
    `events accepted: ${sum((r) => r.accepted)} (and ${sum((r) => r.unconfirmed)} posted whose sync failed)`,
    `lost: ${sum((r) => r.lostMain.length)} from the main station, ${sum((r) => r.lostLocal.length)} from local stations`,
    `duplicated: ${sum((r) => r.duplicated.length)}`,
    `id collisions: ${sum((r) => r.idCollisions.length)}`,
    `leftover processes: ${sum((r) => r.leftover.length)}`,
    `unhealthy: ${sum((r) => r.unhealthy.length)} (threads or stations not back within ${HEAL_MS / 1000} s)`,
    `stuck: ${sum((r) => r.stuck.length)}`,
    `root errors: ${sum((r) => r.rootErrors.length)}`,
    `collateral processor crashes: ${sum((r) => r.collateral.length)} (not the chaos's SIGKILL)`,
  ];
  if (failed.length > 0) {
    const [min, max] = failed[0]!.killRange;
    lines.push(`failing seeds: ${failed.map((report) => report.seed).join(' ')} (replay one: npm run chaos -- --seed S --runs 1 --kills ${min}-${max})`);
  }
  return lines.join('\n');
}

function parseArgs(argv: readonly string[]): ChaosOptions & { readonly verbose: boolean } {
  const value = (name: string) => {
    const index = argv.indexOf(`--${name}`);
    if (index < 0) return undefined;
    const given = Number(argv[index + 1]);
    if (!Number.isFinite(given) || given < 0) throw new Error(`--${name} takes a number, got ${argv[index + 1]}`);
    return given;
  };
  const usage = 'use --runs N --seed S [--kills MIN-MAX] [--max-minutes M] [--verbose]';
  const known = new Set(['--runs', '--seed', '--kills', '--max-minutes', '--verbose']);
  const unknown = argv.filter((arg, i) => arg.startsWith('--') && !known.has(arg) && !known.has(argv[i - 1] ?? ''));
  if (unknown.length > 0) throw new Error(`unknown option ${unknown[0]}; ${usage}`);
  const minutes = value('max-minutes');
  const killsArg = argv[argv.indexOf('--kills') + 1];
  let kills: [number, number] = [3, 6];
  if (argv.includes('--kills')) {
    const match = /^(\d+)-(\d+)$/.exec(killsArg ?? '');
    if (match === null || Number(match[1]) > Number(match[2])) throw new Error(`--kills takes MIN-MAX, e.g. 3-6, got ${killsArg}; ${usage}`);
    kills = [Number(match[1]), Number(match[2])];
  }
  return {
    runs: value('runs') ?? 10,
    seed: value('seed') ?? Number.parseInt(randomBytes(3).toString('hex'), 16),
    kills,
    ...(minutes === undefined ? {} : { maxMs: minutes * 60_000 }),
    verbose: argv.includes('--verbose'),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const options = parseArgs(process.argv.slice(2));
  console.log(`chaos: ${options.runs} runs from seed ${options.seed}, ${options.kills![0]}-${options.kills![1]} kills each`);
  const reports = await runChaos({
    ...options,
    log: (line) => console.log(line),
  });
  if (options.verbose) {
    for (const report of reports.filter((r) => !runPassed(r))) console.log(JSON.stringify(report, null, 2));
  }
  console.log(`\n${summarize(reports)}`);
  process.exit(reports.every(runPassed) ? 0 : 1);
}
