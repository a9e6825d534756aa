// What a Redis says, unasked, to a connection it refuses: protected mode's DENIED (no password
// set, and this host not on its loopback) and maxclients, each written as the connection opens,
// then the connection closed. A client writes its first commands as it connects, before Redis has
// accepted the connection; Redis then closes it with them unread, which resets it, and the client
// sees only "write EPIPE" or "read ECONNRESET", its reason lost. A connection that sends nothing
// is told it: asked so when a connection closed before it was ready, its reason unheard.

import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ReplyError, type RedisOptions } from 'ioredis';

/** The errors Redis greets a connection with and then closes it. */
const CLOSING_REPLY = /^-(DENIED |ERR max number of clients reached)[^\r\n]*/;

/** The error `chunk`, a connection's first bytes, says Redis closed it with (a ReplyError), or undefined. */
export function closingReplyIn(chunk: Buffer): Error | undefined {
  const said = CLOSING_REPLY.exec(chunk.toString('latin1', 0, 1024))?.[0];
  return said ? new (ReplyError as new (message: string) => Error)(said.slice(1)) : undefined;
}

/**
 * Opens a connection to where `options` point, sends nothing, and resolves with the error Redis
 * greets it with before closing it, or undefined (nothing said within `waitMs`, or no connection).
 */
export function closingGreeting(options: RedisOptions, waitMs = 500): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let socket: Socket;
    try {
      socket = options.path
        ? netConnect(options.path)
        : options.tls
          ? tlsConnect({ ...options.tls, host: options.host ?? 'localhost', port: options.port ?? 6379, servername: options.tls.servername ?? options.host })
          : netConnect(options.port ?? 6379, options.host ?? 'localhost');
    } catch {
      resolve(undefined);
      return;
    }
    const timer = setTimeout(() => done(undefined), waitMs);
    timer.unref();
    function done(said: Error | undefined): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(said);
    }
    socket.once('data', (chunk: Buffer) => done(closingReplyIn(chunk)));
    socket.on('error', () => done(undefined));
    socket.once('close', () => done(undefined));
  });
}
