#!/usr/bin/env node
// `npm test`: type-checks, then runs every uvu suite under tests/ (TypeScript
// through tsx), each test file in a process of its own, two at a time, and
// ends with one line `N passed, N failed` for CI.
//
// Extra arguments narrow the run (and skip the type check): a directory (or
// one file) and a file-name regex matched against the path below it, as uvu
// takes them: `npm test -- tests/runtime 'faults'`.
//
// Why one process per file: one file that crashes its process (or hangs) must
// not end the run with a count that hides which tests never ran. Each file runs
// in its own process group and carries a token in its environment; when its
// process has exited, any process still in that group or carrying the token
// (a detached grandchild has a group of its own, but keeps the environment)
// was left behind by the file: it is killed and counted as the file's failure.
//
// The longest files start first (times of the previous full run, kept in the
// system's temp directory), so that the last file to finish is a short one.
//
// Environment: BUSLINE_TEST_JOBS (files at a time, default 2),
// BUSLINE_TEST_FILE_TIMEOUT_MS (per file, default 180 000).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRunning, killProcess, processesOf } from './processes.mjs';

const args = process.argv.slice(2);
const root = args[0] ?? 'tests';
const pattern = new RegExp(args[1] ?? '\\.test\\.ts$', 'i');
const jobs = positive(process.env.BUSLINE_TEST_JOBS, 2);
// uvu has no timeouts: a test that waits for something that never comes would hang its file for good.
const fileTimeoutMs = positive(process.env.BUSLINE_TEST_FILE_TIMEOUT_MS, 180_000);
const uvuBin = fileURLToPath(new URL('../node_modules/uvu/bin.js', import.meta.url));
const tscBin = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));

function positive(value, fallback) {
  const number = Number(value);
  return value !== undefined && Number.isInteger(number) && number > 0 ? number : fallback;
}

const timesFile = join(tmpdir(), `busline-test-times-${createHash('sha1').update(process.cwd()).digest('hex').slice(0, 12)}.json`);

function readTimes() {
  try {
    return JSON.parse(readFileSync(timesFile, 'utf8'));
  } catch {
    return {};
  }
}

const ANSI = /\x1b\[[0-9;]*m/g;
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Test files below `dir` whose path relative to it matches `pattern` (uvu's
 * rule), sorted. Folders named `fixtures` below `dir` hold what tests load,
 * never tests (`tests/runtime 'faults'` must not run fixtures/faults.worker.ts).
 */
function testFiles(dir) {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  const found = [];
  const walk = (current) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.git')) continue;
      if (entry.name === 'fixtures' && entry.isDirectory()) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (pattern.test(relative(dir, path))) found.push(path);
    }
  };
  walk(dir);
  return found.sort((a, b) => a.localeCompare(b));
}

const running = new Set();

/**
 * Runs one job (a test file, or the type check) in a process group of its own and
 * resolves with its output, exit status, time, whether it timed out, and what it left behind.
 */
function runJob(command, commandArgs) {
  const token = `busline-test-${process.pid}-${randomBytes(6).toString('hex')}`;
  const started = Date.now();
  const child = spawn(command, commandArgs, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BUSLINE_TEST_TOKEN: [process.env.BUSLINE_TEST_TOKEN, token].filter(Boolean).join(',') },
  });
  const job = { child, token };
  running.add(job);
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(job);
    }, fileTimeoutMs);
    child.on('error', (error) => (output += `\n${error.stack ?? error}\n`));
    child.once('exit', async (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      // A process may still be ending on its own: tsx's esbuild service exits once it sees its
      // parent's pipe close, a moment after the parent (under load, after the check). Whatever
      // still runs after LEFTOVER_GRACE_MS was left behind: kill it before waiting for the pipes it may hold.
      const found = processesOf({ group: child.pid, token });
      await gone(found, LEFTOVER_GRACE_MS);
      const leftover = found.filter(({ pid }) => isRunning(pid));
      for (const { pid } of leftover) killProcess(pid);
      const finish = () => {
        running.delete(job);
        resolve({ output, code, signal, ms, timedOut, leftover });
      };
      // The pipes close once the last process holding them (a leftover, maybe) is gone.
      if (child.stdout.readableEnded && child.stderr.readableEnded) void gone(leftover).then(finish);
      else child.once('close', () => void gone(leftover).then(finish));
    });
  });
}

/** How long a process found after its file's process exited may take to end on its own. */
const LEFTOVER_GRACE_MS = 3_000;

/** Resolves once none of `processes` runs any more (a SIGKILLed process is gone within moments), or after `withinMs`. */
async function gone(processes, withinMs = 5_000) {
  const deadline = Date.now() + withinMs;
  while (processes.some(({ pid }) => isRunning(pid)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function killGroup({ child, token }) {
  killProcess(-child.pid);
  for (const { pid } of processesOf({ group: child.pid, token })) killProcess(pid);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const job of running) killGroup(job);
    process.exit(130);
  });
}

