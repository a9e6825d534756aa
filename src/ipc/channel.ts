// A typed channel over a Node IPC endpoint (process or cluster worker): messages are tagged on
// send, validated on receipt and dispatched through a handler table; unknown ones are dropped.

import { IPC_TAG, isChildMessage, isMasterMessage, type ChildMessage, type MasterMessage } from './messages.js';

type Handlers<M extends { type: string }> = { [K in M['type']]?: (msg: Extract<M, { type: K }>) => void };

interface Endpoint {
  // Method syntax on purpose: parameters are checked bivariantly, so process, ChildProcess and
  // cluster.Worker (whose send() takes Serializable) all fit.
  send?(message: object, callback?: (error: Error | null) => void): boolean;
  connected?: boolean;
  isConnected?(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * A failed write (EPIPE: the peer closed its end, its death not yet read here) is reported to
 * this callback. Without one, Node emits it as an 'error' event on the process (re-emitted on
 * cluster.worker in a worker), which nothing listens to: a child whose loop was busy when its
 * master died sent its next beat into the closed channel and logged an uncaught exception
 * (worker.uncaught, app.load_failed while booting, keeper.uncaught and exit 70) before its
 * 'disconnect' said the master was gone. The disconnect, or the child's exit, tells the story.
 */
const ignoreSendError = (): void => {};

function connected(ep: Endpoint): boolean {
  if (typeof ep.isConnected === 'function') return ep.isConnected();
  return ep.connected !== false && typeof ep.send === 'function';
}

/** True when the message was handed to the channel; false when there is no channel to the peer. */
function sendTagged(ep: Endpoint, msg: object): boolean {
  if (!connected(ep) || !ep.send) return false;
  try {
    // send() returns false when the channel is merely backlogged (the message is queued and still
    // delivered): that is not a failure, so its result is not passed on.
    ep.send({ tag: IPC_TAG, ...msg }, ignoreSendError);
    return true;
  } catch {
    return false;
  }
}

/** Used by a child process to talk to the master. */
export function childChannel(ep: Endpoint = process as unknown as Endpoint) {
  return {
    send: (msg: ChildMessage) => sendTagged(ep, msg),
    listen(handlers: Handlers<MasterMessage>) {
      ep.on('message', (raw) => {
        if (!isMasterMessage(raw)) return;
        (handlers[raw.type] as ((m: MasterMessage) => void) | undefined)?.(raw);
      });
    },
  };
}

/** Used by the master to talk to one child (a cluster worker or a forked process). */
export function masterChannel(ep: Endpoint) {
  return {
    send: (msg: MasterMessage) => sendTagged(ep, msg),
    listen(handlers: Handlers<ChildMessage>) {
      ep.on('message', (raw) => {
        if (!isChildMessage(raw)) return;
        (handlers[raw.type] as ((m: ChildMessage) => void) | undefined)?.(raw);
      });
    },
  };
}

export type ChildChannel = ReturnType<typeof childChannel>;
export type MasterChannel = ReturnType<typeof masterChannel>;
