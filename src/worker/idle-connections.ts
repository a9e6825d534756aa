// Which of a worker's connections may give their slot to a new one at the connection cap
// (connection-cap.ts), and how many there are (the capacity status counts them apart). Two kinds:
// - keep-alive connections between requests: their last answer sent, no byte of a next request
//   read. Longest idle first (a Map keeps insertion order), each with its byte count when its
//   answer was sent: a count that moved since means a next request has begun to arrive, and the
//   connection is no longer idle even before node:http has parsed it. Bytes of a next request
//   read before the answer was sent (a client that pipelines, or sends its next request in
//   pieces) are in that count already: for those, node:http's parser says a request has begun
//   and not ended (requestUnderway). Closing such a connection drops a request the client sent.
// - connections that have sent nothing since they were accepted, for SILENT_GRACE_MS or more (a
//   browser's preconnect, a client that connected and went quiet). Without this one, each held its
//   slot until the headers timeout while new clients got the 503. Within the grace the first
//   request is usually on its way: a client writes it as soon as it is connected.
// Keep-alive ones give way first: they have had their answer; a silent one may still be slow to start.
//
// Nothing here runs per request beyond what connection-cap.ts already did (one Map delete, one
// Map set): a silent connection stays listed after its first byte, and is dropped from the list
// when it closes, or when a look for an idle one or a count finds it has spoken.

import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long a connection that has sent nothing must have waited to count as idle. */
export const SILENT_GRACE_MS = 1000;

/**
 * node:http keeps the response being written on a connection as `_httpMessage` (null between
 * requests), and the connection's parser as `parser`, whose `duration()` is the milliseconds
 * since the request being parsed began: 0 once it has ended, until the first byte of the next
 * (node:http times headersTimeout and requestTimeout with it).
 */
export type TrackedSocket = Socket & { _httpMessage?: ServerResponse | null; parser?: { duration(): number } | null };

/** Whether a request has begun to arrive on a connection between requests, and has not ended. */
function requestUnderway(socket: TrackedSocket): boolean {
  return (socket.parser?.duration() ?? 0) > 0;
}

export interface IdleConnections {
  /** A connection counted against the cap was accepted: silent until its first byte. */
  accepted(socket: TrackedSocket, now: number): void;
  /** Its answer was sent and no other request waits on it: idle from now. */
  answered(socket: TrackedSocket): void;
  /** A request began on it: not idle. */
  busy(socket: TrackedSocket): void;
  /** Closed, or given way: no longer listed. */
  remove(socket: TrackedSocket): void;
  /** The connection to give way first, left listed; undefined when none is idle. */
  first(now: number): TrackedSocket | undefined;
  /** Connections idle now (keep-alive ones whose answer has left, silent ones past the grace). */
  count(now: number): number;
  /**
   * Keep-alive connections listed between requests, without checking them: the idle keep-alive
   * ones and those whose answer is still leaving (busy-peak.ts's cheap bound).
   */
  keepAliveListed(): number;
}

export function createIdleConnections(): IdleConnections {
  const keepAlive = new Map<TrackedSocket, number>();
  /** Accepted and not known to have spoken, in the order they came, with when. */
  const silent = new Map<TrackedSocket, number>();

  /** Whether a listed keep-alive connection is still between requests; drops it when not. */
  const stillIdle = (socket: TrackedSocket, bytesRead: number): boolean => {
    if (socket._httpMessage || socket.bytesRead !== bytesRead || socket.destroyed || requestUnderway(socket)) {
      keepAlive.delete(socket);
      return false;
    }
    // Its answer is still on its way to the client: not idle yet.
    return socket.writableLength === 0;
  };

  /** Whether a listed silent connection is still silent; drops it when not. */
  const stillSilent = (socket: TrackedSocket): boolean => {
    if (socket.bytesRead > 0 || socket._httpMessage || socket.destroyed) {
      silent.delete(socket);
      return false;
    }
    return true;
  };

  return {
    accepted(socket, now) {
      silent.set(socket, now);
    },
    answered(socket) {
      keepAlive.delete(socket);
      keepAlive.set(socket, socket.bytesRead);
    },
    busy(socket) {
      keepAlive.delete(socket);
    },
    remove(socket) {
      keepAlive.delete(socket);
      silent.delete(socket);
    },
    first(now) {
      for (const [socket, bytesRead] of keepAlive) if (stillIdle(socket, bytesRead)) return socket;
      for (const [socket, since] of silent) {
        if (!stillSilent(socket)) continue;
        // Listed in the order they came: the ones after it have waited less.
        if (now - since < SILENT_GRACE_MS) return undefined;
        return socket;
      }
      return undefined;
    },
    count(now) {
      let n = 0;
      for (const [socket, bytesRead] of keepAlive) if (stillIdle(socket, bytesRead)) n++;
      for (const [socket, since] of silent) if (stillSilent(socket) && now - since >= SILENT_GRACE_MS) n++;
      return n;
    },
    keepAliveListed: () => keepAlive.size,
  };
}
