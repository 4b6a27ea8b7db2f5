/** The options of a station's reads from its main station. */
import type { Side } from '../../types.js';

/** Options of `station.fromMain()` and `station.roundTrip()`. */
export interface FromMainOptions {
  /** Only these event types (with subtype matching). */
  readonly types?: readonly string[];
  /** Read the main station of this side; the other side only if the bridge allows it. */
  readonly side?: Side;
}
