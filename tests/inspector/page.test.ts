/**
 * The inspector page in real headless Chromium (Debian's `chromium`, driven
 * by playwright-core; `scripts/ensure-chromium.sh` installs it when missing,
 * and without it this suite fails saying so). A runtime with a worker thread
 * is inspected; the page must show its actors by processor and thread, the
 * bridge's chart with the active states, follow the bridge as it changes,
 * show the earlier state when the slider moves back, filter the log, and
 * export the session. A screenshot is kept in the system's temp directory.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createRuntime, type Runtime } from '../../index.js';
import { runGenerated } from './generated-tests.js';

const test = suite('inspector page');

/** Flags that Debian's Chromium needs here (docs: DESIGN "Pitfalls"): without the networking ones it tries outside hosts. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SCREENSHOT = join(tmpdir(), 'busline-inspector-page.png');

let runtime: Runtime;
let url: string;
let context: BrowserContext;
let page: Page;
let profile: string;

/** The state paths highlighted as active in the chart shown. */
const activeStates = () => page.locator('#chart g.state.active').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-path')));
const activeState = (path: string) => page.waitForSelector(`#chart g.state.active[data-path="${path}"]`, { timeout: 10_000 });
/** The log rows shown: their event column. */
const logEvents = () => page.locator('#log tbody td.event').allTextContents();

test.before(async () => {
  const script = fileURLToPath(new URL('../../scripts/ensure-chromium.sh', import.meta.url));
  const found = spawnSync('bash', [script], { encoding: 'utf8' });
  if (found.status !== 0) {
    const message = `FAILED: the inspector page test needs Chromium, and scripts/ensure-chromium.sh could not provide it:\n${found.stderr.trim()}`;
    // uvu fails every test of a suite whose `before` throws, without printing why.
    console.error(message);
    throw new Error(message);
  }
  const executablePath = found.stdout.trim().split('\n').at(-1)!;
  runtime = createRuntime({ threadsPerProcessor: 1 });
  await runtime.ready;
  await runtime.thread(0, 1).bus('external').post('order.placed', { id: 1 });
  url = await runtime.inspect({ port: 0 });
  profile = mkdtempSync(join(tmpdir(), 'busline-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1280, height: 560 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') failures.push(message.text());
  });
  (globalThis as { pageFailures?: string[] }).pageFailures = failures;
  await page.goto(url);
});

test.after(async () => {
  await context?.close();
  await runtime?.stop();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
});

test('page - shows the actors by processor and thread, and the bridge chart with both regions side by side', async () => {
  await page.waitForSelector('#status.connected', { timeout: 10_000 });
  await page.waitForSelector('#tree button[data-actor="bus:0.1:external#0"]', { timeout: 10_000 });
  const tree = (await page.locator('#tree').textContent()) ?? '';
  assert.match(tree, /root \(processor 0\)/);
  assert.match(tree, /thread 0.*thread 1/s);
  assert.match(tree, /thread 0/);
  assert.match(tree, /thread 1/);
  assert.match(tree, /station:main:internal/);
  // The bridge is chosen first.
  assert.is(await page.locator('#actor-title').innerText(), 'bridge (0)');
  await activeState('direction.closed');
  assert.equal((await activeStates()).sort(), ['', 'direction', 'direction.closed', 'lock', 'lock.unlocked']);
  const direction = (await page.locator('#chart g[data-path="direction"] > rect').boundingBox())!;
  const lock = (await page.locator('#chart g[data-path="lock"] > rect').boundingBox())!;
  assert.ok(lock.x >= direction.x + direction.width, 'the lock region is right of the direction region');
  assert.ok(lock.y < direction.y + direction.height && direction.y < lock.y + lock.height, 'and beside it, not below');
  // Its transitions are drawn as labelled arcs.
  const labels = await page.locator('#chart text.label').allTextContents();
  for (const event of ['OPEN', 'LOCK', 'UNLOCK']) assert.ok(labels.some((label) => label.split(' | ').includes(event)), `an arc for ${event}: ${labels}`);
});

test('page - follows the bridge as it changes state', async () => {
  await runtime.bridge.open();
  await activeState('direction.open');
  assert.not.ok((await activeStates()).includes('direction.closed'));
  await runtime.bridge.lock();
  await activeState('lock.locked');
  await activeState('direction.closed');
  assert.match(await page.locator('#tree button[data-actor="bridge"] .value').innerText(), /direction: closed, lock: locked/);
});

