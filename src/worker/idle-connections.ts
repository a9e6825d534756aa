// Which of a worker's connections may give their slot to a new one at the connection cap
// (connection-cap.ts), and how many there are (the capacity status counts them apart). Two kinds:
// - keep-alive connections between requests for ANSWERED_GRACE_MS (250 ms) or more: their last
//   answer sent that long ago, no byte of a next request read since. Longest idle first (a Map keeps
//   insertion order), each with its byte count when its answer was sent: a count that moved since
//   means a next request has begun to arrive, and the connection is no longer idle even before
//   node:http has parsed it. Bytes of a next request read before the answer was sent (a client
//   that pipelines, or sends its next request in pieces) are in that count already: for those,
//   node:http's parser says a request has begun and not ended (requestUnderway). Closing such a
//   connection drops a request the client sent.
//   Why the grace: a count that has not moved says only that the worker has not read the next
//   request yet. A busy worker reads it a turn of its event loop later; meanwhile it sits in the
//   kernel's buffer. Counted idle from the moment its answer left, every connection of a client
//   that sends its next request at once (a load balancer's pool, a load generator) read as idle
//   at every heartbeat, so a worker serving 200 such connections at 100 % CPU said LOW 1 %; and at
//   the cap each new client closed one of them with a request on it (reset, unanswered, counted
//   nowhere: about 4 lost requests per newcomer). Within the grace a keep-alive connection counts
//   busy. The grace is many turns of a loaded loop (a few ms each), and short of a client that
//   polls: at a second, a client reusing its connection every 0.7 s never gave way, and an idle
//   host refused newcomers at its cap while its clients merely kept their connections warm.
// - connections that have sent nothing since they were accepted, for SILENT_GRACE_MS or more (a
//   browser's preconnect, a client that connected and went quiet). Without this one, each held its
//   slot until the headers timeout while new clients got the 503. Within the grace the first
//   request is usually on its way: a client writes it as soon as it is connected.
// Keep-alive ones give way first: they have had their answer; a silent one may still be slow to start.
//
// Nothing here runs per request beyond what connection-cap.ts already did (one Map delete, one
// Map set, the byte count kept on the socket): a silent connection stays listed after its first
// byte, and is dropped from the list when it closes, or when a look for an idle one or a count
// finds it has spoken.

import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long a connection that has sent nothing must have waited to count as idle. */
export const SILENT_GRACE_MS = 1000;

/**
 * How long a keep-alive connection must have sat since its answer, no byte read, to count as idle:
 * well over a turn of a busy worker's event loop (a few ms under load, tens in a long GC pause),
 * in which the next request may wait unread; well under a polling client's interval.
 */
export const ANSWERED_GRACE_MS = 250;

/** The connection's byte count when its last answer was sent. */
const READ_AT_ANSWER = Symbol('corral.readAtAnswer');

/**
 * node:http keeps the response being written on a connection as `_httpMessage` (null between
 * requests), and the connection's parser as `parser`, whose `duration()` is the milliseconds
 * since the request being parsed began: 0 once it has ended, until the first byte of the next
 * (node:http times headersTimeout and requestTimeout with it).
 */
export type TrackedSocket = Socket & { _httpMessage?: ServerResponse | null; parser?: { duration(): number } | null; [READ_AT_ANSWER]?: number };

/** Whether a request has begun to arrive on a connection between requests, and has not ended. */
function requestUnderway(socket: TrackedSocket): boolean {
  return (socket.parser?.duration() ?? 0) > 0;
}

export interface IdleConnections {
  /** A connection counted against the cap was accepted: silent until its first byte. */
  accepted(socket: TrackedSocket, now: number): void;
  /** Its answer was sent and no other request waits on it: idle once ANSWERED_GRACE_MS passed with nothing read. */
  answered(socket: TrackedSocket, now: number): void;
  /** A request began on it: not idle. */
  busy(socket: TrackedSocket): void;
  /** Closed, or given way: no longer listed. */
  remove(socket: TrackedSocket): void;
  /** The connection to give way first, left listed; undefined when none is idle. */
  first(now: number): TrackedSocket | undefined;
  /** Connections idle now (keep-alive and silent ones past their grace). */
  count(now: number): number;
  /** The connections that have sent nothing since they were accepted, SILENT_GRACE_MS or more ago. */
  silentPastGrace(now: number): TrackedSocket[];
}

export function createIdleConnections(): IdleConnections {
  /** Between requests, in the order their answers were sent, with when. */
  const keepAlive = new Map<TrackedSocket, number>();
  /** Accepted and not known to have spoken, in the order they came, with when. */
  const silent = new Map<TrackedSocket, number>();

  /** Whether a listed keep-alive connection is still between requests; drops it when not. */
  const stillIdle = (socket: TrackedSocket): boolean => {
    if (socket._httpMessage || socket.bytesRead !== socket[READ_AT_ANSWER] || socket.destroyed || requestUnderway(socket)) {
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

  /** The listed connections still silent SILENT_GRACE_MS after they were accepted. */
  const silentPastGrace = (now: number): TrackedSocket[] => {
    const found: TrackedSocket[] = [];
    for (const [socket, since] of silent) {
      // Listed in the order they came: the ones after it have waited less.
      if (now - since < SILENT_GRACE_MS) break;
      if (stillSilent(socket)) found.push(socket);
    }
    return found;
  };

  return {
    accepted(socket, now) {
      silent.set(socket, now);
    },
    answered(socket, now) {
      keepAlive.delete(socket);
      socket[READ_AT_ANSWER] = socket.bytesRead;
      keepAlive.set(socket, now);
    },
    busy(socket) {
      keepAlive.delete(socket);
    },
    remove(socket) {
      keepAlive.delete(socket);
      silent.delete(socket);
    },
    first(now) {
      for (const [socket, since] of keepAlive) {
        if (!stillIdle(socket)) continue;
        // Listed in the order their answers left: the ones after it were answered later.
        if (now - since < ANSWERED_GRACE_MS) break;
        return socket;
      }
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
      for (const [socket, since] of keepAlive) {
        if (now - since < ANSWERED_GRACE_MS) break;
        if (stillIdle(socket)) n++;
      }
      return n + silentPastGrace(now).length;
    },
    silentPastGrace,
  };
}
