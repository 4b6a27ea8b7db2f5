/**
 * What a thread has delivered of one station's history to the subscribers of
 * one side, so that no later bus generation delivers an event again.
 *
 * A station numbers every event that joins its history (its arrival number),
 * and every read says how far it is complete (`through`). Unfiltered reads of
 * a thread go on from where the last one stopped, so everything through the
 * highest `through` they reached has been delivered here (or was the thread's
 * own): one number, `through`. A read from the start (a new generation's
 * first, or one after a bridge clearing) says it (`deliveredThrough`) and the
 * station puts those events first and counts them, so the bus merges them
 * without delivering them. Only a filtered read gets ahead of `through`: the
 * ids it delivers are kept until an unfiltered read passes it.
 *
 * Why: the thread used to keep the id of every event it had delivered, in a
 * Set that only grew (as many entries as the station's history) and cost
 * 0.3-1.4 µs per event read here, a third of a large read's time.
 */
export class DeliveredMark {
  /** Every event that arrived at the station through this number has been delivered here (or was this thread's own). */
  #through = 0;
  /** Ids delivered by filtered reads, of events that may have arrived after `#through`. */
  readonly #ahead = new Set<string>();
  /** The highest `through` of those filtered reads: once `#through` passes it, `#ahead` is not needed. */
  #aheadThrough = 0;

  /** What a read from the start passes as `deliveredThrough`. */
  get through(): number {
    return this.#through;
  }

  /** How many ids filtered reads have delivered ahead of `through` (for tests and the inspector). */
  get ahead(): number {
    return this.#ahead.size;
  }

  /** True when an event that arrived after `through` was delivered already, by a filtered read. */
  deliveredAhead(id: string): boolean {
    return this.#ahead.size > 0 && this.#ahead.has(id);
  }

  /** Remembers an event a filtered read delivers; `readThrough` is that read's `through`. */
  noteAhead(id: string, readThrough: number): void {
    if (readThrough <= this.#through) return;
    this.#ahead.add(id);
    if (readThrough > this.#aheadThrough) this.#aheadThrough = readThrough;
  }

  /** After an unfiltered read that asked for what arrived after `since` and was complete through `readThrough`. */
  noteUnfiltered(since: number, readThrough: number): void {
    // A read that started beyond the mark leaves a stretch unread here: the mark stays.
    if (since > this.#through || readThrough <= this.#through) return;
    this.#through = readThrough;
    if (this.#through >= this.#aheadThrough && this.#ahead.size > 0) this.#ahead.clear();
  }
}
