/**
 * The inspector server: HTTP and WebSocket on one port of 127.0.0.1, speaking
 * the `@statelyai/inspect` protocol (`protocol.ts`). It does what that
 * package's own server does, and a little more:
 *
 * - every busline record reaches every client (a `createWebSocketReceiver`,
 *   the page);
 * - frames a client sends (an XState app's `createWebSocketInspector`) are
 *   relayed to the other clients, beside busline's actors;
 * - a client that connects late gets every live actor (its `@xstate.actor`
 *   message and its latest snapshot), then the most recent event and
 *   snapshot messages (`replay`, default 1000): bounded, whatever the run's
 *   length (an actor that has ended is not announced again);
 * - a client that reads too slowly (`maxClientBuffer` bytes waiting in its
 *   socket) misses messages, counted, instead of growing this process;
 * - a WebSocket whose `Origin` is a web page other than this server's own is
 *   refused: any site open in the user's browser could otherwise connect to
 *   ws://127.0.0.1 and read the application's events. Node clients send no
 *   `Origin` and are let in.
 *
 * `/` serves the inspector page (`page/`: plain ES modules, no build step,
 * nothing fetched from elsewhere), under a Content-Security-Policy that lets
 * it load only its own files and connect only back to this server.
 * `POST /test-file` turns a session the page exported into a test file
 * (`test-file.ts`), for the page's "Generate test" button.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { readClientMessage } from './protocol.js';
import { testFileFor } from './test-file.js';

/** One message for the clients: its JSON text, and what the server needs to know of it. */
export interface InspectorMessage {
  readonly type: string;
  readonly sessionId: string;
  /** Its actor ended: the server forgets it (late clients are not told of it). */
  readonly ended: boolean;
  readonly json: string;
}

export interface InspectorServerOptions {
  /** The port on 127.0.0.1; 0 (default) takes any free port. */
  readonly port?: number;
  /** Recent messages replayed to a client that connects (after the live actors). Default 1000. */
  readonly replay?: number;
  /** Bytes a client may have waiting before messages to it are dropped. Default 8 MiB. */
  readonly maxClientBuffer?: number;
  /**
   * Serving a recording (`busline inspect <file>`): every message is kept,
   * in order, actor announcements included, and each client gets them all
   * from the first; `replay` does not apply.
   */
  readonly recorded?: boolean;
}

/** The largest frame a client may send. */
const MAX_CLIENT_FRAME = 4 * 1024 * 1024;

/** What the server counts. */
export interface InspectorStats {
  /** Clients connected now. */
  clients: number;
  /** Connections refused for their `Origin`. */
  refused: number;
  /** Messages not sent to a client because it was reading too slowly. */
  dropped: number;
  /** Frames from clients relayed, and those ignored (not inspection messages). */
  relayed: number;
  ignored: number;
}

/** The running server. */
export class InspectorServer {
  readonly url: string;
  readonly port: number;
  readonly stats: InspectorStats = { clients: 0, refused: 0, dropped: 0, relayed: 0, ignored: 0 };
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #replay: number;
  readonly #maxClientBuffer: number;
  /** The `@xstate.actor` message and latest snapshot message of every live actor, by session id. */
  readonly #live = new Map<string, { actor: string | undefined; snapshot: string | undefined }>();
  /** The most recent messages: a ring of `#replay` entries. */
  readonly #recent: string[] = [];
  #recentNext = 0;
  readonly #recorded: boolean;
  #stopped: Promise<void> | undefined;

  private constructor(http: Server, wss: WebSocketServer, port: number, options: InspectorServerOptions) {
    this.#http = http;
    this.#wss = wss;
    this.port = port;
    this.url = `http://127.0.0.1:${port}/`;
    this.#recorded = options.recorded ?? false;
    this.#replay = this.#recorded ? Number.POSITIVE_INFINITY : (options.replay ?? 1000);
    this.#maxClientBuffer = options.maxClientBuffer ?? 8 * 1024 * 1024;
  }

