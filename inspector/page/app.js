// @ts-check
/**
 * The inspector page: a WebSocket client of the server that serves it. It
 * keeps every message (`session.js`), and draws, for the moment the slider
 * points at, the actor tree by processor and thread, the chosen actor's
 * statechart (`chart.js`) and the event log up to that moment.
 */
import { chartSvg } from './chart.js';
import { passes, placeOf, Session, sideOf, threadOf } from './session.js';

/** Log rows drawn at most: the newest ones before the moment shown. */
const LOG_ROWS = 400;

const session = new Session();
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const slider = /** @type {HTMLInputElement} */ ($('slider'));
const filters = /** @type {HTMLFormElement} */ ($('filters'));

/** The moment shown: `session.length` while live. */
let at = 0;
let live = true;
/** @type {string | undefined} */
let selected;
let drawScheduled = false;

function connect() {
  const socket = new WebSocket(`ws://${location.host}/`);
  const status = $('status');
  socket.addEventListener('open', () => {
    status.textContent = 'connected';
    status.className = 'status connected';
  });
  socket.addEventListener('message', (frame) => {
    try {
      session.add(JSON.parse(String(frame.data)));
    } catch {
      return; // not JSON: not an inspection message
    }
    scheduleDraw();
  });
  socket.addEventListener('close', () => {
    status.textContent = 'disconnected: retrying…';
    status.className = 'status';
    setTimeout(connect, 1000);
  });
}

/** One draw per animation frame, however many messages arrive in it. */
function scheduleDraw() {
  if (drawScheduled) return;
  drawScheduled = true;
  requestAnimationFrame(() => {
    drawScheduled = false;
    draw();
  });
}

function moveTo(/** @type {number} */ position) {
  at = Math.max(0, Math.min(position, session.length));
  live = at === session.length;
  draw();
}

function draw() {
  if (live) at = session.length;
  slider.max = String(session.length);
  slider.value = String(at);
  $('live').classList.toggle('on', live);
  document.body.dataset.at = String(at);
  const last = session.messages[at - 1];
  const time = last?.createdAt === undefined ? '' : new Date(Number(last.createdAt)).toISOString().slice(11, 23);
  $('moment').textContent = `message ${at + session.folded} of ${session.length + session.folded}${time ? ` · ${time}` : ''}${live ? ' · live' : ''}`;
  const actors = session.actorsAt(at);
  if (selected === undefined || !actors.has(selected)) {
    // The bridge first: it is the actor a user of busline watches most.
    selected = [...actors.values()].find((actor) => actor.place.actorId === 'bridge' && !actor.ended)?.sessionId ?? selected;
  }
  drawTree(actors);
  drawDetail(actors.get(selected ?? ''));
  drawFilterOptions(actors);
  drawLog();
}

/** @param {Map<string, import('./session.js').ActorState>} actors */
function drawTree(actors) {
  const tree = $('tree');
  /** @type {Map<string, Map<string, import('./session.js').ActorState[]>>} */
  const groups = new Map();
  for (const actor of actors.values()) {
    if (actor.ended && actor.sessionId !== selected) continue;
    const { processor, thread } = actor.place;
    const group = processor === null ? 'other apps' : processor === 0 ? 'root (processor 0)' : `processor ${processor}`;
    const sub = thread === null ? '' : `thread ${thread}`;
    const threads = groups.get(group) ?? new Map();
    threads.set(sub, [...(threads.get(sub) ?? []), actor]);
    groups.set(group, threads);
  }
  const fragment = document.createDocumentFragment();
  for (const [group, threads] of [...groups].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
    fragment.append(element('h3', group));
    for (const [thread, list] of [...threads].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
      if (thread !== '') fragment.append(element('h4', thread));
      for (const actor of list.sort((a, b) => a.place.actorId.localeCompare(b.place.actorId))) {
        const button = element('button', actor.place.actorId);
        button.append(' ', element('span', valueText(actor.snapshot?.value), 'value'));
        button.className = [actor.sessionId === selected ? 'selected' : '', actor.ended ? 'ended' : ''].join(' ');
        button.dataset.session = actor.sessionId;
        button.dataset.actor = actor.place.actorId;
        button.addEventListener('click', () => {
          selected = actor.sessionId;
          draw();
        });
        fragment.append(button);
      }
    }
  }
  tree.replaceChildren(fragment);
}

/** @param {import('./session.js').ActorState | undefined} actor */
function drawDetail(actor) {
  const chart = $('chart');
  if (actor === undefined) {
    $('actor-title').textContent = 'No actor selected';
    $('actor-state').textContent = '';
    chart.replaceChildren();
    return;
  }
  $('actor-title').textContent = `${actor.place.actorId} (${threadOf(actor.place)})`;
  $('actor-state').textContent = `${valueText(actor.snapshot?.value)} · ${actor.snapshot?.status ?? 'active'}${actor.lastEvent ? ` · last event ${actor.lastEvent}` : ''}`;
  $('context').textContent = JSON.stringify(actor.snapshot?.context ?? null, null, 2);
  let definition;
  try {
    definition = JSON.parse(actor.definition ?? '{}');
  } catch {
    definition = { id: actor.name };
  }
  // Our own SVG text: every name in it is escaped by chartSvg.
  chart.innerHTML = chartSvg(definition, actor.snapshot?.value);
}

