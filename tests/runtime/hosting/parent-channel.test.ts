/**
 * A processor whose root died must not die of a failed send: the root's side
 * of this is in faults.test.ts (`send-after-death`), this is the child's.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('parent channel');

test('root SIGKILLed, its death not yet seen by the child - the child\'s send fails without a crash: the channel calls `gone`, the child exits 0', async () => {
  const fixture = fileURLToPath(new URL('../fixtures/root-dies.ts', import.meta.url));
  // Resolves once the root died and the child closed the stdout and stderr it inherited, that is, once the child exited too.
  const { signal, stdout, stderr } = await new Promise<{ signal: string | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', fixture], { timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ signal: error?.signal ?? null, stdout, stderr }),
    );
  });
  const lines = stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  const context = `\nstdout: ${stdout}\nstderr: ${stderr}`;
  assert.is(signal, 'SIGKILL', `the root fixture was to kill itself${context}`);
  // The child exited: the pipes closed, and only it held them after the root's death.
  const [root, child] = lines;
  assert.type(root?.child, 'number', context);
  assert.type(child?.gone, 'string', `the child's send after the root's death should have failed into \`gone\`${context}`);
  assert.not.match(stderr, /Error/, `the child raised an error${context}`);
});

test.run();
