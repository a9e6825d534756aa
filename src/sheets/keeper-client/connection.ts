// One keep-alive HTTP/1.1 connection from a worker to the keeper's unix socket, one request at a
// time. It reads with net's `onread` callback, not with a stream.
//
// Why not node:http (or undici): any code in a worker that reads a socket through Node's Readable
// streams makes the stream functions every served request runs (the request body's end, its dump,
// `resume`, `flow`) see a second kind of object, and V8 then runs them slower for every request.
// Measured on a bare node:cluster server (2 workers, 100 connections at a fixed 8.5k req/s): one
// raw socket in each worker that received a few bytes through 'data' every 200 ms cost 15 µs of
// CPU per served request (77 against 63 µs); the same socket read through `onread` cost nothing
// (60 µs); a node:http client request did the same harm as 'data'. corral's link to the keeper,
// with its long poll always open, cost its cached GET about 14 µs per request (issue 6).

import { connect, type Socket } from 'node:net';
import { ResponseParser, type ParsedResponse } from './response-parser.js';

/**
 * An idle connection is closed by the worker after this long, before the keeper's keep-alive
 * timeout (65 s) closes it: the end of a socket read through `onread` still passes through the
 * stream code once, which the rest of this file keeps out of the worker.
 */
export const IDLE_CLOSE_MS = 30_000;

/**
 * A request that never left the worker: its connection failed before it was made (the socket
 * missing, or nothing listening on it: ENOENT, ECONNREFUSED, EAGAIN). The request is written only
 * once connected, so the keeper cannot have acted on it (keeper-link.ts: an append so failed was
 * not saved). A failure after the connect may have reached the keeper, and is a plain Error.
 */
export class NotConnectedError extends Error {
  readonly code: string | undefined;
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = 'NotConnectedError';
    this.code = (cause as NodeJS.ErrnoException).code;
  }
}

/** Reused for every read of every connection: `onread` copies into it, the parser copies out. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export interface RequestOptions {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
  /** Longest silence while waiting for the answer. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

interface Pending {
  readonly parser: ResponseParser;
  resolve(r: ParsedResponse): void;
  reject(err: Error): void;
}

export class KeeperConnection {
  private readonly socket: Socket;
  private pending: Pending | undefined;
  private connected = false;
  private broken = false;

  /** `headers`: lines sent with every request, each ending in CRLF (the worker's destination, keeper-link.ts). */
  constructor(
    socketPath: string,
    private readonly idleCloseMs: number = IDLE_CLOSE_MS,
    private readonly headers: string = '',
  ) {
    this.socket = connect({
      path: socketPath,
      // A view, not a copy: the parser copies the bytes it keeps (a copy of every read here, then
      // the parser's own, held a large answer twice over while it arrived).
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => this.onData(Buffer.from(buf.buffer, buf.byteOffset, n)) },
    });
    this.socket.on('connect', () => (this.connected = true));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error(this.connected ? 'the keeper closed the connection before answering' : 'the keeper socket closed')));
    this.socket.on('timeout', () => {
      if (this.pending) this.socket.destroy(new Error('timeout'));
      else this.retire();
    });
  }

  /** False once the connection failed, closed, or the keeper asked to close it. */
  usable(): boolean {
    return !this.broken;
  }

  request(o: RequestOptions): Promise<ParsedResponse> {
    if (this.pending || this.broken) return Promise.reject(new Error('keeper connection not available'));
    return new Promise<ParsedResponse>((resolve, reject) => {
      const onAbort = () => this.socket.destroy(new Error('aborted'));
      const settle = () => {
        o.signal?.removeEventListener('abort', onAbort);
        this.socket.setTimeout(this.idleCloseMs);
        // An idle connection does not keep the worker alive (as node:http's agents do).
        this.socket.unref();
        this.pending = undefined;
      };
      this.pending = {
        parser: new ResponseParser(),
        resolve: (r) => {
          settle();
          resolve(r);
        },
        reject: (err) => {
          settle();
          reject(o.timeoutMs > 0 && err.message === 'timeout' ? new Error(`no answer from the keeper in ${o.timeoutMs} ms`) : err);
        },
      };
      if (o.signal?.aborted) return onAbort();
      o.signal?.addEventListener('abort', onAbort, { once: true });
      this.socket.ref();
      this.socket.setTimeout(o.timeoutMs);
      const body = o.body ?? '';
      const head =
        `${o.method} ${o.path} HTTP/1.1\r\nHost: keeper\r\nConnection: keep-alive\r\n${this.headers}` +
        (o.body !== undefined ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '') +
        '\r\n';
      this.socket.write(head + body);
    });
  }

  /** Idempotent. A request on its way fails. */
  close(): void {
    this.socket.destroy();
  }

  /** Always true: the connection keeps reading (false would pause it). */
  private onData(chunk: Buffer): boolean {
    const p = this.pending;
    if (!p) {
      // Bytes nobody asked for: this connection is out of step with the keeper.
      this.socket.destroy(new Error('unexpected bytes from the keeper'));
      return true;
    }
    let done: ParsedResponse | undefined;
    try {
      done = p.parser.push(chunk);
    } catch (err) {
      this.socket.destroy(new Error(`malformed answer from the keeper: ${(err as Error).message}`));
      return true;
    }
    if (!done) return true;
    p.resolve(done);
    if (done.close) this.retire();
    return true;
  }

  private fail(err: Error): void {
    this.retire();
    this.pending?.reject(this.connected ? err : new NotConnectedError(err));
  }

  private retire(): void {
    if (this.broken) return;
    this.broken = true;
    this.socket.destroy();
  }
}
