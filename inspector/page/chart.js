// @ts-check
/**
 * A statechart as SVG, from the machine config that `@xstate.actor`
 * messages carry (`definition`), with the active states highlighted.
 *
 * The layout is our own and deliberately simple, because busline's charts
 * are small (bus, station, bridge): a compound state is a box holding its
 * children in one row (the initial child first, entered from a dot on the
 * left); a parallel state holds its regions side by side, dashed. A
 * transition is an arc in the row of the lowest state that holds both ends:
 * forward arcs above the row, backward ones below, stacked so that no two
 * arcs of one level overlap. Transitions without a target (actions only) and
 * self-transitions are listed inside their state as `EVENT ⟲`.
 * Pure: no DOM, so it runs (and is tested) in Node too.
 */

const CHAR = 7.2; // width of one character of the 12px monospace font
const FONT = 12;
const LINE = 15;
const PAD = 10;
const GAP = 36; // between boxes of a row
const HEADER = 22;
const LEVEL = 17; // height of one level of arcs
const ENTRY = 22; // the column of the entry dot

/**
 * @typedef {{ key: string, path: string[], id: string, type: string, initial: string | undefined,
 *   children: StateNode[], parent: StateNode | undefined, loops: string[] }} StateNode
 * @typedef {{ from: StateNode, to: StateNode, event: string }} Transition
 * @typedef {{ from: number, to: number, label: string, level: number, forward: boolean }} Arc
 * @typedef {{ node: StateNode, x: number, y: number, w: number, h: number, rowY: number, rowH: number,
 *   entryX: number, children: Box[], arcs: Arc[], levelsAbove: number, levelsBelow: number }} Box
 */

/** The state tree of a machine config (JSON as `@statelyai/inspect` sends it). */
export function stateTree(/** @type {any} */ config) {
  /** @type {Map<string, StateNode>} */
  const byId = new Map();
  /** @type {Array<{ source: StateNode, event: string, targets: string[] | undefined }>} */
  const raw = [];
  const build = (/** @type {any} */ cfg, /** @type {string} */ key, /** @type {string[]} */ path, /** @type {StateNode | undefined} */ parent) => {
    const states = cfg !== null && typeof cfg === 'object' && cfg.states !== null && typeof cfg.states === 'object' ? cfg.states : {};
    const keys = Object.keys(states);
    const type = cfg?.type === 'parallel' ? 'parallel' : cfg?.type === 'final' ? 'final' : cfg?.type === 'history' ? 'history' : keys.length > 0 ? 'compound' : 'atomic';
    const initial = typeof cfg?.initial === 'string' ? cfg.initial : undefined;
    /** @type {StateNode} */
    const node = { key, path, id: typeof cfg?.id === 'string' ? cfg.id : path.join('.'), type, initial, children: [], parent, loops: [] };
    byId.set(node.id, node);
    // The initial child first: it is entered from the dot on the left.
    const ordered = initial !== undefined && keys.includes(initial) ? [initial, ...keys.filter((k) => k !== initial)] : keys;
    node.children = ordered.map((child) => build(states[child], child, [...path, child], node));
    const on = cfg?.on !== null && typeof cfg?.on === 'object' ? cfg.on : {};
    for (const [event, spec] of Object.entries(on)) raw.push({ source: node, event, targets: targetsOf(spec) });
    if (cfg?.always !== undefined) raw.push({ source: node, event: 'always', targets: targetsOf(cfg.always) });
    return node;
  };
  const root = build(config, typeof config?.id === 'string' ? config.id : '(machine)', [], undefined);
  /** @type {Transition[]} */
  const transitions = [];
  for (const { source, event, targets } of raw) {
    const resolved = (targets ?? []).map((target) => resolveTarget(root, byId, source, target)).filter((t) => t !== undefined);
    if (resolved.length === 0 || resolved.every((t) => t === source)) {
      if (!source.loops.includes(event)) source.loops.push(event);
    }
    for (const to of resolved) if (to !== source) transitions.push({ from: source, to, event });
  }
  return { root, transitions };
}

/** The target strings of one `on` entry: a string, `{ target }`, or an array of either (undefined: actions only). */
function targetsOf(/** @type {any} */ spec) {
  const list = Array.isArray(spec) ? spec : [spec];
  /** @type {string[]} */
  const targets = [];
  for (const item of list) {
    const target = typeof item === 'string' ? item : item?.target;
    if (typeof target === 'string') targets.push(target);
    else if (Array.isArray(target)) targets.push(...target.filter((t) => typeof t === 'string'));
  }
  return targets.length === 0 ? undefined : targets;
}

/** XState v5's target rules: `#id.path`, `.child` of the source, otherwise a sibling's path. */
function resolveTarget(/** @type {StateNode} */ root, /** @type {Map<string, StateNode>} */ byId, /** @type {StateNode} */ source, /** @type {string} */ target) {
  const walk = (/** @type {StateNode | undefined} */ from, /** @type {string[]} */ keys) => {
    let node = from;
    for (const key of keys) node = node?.children.find((child) => child.key === key);
    return node;
  };
  if (target.startsWith('#')) {
    const [id = '', ...rest] = target.slice(1).split('.');
    return walk(byId.get(id) ?? (id === root.id ? root : undefined), rest);
  }
  if (target.startsWith('.')) return walk(source, target.slice(1).split('.'));
  return walk(source.parent ?? root, target.split('.'));
}

