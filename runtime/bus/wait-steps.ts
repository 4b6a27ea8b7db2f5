/**
 * How long one control call that waits by design (a `RemoteBus`'s) waits in
 * its thread before it answers, to be asked again: a subscription's `take`,
 * `room()`, an awaited `publish()`. Short steps keep each call well inside
 * any call deadline (`MIN_CALL_DEADLINE_MS` in `options.ts` says why it is
 * what it is from the longest of them), and a waiting call that is given up
 * costs at most one step.
 */

/** The longest a `take` waits in the thread (`remote-subscription.ts`). */
export const TAKE_WAIT_MS = 250;
/** The longest one `room()` control call waits in the thread (`remote-bus.ts`). */
export const ROOM_WAIT_MS = 250;
/** The longest one `published` control call waits in the thread (`remote-publish.ts`). */
export const PUBLISHED_WAIT_MS = 250;
/** The longest of those steps. */
export const LONGEST_WAIT_STEP_MS = Math.max(TAKE_WAIT_MS, ROOM_WAIT_MS, PUBLISHED_WAIT_MS);
