// The message of the 400 for bytes node:http's parser refused. Its own code (HPE_…) means little to
// whoever sent them, so the message leads with the parser's reason in words, and names the usual
// causes where one is likely: a TLS handshake (an https:// URL, or a proxy speaking TLS) sent to
// this plain-HTTP port, HTTP/2 sent with prior knowledge, or a space in the request target. The code stays at the end, for grep.

type ParserError = Error & { code?: string; reason?: unknown; rawPacket?: unknown; bytesParsed?: unknown };

/** A TLS record carrying a handshake (content type 22, version 3.x): a ClientHello. */
function isTlsHandshake(packet: unknown): boolean {
  return Buffer.isBuffer(packet) && packet.length >= 2 && packet[0] === 0x16 && packet[1] === 0x03;
}

export function malformedRequestMessage(err: ParserError): string {
  const code = err.code ?? 'UNKNOWN';
  if (isTlsHandshake(err.rawPacket)) {
    return `a TLS handshake reached this plain-HTTP port: use http://, not https://, or put TLS in front of corral (nginx) (${code})`;
  }
  const reason = typeof err.reason === 'string' && err.reason !== '' ? err.reason : err.message.replace(/^Parse Error: /, '');
  switch (code) {
    case 'HPE_INVALID_METHOD':
      // unknownMethodOf has already answered a request line with an unknown method (501).
      return `malformed request: the bytes do not start with an HTTP request line (METHOD /path HTTP/1.1) (${code})`;
    case 'HPE_PAUSED_H2_UPGRADE':
      // The HTTP/2 connection preface (`PRI * HTTP/2.0`): a client or proxy speaking HTTP/2 with
      // prior knowledge (curl --http2-prior-knowledge, an h2 or gRPC upstream). The parser's own
      // words, "Pause on PRI/Upgrade", said nothing of that.
      return `an HTTP/2 connection preface reached this port, which speaks HTTP/1.1: send HTTP/1.1 (a proxy in front: HTTP/1.1 upstream, as nginx's proxy_pass does) (${code})`;
    case 'HPE_INVALID_CONSTANT':
      return `malformed request: the request line must be METHOD TARGET HTTP/1.1, and the target has no spaces (send a space as %20): ${reason} (${code})`;
    default:
      return `malformed request: ${reason} (${code})`;
  }
}