  /**
   * Listens on 127.0.0.1 and resolves once it does.
   *
   * @example
   * const server = await InspectorServer.start({ port: 0 })
   * server.publish({ type: '@xstate.event', sessionId: 'x:0', ended: false, json })
   * await server.stop()
   */
  static async start(options: InspectorServerOptions = {}): Promise<InspectorServer> {
    let server: InspectorServer | undefined;
    const http = createServer((request, response) => {
      if (server === undefined) response.writeHead(503).end();
      else server.#page(request, response);
    });
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME });
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (server === undefined) socket.destroy();
      else server.#upgrade(request, socket, head);
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port ?? 0, '127.0.0.1', () => {
        http.off('error', reject);
        resolve();
      });
    });
    server = new InspectorServer(http, wss, (http.address() as AddressInfo).port, options);
    return server;
  }

  /** Sends a message to every client, and keeps what a later client needs of it. */
  publish(message: InspectorMessage): void {
    this.#keep(message.type, message.sessionId, message.ended, message.json);
    for (const client of this.#wss.clients) this.#send(client, message.json);
  }

  /** Closes every connection and the port; resolves once nothing is left open. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      for (const client of this.#wss.clients) client.terminate();
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
      this.#http.closeAllConnections();
      await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    })();
    return this.#stopped;
  }

  #keep(type: string, sessionId: string, ended: boolean, json: string): void {
    if (this.#recorded) {
      // A recording is finite and already in memory: late clients get all of it, as it happened.
      this.#recent.push(json);
      return;
    }
    if (ended) {
      this.#live.delete(sessionId);
    } else if (type === '@xstate.actor') {
      this.#live.set(sessionId, { actor: json, snapshot: undefined });
    } else if (type === '@xstate.snapshot') {
      const live = this.#live.get(sessionId);
      if (live !== undefined) live.snapshot = json;
    }
    // Actor messages are replayed from `#live` while their actor lives; in the ring too they would come twice.
    if (this.#replay === 0 || type === '@xstate.actor') return;
    if (this.#recent.length < this.#replay) this.#recent.push(json);
    else this.#recent[this.#recentNext] = json;
    this.#recentNext = (this.#recentNext + 1) % this.#replay;
  }

  #send(client: WebSocket, json: string): void {
    if (client.readyState !== WebSocket.OPEN) return;
    if (client.bufferedAmount > this.#maxClientBuffer) {
      this.stats.dropped++;
      return;
    }
    client.send(json);
  }

  #allowedOrigin(origin: string | undefined): boolean {
    return origin === undefined || origin === `http://127.0.0.1:${this.port}` || origin === `http://localhost:${this.port}`;
  }

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#stopped !== undefined || !this.#allowedOrigin(request.headers.origin)) {
      this.stats.refused += this.#stopped === undefined ? 1 : 0;
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (client) => this.#connected(client));
  }

  #connected(client: WebSocket): void {
    this.stats.clients++;
    client.once('close', () => this.stats.clients--);
    // A socket error (a reset) ends that client only.
    client.on('error', () => client.terminate());
    for (const { actor, snapshot } of this.#live.values()) {
      if (actor !== undefined) this.#send(client, actor);
      if (snapshot !== undefined) this.#send(client, snapshot);
    }
    const count = this.#recent.length;
    const start = count < this.#replay ? 0 : this.#recentNext;
    for (let i = 0; i < count; i++) this.#send(client, this.#recent[(start + i) % count]!);
    client.on('message', (data: RawData, isBinary: boolean) => this.#relay(client, data, isBinary));
  }

  /** A frame from a client (an app's `createWebSocketInspector`): relayed to the others when it is an inspection message. */
  #relay(from: WebSocket, data: RawData, isBinary: boolean): void {
    const text = isBinary ? undefined : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const message = text === undefined ? undefined : readClientMessage(text);
    if (message === undefined) {
      this.stats.ignored++;
      return;
    }
    this.stats.relayed++;
    this.#keep(message.type, message.sessionId, message.ended, text!);
    for (const client of this.#wss.clients) if (client !== from) this.#send(client, text!);
  }

  #page(request: IncomingMessage, response: ServerResponse): void {
    if (request.method === 'POST' && (request.url ?? '').split('?')[0] === '/test-file') return this.#testFile(request, response);
    const name = (request.url ?? '/').split('?')[0] === '/' ? 'index.html' : (request.url ?? '').split('?')[0]!.slice(1);
    const asset = request.method === 'GET' ? pageAssets().get(name) : undefined;
    if (asset === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
      return;
    }
    const ws = [`ws://127.0.0.1:${this.port}`, `ws://localhost:${this.port}`].join(' ');
    response
      .writeHead(200, {
        'content-type': asset.type,
        'cache-control': 'no-store',
        'content-security-policy': `default-src 'self'; connect-src 'self' ${ws}; img-src 'self' data: blob:; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        'x-content-type-options': 'nosniff',
      })
      .end(asset.body);
  }

  /** `POST /test-file[?actor=<id>]` with an exported session: the test file for it (`test-file.ts`). Same origin only. */
  #testFile(request: IncomingMessage, response: ServerResponse): void {
    const text = (status: number, body: string) => response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    if (!this.#allowedOrigin(request.headers.origin)) return void text(403, 'Forbidden\n');
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_SESSION_BYTES) {
        text(413, 'The session is too large to be made a test file.\n');
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('end', () => {
      try {
        const actor = new URL(request.url ?? '/', 'http://x').searchParams.get('actor') ?? undefined;
        const file = testFileFor(JSON.parse(Buffer.concat(chunks).toString('utf8')), { generatedAt: new Date(), ...(actor === undefined ? {} : { actor }) });
        response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-steps': String(file.steps) }).end(file.source);
      } catch (error) {
        text(400, `Not a session exported from this page: ${(error as Error).message}\n`);
      }
    });
  }
}

/** Largest session the page may send to be made a test file (the page keeps at most 100 000 messages). */
const MAX_SESSION_BYTES = 256 * 1024 * 1024;

/** The page's files (`page/` beside this module, copied into `dist/inspector/page` by the build), read once. */
let assets: Map<string, { type: string; body: Buffer }> | undefined;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
};

/** Only the files found there are served, by exact name: a request names no path of its own. */
function pageAssets(): Map<string, { type: string; body: Buffer }> {
  if (assets !== undefined) return assets;
  const dir = new URL('./page/', import.meta.url);
  assets = new Map();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1)];
    if (type !== undefined) assets.set(name, { type, body: readFileSync(new URL(name, dir)) });
  }
  return assets;
}
