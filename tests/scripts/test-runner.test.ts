/**
 * The test runner (`scripts/test.mjs`, behind `npm test`) run on fixture files
 * that pass, end their process mid-suite, throw outside any handler, leave a
 * detached process behind, and hang: every file is counted, each failing one
 * is named with what went wrong, and the leftover process is killed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isRunning } from '../../scripts/processes.mjs';
import { runCommand } from '../helpers.js';

const FIXTURES = 'tests/scripts/fixtures/runner';
/** Short enough to keep this test quick, long enough for a fixture that passes to start on a loaded machine. */
const FILE_TIMEOUT_MS = 8_000;

/** Runs the runner on `dir` and `pattern`; resolves with its exit code and output once it has exited. */
function runRunner(dir = FIXTURES, pattern = '\\.fixture\\.ts$'): Promise<{ code: number | null; output: string }> {
  return runCommand(process.execPath, ['scripts/test.mjs', dir, pattern], {
    env: { ...process.env, BUSLINE_TEST_FILE_TIMEOUT_MS: String(FILE_TIMEOUT_MS), BUSLINE_NO_FLATC_INSTALL: '1' },
  });
}

/** The report line of one fixture file. */
function lineOf(output: string, file: string): string {
  const line = output.split('\n').find((candidate) => /^(ok|FAIL) /.test(candidate) && candidate.includes(`${FIXTURES}/${file}`));
  assert.ok(line !== undefined, `no report line for ${file} in:\n${output}`);
  return line;
}

const test = suite('test runner');

test('run - every file counted in its own process; crashes, a hang and a leftover process are failures named by file', async () => {
  const { code, output } = await runRunner();
  const leftover = Number(/LEFTOVER_PID=(\d+)/.exec(output)?.[1]);
  try {
    assert.is(code, 1, output);
    const lines = output.trimEnd().split('\n');
    // passes 2; exits, throws, hangs: 1 passed before the end, the end itself failed; leaves-process: 1 passed, the process
    // failed; ends-after-file: 1 passed (its child ends on its own a moment after the file: not left behind).
    assert.is(lines[lines.length - 1], '7 passed, 4 failed', output);
    assert.match(lineOf(output, 'ends-after-file.fixture.ts'), /^ok .* 1 passed, 0 failed/);
    assert.match(lineOf(output, 'passes.fixture.ts'), /^ok .* 2 passed, 0 failed/);
    assert.match(lineOf(output, 'exits.fixture.ts'), /^FAIL .* 1 passed, 1 failed .*crashed \(exit code 1\)/);
    assert.match(lineOf(output, 'throws.fixture.ts'), /^FAIL .* 1 passed, 1 failed .*crashed \(exit code 1\)/);
    assert.match(lineOf(output, 'hangs.fixture.ts'), /^FAIL .* 1 passed, 1 failed .*timed out after 8\.0 s; killed/);
    assert.match(lineOf(output, 'leaves-process.fixture.ts'), new RegExp(`^FAIL .* 1 passed, 1 failed .*left 1 process\\(es\\) behind, killed: ${leftover} `));
    // A failing file's output is shown whole: the uncaught error and where it came from.
    assert.match(output, /Error: uncaught in a test\n\s+at .*throws\.fixture\.ts/);
    assert.ok(leftover > 0, 'the fixture printed the pid of the process it left');
    assert.not.ok(isRunning(leftover), `process ${leftover} is still running`);
  } finally {
    if (leftover > 0 && isRunning(leftover)) process.kill(leftover, 'SIGKILL');
  }
});

test('run - folders named fixtures below the directory hold no tests: nothing there runs', async () => {
  const { code, output } = await runRunner('tests/scripts', 'fixture');
  assert.is(code, 1, output);
  assert.match(output, /no test files in tests\/scripts match/);
  assert.is(output.trimEnd().split('\n').pop(), '0 passed, 1 failed', output);
});

test.run();
