// A request pipelined behind one whose answer is not yet sent waits for its turn on the connection
// (server.ts says why it is not handed to the app at once). node:http stops reading a connection
// only when its answers back up, and none is written while requests wait their turn: it parsed all
// a client sent, each request and its response kept until then (a client pipelining 27-byte GETs
// behind one slow request grew a worker by 436 MB in 5 s, 1.3 KB of heap per request). So past
// PIPELINE_READ_AHEAD requests waiting, the connection is not read further until fewer wait, as
// nginx reads no further than it answers. Not at the first one waiting: a client pipelining a
// few requests has them all read, a head that came in two reads whole. What is in the read at
// hand is still parsed: node:http's own pause, used here, takes effect after it, and the request
// that read's end cut in two waits unread. node:http's request timeouts do not count that wait
// against the client (unread-timeout.ts): they answered it 408 for a request it had sent whole.
//
// That read is up to 64 KiB: about 2,400 27-byte GETs, some 2 KB of heap each, about 5 MB held per
// connection for as long as the answer before them waits (a slow route, or a client that reads
// none of its answers: until the send timeout cuts it, 60 to 90 s). Many connections doing it
// (the connection cap allows 1000 a worker by default) ran the worker out of heap, and its abort
// dropped every connection it held: 150 such connections, 10 MB sent, took a 512 MB heap. So the
// requests waiting in the whole worker have a budget: past it, a connection with more than
// PIPELINE_READ_AHEAD waiting is closed, none of them run (as behind any answer that closes).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { APP_CUT } from '../contract.js';

/** Requests a connection may have waiting for their turn before it is read no further. */
export const PIPELINE_READ_AHEAD = 32;

/**
 * Requests the whole worker may have waiting for their turn (about 2 KB of heap each: some 64 MB)
 * before a connection with more than PIPELINE_READ_AHEAD of them is closed. One client pipelining
 * deeply stays well within it (one read of its requests at a time: about 2,400).
 */
export const PIPELINE_WAITING_BUDGET = 32_768;

/** The requests on a connection waiting for their turn: how each stops waiting if it closes. */
const WAITING = Symbol('corral.pipelinedWaiting');

/** Requests waiting for their turn on all of this worker's connections. */
let waitingInWorker = 0;

/** Requests waiting for their turn on all of this worker's connections now. */
export function pipelinedWaiting(): number {
  return waitingInWorker;
}

/** A connection closed for its requests waiting past the worker's budget. */
export interface PipelineCut {
  /** Requests that were waiting on it, none of them run. */
  readonly waiting: number;
  readonly remote: string | undefined;
}

/**
 * node:http's connection: `_paused` is its own mark of a connection it stopped reading, its parser
 * paused after the read in hand; reading resumes when the mark is cleared and both resumed.
 * `_httpMessage`: the answer being written on it, the one the waiting requests are behind.
 */
type PausableSocket = Socket & { _paused?: boolean; parser?: { resume(): void } | null; _httpMessage?: ServerResponse | null; [WAITING]?: Set<() => void> };

/** The requests waiting on `socket`, with one 'close' listener for them all (one each passed the emitter's warning limit). */
function waitingOn(socket: PausableSocket): Set<() => void> {
  let waiting = socket[WAITING];
  if (waiting === undefined) {
    const created = new Set<() => void>();
    socket[WAITING] = created;
    socket.once('close', () => {
      waitingInWorker -= created.size;
      for (const stop of created) stop();
      created.clear();
    });
    waiting = created;
  }
  return waiting;
}

/**
 * Calls `turn` once `res` has the connection (node:http's 'socket'); never if it closes first.
 * `onCut`: the connection was closed for the worker's budget of waiting requests.
 */
export function awaitTurn(req: IncomingMessage, res: ServerResponse, turn: () => void, onCut?: (cut: PipelineCut) => void): void {
  const socket = req.socket as PausableSocket;
  // Closed while node:http parses the rest of the read at hand (cut below): never run.
  if (socket.destroyed) return;
  const waiting = waitingOn(socket);
  const stop = (): void => void res.off('socket', onSocket);
  waiting.add(stop);
  waitingInWorker++;
  if (waiting.size > PIPELINE_READ_AHEAD) {
    if (waitingInWorker > PIPELINE_WAITING_BUDGET) {
      // The answer being written is cut by the worker: its access line's 499 says so.
      const current = socket._httpMessage as (ServerResponse & { [APP_CUT]?: unknown }) | null | undefined;
      if (current) current[APP_CUT] ??= 'pipeline_overflow';
      onCut?.({ waiting: waiting.size, remote: socket.remoteAddress });
      socket.destroy();
      return;
    }
    if (!socket._paused) {
      socket._paused = true;
      socket.pause();
    }
  }
  function onSocket(): void {
    waiting.delete(stop);
    waitingInWorker--;
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
