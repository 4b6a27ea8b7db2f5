/**
 * `busline inspect <recording>` (inspector/cli.ts, the package's `bin`):
 * serves a recording's messages, in order, to every client that connects,
 * however late, with the real `@statelyai/inspect` receiver; ends on SIGTERM
 * with exit 0; refuses a damaged file, or a port it cannot listen on, with
 * exit 1.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWebSocketReceiver } from '@statelyai/inspect';
import { createRuntime, ManualClock } from '../../index.js';
import { readRecording } from '../../testing.js';
import { runCommand } from '../helpers.js';

const test = suite('busline inspect');
const CLI = fileURLToPath(new URL('../../inspector/cli.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'busline-cli-'));
const path = join(dir, 'run.blrec');

async function record(): Promise<void> {
  const runtime = createRuntime({ clock: new ManualClock(0) });
  await runtime.record(path);
  await runtime.bridge.open();
  await runtime.bridge.lock();
  runtime.bus('external').post('order.placed', { id: 1 });
  await runtime.bus('external').toStation();
  await runtime.stop();
}

/** Receives messages from `url` until `count` arrived (fails after 20 s). */
function receiveAll(url: string, count: number): Promise<{ type: string; sessionId: string }[]> {
  const messages: { type: string; sessionId: string }[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${messages.length} of ${count} messages`)), 20_000);
    createWebSocketReceiver({ server: url.replace('http://', 'ws://') }).subscribe((message) => {
      messages.push({ type: message.type, sessionId: (message as { sessionId: string }).sessionId });
      if (messages.length === count) {
        clearTimeout(timer);
        resolve(messages);
      }
    });
  });
}

test('inspect - every client gets the recording\'s messages in order; SIGTERM ends it with exit 0', async () => {
  await record();
  const recording = await readRecording(path);
  const expected = recording.records.flatMap((record) => (record.kind === 'inspection' ? [{ type: record.message.type, sessionId: record.message.sessionId }] : []));
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'inspect', path, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        const found = /busline inspector: (http:\/\/127\.0\.0\.1:\d+\/) \(.*: (\d+) inspection messages, 0 bus events, 0 dropped\)/.exec(stdout);
        if (found !== null) resolve(found[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stdout}`)));
      setTimeout(() => reject(new Error(`no URL within 20 s: ${stdout}`)), 20_000).unref();
    });
    assert.equal(await receiveAll(url, expected.length), expected, 'the first client');
    assert.equal(await receiveAll(url, expected.length), expected, 'a later client: all of it too, actors that ended included');
  } finally {
    child.kill('SIGTERM');
  }
  assert.is(await exited, 0);
});

test('inspect - a damaged recording is refused with exit 1 and the reason; bad arguments with exit 2', async () => {
  await record();
  const damaged = Uint8Array.from(readFileSync(path));
  damaged[damaged.length - 2]! ^= 0x01;
  const bad = join(dir, 'damaged.blrec');
  writeFileSync(bad, damaged);
  const refused = await runCommand(process.execPath, ['--import', 'tsx', CLI, 'inspect', bad], { timeoutMs: 30_000 });
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /cannot read .*damaged\.blrec: FRAME_CORRUPT: Frame refused \(CHECKSUM\): chunk \d+/);
  // A recording whose name is a word of the usage is a recording: `help` is a file here, not a request for the usage.
  writeFileSync(join(dir, 'help'), damaged);
  const named = await runCommand(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, 'inspect', 'help'], { cwd: dir, timeoutMs: 30_000 });
  assert.is(named.code, 1, named.stdout + named.stderr);
  assert.match(named.stderr, /cannot read help: FRAME_CORRUPT/);
  const usage = await runCommand(process.execPath, ['--import', 'tsx', CLI, 'inspect', '--port', 'x', bad], { timeoutMs: 30_000 });
  assert.is(usage.code, 2);
  assert.match(usage.stderr, /--port: expected an integer/);
  const unknown = await runCommand(process.execPath, ['--import', 'tsx', CLI, 'serve', bad], { timeoutMs: 30_000 });
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "serve"\nusage: busline inspect <recording>/);
});

test('inspect - a port already taken is refused with exit 1 and a sentence, not a stack trace', async () => {
  await record();
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const port = (taken.address() as AddressInfo).port;
    const refused = await runCommand(process.execPath, ['--import', 'tsx', CLI, 'inspect', path, '--port', String(port)], { timeoutMs: 30_000 });
    assert.is(refused.code, 1, refused.stdout + refused.stderr);
    assert.is(refused.stderr.trim(), `busline inspect: cannot listen on 127.0.0.1:${port} (EADDRINUSE): choose another --port, or 0 for any free one.`);
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test('--help - prints the usage and what the command does, exit 0', async () => {
  for (const args of [['--help'], ['-h'], ['inspect', '--help']]) {
    const help = await runCommand(process.execPath, ['--import', 'tsx', CLI, ...args], { timeoutMs: 30_000 });
    assert.is(help.code, 0, args.join(' '));
    assert.match(help.stdout, /^usage: busline inspect <recording> \[--port <n>\]\n\nServes a recording written by runtime\.record\(\)/);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
