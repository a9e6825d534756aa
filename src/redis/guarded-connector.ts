// ioredis listens for a connection socket's errors with once(): a socket that errs twice (a TLS
// handshake refused for its certificate, then the server's alert as it closes) raised the second
// as an uncaught exception, which would end the keeper (ioredis #961/#962, left open upstream; a
// CI run of the TLS test caught it). Every socket the client opens gets a listener of its own for
// the errors after the first, which ioredis reports and which is all there is to say.

import { createRequire } from 'node:module';
import type { RedisOptions } from 'ioredis';

type Stream = NodeJS.EventEmitter;
interface Connector {
  connect(emit: (type: string, err: Error) => void): Promise<Stream>;
}

// ioredis's own connector for a single server, from its file (the package has no "exports" map).
const { default: StandaloneConnector } = createRequire(import.meta.url)('ioredis/built/connectors/StandaloneConnector.js') as {
  default: new (options: unknown) => Connector;
};

class GuardedConnector extends StandaloneConnector {
  override async connect(emit: (type: string, err: Error) => void): Promise<Stream> {
    const stream = await super.connect(emit);
    stream.on('error', () => undefined);
    return stream;
  }
}

/** The option that makes ioredis connect through GuardedConnector. */
export const guardedConnector = { Connector: GuardedConnector as unknown as NonNullable<RedisOptions['Connector']> };
