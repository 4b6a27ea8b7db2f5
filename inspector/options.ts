/**
 * The options of `runtime.inspect()` and their check, apart from the server
 * so that the published types never reach its WebSocket library.
 */
import { InvalidOptionError } from '../errors.js';
import { assertKnownKeys, describe } from '../runtime/validate.js';

/** Options of `runtime.inspect()`. */
export interface InspectorOptions {
  /** The port on 127.0.0.1 (the server listens nowhere else). Default 0: any free port; the URL says which. */
  readonly port?: number;
  /** How many recent inspection messages a client that connects late receives, after every live actor. Default 1000. */
  readonly replay?: number;
}

/** Checks `runtime.inspect()` options; throws `InvalidOptionError` naming the wrong one. */
export function checkInspectorOptions(options: unknown): InspectorOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('inspect options', `expected an object such as { port: 0 }, got ${describe(options)}.`);
  }
  assertKnownKeys(options, ['port', 'replay'], 'inspect options');
  const { port, replay } = options as Record<string, unknown>;
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535)) {
    throw new InvalidOptionError('inspect options.port', `expected an integer from 0 to 65535, got ${describe(port)}.`);
  }
  if (replay !== undefined && (typeof replay !== 'number' || !Number.isInteger(replay) || replay < 0 || replay > 1_000_000)) {
    throw new InvalidOptionError('inspect options.replay', `expected an integer from 0 to 1000000, got ${describe(replay)}.`);
  }
  return options as InspectorOptions;
}
