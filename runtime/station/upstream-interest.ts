/**
 * A local station's interest as its main station knows it, and the
 * declarations that widen it there at once.
 *
 * A local station's reads of its main station carry the union of its
 * readers' interest (`Interest.upstream()`), and the main station holds an
 * event that leaves once delivered for this processor only if that interest
 * wants it. Carried by reads alone, a widening (a thread here subscribed to a
 * new type, and read) would count at the main station only from this
 * station's next `fromMain()`: an event of the new type that the main
 * station took in between, and that no other processor held, would leave it
 * and never reach the thread. So when its readers' interest widens beyond
 * what the main station was last told, the station declares it upstream at
 * once — a read of no types (`declaration()`), which reads nothing, hands
 * nothing back and moves no mark, so it needs no `fromMain()` slot and runs
 * beside one — and the read that widened it is answered only once the main
 * station has taken the declaration (`pending`, awaited by the links).
 *
 * Why nothing the thread now wants can leave in between: the main station
 * handles one message at a time, and a declaration travels on the same link
 * as the station's reads, in the order they were sent (a read carries the
 * interest as it was when it was sent, so an older, narrower one is never
 * taken after a wider declaration). Once the main station has noted it,
 * every event of the new types that arrives there is held for this station
 * until it has read through it, and one still held for another reader is
 * held for it too when that reader reads. The thread's read returns after
 * that: from its return on, no station between the thread and any producer
 * lets such an event go before the thread has read it. Narrowing is not
 * declared at once: the main station then holds more than needed until the
 * next `fromMain()`, which carries the narrower interest.
 */
import type { Endpoint, Side } from '../../types.js';
import type { SyncRequest } from '../wire/protocol.js';
import type { Interest } from './interest.js';

/** A declaration of `interest` (undefined: every type) by the reader `from` to the station of `side`: a read of no types. */
export function declaration(from: Endpoint, side: Side, interest: readonly string[] | undefined): SyncRequest {
  return { kind: 'syncRequest', seq: 0, from, side, types: [], ...(interest === undefined ? {} : { interest: [...interest] }) };
}

/** Whether `request` is a declaration: no user read names an empty list of types (`assertTypeList`). */
export function isDeclaration(request: SyncRequest): boolean {
  return request.types !== undefined && request.types.length === 0;
}

/** What a local station last told its main station of its interest, and the declarations under way. */
export class UpstreamInterest {
  readonly #interest: Interest;
  readonly #send: (interest: readonly string[] | undefined) => Promise<unknown>;
  /**
   * The interest the main station was last sent (undefined: every type).
   * Before the first read the main station expects this station and holds
   * every event for it, so nothing can widen that.
   */
  #told: readonly string[] | undefined = undefined;
  /** `Interest.version` when it was last looked at: between changes a read costs one comparison. */
  #version = -1;
  #pending: Promise<void> | undefined;

  /** `send` carries a declaration to the main station; it resolves once the main station took it. */
  constructor(interest: Interest, send: (interest: readonly string[] | undefined) => Promise<unknown>) {
    this.#interest = interest;
    this.#send = send;
  }

  /** The fields of a read of the main station: the readers' interest now, which the main station is told by it. */
  carried(): { interest?: readonly string[] } {
    const fields = this.#interest.upstream();
    this.#told = fields.interest;
    this.#version = this.#interest.version;
    return fields;
  }

  /** After the readers' interest may have changed: declares it upstream at once if it is wider than what was told. */
  check(): void {
    if (this.#interest.version === this.#version || !this.#interest.active) return;
    this.#version = this.#interest.version;
    const now = this.#interest.upstream().interest;
    if (!widens(this.#told, now)) return;
    this.#told = now;
    let sent: Promise<unknown>;
    try {
      sent = this.#send(now);
    } catch (error) {
      sent = Promise.reject(error);
    }
    // A declaration that fails (the runtime stops, the link broke) is made again by the next fromMain(), which
    // carries the interest anyway; the read waiting for it is answered all the same.
    const pending: Promise<void> = Promise.all([this.#pending, sent.catch(() => undefined)]).then(() => {
      if (this.#pending === pending) this.#pending = undefined;
    });
    this.#pending = pending;
  }

  /** Resolves once every declaration sent so far has been taken by the main station (or has failed); undefined: none is under way. */
  get pending(): Promise<void> | undefined {
    return this.#pending;
  }
}

/** Whether interest `now` wants a type that `told` does not (undefined: every type). */
function widens(told: readonly string[] | undefined, now: readonly string[] | undefined): boolean {
  if (told === undefined) return false;
  if (now === undefined) return true;
  return now.some((pattern) => !told.includes(pattern));
}
