// node:http's parser knows a fixed list of methods and refuses any other before a request exists
// (HPE_INVALID_METHOD), as it refuses bytes that are no HTTP at all. RFC 9110 section 9.1: a
// method the server does not recognize is a 501, not a 400; the client learns the request was
// well formed and which word was refused, without the parser's own code.

import { METHODS } from 'node:http';

const LF = 0x0a;
/** The start of a request line: a method token (RFC 9110 section 5.6.2), a space and a target in one of RFC 9112's forms. */
const REQUEST_LINE_START = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]{1,40}) (?:\/|\*|[A-Za-z][A-Za-z0-9+.-]*:\/\/)/;

/**
 * The method of the request line the parser refused (`rawPacket`, stopped at `bytesParsed`), when
 * that line is a request line with a method node:http does not know; undefined for bytes that are
 * not a request line, which remain a 400. A line whose start came in an earlier read cannot be
 * told apart from garbage, and gets the 400.
 */
export function unknownMethodOf(err: Error & { code?: string; rawPacket?: unknown; bytesParsed?: unknown }): string | undefined {
  if (err.code !== 'HPE_INVALID_METHOD') return undefined;
  const packet = err.rawPacket;
  if (!Buffer.isBuffer(packet)) return undefined;
  const parsed = typeof err.bytesParsed === 'number' && err.bytesParsed <= packet.length ? err.bytesParsed : packet.length;
  // The parser stops inside the method, on the line it was reading (after the end of the request
  // before it, or after the empty lines RFC 9112 section 2.2 lets a server skip).
  const lineStart = packet.subarray(0, parsed).lastIndexOf(LF) + 1;
  return REQUEST_LINE_START.exec(packet.subarray(lineStart, lineStart + 64).toString('latin1'))?.[1];
}

/** The message of the 501: which method, and the known one it may have meant in another case. */
export function unknownMethodMessage(method: string): string {
  const upper = method.toUpperCase();
  const hint = upper !== method && METHODS.includes(upper) ? `; methods are case-sensitive: send ${upper}` : '';
  return `the method ${method} is not implemented by this server${hint}`;
}
