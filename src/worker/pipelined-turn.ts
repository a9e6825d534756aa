// A request pipelined behind one whose answer is not yet sent waits for its turn on the connection
// (server.ts says why it is not handed to the app at once), and meanwhile the connection is not
// read further, as nginx reads no request past the one it is answering. node:http stops reading a
// connection only when its answers back up, and none is written while requests wait their turn: it
// parsed all a client sent, each request and its response kept until then (a client pipelining
// 27-byte GETs behind one slow request grew a worker by 436 MB in 5 s, 1.3 KB of heap per request).
// Read again once the last one waiting has its turn. What is in the read at hand is still parsed:
// node:http's own pause, used here, takes effect after it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Requests on a connection waiting for their turn. */
const WAITING = Symbol('corral.pipelinedWaiting');

/**
 * node:http's connection: `_paused` is its own mark of a connection it stopped reading, its parser
 * paused after the read in hand; reading resumes when the mark is cleared and both resumed.
 */
type PausableSocket = Socket & { _paused?: boolean; parser?: { resume(): void } | null; [WAITING]?: number };

/** Calls `turn` once `res` has the connection (node:http's 'socket'); never if it closes first. */
export function awaitTurn(req: IncomingMessage, res: ServerResponse, turn: () => void): void {
  const socket = req.socket as PausableSocket;
  socket[WAITING] = (socket[WAITING] ?? 0) + 1;
  if (!socket._paused) {
    socket._paused = true;
    socket.pause();
  }
  const closed = (): void => void res.off('socket', onSocket);
  function onSocket(): void {
    socket.off('close', closed);
    socket[WAITING] = (socket[WAITING] ?? 1) - 1;
    // One node:http paused for its answers backing up is resumed by node:http, on their 'drain'.
    if (socket[WAITING] === 0 && socket._paused && !socket.writableNeedDrain) {
      socket._paused = false;
      socket.parser?.resume();
      socket.resume();
    }
    turn();
  }
  res.once('socket', onSocket);
  socket.once('close', closed);
}
