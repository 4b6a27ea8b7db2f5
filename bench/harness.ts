/**
 * A tiny benchmark harness: peers run interleaved in the same process, several
 * rounds each, and results are reported as medians and as ratios against the
 * peer, since this machine is shared and noisy.
 */

/** Runs `fn` once and returns its rate in operations per second. */
export function rate(operations: number, fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return operations / seconds;
}

/** Like `rate`, for an async body. */
export async function rateAsync(operations: number, fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return operations / seconds;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Formats a rate as `12.3 M/s`. */
export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

/** A target a row is held to, and whether this run met it. */
export interface Target {
  readonly text: string;
  readonly met: boolean;
}

export interface Comparison {
  readonly name: string;
  readonly subject: number;
  readonly peerName: string;
  readonly peer: number;
  readonly target?: Target;
}

/** A throughput target of at least `minRatio` times the peer and `minRate` per second (either may be absent). */
export function rateTarget(subject: number, peer: number, goal: { minRatio?: number; minRate?: number }): Target {
  const parts: string[] = [];
  let met = true;
  if (goal.minRatio !== undefined) {
    parts.push(`≥ ${goal.minRatio}x`);
    met &&= subject / peer >= goal.minRatio;
  }
  if (goal.minRate !== undefined) {
    parts.push(`≥ ${formatRate(goal.minRate)}`);
    met &&= subject >= goal.minRate;
  }
  return { text: parts.join(' and '), met };
}

/** How a row's target reads in the report: what it asks, and whether it was met. */
function formatTarget(target: Target | undefined): string {
  return target === undefined ? '' : `   (target ${target.text}: ${target.met ? 'met' : 'NOT met'})`;
}

export function report(rows: readonly Comparison[]): void {
  for (const row of rows) {
    const ratio = row.subject / row.peer;
    console.log(
      `${row.name.padEnd(46)} ${formatRate(row.subject).padStart(11)}   ${row.peerName.padEnd(36)} ${formatRate(row.peer).padStart(11)}   ratio ${ratio.toFixed(2)}x${formatTarget(row.target)}`,
    );
  }
}

/** The `p`-th percentile (0..1) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** Formats a duration in nanoseconds as `412 µs` or `1.23 ms`. */
export function formatDuration(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(0)} µs`;
  return `${ns.toFixed(0)} ns`;
}

/** Round-trip latencies (p50 and p99, in ns) of a call and of its peer. */
export interface LatencyComparison {
  readonly name: string;
  readonly subject: { readonly p50: number; readonly p99: number };
  readonly peerName: string;
  readonly peer: { readonly p50: number; readonly p99: number };
  readonly target?: Target;
}

/** A latency target of at most `maxRatio` times the peer's p99. */
export function p99Target(subject: { readonly p99: number }, peer: { readonly p99: number }, maxRatio: number): Target {
  return { text: `p99 ≤ ${maxRatio}x`, met: subject.p99 / peer.p99 <= maxRatio };
}

/** Like `report`, for latencies: the ratio is subject / peer at p50 (higher is slower). */
export function reportLatency(rows: readonly LatencyComparison[]): void {
  for (const row of rows) {
    const subject = `p50 ${formatDuration(row.subject.p50)} p99 ${formatDuration(row.subject.p99)}`;
    const peer = `p50 ${formatDuration(row.peer.p50)} p99 ${formatDuration(row.peer.p99)}`;
    console.log(
      `${row.name.padEnd(46)} ${subject.padStart(22)}   ${row.peerName.padEnd(36)} ${peer.padStart(22)}   ` +
        `ratio ${(row.subject.p50 / row.peer.p50).toFixed(1)}x at p50, ${(row.subject.p99 / row.peer.p99).toFixed(1)}x at p99` +
        formatTarget(row.target),
    );
  }
}
