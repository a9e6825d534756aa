// The 400's message for bytes node:http's parser refused, from the parser's own errors: a real
// server parses each payload, and its clientError is what the message is made from.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { malformedRequestMessage } from '../../src/http/malformed-request.js';

/** The parser's error for `payload`, sent on a fresh connection to a plain node:http server. */
async function parserErrorOf(payload: Buffer | string): Promise<Error> {
  const server = createServer((_req, res) => res.end());
  const refused = new Promise<Error>((resolve) =>
    server.on('clientError', (err: Error, socket) => {
      socket.destroy();
      resolve(err);
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const socket = connect(port, '127.0.0.1', () => socket.write(payload));
  socket.on('error', () => undefined);
  try {
    return await refused;
  } finally {
    socket.destroy();
    server.close();
  }
}

describe('the message of a 400 for a malformed request', () => {
  it('says a TLS handshake reached the plain-HTTP port, and what to do', async () => {
    // The start of a TLS 1.2 ClientHello, as curl https:// sends to an http port.
    const message = malformedRequestMessage(await parserErrorOf(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])));
    assert.match(message, /TLS handshake/);
    assert.match(message, /http:\/\//);
    assert.match(message, /\(HPE_INVALID_METHOD\)$/);
  });

  it('says bytes that are no request line are not HTTP (another protocol)', async () => {
    const message = malformedRequestMessage(await parserErrorOf('SSH-2.0-OpenSSH_9.2\r\n'));
    assert.match(message, /do not start with an HTTP request line/);
    assert.doesNotMatch(message, /TLS/);
  });

  it('says HTTP/2 with prior knowledge reached a port that speaks HTTP/1.1 (not "Pause on PRI/Upgrade")', async () => {
    const message = malformedRequestMessage(await parserErrorOf('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    assert.match(message, /HTTP\/2 connection preface/);
    assert.match(message, /speaks HTTP\/1\.1/);
    assert.doesNotMatch(message, /Pause on/);
    assert.match(message, /\(HPE_PAUSED_H2_UPGRADE\)$/);
  });

  it('names a space in the target, which the parser reports as a bad protocol constant', async () => {
    const message = malformedRequestMessage(await parserErrorOf('GET /a b HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.match(message, /%20/);
    assert.match(message, /\(HPE_INVALID_CONSTANT\)$/);
  });

  it("gives the parser's reason in words, with its code last, for the rest", async () => {
    const cases: Array<[string, RegExp]> = [
      ['GET / HTTP/9.9\r\n\r\n', /^malformed request: Invalid HTTP version \(HPE_INVALID_VERSION\)$/],
      ['GET / HTTP/1.1\r\nBad Header: x\r\n\r\n', /^malformed request: Invalid header token \(HPE_INVALID_HEADER_TOKEN\)$/],
      ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', /Transfer-Encoding can't be present with Content-Length \(HPE_INVALID_TRANSFER_ENCODING\)$/],
      ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', /Content-Length \(HPE_INVALID_CONTENT_LENGTH\)$/],
    ];
    for (const [payload, expected] of cases) assert.match(malformedRequestMessage(await parserErrorOf(payload)), expected, JSON.stringify(payload));
  });
});