/** The paths (`a.b`) of the states active in a snapshot `value`, the root's ('') included. */
export function activePaths(/** @type {unknown} */ value) {
  const paths = new Set(['']);
  const visit = (/** @type {unknown} */ v, /** @type {string} */ prefix) => {
    if (typeof v === 'string') paths.add(prefix + v);
    else if (v !== null && typeof v === 'object') {
      for (const [key, child] of Object.entries(v)) {
        paths.add(prefix + key);
        visit(child, `${prefix}${key}.`);
      }
    }
  };
  visit(value, '');
  return paths;
}

const textWidth = (/** @type {string} */ text) => text.length * CHAR;

/** The child of `ancestor` on the way to `node` (or undefined when `node` is `ancestor`). */
function childTowards(/** @type {StateNode} */ ancestor, /** @type {StateNode} */ node) {
  return ancestor.children.find((child) => node.path.length > ancestor.path.length && child.key === node.path[ancestor.path.length]);
}

function lowestCommon(/** @type {StateNode} */ a, /** @type {StateNode} */ b) {
  /** @type {StateNode | undefined} */
  let node = a;
  while (node !== undefined && !(b.path.length >= node.path.length && node.path.every((key, i) => b.path[i] === key))) node = node.parent;
  return node;
}

/** Lays out the tree: sizes, row positions and arcs, relative to each box's parent. */
function layout(/** @type {StateNode} */ node, /** @type {Map<StateNode, Array<{ from: number, to: number, event: string }>>} */ rowEdges) {
  const children = node.children.map((child) => layout(child, rowEdges));
  const lines = node.loops.map((event) => `${event} ⟲`);
  const titleWidth = Math.max(textWidth(node.key), ...lines.map(textWidth)) + 2 * PAD;
  const headerH = HEADER + lines.length * LINE;
  /** @type {Box} */
  const box = { node, x: 0, y: 0, w: 0, h: 0, rowY: 0, rowH: 0, entryX: 0, children, arcs: [], levelsAbove: 0, levelsBelow: 0 };
  if (children.length === 0) {
    box.w = Math.max(80, titleWidth);
    box.h = headerH + 8;
    return box;
  }
  const edges = rowEdges.get(node) ?? [];
  const hasEntry = node.type === 'compound' || edges.some((edge) => edge.from < 0 || edge.to < 0);
  // Horizontal: the entry column, then the children with gaps.
  let x = PAD + (hasEntry ? ENTRY : 0);
  box.entryX = PAD + 6;
  for (const child of children) {
    child.x = x;
    x += child.w + GAP;
  }
  const rowWidth = x - GAP + PAD;
  const centre = (/** @type {number} */ index) => (index < 0 ? box.entryX : /** @type {Box} */ (children[index]).x + /** @type {Box} */ (children[index]).w / 2);
  // Arcs: merge parallel edges into one label, then stack them in levels without overlaps.
  /** @type {Map<string, { from: number, to: number, events: string[] }>} */
  const merged = new Map();
  for (const edge of edges) {
    const key = `${edge.from}>${edge.to}`;
    const entry = merged.get(key) ?? { from: edge.from, to: edge.to, events: [] };
    if (!entry.events.includes(edge.event)) entry.events.push(edge.event);
    merged.set(key, entry);
  }
  /** @type {Array<Array<[number, number]>>} */
  const above = [];
  /** @type {Array<Array<[number, number]>>} */
  const below = [];
  const sorted = [...merged.values()].sort((a, b) => Math.abs(a.to - a.from) - Math.abs(b.to - b.from) || a.from - b.from);
  for (const { from, to, events } of sorted) {
    const label = events.join(' | ');
    const x1 = centre(from);
    const x2 = centre(to);
    const mid = (x1 + x2) / 2;
    const span = /** @type {[number, number]} */ ([Math.min(x1, x2, mid - textWidth(label) / 2 - 4), Math.max(x1, x2, mid + textWidth(label) / 2 + 4)]);
    const forward = to > from;
    const levels = forward ? above : below;
    let level = 0;
    while ((levels[level] ?? []).some(([a, b]) => a < span[1] && span[0] < b)) level++;
    (levels[level] ??= []).push(span);
    box.arcs.push({ from, to, label, level, forward });
  }
  box.levelsAbove = above.length;
  box.levelsBelow = below.length;
  // Vertical: header, arcs above, the row, arcs below.
  const rowH = Math.max(...children.map((child) => child.h));
  box.rowY = headerH + 6 + above.length * LEVEL;
  box.rowH = rowH;
  for (const child of children) child.y = box.rowY + (rowH - child.h) / 2;
  box.w = Math.max(titleWidth, rowWidth, ...box.arcs.map((arc) => (centre(arc.from) + centre(arc.to)) / 2 + textWidth(arc.label) / 2 + PAD));
  box.h = box.rowY + rowH + below.length * LEVEL + PAD;
  return box;
}