/** The verdict on one test file from its uvu output. */
function verdict(result) {
  const text = result.output.replace(ANSI, '');
  const total = /Total:\s+(\d+)/.exec(text);
  const passedLine = /Passed:\s+(\d+)/.exec(text);
  const problems = [];
  let passed;
  let failed;
  if (result.timedOut || total === null || passedLine === null) {
    // It never finished: count what it reported before it ended, and the end itself.
    passed = text.match(/• /g)?.length ?? 0;
    failed = (text.match(/✘ /g)?.length ?? 0) + 1;
    problems.push(
      result.timedOut
        ? `timed out after ${seconds(fileTimeoutMs)}; killed`
        : `crashed (${result.signal ?? `exit code ${result.code}`}) before its tests finished`,
    );
  } else {
    passed = Number(passedLine[1]);
    // uvu's Total counts the tests that ran: skipped ones are in neither.
    failed = Number(total[1]) - passed;
    if (result.code !== 0 && failed === 0) {
      failed = 1;
      problems.push(`exited with ${result.signal ?? `code ${result.code}`} although every test passed`);
    }
  }
  if (result.leftover.length > 0) {
    failed++;
    const list = result.leftover.map(({ pid, command }) => `${pid} (${command.slice(0, 120)})`).join(', ');
    problems.push(`left ${result.leftover.length} process(es) behind, killed: ${list}`);
  }
  return { passed, failed, problems, ms: result.ms };
}

let passed = 0;
let failed = 0;
const failures = [];

function report(name, result, counts) {
  const ok = counts.failed === 0;
  if (!ok) {
    process.stdout.write(`\n--- ${name} ---\n${result.output}${result.output.endsWith('\n') ? '' : '\n'}`);
    failures.push(`${name}: ${counts.problems.length > 0 ? counts.problems.join('; ') : `${counts.failed} failed`}`);
  }
  const status = ok ? 'ok  ' : 'FAIL';
  const problems = counts.problems.length > 0 ? `  ${counts.problems.join('; ')}` : '';
  console.log(`${status} ${name}  ${counts.passed} passed, ${counts.failed} failed  ${seconds(counts.ms)}${problems}`);
  passed += counts.passed;
  failed += counts.failed;
  times[name] = counts.ms;
}

if (!existsSync('/usr/bin/flatc') && !process.env.BUSLINE_NO_FLATC_INSTALL) {
  // The schema staleness test needs flatc; the project's own script installs it.
  const install = spawnSync('bash', ['scripts/gen-schemas.sh', '--install-only'], { stdio: 'inherit' });
  if (install.status !== 0) console.log('flatc could not be installed; the schema test will say so');
}

const started = Date.now();
const times = readTimes();
/** The jobs to run: the type check (on a full run) and one per test file. */
const queue = [];
if (args.length === 0) {
  queue.push({
    name: 'typecheck',
    run: async () => {
      let result = await runJob(process.execPath, [tscBin, '--noEmit', '-p', '.']);
      // The inspector page's JavaScript, with the browser's types.
      if (result.code === 0 && !result.timedOut) {
        const page = await runJob(process.execPath, [tscBin, '--noEmit', '-p', 'inspector/page']);
        result = { ...page, ms: result.ms + page.ms };
      }
      const ok = result.code === 0 && result.leftover.length === 0;
      const problems = result.timedOut ? [`timed out after ${seconds(fileTimeoutMs)}; killed`] : [];
      report('typecheck', result, { passed: ok ? 1 : 0, failed: ok ? 0 : 1, problems, ms: result.ms });
    },
  });
}
const files = testFiles(root);
if (files.length === 0) {
  console.log(`no test files in ${root} match ${pattern}`);
  failed++;
}
const color = process.stdout.isTTY ? [] : ['--no-color'];
for (const file of files) {
  // uvu's CLI on this file alone: its directory, and a pattern only its name matches.
  const exact = `^${basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
  queue.push({
    name: file,
    run: async () => {
      const result = await runJob(process.execPath, ['--import', 'tsx', uvuBin, ...color, dirname(file), exact]);
      report(file, result, verdict(result));
    },
  });
}
// Longest first; a file not timed yet counts as long.
queue.sort((a, b) => (times[b.name] ?? Infinity) - (times[a.name] ?? Infinity));

await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await next.run();
  }),
);
if (args.length === 0) {
  try {
    writeFileSync(timesFile, JSON.stringify(times));
  } catch {
    // Only the order of the next run depends on it.
  }
}

if (failures.length > 0) {
  console.log(`\nFailed (${failures.length}):`);
  for (const failure of failures) console.log(`  ${failure}`);
}
console.log(`\n${files.length} test files in ${seconds(Date.now() - started)}, ${jobs} at a time`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
