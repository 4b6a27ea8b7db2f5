#!/usr/bin/env node
// `npm test`: type-checks, then runs every uvu suite under tests/ (TypeScript
// through tsx), and ends with one line `N passed, N failed` for CI.
// Extra arguments narrow the run: `npm test -- tests/runtime` or a file pattern.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const args = process.argv.slice(2);
const dir = args[0] ?? 'tests';
const pattern = args[1] ?? '\\.test\\.ts$';
let passed = 0;
let failed = 0;

// A test that waits for something that never comes would hang the run (uvu has no timeouts):
// the whole run gets this long, then it counts as a failure (the full run takes ~1-2 minutes).
const timeoutMs = Number(process.env.BUSLINE_TEST_TIMEOUT_MS ?? 15 * 60 * 1000);

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 1024 * 1024,
  });
  process.stdout.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  if (result.error?.code === 'ETIMEDOUT') console.log(`${command} ${commandArgs.join(' ')}: did not finish within ${timeoutMs / 1000} s; killed`);
  return result;
}

if (!existsSync('/usr/bin/flatc') && !process.env.BUSLINE_NO_FLATC_INSTALL) {
  // The schema staleness test needs flatc; the project's own script installs it.
  run('bash', ['scripts/gen-schemas.sh', '--install-only']);
}

if (args.length === 0) {
  const typecheck = run(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.']);
  if (typecheck.status === 0) {
    console.log('typecheck: ok');
    passed++;
  } else {
    console.log('typecheck: FAILED');
    failed++;
  }
}

const uvu = run(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', dir, pattern]);
const output = `${uvu.stdout ?? ''}\n${uvu.stderr ?? ''}`;
const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN);
const ok = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN);
const skipped = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0);
if (Number.isNaN(total) || Number.isNaN(ok)) {
  console.log('uvu did not finish (see above); counting the run as one failure');
  failed++;
} else {
  passed += ok;
  failed += total - ok - skipped;
  if (uvu.status !== 0 && total - ok - skipped === 0) failed++;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