test('page - the slider and step buttons show the earlier state; Live returns to now', async () => {
  const openRow = page.locator('#log tbody tr', { has: page.locator('td.event', { hasText: /^OPEN$/ }) }).first();
  const openIndex = Number(await openRow.getAttribute('data-index'));
  // Just before the OPEN event arrived: closed.
  await page.locator('#slider').fill(String(openIndex));
  await activeState('direction.closed');
  assert.ok((await activeStates()).includes('lock.unlocked'));
  assert.not.ok(await page.locator('#live').evaluate((button) => button.classList.contains('on')), 'no longer live');
  // The event, then its snapshot: one step each.
  await page.click('#step-forward');
  await page.click('#step-forward');
  await activeState('direction.open');
  assert.ok((await activeStates()).includes('lock.unlocked'));
  await page.click('#step-back');
  await activeState('direction.closed');
  // Clicking a log row moves there too.
  await page.locator(`#log tbody tr[data-index="${openIndex + 1}"]`).or(openRow).first().click();
  await page.click('#live');
  await activeState('lock.locked');
  assert.ok(await page.locator('#live').evaluate((button) => button.classList.contains('on')));
});

test('page - the event log filters by type, side, thread and actor', async () => {
  const all = await logEvents();
  assert.ok(all.includes('LOCK') && all.includes('OPEN'), `events: ${all}`);
  await page.fill('#filter-type', 'lock');
  assert.equal([...new Set(await logEvents())].sort(), ['LOCK']);
  await page.fill('#filter-type', '');
  await page.selectOption('#filter-side', 'external');
  const external = await page.locator('#log tbody td.actor').allTextContents();
  assert.ok(external.length > 0 && external.every((actor) => /:external(#|$)/.test(actor)), `external rows: ${external}`);
  await page.selectOption('#filter-side', '');
  await page.selectOption('#filter-thread', '0.1');
  const threads = await page.locator('#log tbody tr td:nth-child(3)').allTextContents();
  assert.ok(threads.length > 0 && threads.every((thread) => thread === '0.1'), `thread rows: ${threads}`);
  await page.selectOption('#filter-thread', '');
  await page.selectOption('#filter-actor', { label: 'bridge' });
  const actors = await page.locator('#log tbody td.actor').allTextContents();
  assert.ok(actors.length >= 3 && actors.every((actor) => actor === 'bridge'), `bridge rows: ${actors}`);
  await page.selectOption('#filter-actor', '');
});

test('page - generates a test file of the selected actor (the bridge) that passes against today\'s machines', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#generate-test')]);
  assert.is(download.suggestedFilename(), 'bridge.replay.test.ts');
  const source = readFileSync((await download.path())!, 'utf8');
  assert.match(source, '{ actor: "bridge", event: "OPEN", state: "direction.open, lock.unlocked" },');
  assert.match(source, '{ actor: "bridge", event: "LOCK", state: "direction.closed, lock.locked" },');
  const run = runGenerated(source, 'page-bridge.replay.test.ts');
  assert.is(run.code, 0, run.output);
});

test('page - exports the session as a JSON recording', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  assert.match(download.suggestedFilename(), /^busline-recording-.*\.json$/);
  const recording = JSON.parse(readFileSync((await download.path())!, 'utf8')) as {
    format: string;
    version: number;
    messages: Array<{ type: string; event?: { type: string }; definition?: string; busline?: { actorId: string } }>;
  };
  assert.is(recording.format, 'busline-inspector-recording');
  assert.is(recording.version, 1);
  const bridge = recording.messages.filter((message) => message.busline?.actorId === 'bridge');
  assert.ok(bridge.some((message) => message.type === '@xstate.actor' && JSON.parse(message.definition!).type === 'parallel'));
  assert.equal(
    bridge.filter((message) => message.type === '@xstate.event').map((message) => message.event?.type),
    ['OPEN', 'LOCK'],
  );
});

test('page - keeps a screenshot, and nothing failed in the page', async () => {
  await page.locator('#tree button[data-actor="bridge"]').click();
  await page.screenshot({ path: SCREENSHOT });
  console.log(`inspector page screenshot: ${SCREENSHOT}`);
  assert.equal((globalThis as { pageFailures?: string[] }).pageFailures, []);
});

test.run();
