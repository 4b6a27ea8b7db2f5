/**
 * `npm run fuzz -- --cases N [--seed S] [--from I] [--no-workers] [--hang-ms M]`:
 * mutated frames and control messages into every decoder, and random calls
 * with hostile arguments into every public method (see tests/fuzz/engine.ts).
 * Prints the counts per outcome and examples of every bad one with the
 * command that replays it; exits 1 unless every hostile case was refused
 * with a typed BusError (0 other exceptions, 0 silently accepted, 0 hangs).
 */
import { formatReport, runFuzz } from '../tests/fuzz/engine.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} expects a whole number, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  return value;
}

const cases = option('cases', 10_000);
const seed = option('seed', Date.now() % 2 ** 31);
const from = option('from', 0);
const hangMs = option('hang-ms', 5_000);
const workers = !process.argv.includes('--no-workers');

console.log(`fuzz: ${cases} cases, seed ${seed}${from > 0 ? `, from case ${from}` : ''}${workers ? ', with a worker thread' : ''}`);
const report = await runFuzz({
  cases,
  seed,
  from,
  workers,
  hangMs,
  progressEvery: Math.max(1_000, Math.min(100_000, Math.floor(cases / 10))),
  onProgress: (done, partial) => {
    const { counts } = partial;
    const rate = Math.round(done / (partial.elapsedMs / 1000));
    console.log(`  ${done} cases, ${rate}/s: typed ${counts.typed}, valid ${counts.valid}, untyped ${counts.untyped}, accepted ${counts.accepted}, hang ${counts.hang}`);
  },
});
console.log(formatReport(report));
const bad = report.counts.untyped + report.counts.accepted + report.counts.hang;
process.exit(bad === 0 ? 0 : 1);
