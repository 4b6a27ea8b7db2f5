/**
 * A chaos run's plan: everything random about it (the sync period, the kills
 * with their kind, target, point and delays, the load's seeds), drawn from
 * its seed alone, so that a failing seed replays the same plan.
 */
import { seededRandom } from '../../tests/helpers.js';

/** Child processors of each run, and worker threads of each processor. */
export const PROCESSORS = 2;
export const THREADS = 2;
/** Every thread of the topology: the root's own (0.0) and workers, each processor's own and workers. */
export const ALL_THREADS: ReadonlyArray<readonly [number, number]> = Array.from({ length: PROCESSORS + 1 }, (_, p) =>
  Array.from({ length: THREADS + 1 }, (_, t) => [p, t] as const),
).flat();

/** What a kill does: a worker exits, throws, hangs or runs out of memory; a processor is SIGKILLed. */
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


/** An integer in [0, n). */
export const below = (random: () => number, n: number) => Math.floor(random() * n);

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
