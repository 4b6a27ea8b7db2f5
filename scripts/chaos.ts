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
 *   resolved: the durability boundary) is in its processor's local
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
 * The exit code is 1 when any run failed. Linux only (it reads /proc). The
 * plan is in chaos/plan.ts, a run in chaos/run.ts, the verdict in chaos/report.ts.
 */
import { randomBytes } from 'node:crypto';
import { runPassed, summarize } from './chaos/report.js';
import { runChaos, type ChaosOptions } from './chaos/run.js';

/** The command line's options; a wrong one is refused with the usage. */
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

let options: ReturnType<typeof parseArgs>;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(`chaos: ${(error as Error).message}`);
  process.exit(2);
}
console.log(`chaos: ${options.runs} runs from seed ${options.seed}, ${options.kills![0]}-${options.kills![1]} kills each`);
const reports = await runChaos({ ...options, log: (line) => console.log(line) });
if (options.verbose) {
  for (const report of reports.filter((r) => !runPassed(r))) console.log(JSON.stringify(report, null, 2));
}
console.log(`\n${summarize(reports)}`);
process.exit(reports.every(runPassed) ? 0 : 1);
