// What the bytes of a request the parser failed in say of it (node:http makes no request object
// of it): whether the overflow was in the request line (a 414, not a 431), and its method and
// target, as far as the read the parser stopped in holds them, for the raw answer's access line
// and for a HEAD's answer, which has no body.

import type { Duplex } from 'node:stream';
import { REDACTED } from '../http/logged-target.js';

type ParserError = Error & { rawPacket?: unknown; bytesParsed?: unknown };

/** How much of the read the parser stopped in (`rawPacket`) it had parsed (`bytesParsed`). */
function parsedLength(err: ParserError, packet: Buffer): number {
  return typeof err.bytesParsed === 'number' && err.bytesParsed <= packet.length ? err.bytesParsed : packet.length;
}

/** The request a raw answer answers, as far as the parser read it: '' for what it did not. */
export interface RequestLine {
  readonly method: string;
  readonly target: string;
}
export const UNPARSED: RequestLine = { method: '', target: '' };

const LF = 0x0a;
const CR = 0x0d;
/** The start of a request line: a method, a space, and a target in one of RFC 9112's forms. */
const REQUEST_LINE_START = /^[A-Z]+ (?:\/|\*|[A-Za-z][A-Za-z0-9+.-]*:\/\/)/;

/**
 * node:http counts the request line in maxHeaderSize and reports both overflows alike
 * (HPE_HEADER_OVERFLOW): true when it was the request line alone, no line of the request having
 * ended yet, which nginx answers 414. Told from the bytes of the read the parser stopped in
 * (`rawPacket`, up to `bytesParsed`): the overflow is in the request line when the line it stopped
 * in follows the end of the previous request (an empty line), or opens the connection, or starts
 * with a method and a target. A request line that came in several reads, none of them holding its
 * start, cannot be told from a long header line: that one gets the 431.
 */
export function overflowedInRequestLine(err: ParserError, socket: Duplex): boolean {
  const packet = err.rawPacket;
  if (!Buffer.isBuffer(packet)) return false;
  const parsed = parsedLength(err, packet);
  const seen = packet.subarray(0, parsed);
  const lineStart = seen.lastIndexOf(LF) + 1;
  // The bytes before this line in this read: only line ends when this read opened the connection
  // (RFC 9112 section 2.2 lets a server skip empty lines before a request).
  const before = seen.subarray(0, lineStart);
  const firstRead = (socket as Duplex & { bytesRead?: number }).bytesRead === packet.length;
  if (firstRead && before.every((b) => b === CR || b === LF)) return true;
  if (lineStart > 0) {
    // The previous line was empty: the end of the previous request's headers.
    const end = lineStart - 1;
    return (end >= 1 && seen[end - 1] === LF) || (end >= 2 && seen[end - 1] === CR && seen[end - 2] === LF);
  }
  return REQUEST_LINE_START.test(seen.subarray(0, 64).toString('latin1'));
}

/** How much of a request target too long to parse its access line keeps. */
export const TARGET_LOGGED_CHARS = 1024;

/** An absolute-form target whose authority (`user:password@host:port`) runs on to its end. */
const AUTHORITY_TO_END = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*$/i;

/**
 * The start of a target cut short (at TARGET_LOGGED_CHARS, or where the read the parser stopped
 * in ends): an absolute-form one cut inside its authority has lost the `@` that tells its user and
 * password from a host, and the access log's redaction (logged-target.ts) would write them as
 * sent. No host name is that long: the authority is replaced, as a user and password are.
 */
export function cutTarget(start: string): string {
  return start.replace(AUTHORITY_TO_END, `$1${REDACTED}`);
}

/** Method and target start of the request line the parser stopped in (`overflowedInRequestLine`). */
export function requestLineOf(err: ParserError): RequestLine {
  const packet = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : Buffer.alloc(0);
  const seen = packet.subarray(0, parsedLength(err, packet));
  const line = seen.subarray(seen.lastIndexOf(LF) + 1, seen.lastIndexOf(LF) + 1 + 64 + TARGET_LOGGED_CHARS).toString('latin1');
  const space = line.indexOf(' ');
  // The parser overflowed in this line: its target is cut, whatever its length here.
  return space < 0 ? { method: '', target: '' } : { method: line.slice(0, space), target: cutTarget(line.slice(space + 1, space + 1 + TARGET_LOGGED_CHARS)) };
}

/** A whole request line: method, target, version. */
const WHOLE_REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]{1,40}) ([^\s]+) HTTP\/\d\.\d\r?\n/;
const HEADERS_END = Buffer.from('\r\n\r\n');

/**
 * Method and target of the request the parser failed in (a 431 for header bytes over the limit, a
 * 400 in a header), when its whole request line is in the read the parser stopped in: at the
 * start of the connection's first read (after the empty lines RFC 9112 section 2.2 lets a server
 * skip), or after the end of the previous request's headers. UNPARSED otherwise: a request line
 * that came in an earlier read is gone from node:http's hands, and a guess would name another.
 */
export function failedRequestLineOf(err: ParserError, socket: Duplex): RequestLine {
  const packet = err.rawPacket;
  if (!Buffer.isBuffer(packet)) return UNPARSED;
  const parsed = parsedLength(err, packet);
  const end = packet.subarray(0, parsed).lastIndexOf(HEADERS_END);
  let start: number;
  if (end >= 0) start = end + HEADERS_END.length;
  else if ((socket as Duplex & { bytesRead?: number }).bytesRead === packet.length) {
    start = 0;
    while (start < parsed && (packet[start] === CR || packet[start] === LF)) start++;
  } else return UNPARSED;
  const found = WHOLE_REQUEST_LINE.exec(packet.subarray(start, start + 64 + TARGET_LOGGED_CHARS + 16).toString('latin1'));
  if (!found) return UNPARSED;
  const target = found[2]!;
  return { method: found[1]!, target: target.length > TARGET_LOGGED_CHARS ? cutTarget(target.slice(0, TARGET_LOGGED_CHARS)) : target };
}

/** The target after an unknown method (the parser stopped in the method): as much of it as this read holds. */
export function targetAfterMethod(err: ParserError, method: string): string {
  const packet = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : Buffer.alloc(0);
  const parsed = parsedLength(err, packet);
  const from = packet.subarray(0, parsed).lastIndexOf(LF) + 1 + method.length + 1;
  const rest = packet.subarray(from, from + TARGET_LOGGED_CHARS).toString('latin1');
  const target = /^[^\s]*/.exec(rest)![0];
  // Not ended by a space within what was read: cut at TARGET_LOGGED_CHARS or at the read's end.
  return target.length === rest.length ? cutTarget(target) : target;
}
