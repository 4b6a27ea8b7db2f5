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

export interface Comparison {
  readonly name: string;
  readonly subject: number;
  readonly peerName: string;
  readonly peer: number;
  readonly target?: string;
}

export function report(rows: readonly Comparison[]): void {
  for (const row of rows) {
    const ratio = row.subject / row.peer;
    console.log(
      `${row.name.padEnd(46)} ${formatRate(row.subject).padStart(11)}   ${row.peerName.padEnd(30)} ${formatRate(row.peer).padStart(11)}   ratio ${ratio.toFixed(2)}x${row.target === undefined ? '' : `   (target ${row.target})`}`,
    );
  }
}