const escape = (/** @type {string} */ text) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/**
 * The chart of `config` as an SVG document (text), the states of `value`
 * highlighted. Each state is a `<g class="state">` with `data-path`
 * (`direction.open`), and `active` in its class when it is active.
 * @param {any} config
 * @param {unknown} value
 */
export function chartSvg(config, value) {
  const { root, transitions } = stateTree(config);
  /** @type {Map<StateNode, Array<{ from: number, to: number, event: string }>>} */
  const rowEdges = new Map();
  for (const { from, to, event } of transitions) {
    const common = lowestCommon(from, to);
    if (common === undefined) continue;
    const fromChild = childTowards(common, from);
    const toChild = childTowards(common, to);
    const index = (/** @type {StateNode | undefined} */ child) => (child === undefined ? -1 : common.children.indexOf(child));
    const list = rowEdges.get(common) ?? [];
    list.push({ from: index(fromChild), to: index(toChild), event });
    rowEdges.set(common, list);
  }
  const box = layout(root, rowEdges);
  const active = activePaths(value);
  /** @type {string[]} */
  const out = [];
  const draw = (/** @type {Box} */ b, /** @type {number} */ ox, /** @type {number} */ oy, /** @type {boolean} */ region) => {
    const x = ox + b.x;
    const y = oy + b.y;
    const path = b.node.path.join('.');
    const isActive = active.has(path);
    const classes = ['state', b.node.type, isActive ? 'active' : '', region ? 'region' : ''].filter(Boolean).join(' ');
    out.push(`<g class="${classes}" data-path="${escape(path)}">`);
    out.push(`<rect x="${x}" y="${y}" width="${b.w}" height="${b.h}" rx="${region ? 2 : 8}"/>`);
    if (b.node.type === 'final') out.push(`<rect class="inner" x="${x + 3}" y="${y + 3}" width="${b.w - 6}" height="${b.h - 6}" rx="6"/>`);
    out.push(`<text class="name" x="${x + PAD}" y="${y + 16}">${escape(b.node.key)}</text>`);
    b.node.loops.forEach((event, i) => out.push(`<text class="loop" x="${x + PAD}" y="${y + HEADER + 11 + i * LINE}">${escape(event)} ⟲</text>`));
    out.push('</g>');
    const childRegion = b.node.type === 'parallel';
    for (const child of b.children) draw(child, x, y, childRegion);
    if (b.children.length === 0) return;
    const first = /** @type {Box} */ (b.children[0]);
    const dotY = y + b.rowY + b.rowH / 2;
    if (b.node.type === 'compound') {
      out.push(`<circle class="initial" cx="${x + b.entryX}" cy="${dotY}" r="4"/>`);
      out.push(`<path class="edge" d="M${x + b.entryX + 4} ${dotY} H${x + first.x - 1}" marker-end="url(#arrow)"/>`);
    }
    for (const arc of b.arcs) {
      const end = (/** @type {number} */ index, /** @type {number} */ shift) => {
        // From the entry dot, an arc first climbs (or drops) to the row's edge, as the others start there.
        if (index < 0) return { cx: x + b.entryX, cy: arc.forward ? y + b.rowY : y + b.rowY + b.rowH };
        const c = /** @type {Box} */ (b.children[index]);
        return { cx: x + c.x + c.w / 2 + shift, cy: arc.forward ? y + c.y : y + c.y + c.h };
      };
      const start = end(arc.from, arc.forward ? 6 : -6);
      const stop = end(arc.to, arc.forward ? -6 : 6);
      const edgeY = arc.forward ? y + b.rowY - (arc.level + 0.8) * LEVEL : y + b.rowY + b.rowH + (arc.level + 0.8) * LEVEL;
      // A cubic's middle point is (P0 + 3 P1 + 3 P2 + P3) / 8: put it at the arc's level.
      const controlY = (8 * edgeY - start.cy - stop.cy) / 6;
      const lead = arc.from < 0 ? `M${start.cx} ${dotY} V${start.cy} ` : `M${start.cx} ${start.cy} `;
      out.push(`<path class="edge" d="${lead}C${start.cx} ${controlY} ${stop.cx} ${controlY} ${stop.cx} ${stop.cy}" marker-end="url(#arrow)"/>`);
      const labelX = (start.cx + stop.cx) / 2;
      const w = textWidth(arc.label) + 6;
      out.push(`<rect class="label-bg" x="${labelX - w / 2}" y="${edgeY - 8}" width="${w}" height="14" rx="3"/>`);
      out.push(`<text class="label" x="${labelX}" y="${edgeY + 3}" text-anchor="middle">${escape(arc.label)}</text>`);
    }
  };
  draw(box, 0, 0, false);
  const width = Math.ceil(box.w + 2);
  const height = Math.ceil(box.h + 2);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="-1 -1 ${width} ${height}" font-size="${FONT}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z"/></marker></defs>
${out.join('\n')}
</svg>`;
}
