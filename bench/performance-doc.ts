/**
 * Writes a bench run's results into docs/PERFORMANCE.md, between the markers
 * of each group (`<!-- bench:core:start -->` ... `<!-- bench:core:end -->`),
 * so the figures in the docs are the last run's and never copied by hand. A
 * run of one group (`npm run bench -- core`) replaces that group's table only.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { formatDuration, formatRate, type Comparison, type LatencyComparison, type Target } from './harness.js';

/** The results of one group of benchmarks. */
export interface GroupResults {
  readonly rates: readonly Comparison[];
  readonly latencies?: readonly LatencyComparison[];
  readonly notes?: readonly string[];
}

const DOC = new URL('../docs/PERFORMANCE.md', import.meta.url);

function target(row: { readonly target?: Target }): string {
  return row.target === undefined ? '' : `${row.target.text}: ${row.target.met ? 'met' : '**not met**'}`;
}

/** A cell's text with the characters a Markdown table would take as syntax escaped. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** The Markdown of one group's results: where and when it ran, then one table row per measurement. */
export function groupMarkdown(results: GroupResults, when = new Date()): string {
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const lines = [
    `Measured ${when.toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ` +
      `${availableParallelism()} cores (${cell(model)}), load average ${loadavg()[0]!.toFixed(1)} at the end ` +
      '(a load above the core count means other work shared the machine).',
    '',
    '| Measure | busline | Peer | Peer\'s | Ratio | Target |',
    '|---|--:|---|--:|--:|---|',
  ];
  for (const row of results.rates) {
    lines.push(
      `| ${cell(row.name)} | ${formatRate(row.subject)} | ${cell(row.peerName)} | ${formatRate(row.peer)} | ` +
        `${(row.subject / row.peer).toFixed(2)}x | ${target(row)} |`,
    );
  }
  for (const row of results.latencies ?? []) {
    const both = (l: { readonly p50: number; readonly p99: number }) => `p50 ${formatDuration(l.p50)}, p99 ${formatDuration(l.p99)}`;
    lines.push(
      `| ${cell(row.name)} | ${both(row.subject)} | ${cell(row.peerName)} | ${both(row.peer)} | ` +
        `${(row.subject.p50 / row.peer.p50).toFixed(1)}x at p50, ${(row.subject.p99 / row.peer.p99).toFixed(1)}x at p99 | ${target(row)} |`,
    );
  }
  for (const note of results.notes ?? []) lines.push('', `(${cell(note)})`);
  return lines.join('\n');
}

/**
 * `document` with the text between `group`'s markers replaced by `markdown`.
 * Throws when the markers are missing, rather than appending somewhere a reader would not look.
 */
export function replaceGroup(document: string, group: string, markdown: string): string {
  const start = `<!-- bench:${group}:start -->`;
  const end = `<!-- bench:${group}:end -->`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`docs/PERFORMANCE.md has no ${start} ... ${end} markers.`);
  return `${document.slice(0, from + start.length)}\n${markdown}\n${document.slice(to)}`;
}

/** Writes one group's results into docs/PERFORMANCE.md. */
export function writeGroup(group: string, results: GroupResults): void {
  writeFileSync(DOC, replaceGroup(readFileSync(DOC, 'utf8'), group, groupMarkdown(results)));
}
