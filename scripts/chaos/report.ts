/** What a chaos run found, and how it is told. */
import type { FoundProcess } from '../processes.mjs';
import type { KillKind, KillPoint } from './plan.js';

/** How long a thread may take to be healthy again once the chaos stops. */
export const HEAL_MS = 60_000;

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
  /** The runtime did not start: `ready` rejected (a start deadline missed, a processor that could not start), with why. */
  readonly notStarted: string[];
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

/** The report of run `seed` before anything is found. */
export function emptyReport(seed: number, killRange: readonly [number, number]): RunReport {
  return {
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
    notStarted: [],
    rootErrors: [],
    collateral: [],
    crashReports: [],
    callErrors: {},
    ms: 0,
    phases: {},
  };
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
      report.notStarted.length +
      report.rootErrors.length +
      report.collateral.length ===
    0
  );
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
    report.notStarted.length > 0 ? `did not start: ${report.notStarted.join('; ')}` : '',
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
    `did not start: ${sum((r) => r.notStarted.length)} (runtime.ready rejected)`,
    `root errors: ${sum((r) => r.rootErrors.length)}`,
    `collateral processor crashes: ${sum((r) => r.collateral.length)} (not the chaos's SIGKILL)`,
  ];
  if (failed.length > 0) {
    const [min, max] = failed[0]!.killRange;
    lines.push(`failing seeds: ${failed.map((report) => report.seed).join(' ')} (replay one: npm run chaos -- --seed S --runs 1 --kills ${min}-${max})`);
  }
  return lines.join('\n');
}
