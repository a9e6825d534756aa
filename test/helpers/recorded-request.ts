// One HTTP request over node:http that never throws: it resolves with what happened, including
// what a test needs to judge a failed one: the client-side port of its connection (to match it
// against the connections a killed worker held), when that connection was opened, whether it was
// reused from the keep-alive pool (a request can race the server closing an idle connection), and
// whether any of the answer arrived before the failure. It can also lose a success on purpose: cut
// the connection as the answer's head arrives, as a network that drops the answer does, so that the
// server has done the work and the client does not know it.

import { request, type Agent } from 'node:http';
import type { Socket } from 'node:net';

export interface Outcome {
  readonly method: string;
  readonly path: string;
  readonly startedAt: number;
  readonly endedAt: number;
  /** The HTTP status, when an answer's head arrived. */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** The whole body, when it arrived whole. */
  readonly text?: string;
  /** The transport failure: an errno code (ECONNRESET, ...) or TIMEOUT; undefined for an answer received whole. */
  readonly failure?: string;
  readonly localPort?: number;
  /** When the connection carrying the request was opened. */
  readonly connectedAt?: number;
  readonly reusedSocket: boolean;
  /** The answer was a 2xx and the client cut the connection at its head, reading none of it (`loseSuccess`). */
  readonly lost?: true;
}

/** Times each socket was opened at; a pooled socket keeps its first. */
const openedAt = new WeakMap<Socket, { port: number; at: number }>();

export interface RecordedRequestOptions {
  readonly port: number;
  readonly method: string;
  readonly path: string;
  readonly agent: Agent | false;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** The whole exchange (connect, head and body) must end within this, else TIMEOUT. */
  readonly timeoutMs: number;
  /**
   * Cut the connection as soon as the head of a 2xx answer arrives and read none of its body: the
   * outcome has the status and `lost`, no text. Other answers are read whole, as without it.
   */
  readonly loseSuccess?: boolean;
}

export function recordedRequest(o: RecordedRequestOptions): Promise<Outcome> {
  const startedAt = Date.now();
  return new Promise<Outcome>((resolve) => {
    let socket: Socket | undefined;
    let status: number | undefined;
    let headers: Outcome['headers'];
    let settled = false;
    const req = request({ host: '127.0.0.1', port: o.port, method: o.method, path: o.path, agent: o.agent, headers: { ...o.headers, ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}) } });
    const settle = (result: { failure?: string; text?: string; lost?: true }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const opened = socket ? openedAt.get(socket) : undefined;
      resolve({
        method: o.method,
        path: o.path,
        startedAt,
        endedAt: Date.now(),
        ...(status !== undefined ? { status } : {}),
        ...(headers ? { headers } : {}),
        ...result,
        ...(opened ? { localPort: opened.port, connectedAt: opened.at } : {}),
        reusedSocket: req.reusedSocket,
      });
    };
    const timer = setTimeout(() => {
      settle({ failure: 'TIMEOUT' });
      req.destroy();
    }, o.timeoutMs);
    req.on('socket', (s: Socket) => {
      socket = s;
      if (openedAt.has(s)) return;
      const note = () => {
        if (s.localPort !== undefined) openedAt.set(s, { port: s.localPort, at: Date.now() });
      };
      if (s.connecting) s.once('connect', note);
      else note();
    });
    req.on('error', (err: NodeJS.ErrnoException) => settle({ failure: err.code ?? err.message }));
    req.on('response', (res) => {
      status = res.statusCode;
      headers = res.headers;
      if (o.loseSuccess && status !== undefined && status >= 200 && status < 300) {
        settle({ lost: true });
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => settle({ text: Buffer.concat(chunks).toString('utf8') }));
      res.on('aborted', () => settle({ failure: 'ABORTED_MID_ANSWER' }));
      res.on('error', (err: NodeJS.ErrnoException) => settle({ failure: err.code ?? err.message }));
    });
    req.end(o.body);
  });
}
