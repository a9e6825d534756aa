// A request pipelined behind one whose answer is not yet sent waits for its turn on the connection
// (server.ts says why it is not handed to the app at once). node:http stops reading a connection
// only when its answers back up, and none is written while requests wait their turn: it parsed all
// a client sent, each request and its response kept until then (a client pipelining 27-byte GETs
// behind one slow request grew a worker by 436 MB in 5 s, 1.3 KB of heap per request). So past
// PIPELINE_READ_AHEAD requests waiting, the connection is not read further until fewer wait, as
// nginx reads no further than it answers. Not at the first one waiting: a request whose head
// came in two reads would then wait unread behind the answers before it, and node's headers
// timeout (CORRAL_HEADERS_TIMEOUT) answered the client 408 for a request it had sent whole. What
// is in the read at hand is still parsed: node:http's own pause, used here, takes effect after it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Requests a connection may have waiting for their turn before it is read no further. */
export const PIPELINE_READ_AHEAD = 32;

/** The requests on a connection waiting for their turn: how each stops waiting if it closes. */
const WAITING = Symbol('corral.pipelinedWaiting');

/**
 * node:http's connection: `_paused` is its own mark of a connection it stopped reading, its parser
 * paused after the read in hand; reading resumes when the mark is cleared and both resumed.
 */
type PausableSocket = Socket & { _paused?: boolean; parser?: { resume(): void } | null; [WAITING]?: Set<() => void> };

/** The requests waiting on `socket`, with one 'close' listener for them all (one each passed the emitter's warning limit). */
function waitingOn(socket: PausableSocket): Set<() => void> {
  let waiting = socket[WAITING];
  if (waiting === undefined) {
    const created = new Set<() => void>();
    socket[WAITING] = created;
    socket.once('close', () => {
      for (const stop of created) stop();
      created.clear();
    });
    waiting = created;
  }
  return waiting;
}

/** Calls `turn` once `res` has the connection (node:http's 'socket'); never if it closes first. */
export function awaitTurn(req: IncomingMessage, res: ServerResponse, turn: () => void): void {
  const socket = req.socket as PausableSocket;
  const waiting = waitingOn(socket);
  const stop = (): void => void res.off('socket', onSocket);
  waiting.add(stop);
  if (waiting.size > PIPELINE_READ_AHEAD && !socket._paused) {
    socket._paused = true;
    socket.pause();
  }
  function onSocket(): void {
    waiting.delete(stop);
    // One node:http paused for its answers backing up is resumed by node:http, on their 'drain'.
    if (waiting.size <= PIPELINE_READ_AHEAD && socket._paused && !socket.writableNeedDrain) {
      socket._paused = false;
      socket.parser?.resume();
      socket.resume();
    }
    turn();
  }
  res.once('socket', onSocket);
}
