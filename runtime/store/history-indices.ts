/**
 * The lookup index of a history's uncompressed events: one small integer per
 * event, kept beside the event in its segment (`event-segment.ts`) — its
 * side, a code of its type, a code of its origin thread and a few bits of a
 * hash of its id — and a mask per segment of the type codes it has held.
 * A query reads these integers to find its candidates, and skips segments
 * whose mask has none of its types; the candidates are then checked whole
 * (`matchesQuery`), so a key only ever says "maybe".
 *
 * Why not lists of events per type, origin and id (as before): they held an
 * object per event, which at a station (events kept as their frames' bytes)
 * cost more than the event's bytes.
 */
import type { BusEvent } from '../../types.js';
import { typeMatchesAny } from '../type-patterns.js';
import { originKey, type HistoryQuery } from './history-query.js';

/** Bits of a key: side (1), type code (10), origin code (10), id hash (9, the top bits of `idHash`): 30 bits, a small integer. */
const TYPE_SHIFT = 1;
const ORIGIN_SHIFT = 11;
const HASH_SHIFT = 21;
const CODE_MASK = 0x3ff;
/** `idHash` bits dropped to make a key's 9. */
const HASH_DROP = 23;
/** The code of every type (origin) after the first 1023: such keys match any query, and the event decides. */
const OTHER = CODE_MASK;

/**
 * A 32-bit hash of an id (unsigned): FNV-1a, then murmur3's finalizer, so
 * that every bit depends on every character (ids differ mostly in their last
 * digits). Keys keep its top 9 bits; segments' id filters (`id-filter.ts`) all 32.
 */
export function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The bit of a segment's type mask for the type code of `key`. */
export function typeBit(key: number): number {
  return 1 << (((key >>> TYPE_SHIFT) & CODE_MASK) % 31);
}

/** What a query asks of keys; a key that passes may match, one that does not cannot. */
export interface KeyFilter {
  /** Type codes that may match (undefined: any). */
  readonly types: Uint8Array | undefined;
  /** The side bit asked for (undefined: any). */
  readonly side: number | undefined;
  /** The origin code asked for (undefined: any). */
  readonly origin: number | undefined;
  /** A segment whose type mask shares no bit with this has none of the types (-1: any). */
  readonly mask: number;
}

/** True when an event with `key` may pass `filter`. */
export function keyPasses(filter: KeyFilter, key: number): boolean {
  if (filter.side !== undefined && (key & 1) !== filter.side) return false;
  if (filter.origin !== undefined) {
    const origin = (key >>> ORIGIN_SHIFT) & CODE_MASK;
    if (origin !== filter.origin && origin !== OTHER) return false;
  }
  return filter.types === undefined || filter.types[(key >>> TYPE_SHIFT) & CODE_MASK] === 1;
}

/** True when an event with `key` may have the id whose `idHash` is `hash`. */
export function keyMayHaveId(key: number, hash: number): boolean {
  return key >>> HASH_SHIFT === hash >>> HASH_DROP;
}

/**
 * The codes of one history's types and origin threads, given in order of
 * first sight, and the keys made of them.
 *
 * @example
 * const codes = new HistoryIndices()
 * const key = codes.keyOf(event)
 * keyPasses(codes.filter({ types: ['user'] }), key)   // true when event is a `user` event (or may be)
 */
export class HistoryIndices {
  readonly #types = new Map<string, number>();
  readonly #origins = new Map<string, number>();

  /** The key of `event` (`hash`: its id's `idHash`). */
  keyOf(event: BusEvent, hash = idHash(event.id)): number {
    const side = event.side === 'external' ? 1 : 0;
    const type = code(this.#types, event.type);
    const origin = code(this.#origins, originKey(event.origin));
    return side | (type << TYPE_SHIFT) | (origin << ORIGIN_SHIFT) | ((hash >>> HASH_DROP) << HASH_SHIFT);
  }

  /** The filter of keys for `query`'s types, side and origin. */
  filter(query: Pick<HistoryQuery, 'types' | 'side' | 'origin'>): KeyFilter {
    let types: Uint8Array | undefined;
    let mask = -1;
    if (query.types !== undefined) {
      types = new Uint8Array(CODE_MASK + 1);
      types[OTHER] = 1;
      mask = typeBit(OTHER << TYPE_SHIFT);
      for (const [type, at] of this.#types) {
        if (!typeMatchesAny(query.types, type)) continue;
        types[at] = 1;
        mask |= typeBit(at << TYPE_SHIFT);
      }
    }
    const side = query.side === undefined ? undefined : query.side === 'external' ? 1 : 0;
    // An origin never seen can only be among the events coded OTHER.
    const origin = query.origin === undefined ? undefined : (this.#origins.get(originKey(query.origin)) ?? OTHER);
    return { types, side, origin, mask };
  }
}

function code(codes: Map<string, number>, value: string): number {
  const known = codes.get(value);
  if (known !== undefined) return known;
  if (codes.size >= OTHER) return OTHER;
  codes.set(value, codes.size);
  return codes.size - 1;
}
