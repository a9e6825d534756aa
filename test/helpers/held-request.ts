// A connection that holds a slot of the connection cap for sure: it sends a whole request and, in
// the same write, the head of a second one without its final empty line. The first answer says
// whether the connection got a slot (any answer but `503 server_full`); from then on the worker
// has a request that has begun to arrive and has not ended, so the connection counts as busy and
// never gives its slot to a new one (README, "Idle connections give way"). `release()` sends the
// rest of the second request and resolves with its answer.
//
// The held head ends in an open header line, to which one byte is added every TRICKLE_MS: node:http
// closes a keep-alive connection whose next request has stopped arriving when its keep-alive
// timeout (CORRAL_KEEPALIVE, 5 s by default) runs out after the last byte, as it does an idle one.
// A held request must stay held however long the cap takes to fill: in a fresh-clone CI the chaos
// soak's fill took about 6 s, its first holders were closed that way, and the probes took their
// slots (200 where 503 was due).

import { connect, type Socket } from 'node:net';

/** Well under the shortest keep-alive timeout (1 s, CORRAL_KEEPALIVE's smallest non-zero value). */
const TRICKLE_MS = 250;

export interface HeldAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
  readonly ms: number;
}

export interface HeldRequest {
  /** The answer to the whole first request, or the transport failure that came instead. */
  readonly first: HeldAnswer | { readonly failure: string };
  /** Completes the held request and resolves with its answer (or the failure), within `timeoutMs`. */
  release(): Promise<HeldAnswer | { readonly failure: string }>;
  /** Closes the connection; idempotent. */
  close(): void;
}

export interface HeldRequestOptions {
  readonly port: number;
  /** The whole request answered first (a GET). */
  readonly firstPath: string;
  /** The request whose head is held (a GET, `Connection: close`). */
  readonly heldPath: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** Answers read off one connection in order: heads, then bodies by Content-Length. */
class AnswerReader {
  private buffer = Buffer.alloc(0);
  private waiter: ((a: HeldAnswer | { failure: string }) => void) | undefined;
  private failure: string | undefined;
  private startedAt = Date.now();

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.tryAnswer();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code ?? err.message));
    socket.on('close', () => this.fail('CLOSED_UNANSWERED'));
  }

  /** The next answer on the connection; timed from this call. */
  next(timeoutMs: number): Promise<HeldAnswer | { failure: string }> {
    this.startedAt = Date.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve({ failure: 'TIMEOUT' });
      }, timeoutMs);
      this.waiter = (a) => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(a);
      };
      this.tryAnswer();
    });
  }

  private fail(failure: string): void {
    this.failure ??= failure;
    this.tryAnswer();
  }

  private tryAnswer(): void {
    if (!this.waiter) return;
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end >= 0) {
      const [statusLine = '', ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? NaN);
      if (!Number.isInteger(length)) {
        this.waiter({ failure: `NO_CONTENT_LENGTH (${statusLine})` });
        return;
      }
      if (this.buffer.length >= end + 4 + length) {
        const text = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
        this.buffer = this.buffer.subarray(end + 4 + length);
        this.waiter({ status: Number(statusLine.split(' ')[1]), headers, text, ms: Date.now() - this.startedAt });
        return;
      }
    }
    if (this.failure !== undefined) this.waiter({ failure: this.failure });
  }
}

export async function holdRequest(o: HeldRequestOptions): Promise<HeldRequest> {
  const socket = connect({ host: '127.0.0.1', port: o.port });
  socket.on('error', () => {
    // Reported by the reader as the answer's failure.
  });
  const reader = new AnswerReader(socket);
  const head = (path: string, extra: Record<string, string>) =>
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\n${Object.entries({ ...o.headers, ...extra })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}`;
  const answer = reader.next(o.timeoutMs);
  socket.write(`${head(o.firstPath, {})}\r\n${head(o.heldPath, { connection: 'close' })}x-held: `);
  const trickle = setInterval(() => socket.write('h'), TRICKLE_MS);
  socket.once('close', () => clearInterval(trickle));
  const first = await answer;
  return {
    first,
    release() {
      clearInterval(trickle);
      const held = reader.next(o.timeoutMs);
      socket.write('\r\n\r\n');
      return held.finally(() => socket.destroy());
    },
    close: () => socket.destroy(),
  };
}
