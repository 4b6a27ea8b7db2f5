/**
 * The page's test generator: a session exported from the inspector page
 * becomes a test file that passes against today's machines, and fails with
 * the replay's diff once its expected steps say something else.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime, ManualClock } from '../../index.js';
import { readRecording } from '../../testing.js';
import { testFileFor } from '../../inspector/test-file.js';
import { InspectorServer } from '../../inspector/server.js';
import { runGenerated } from './generated-tests.js';

const test = suite('inspector test file');
const dir = mkdtempSync(join(tmpdir(), 'busline-test-file-'));
/** A page export of a real run (the bridge opened, locked, unlocked; a bus handed over): its recorded messages. */
async function exportedSession(): Promise<object> {
  const path = join(dir, 'run.blrec');
  const runtime = createRuntime({ clock: new ManualClock(0) });
  try {
    await runtime.ready;
    await runtime.record(path);
    await runtime.bridge.open();
    await runtime.bridge.lock();
    await runtime.bridge.unlock();
    runtime.bus('external').post('order.placed', { id: 1 });
    await runtime.bus('external').toStation();
  } finally {
    await runtime.stop();
  }
  const messages = (await readRecording(path)).records.flatMap((record) => (record.kind === 'inspection' ? [record.message] : []));
  return { format: 'busline-inspector-recording', version: 1, exportedAt: '2026-12-06T00:00:00.000Z', base: [], messages };
}

let session: object;

test.before(async () => {
  session = await exportedSession();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('testFileFor - the bridge\'s steps, written out one per line; the file passes against today\'s machines', () => {
  const file = testFileFor(session, { actor: 'bridge', generatedAt: new Date(0) });
  assert.is(file.steps, 3);
  assert.match(file.source, '{ actor: "bridge", event: "OPEN", state: "direction.open, lock.unlocked" },');
  assert.match(file.source, '{ actor: "bridge", event: "LOCK", state: "direction.closed, lock.locked" },');
  assert.match(file.source, '{ actor: "bridge", event: "UNLOCK", state: "direction.open, lock.unlocked" },');
  const run = runGenerated(file.source, 'bridge.replay.test.ts');
  assert.is(run.code, 0, run.output);
  assert.match(run.output, /# pass 1/);
});

test('testFileFor - an expected step edited to something else fails with the replay\'s diff', () => {
  const { source } = testFileFor(session, { actor: 'bridge', generatedAt: new Date(0) });
  const edited = source.replace('event: "UNLOCK", state: "direction.open, lock.unlocked"', 'event: "UNLOCK", state: "direction.oneWayExternal, lock.unlocked"');
  assert.is.not(edited, source);
  const run = runGenerated(edited, 'bridge-edited.replay.test.ts');
  assert.is.not(run.code, 0, run.output);
  assert.match(run.output, 'Transitions differ at step 3');
});

test('testFileFor - every known actor when none is chosen; only their messages ride along', () => {
  const file = testFileFor(session, { generatedAt: new Date(0) });
  assert.ok(file.steps > 3, `${file.steps} steps`);
  assert.match(file.source, '"bus:0.0:external#0"');
  const run = runGenerated(file.source, 'all.replay.test.ts');
  assert.is(run.code, 0, run.output);
});

test('testFileFor - a damaged export is refused with a FrameError', () => {
  assert.throws(() => testFileFor({ format: 'something else' }, { generatedAt: new Date(0) }), (error: Error) => error.name === 'FrameError');
});

test('POST /test-file - answers the file; a foreign Origin is refused', async () => {
  const server = await InspectorServer.start({ port: 0 });
  try {
    const url = `http://127.0.0.1:${server.port}/test-file?actor=bridge`;
    const ok = await fetch(url, { method: 'POST', body: JSON.stringify(session) });
    assert.is(ok.status, 200);
    assert.is(ok.headers.get('x-steps'), '3');
    assert.match(await ok.text(), "import { assertTransitions, recordingFromExport, replay } from 'busline/testing';");
    const foreign = await fetch(url, { method: 'POST', body: JSON.stringify(session), headers: { origin: 'https://example.com' } });
    assert.is(foreign.status, 403);
    const damaged = await fetch(url, { method: 'POST', body: '{"format":1}' });
    assert.is(damaged.status, 400);
    assert.match(await damaged.text(), 'Not a session exported from this page');
  } finally {
    await server.stop();
  }
});

test.run();
