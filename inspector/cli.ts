#!/usr/bin/env node
/**
 * The `busline` command (the package's `bin`):
 *
 *   busline inspect <recording> [--port <n>]
 *
 * serves a recording (`runtime.record()`) on the inspector server, offline:
 * every inspection message of the run goes to each client that connects, in
 * the order the run produced them, as a live run's would (the page, or a
 * `createWebSocketReceiver` from `@statelyai/inspect`). It runs until
 * Ctrl-C (SIGINT) or SIGTERM, then closes the server and exits 0. A damaged
 * or unfinished recording, or a port it cannot listen on, is refused: exit 1,
 * with the reason. `--help`
 * prints the usage (exit 0); bad arguments print it with the problem (exit 2).
 */
import { isBusError } from '../errors.js';
import { readRecording } from '../runtime/recording/recording-file.js';
import { snapshotStatus } from './protocol.js';
import { InspectorServer } from './server.js';

const USAGE = 'usage: busline inspect <recording> [--port <n>]';

/** The command line, checked: the file and the port, or a message saying what is wrong. */
function parseArguments(args: readonly string[]): { file: string; port: number } | { error: string } | { help: true } {
  // `help` only as the command: after `inspect` it is a recording's name.
  if (args[0] === 'help' || args.some((arg) => arg === '--help' || arg === '-h')) return { help: true };
  const [command, ...rest] = args;
  if (command !== 'inspect') return { error: command === undefined ? USAGE : `unknown command "${command}"\n${USAGE}` };
  let file: string | undefined;
  let port = 0;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--port') {
      const value = Number(rest[++i]);
      if (!Number.isInteger(value) || value < 0 || value > 65_535) return { error: `--port: expected an integer from 0 to 65535, got ${rest[i] ?? 'nothing'}` };
      port = value;
    } else if (arg.startsWith('-') || file !== undefined) {
      return { error: `unexpected argument "${arg}"\n${USAGE}` };
    } else {
      file = arg;
    }
  }
  return file === undefined ? { error: USAGE } : { file, port };
}

/** Serves `file` on 127.0.0.1:`port` until a signal; resolves with the exit code. */
async function inspectRecording(file: string, port: number, out: (line: string) => void = console.log): Promise<number> {
  let recording;
  try {
    recording = await readRecording(file);
  } catch (error) {
    // A file that cannot be read says what the file system said (ENOENT: ...); a damaged one, its code and reason.
    const cause = isBusError(error, 'INVALID_OPTION') ? error.cause : undefined;
    const reason = cause instanceof Error ? cause.message : isBusError(error) ? `${error.code}: ${error.message}` : String((error as Error)?.message ?? error);
    console.error(`busline inspect: cannot read ${file}: ${reason}`);
    return 1;
  }
  let server: InspectorServer;
  try {
    server = await InspectorServer.start({ port, recorded: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    console.error(`busline inspect: cannot listen on 127.0.0.1:${port}${code === undefined ? '' : ` (${code})`}: choose another --port, or 0 for any free one.`);
    return 1;
  }
  let messages = 0;
  for (const record of recording.records) {
    if (record.kind !== 'inspection') continue;
    const { message } = record;
    const ended = message.type !== '@xstate.event' && message.snapshot !== undefined && snapshotStatus(message.snapshot) !== 'active';
    server.publish({ type: message.type, sessionId: message.sessionId, ended, json: JSON.stringify(message) });
    messages++;
  }
  const events = recording.records.length - messages;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  out(`busline inspector: ${server.url} (${file}: ${count(messages, 'inspection message')}, ${count(events, 'bus event')}, ${recording.end.dropped} dropped)`);
  out('Ctrl-C to stop.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.stop();
  return 0;
}

const parsed = parseArguments(process.argv.slice(2));
if ('help' in parsed) {
  console.log(`${USAGE}\n\nServes a recording written by runtime.record() on the inspector server (127.0.0.1; --port 0, the default, picks a free port) until Ctrl-C.`);
} else if ('error' in parsed) {
  console.error(parsed.error);
  process.exitCode = 2;
} else {
  process.exitCode = await inspectRecording(parsed.file, parsed.port);
}
