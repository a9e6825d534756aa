// A connection over the cap (connection-cap.ts), refused: what refused it, marked on its socket as
// it arrived, and its 503 "server full" with Retry-After, written through node:http once its
// request is read (the cap's screen()), or on the raw socket before that: at once when no
// descriptor is to spare, or at its deadline while it still sends its headers. A file of its own:
// the cap decides which connections have a slot and counts them; this is only what a connection
// without one is answered, and when it is closed. The cap's refusal count is given as `count`,
// called where it was before (before the answer is written).

import { statusOf, type HttpErrorCode } from '../errors.js';
import { jsonHeaders } from '../http/json.js';
import type { TrackedSocket } from './idle-connections.js';

export const OVER_CAP = Symbol('corral.overCap');
/** Set on an over-cap connection once its 503 is written (from its request, or at its deadline). */
export const ANSWERED = Symbol('corral.overCapAnswered');
/**
 * How long an over-cap connection's upload is read and dropped after its 503, so that a client
 * still sending it reads the 503 rather than a reset (lingering-close.ts). Short: the connection
 * holds no slot but does hold a descriptor and the parser's time, and its client is told to retry
 * in a second anyway.
 */
export const OVER_CAP_LINGER_MS = 1000;

/**
 * What refused a connection, decided as it arrived. Kept on the socket: its 503 is written when
 * its request has been read, and by then other connections have moved the counts (a host-wide
 * refusal was logged as this worker's own cap, "1/20", while its client read "server full (20/20)").
 */
export interface Refusal {
  /** The count that was at its cap, and that cap: the host's, or this worker's own. */
  readonly current: number;
  readonly max: number;
  /** The whole host was full (its gauge, or the master's FULL), not only this worker. */
  readonly host: boolean;
}

export type CappedSocket = TrackedSocket & { [OVER_CAP]?: Refusal; [ANSWERED]?: true };

/** The 503's body and headers, whether it goes out through node:http or on the raw socket. */
export function refusalAnswer(refusal: Refusal): { body: string; headers: ReturnType<typeof jsonHeaders> } {
  const body = JSON.stringify({ error: 'server_full' satisfies HttpErrorCode, message: `server full (${refusal.current}/${refusal.max})`, retry_after: 1 });
  return { body, headers: jsonHeaders(Buffer.byteLength(body), { 'Retry-After': '1', Connection: 'close' }) };
}

/** The 503 written on the raw socket, for a connection refused before its request was read. */
function rawRefusal(refusal: Refusal): string {
  const { body, headers } = refusalAnswer(refusal);
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  // Date as node:http sends it on every answer (RFC 9110 §6.6.1).
  return `HTTP/1.1 ${statusOf('server_full')} Service Unavailable\r\ndate: ${new Date().toUTCString()}\r\n${head}\r\n${body}`;
}

/**
 * No descriptor to spare for reading its request: the 503 goes out before it (HTTP clients read
 * an answer that comes early), and the connection closes as soon as it is written.
 */
export function refuseNow(socket: CappedSocket, refusal: Refusal, count: (refusal: Refusal) => void): void {
  count(refusal);
  socket.end(rawRefusal(refusal));
  // end() waits for the client's own end, which one that sends nothing never sends.
  socket.once('finish', () => socket.destroy());
  socket.setTimeout(OVER_CAP_LINGER_MS, () => socket.destroy());
}

/**
 * An over-cap connection whose request has not been read whole OVER_CAP_IDLE_MS after it
 * arrived. One that sent nothing is closed. One still sending its headers gets its 503 now, on
 * the raw socket, and what it still sends is read and dropped for OVER_CAP_LINGER_MS at most;
 * if the parser then reads its request whole, screen() leaves it unanswered (it has its 503).
 */
export function overCapDeadline(socket: CappedSocket, refusal: Refusal, count: (refusal: Refusal) => void): void {
  if (socket.destroyed || socket[ANSWERED]) return;
  if (socket.bytesRead === 0 || !socket.writable) {
    socket.destroy();
    return;
  }
  socket[ANSWERED] = true;
  count(refusal);
  socket.end(rawRefusal(refusal));
  const cut = setTimeout(() => socket.destroy(), OVER_CAP_LINGER_MS);
  socket.once('close', () => clearTimeout(cut));
}
