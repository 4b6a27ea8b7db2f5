/**
 * `runtime.inspect()`: the inspector server, tested with the real
 * `@statelyai/inspect` clients (a `createWebSocketReceiver`, and an XState
 * app's `createWebSocketInspector`) and a plain `ws` client where a client
 * must send its own headers. Embedded runtimes: the server is the same for
 * any topology (tests/runtime/inspection/everywhere.test.ts covers workers
 * and processors).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import { createWebSocketInspector, createWebSocketReceiver } from '@statelyai/inspect';
import { WebSocket } from 'ws';
import { createActor, createMachine } from 'xstate';
import { createRuntime, type Runtime } from '../../index.js';
import { runtimeCore } from '../../internal.js';
import { rejects } from '../helpers.js';

const test = suite('inspector server');

interface Message {
  type: string;
  sessionId: string;
  _version: string;
  createdAt: string;
  snapshot?: { value: unknown; context: Record<string, unknown>; status: string };
  event?: { type: string };
  definition?: string;
  busline?: { processor: number; thread: number | null; actorId: string };
}

/**
 * What a receiver got, and `until(predicate)`: resolves as soon as the
 * messages so far satisfy it (checked on each arrival), fails after 20 s.
 */
function receive(url: string) {
  const messages: Message[] = [];
  const waiters = new Set<() => void>();
  createWebSocketReceiver({ server: url.replace('http://', 'ws://') }).subscribe((message) => {
    messages.push(message as unknown as Message);
    for (const check of [...waiters]) check();
  });
  const until = (predicate: (all: Message[]) => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${messages.length} messages`)), 20_000);
      const check = () => {
        if (!predicate(messages)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  return { messages, until };
}

const of = (messages: Message[], actorId: string, type?: string) =>
  messages.filter((message) => message.busline?.actorId === actorId && (type === undefined || message.type === type));

/** Opens a plain WebSocket with an `Origin` (or none): resolves 'open', or the HTTP status it was refused with. */
function connect(url: string, origin?: string): Promise<'open' | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url.replace('http://', 'ws://'), origin === undefined ? {} : { origin });
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', () => undefined);
  });
}

let runtime: Runtime;
let url: string;

test.before(async () => {
  runtime = createRuntime({ transport: 'memory', deferred: 'manual' });
  url = await runtime.inspect({ port: 0 });
});

test.after(async () => {
  await runtime.stop();
});

test('inspect - resolves with the URL of a server on 127.0.0.1 that serves the inspector page at /', async () => {
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.not.match(url, /:0\/$/, 'port 0 means any free port: the URL names the real one');
  const page = await fetch(url);
  assert.is(page.status, 200);
  const html = await page.text();
  assert.match(html, /busline inspector/);
  assert.match(html, /<script type="module" src="app.js">/);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/, 'the page loads nothing from elsewhere');
  const script = await fetch(new URL('/chart.js', url));
  assert.is(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.is((await fetch(new URL('/other', url))).status, 404);
  assert.is((await fetch(new URL('/../server.ts', url))).status, 404, 'only the page files are served');
  assert.is((await fetch(new URL('/%2e%2e/server.ts', url))).status, 404);
  assert.is(await runtime.inspect(), url, 'a second call gets the same server');
});

test('inspect - a createWebSocketReceiver gets every actor of the runtime, then their events and snapshots', async () => {
  const { messages, until } = receive(url);
  const expected = ['bridge', 'station:main:internal', 'station:main:external', 'station:local:0:external', 'bus:0.0:external#0'];
  await until((all) => expected.every((id) => of(all, id, '@xstate.actor').length > 0), 'the live actors');
  for (const message of messages) {
    assert.is(message._version, '0.7.2');
    assert.match(message.createdAt, /^\d+$/);
    assert.match(message.sessionId, /^0\.0\/x:\d+$/);
  }
  const bridge = of(messages, 'bridge', '@xstate.actor')[0]!;
  assert.equal(bridge.busline, { processor: 0, thread: null, actorId: 'bridge' });
  assert.equal(bridge.snapshot?.value, { direction: 'closed', lock: 'unlocked' });
  assert.is(JSON.parse(bridge.definition!).type, 'parallel', 'the definition is the machine config as JSON');

  const bus = runtime.bus('external');
  bus.post('order.placed', { id: 1 }, { priority: 'immediate' });
  await bus.roundTrip();
  await runtime.bridge.open();
  await until((all) => of(all, 'bus:0.0:external#1', '@xstate.actor').length > 0, 'the next bus generation');
  await until((all) => of(all, 'bridge', '@xstate.snapshot').some((m) => (m.snapshot?.value as { direction: string }).direction === 'open'), 'the bridge opening');
  const retired = of(messages, 'bus:0.0:external#0', '@xstate.snapshot').map((m) => m.snapshot?.value);
  assert.ok(retired.includes('retired'), JSON.stringify(retired));
  const open = of(messages, 'bridge', '@xstate.event').map((m) => m.event?.type);
  assert.ok(open.includes('OPEN'), JSON.stringify(open));
  const merged = of(messages, 'station:local:0:external', '@xstate.event').map((m) => m.event?.type);
  assert.ok(merged.includes('MERGED'), JSON.stringify(merged));
});

test("inspect - an XState app's createWebSocketInspector is relayed to receivers beside busline's actors", async () => {
  const { messages, until } = receive(url);
  await until((all) => of(all, 'bridge').length > 0, 'busline actors');
  const inspector = createWebSocketInspector({ url: url.replace('http://', 'ws://') });
  const toggle = createMachine({ id: 'toggle', initial: 'off', states: { off: { on: { FLIP: 'on' } }, on: {} } });
  const app = createActor(toggle, { inspect: inspector.inspect }).start();
  app.send({ type: 'FLIP' });
  try {
    await until((all) => all.some((m) => m.type === '@xstate.snapshot' && m.busline === undefined && m.snapshot?.value === 'on'), "the app's transition");
    const appActor = messages.find((m) => m.type === '@xstate.actor' && m.busline === undefined)!;
    assert.is(JSON.parse(appActor.definition!).id, 'toggle');
    assert.ok(runtimeCore(runtime).inspection !== undefined);
  } finally {
    inspector.stop();
    app.stop();
  }
});

test('inspect - a WebSocket whose Origin is a foreign page is refused; none, or the server\'s own, is let in', async () => {
  const port = new URL(url).port;
  assert.is(await connect(url, 'https://evil.example'), 403);
  assert.is(await connect(url, `http://127.0.0.1:${Number(port) + 1}`), 403);
  assert.is(await connect(url, 'null'), 403);
  assert.is(await connect(url), 'open');
  assert.is(await connect(url, `http://127.0.0.1:${port}`), 'open');
  assert.is(await connect(url, `http://localhost:${port}`), 'open');
});