/** @param {Map<string, import('./session.js').ActorState>} actors */
function drawFilterOptions(actors) {
  const threads = new Set([...actors.values()].map((actor) => threadOf(actor.place)));
  syncOptions(/** @type {HTMLSelectElement} */ ($('filter-thread')), [...threads].sort().map((t) => [t, t === 'other' ? 'other apps' : t]), 'any thread');
  const named = [...actors.values()].map((actor) => /** @type {[string, string]} */ ([actor.sessionId, actor.place.actorId]));
  syncOptions(/** @type {HTMLSelectElement} */ ($('filter-actor')), named.sort((a, b) => a[1].localeCompare(b[1])), 'any actor');
}

/** Rebuilds a select's options only when they changed (so an open select is not reset on every message). */
function syncOptions(/** @type {HTMLSelectElement} */ select, /** @type {Array<[string, string]>} */ options, /** @type {string} */ anyLabel) {
  const key = options.map(([value]) => value).join('\n');
  if (select.dataset.key === key) return;
  const current = select.value;
  select.replaceChildren(new Option(anyLabel, ''), ...options.map(([value, label]) => new Option(label, value)));
  select.value = options.some(([value]) => value === current) ? current : '';
  select.dataset.key = key;
}

function drawLog() {
  const form = new FormData(filters);
  const wanted = { type: String(form.get('type') ?? ''), side: String(form.get('side') ?? ''), thread: String(form.get('thread') ?? ''), actor: String(form.get('actor') ?? '') };
  /** @type {HTMLTableRowElement[]} */
  const rows = [];
  for (let i = at - 1; i >= 0 && rows.length < LOG_ROWS; i--) {
    const message = /** @type {import('./session.js').Message} */ (session.messages[i]);
    if (message.type === '@xstate.snapshot' || !passes(message, wanted)) continue;
    const place = placeOf(message);
    const row = document.createElement('tr');
    row.className = rows.length === 0 ? 'current' : '';
    row.dataset.index = String(i);
    const time = message.createdAt === undefined ? '' : new Date(Number(message.createdAt)).toISOString().slice(11, 23);
    const what = message.type === '@xstate.actor' ? 'started' : (message.event?.type ?? '');
    /** @type {Array<[string, string]>} */
    const cells = [[String(i + 1 + session.folded), ''], [time, ''], [threadOf(place), ''], [place.actorId, 'actor'], [what, 'event']];
    for (const [text, cls] of cells) {
      const cell = element('td', text, cls);
      if (cls === 'actor') cell.title = `${place.actorId}${sideOf(place.actorId) ? ` (${sideOf(place.actorId)})` : ''}`;
      row.append(cell);
    }
    row.addEventListener('click', () => moveTo(i + 1));
    rows.push(row);
  }
  /** @type {HTMLElement} */ ($('log').querySelector('tbody')).replaceChildren(...rows);
}

function exportRecording() {
  download(new Blob([JSON.stringify(session.toRecording())], { type: 'application/json' }), `busline-recording-${stamp()}.json`);
}

/** The server turns the session into a test file of the selected actor's transitions (`inspector/test-file.ts`). */
async function generateTest() {
  const actor = session.actorsAt(session.length).get(selected ?? '')?.place.actorId;
  const query = actor === undefined ? '' : `?actor=${encodeURIComponent(actor)}`;
  const response = await fetch(`/test-file${query}`, { method: 'POST', body: JSON.stringify(session.toRecording()) });
  const source = await response.text();
  if (!response.ok) {
    $('status').textContent = source.trim();
    return;
  }
  const name = (actor ?? 'session').replace(/[^A-Za-z0-9.-]+/g, '-');
  download(new Blob([source], { type: 'text/typescript' }), `${name}.replay.test.ts`);
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');

function download(/** @type {Blob} */ blob, /** @type {string} */ name) {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/**
 * A snapshot value as one line: `closed` or `direction: open, lock: unlocked`.
 * @param {unknown} value
 * @returns {string}
 */
function valueText(value) {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  return Object.entries(value)
    .map(([key, child]) => (typeof child === 'string' ? `${key}: ${child}` : `${key}: {${valueText(child)}}`))
    .join(', ');
}

function element(/** @type {string} */ tag, /** @type {string} */ text, className = '') {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

slider.addEventListener('input', () => moveTo(Number(slider.value)));
$('step-back').addEventListener('click', () => moveTo(at - 1));
$('step-forward').addEventListener('click', () => moveTo(at + 1));
$('live').addEventListener('click', () => moveTo(session.length));
$('export').addEventListener('click', exportRecording);
$('generate-test').addEventListener('click', () => void generateTest());
filters.addEventListener('input', () => drawLog());
filters.addEventListener('submit', (event) => event.preventDefault());
document.addEventListener('keydown', (event) => {
  if (event.target instanceof HTMLInputElement && event.target !== slider) return;
  if (event.key === 'ArrowLeft' && event.target !== slider) moveTo(at - 1);
  if (event.key === 'ArrowRight' && event.target !== slider) moveTo(at + 1);
});
connect();
draw();
