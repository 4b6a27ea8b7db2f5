/**
 * Comparing two sequences of transitions (a replay against its recording, or
 * a run against a list written in a test) and saying where they part, in a
 * form a person reads at a glance: the steps around the first difference,
 * the expected line marked `-` and the actual one `+`, then the context
 * that differs, field by field.
 */
import { InvalidOptionError, ReplayMismatchError } from '../../errors.js';
import { describe } from '../validate.js';
import type { Transition } from './replay.js';

/** Steps shown before and after the first difference. */
const AROUND = 3;

/** What is compared of a transition: the fields `expected` has (a list written by hand may leave `context` out). */
function same(actual: Transition | undefined, expected: Transition | undefined): boolean {
  if (actual === undefined || expected === undefined) return actual === expected;
  if (actual.actor !== expected.actor || actual.event !== expected.event || actual.state !== expected.state) return false;
  return !('context' in expected) || stableJson(actual.context) === stableJson(expected.context);
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    typeof inner === 'object' && inner !== null && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : inner,
  ) ?? 'undefined';
}

/**
 * Where two sequences first differ, described; undefined when they are the
 * same. `expected` entries without `context` match any context.
 */
export function diffTransitions(actual: readonly Transition[], expected: readonly Transition[]): string | undefined {
  const length = Math.max(actual.length, expected.length);
  let first = -1;
  let differing = 0;
  for (let i = 0; i < length; i++) {
    if (same(actual[i], expected[i])) continue;
    if (first < 0) first = i;
    differing++;
  }
  if (first < 0) return undefined;
  const actorWidth = Math.max(5, ...[...actual, ...expected].map((step) => step.actor.length));
  const eventWidth = Math.max(5, ...[...actual, ...expected].map((step) => step.event.length));
  const line = (mark: string, i: number, step: Transition | undefined) =>
    step === undefined
      ? `${mark} ${String(i + 1).padStart(4)}  (no step)`
      : `${mark} ${String(i + 1).padStart(4)}  ${step.actor.padEnd(actorWidth)}  ${step.event.padEnd(eventWidth)}  ${step.state}`;
  const lines = [
    `Transitions differ at step ${first + 1} (${differing} of ${length} steps differ; expected ${expected.length}, got ${actual.length}).`,
    '  - expected   + actual',
  ];
  for (let i = Math.max(0, first - AROUND); i < Math.min(length, first + AROUND + 1); i++) {
    if (same(actual[i], expected[i])) {
      lines.push(line(' ', i, actual[i]));
      continue;
    }
    const want = expected[i];
    const got = actual[i];
    // Same line, different context: say so, or the two lines would read as equal.
    const note = want !== undefined && got !== undefined && want.state === got.state && want.event === got.event && want.actor === got.actor ? '  (context differs)' : '';
    lines.push(line('-', i, want) + note, line('+', i, got) + note);
  }
  const want = expected[first];
  const got = actual[first];
  if (want !== undefined && got !== undefined && 'context' in want && stableJson(want.context) !== stableJson(got.context)) {
    lines.push(`  context at step ${first + 1}:`);
    const wanted = (want.context ?? {}) as Record<string, unknown>;
    const gotten = (got.context ?? {}) as Record<string, unknown>;
    for (const key of [...new Set([...Object.keys(wanted), ...Object.keys(gotten)])].sort()) {
      if (stableJson(wanted[key]) === stableJson(gotten[key])) continue;
      lines.push(`  - ${key}: ${stableJson(wanted[key])}`, `  + ${key}: ${stableJson(gotten[key])}`);
    }
  }
  return lines.join('\n');
}

/**
 * Throws a `ReplayMismatchError` (`REPLAY_MISMATCH`) with a readable diff unless `actual`
 * is `expected` step for step (an expected step without `context` matches
 * any context).
 *
 * @example
 * assertTransitions([...replay(recording)], recordedTransitions(recording))
 * assertTransitions(recordedTransitions(recording, { actors: (id) => id === 'bridge', context: false }), [
 *   { actor: 'bridge', event: 'OPEN', state: 'direction.open, lock.unlocked' },
 * ])
 */
export function assertTransitions(actual: Iterable<Transition>, expected: readonly Transition[]): void {
  if (typeof (actual as { [Symbol.iterator]?: unknown } | null)?.[Symbol.iterator] !== 'function') {
    throw new InvalidOptionError('assertTransitions actual', `expected the steps that ran (an array or replay(recording)), got ${describe(actual)}.`);
  }
  if (!Array.isArray(expected)) {
    throw new InvalidOptionError('assertTransitions expected', `expected an array of { actor, event, state, context? }, got ${describe(expected)}.`);
  }
  const steps = [...actual];
  const diff = diffTransitions(steps, expected);
  if (diff === undefined) return;
  const first = steps.findIndex((step, i) => !same(step, expected[i]));
  throw new ReplayMismatchError(diff, first < 0 ? steps.length : first);
}