test('inspect - a client that connects late gets the live actors and only the most recent messages', async () => {
  const own = createRuntime({ transport: 'memory', deferred: 'manual' });
  try {
    const ownUrl = await own.inspect({ port: 0, replay: 10 });
    for (let i = 0; i < 50; i++) await own.bus('internal').roundTrip();
    const late = receive(ownUrl);
    await late.until((all) => of(all, 'bus:0.0:internal#50', '@xstate.actor').length > 0 && all.length >= 10, 'the replay');
    // Wait for the replay to end: a marker after it (a bridge change) arrives last.
    await own.bridge.open();
    await late.until((all) => of(all, 'bridge', '@xstate.snapshot').some((m) => (m.snapshot?.value as { direction: string }).direction === 'open'), 'the marker');
    const actors = late.messages.filter((m) => m.type === '@xstate.actor').map((m) => m.busline?.actorId);
    assert.not.ok(actors.includes('bus:0.0:internal#0'), 'retired generations are not announced again');
    assert.is(actors.filter((id) => id === 'bus:0.0:internal#50').length, 1, 'each live actor once');
    const replayed = late.messages.filter((m) => m.type !== '@xstate.actor' && of([m], 'bridge').length === 0);
    assert.ok(replayed.length <= 10 + actors.length, `${replayed.length} replayed`);
  } finally {
    await own.stop();
  }
});

test('inspect - options are checked, and a port in use is refused naming the option', async () => {
  const own = createRuntime({ transport: 'memory' });
  try {
    await rejects(own.inspect({ port: -1 }), 'INVALID_OPTION');
    await rejects(own.inspect({ port: 1.5 }), 'INVALID_OPTION');
    await rejects(own.inspect({ nope: 1 } as never), 'INVALID_OPTION');
    await rejects(own.inspect('8080' as never), 'INVALID_OPTION');
    const taken = Number(new URL(url).port);
    await rejects(own.inspect({ port: taken }), 'INVALID_OPTION', 'a port in use');
    assert.match(await own.inspect({ port: 0 }), /^http:\/\/127\.0\.0\.1:/, 'a refused start can be retried');
  } finally {
    await own.stop();
  }
  await rejects(own.inspect(), 'RUNTIME_STOPPED');
});

test('stop - closes the server: its clients are disconnected and its port is free again', async () => {
  const own = createRuntime({ transport: 'memory' });
  const ownUrl = await own.inspect({ port: 0 });
  const socket = new WebSocket(ownUrl.replace('http://', 'ws://'));
  await new Promise((resolve) => socket.once('open', resolve));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await own.stop();
  await closed;
  const port = Number(new URL(ownUrl).port);
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve));
  await new Promise((resolve) => probe.close(resolve));
});

test.run();
