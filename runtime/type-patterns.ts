/**
 * Event type patterns, one rule for every place that selects events by type:
 * subscriptions, `fromStation({ types })`, `sync({ types })`, history queries,
 * station reads (the patterns travel in sync requests as written) and spawned
 * actors' `subscribes`.
 *
 * - `*` or `>` alone match every type.
 * - A pattern without wildcards matches its type and every subtype: `user`
 *   matches `user` and `user.login.failed` (busline's subtype matching).
 * - Otherwise parts are matched one by one, as NATS matches subjects: `*` is
 *   exactly one part (`user.*` matches `user.login`, not `user` nor
 *   `user.login.failed`), and a final `>` one or more (`user.>` matches every
 *   type below `user`, not `user` itself).
 *
 * The check of a pattern's spelling is `typePatternProblem` in `validate.ts`.
 */

const DOT = 46; // '.'
const STAR = 42; // '*'
const GREATER = 62; // '>'

/** True when `pattern` has a wildcard part. Cheap: event types cannot contain `*` or `>`. */
export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('>');
}

/** True when `pattern` matches every type (`*` or `>` alone). */
export function matchesEverything(pattern: string): boolean {
  return pattern.length === 1 && (pattern.charCodeAt(0) === STAR || pattern.charCodeAt(0) === GREATER);
}

/** True when `type` is selected by `pattern` (see the module comment). */
export function typeMatches(pattern: string, type: string): boolean {
  if (type === pattern) return true;
  if (!hasWildcard(pattern)) {
    return type.length > pattern.length && type.charCodeAt(pattern.length) === DOT && type.startsWith(pattern);
  }
  if (matchesEverything(pattern)) return true;
  return partsMatch(pattern, type);
}

/** True when `type` matches one of `patterns`. */
export function typeMatchesAny(patterns: readonly string[], type: string): boolean {
  for (const pattern of patterns) if (typeMatches(pattern, type)) return true;
  return false;
}

/** Part-by-part matching, walking both strings without splitting them. */
function partsMatch(pattern: string, type: string): boolean {
  let p = 0;
  let t = 0;
  for (;;) {
    const patternEnd = partEnd(pattern, p);
    const typeEnd = partEnd(type, t);
    const part = pattern.slice(p, patternEnd);
    // A final '>' takes what is left, which is at least this one part.
    if (part === '>') return t < type.length;
    if (t >= type.length) return false;
    if (part !== '*' && part !== type.slice(t, typeEnd)) return false;
    const patternDone = patternEnd === pattern.length;
    const typeDone = typeEnd === type.length;
    if (patternDone || typeDone) return patternDone && typeDone;
    p = patternEnd + 1;
    t = typeEnd + 1;
  }
}

function partEnd(text: string, from: number): number {
  const dot = text.indexOf('.', from);
  return dot === -1 ? text.length : dot;
}
