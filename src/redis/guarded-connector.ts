// ioredis listens for a connection socket's errors with once(): a socket that errs twice (a TLS
// handshake refused for its certificate, then the server's alert as it closes) raised the second
// as an uncaught exception, which would end the keeper (ioredis #961/#962, left open upstream; a
// CI run of the TLS test caught it). Every socket the client opens gets a listener of its own for
// the errors after the first, which ioredis reports and which is all there is to say.
//
// And it keeps the error a Redis greets a connection with before closing it, unasked: protected
// mode (DENIED: no password set, and this host not on Redis's loopback) and maxclients. ioredis
// takes it as the answer to the CLIENT SETINFO it sends first, whose errors it ignores, and then
// sees only the connection closed; the link says Redis's words instead (closingReply). When the
// connection is reset before they are read, greeting.ts asks again.

import { createRequire } from 'node:module';
import type { RedisOptions } from 'ioredis';
import { closingReplyIn } from './greeting.js';

type Stream = NodeJS.EventEmitter;
interface Connector {
  connect(emit: (type: string, err: Error) => void): Promise<Stream>;
}

// ioredis's own connector for a single server, from its file (the package has no "exports" map).
const { default: StandaloneConnector } = createRequire(import.meta.url)('ioredis/built/connectors/StandaloneConnector.js') as {
  default: new (options: unknown) => Connector;
};

/** Per socket, the error Redis closed it with (CLOSING_REPLY), once its first bytes said one. */
const closingReplies = new WeakMap<object, Error>();

/** The error Redis greeted `stream` with before closing it, as an answer of Redis's (a ReplyError), or undefined. */
export function closingReply(stream: unknown): Error | undefined {
  return typeof stream === 'object' && stream !== null ? closingReplies.get(stream) : undefined;
}

class GuardedConnector extends StandaloneConnector {
  override async connect(emit: (type: string, err: Error) => void): Promise<Stream> {
    const stream = await super.connect(emit);
    stream.on('error', () => undefined);
    // Only the first bytes: Redis says it first, unasked; later ones are answers to commands.
    stream.once('data', (chunk: Buffer) => {
      const said = closingReplyIn(chunk);
      if (said) closingReplies.set(stream, said);
    });
    return stream;
  }
}

/** The option that makes ioredis connect through GuardedConnector. */
export const guardedConnector = { Connector: GuardedConnector as unknown as NonNullable<RedisOptions['Connector']> };
