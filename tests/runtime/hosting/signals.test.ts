/**
 * threads.js stays the worker host but does not own the process: the SIGINT
 * and SIGTERM handlers it installs when it loads (terminate every worker, exit
 * with code 0) are removed, so an application's own handler runs to its end
 * and its exit code stands, and `runtime.stop()` still ends every worker.
 * Each case runs fixtures/signal-app.ts as a process of its own and signals it
 * once it says it is ready.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const fixture = fileURLToPath(new URL('../fixtures/signal-app.ts', import.meta.url));
/** How long the app may take to end after the signal before the test calls it stuck and kills it. */
const EXIT_DEADLINE_MS = 60_000;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly lines: Array<Record<string, unknown>>;
  readonly stderr: string;
  /** True when it had not ended by itself within EXIT_DEADLINE_MS of the signal and was killed. */
  readonly stuck: boolean;
}

/**
 * Starts the app, sends `signal` once it printed `ready`, and resolves when it has exited.
 * `to: 'group'` signals its whole process group, its child processor included, as Ctrl-C in a terminal does.
 */
function runApp(signal: NodeJS.Signals, install: 'before' | 'after' | 'none', to: 'app' | 'group' = 'app'): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, signal, install], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: to === 'group',
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffered = '';
  let stuck = false;
  let deadline: ReturnType<typeof setTimeout> | undefined;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (!line.startsWith('{')) continue;
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      if (parsed.step === 'ready') {
        process.kill(to === 'group' ? -child.pid! : child.pid!, signal);
        deadline = setTimeout(() => {
          stuck = true;
          process.kill(to === 'group' ? -child.pid! : child.pid!, 'SIGKILL');
        }, EXIT_DEADLINE_MS);
      }
    }
  });
  return new Promise((resolve) => {
    child.once('close', (code, exitSignal) => {
      clearTimeout(deadline);
      resolve({ code, signal: exitSignal, lines, stderr, stuck });
    });
  });
}

const steps = (run: Run) => run.lines.map((line) => line.step);

const test = suite('signals');

for (const [signal, install, to] of [
  ['SIGTERM', 'before', 'app'],
  ['SIGINT', 'after', 'app'],
  ['SIGINT', 'after', 'group'],
] as const) {
  const who = to === 'group' ? 'to the process group, child processor included' : 'to the app';
  test(`${signal} ${who}, handler installed ${install} busline loads threads.js - the app's handler runs to its end, its exit code stands, stop() ended every worker`, async () => {
    const run = await runApp(signal, install, to);
    const context = `\nstdout: ${JSON.stringify(run.lines)}\nstderr: ${run.stderr}`;
    assert.not.ok(run.stuck, `the app did not end by itself after stop(): something kept it alive${context}`);
    assert.equal(steps(run), ['ready', 'handler', 'stopped'], `the handler was cut off${context}`);
    assert.equal(run.lines[0], { step: 'ready', signalListeners: 1 }, 'only the app listens to the signal');
    assert.equal(run.lines[1], { step: 'handler', received: signal });
    assert.equal(run.lines[2], { step: 'stopped', processors: [], resources: [] }, 'no worker, process or timer outlives stop()');
    assert.is(run.signal, null, context);
    assert.is(run.code, 7, `the app's exit code was replaced${context}`);
  });
}

test('SIGTERM, no handler of the app - Node\'s default: the process dies of the signal, not with exit code 0', async () => {
  const run = await runApp('SIGTERM', 'none');
  const context = `\nstdout: ${JSON.stringify(run.lines)}\nstderr: ${run.stderr}`;
  assert.equal(run.lines, [{ step: 'ready', signalListeners: 0 }], context);
  assert.is(run.signal, 'SIGTERM', context);
  assert.is(run.code, null, context);
});

test.run();
