// Which line of a request's head node:http's parser stopped in: the request line, or a header
// line. node:http counts the request line in maxHeaderSize and reports both overflows alike
// (HPE_HEADER_OVERFLOW); nginx answers a request line over the limit 414, and so does the worker
// (limits.ts). The read the parser stopped in tells it when the line began in that read. A request
// line that came in several reads, none of the later ones holding its start, needs what the reads
// before said: after each read that leaves a request's head unfinished (rare: a slow or large
// head), the worker notes which line the parser is in, and the read's last two bytes (an empty
// line split between two reads ends one request where the next begins).
//
// node:http's parser reads the socket itself and hands JavaScript one callback per read (the
// parser's kOnExecute, node's onParserExecute), during which getCurrentBuffer() copies that read's
// bytes. Nothing is copied on a read that ends a request's head, which is almost every read: it
// costs one call of the parser's duration().

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const LF = 0x0a;
const CR = 0x0d;
/** The start of a request line: a method, a space, and a target in one of RFC 9112's forms. */
const REQUEST_LINE_START = /^[A-Z]+ (?:\/|\*|[A-Za-z][A-Za-z0-9+.-]*:\/\/)/;

/** Where the parser was at the end of a read that left a request's head unfinished. */
interface HeadInProgress {
  /** True: in the request line; false: its request line has ended. */
  readonly inRequestLine: boolean;
  /** The read's last two bytes (fewer in a shorter read). */
  readonly lastBytes: Buffer;
}

const HEAD = Symbol('corral.headInProgress');

/**
 * After the last read: a head in progress; null: between requests; 'body': in a request's body
 * (whose trailer lines node:http counts in the limit too); undefined: reads not followed.
 */
type FollowedSocket = Socket & { [HEAD]?: HeadInProgress | null | 'body' };

/** What the worker uses of node:http's parser (node_http_parser.cc). */
interface HttpParser {
  /** Milliseconds since the request being parsed began; 0 once it has ended, until the next begins. */
  duration(): number;
  /** Whether the head of the request being parsed (or of the last one) has ended. */
  headersCompleted(): boolean;
  /** A copy of the read being parsed, during kOnExecute. */
  getCurrentBuffer(): Buffer;
  /** True while the parser reads the socket itself (false once something listens for 'data'). */
  _consumed?: boolean;
  [callback: number]: unknown;
}

/**
 * The index of the parser's per-read callback (HTTPParser.kOnExecute, 5 in Node 20), found by
 * the name node gives it rather than through the deprecated process.binding; null when absent.
 */
let onExecuteIndex: number | null | undefined;

function findOnExecute(parser: HttpParser): number | null {
  for (let i = 0; i < 16; i++) {
    const cb = parser[i];
    if (typeof cb === 'function' && cb.name.endsWith('onParserExecute')) return i;
  }
  return null;
}

/** The byte at `i` of `seen`, reading before its start into `earlier` (the read before). */
function byteAt(seen: Buffer, i: number, earlier: Buffer | undefined): number | undefined {
  if (i >= 0) return seen[i];
  return earlier?.[earlier.length + i];
}

/**
 * Whether the line the parser stopped in, at the end of `seen` (the parsed bytes of one read), is
 * a request line. `before`: what the reads before said (null: no head was unfinished after them;
 * undefined: not known); `opensConnection`: `seen` is the connection's first read.
 */
export function stoppedInRequestLine(seen: Buffer, before: HeadInProgress | null | undefined, opensConnection: boolean): boolean {
  const lineStart = seen.lastIndexOf(LF) + 1;
  if (lineStart === 0) {
    // No line ended in this read: the parser is in the line it was in after the read before, or,
    // with no head unfinished then, in the first line of a request begun in this read.
    if (before) return before.inRequestLine;
    if (before === null || opensConnection) return true;
    return REQUEST_LINE_START.test(seen.subarray(0, 64).toString('latin1'));
  }
  // The line began in this read. A request line when it begins with a method and a target (no
  // header line does: a field name holds no space) ...
  if (REQUEST_LINE_START.test(seen.subarray(lineStart, lineStart + 64).toString('latin1'))) return true;
  // ... or follows the empty line that ended the request before (possibly begun in the read before) ...
  const end = lineStart - 1;
  const earlier = before?.lastBytes;
  const prev1 = byteAt(seen, end - 1, earlier);
  if (prev1 === LF || (prev1 === CR && byteAt(seen, end - 2, earlier) === LF)) return true;
  // ... or only empty lines precede it since the last request ended (RFC 9112 section 2.2 lets a
  // server skip them before a request).
  if (before === null || opensConnection) return seen.subarray(0, lineStart).every((b) => b === CR || b === LF);
  return false;
}

/** What the reads before said, as stoppedInRequestLine takes it (a body: not known). */
function notesOf(socket: FollowedSocket): HeadInProgress | null | undefined {
  const head = socket[HEAD];
  return head === 'body' ? undefined : head;
}

/** After a read with no error: note where the parser is, when a request's head is unfinished. */
function noteRead(socket: FollowedSocket, parser: HttpParser, parsed: number): void {
  const between = parser.duration() === 0;
  if (between || parser.headersCompleted()) {
    const now = between ? null : 'body';
    if (socket[HEAD] !== now) socket[HEAD] = now;
    return;
  }
  const read = parser.getCurrentBuffer();
  const seen = read.subarray(0, parsed);
  const inRequestLine = stoppedInRequestLine(seen, notesOf(socket), socket.bytesRead === read.length);
  const lastBytes = Buffer.from(seen.subarray(Math.max(0, seen.length - 2)));
  socket[HEAD] = { inRequestLine, lastBytes };
}

/**
 * Follows the reads of a connection just accepted by a node:http server (call from the server's
 * 'connection' event, after node:http's own listener has set the connection's parser up).
 */
export function followRequestHeads(socket: Socket): void {
  const s = socket as FollowedSocket & { parser?: HttpParser | null };
  const parser = s.parser;
  if (!parser || parser._consumed !== true) return;
  if (onExecuteIndex === undefined) onExecuteIndex = findOnExecute(parser);
  if (onExecuteIndex === null) return;
  const index = onExecuteIndex;
  const onExecute = parser[index];
  if (typeof onExecute !== 'function') return;
  s[HEAD] = null;
  parser[index] = function noteThenExecute(this: unknown, ret: unknown): unknown {
    // An Error, not a count of bytes parsed: the client-error handler it leads to reads what the
    // reads before said, so this one is not noted.
    if (typeof ret === 'number') noteRead(s, parser, ret);
    return (onExecute as (this: unknown, ret: unknown) => unknown).call(this, ret);
  };
}

/**
 * node:http reported HPE_HEADER_OVERFLOW: true when it was the request line alone, no line of the
 * request having ended yet, which nginx answers 414. Told from the bytes of the read the parser
 * stopped in (`rawPacket`, up to `bytesParsed`) and, for a line begun in an earlier read, from
 * what followRequestHeads noted of the reads before. Without those notes (a connection whose
 * reads node:http hands to a 'data' listener), a request line that came in several reads, none
 * of the later ones holding its start, cannot be told from a long header line: that one gets the 431.
 */
export function overflowedInRequestLine(err: Error & { rawPacket?: unknown; bytesParsed?: unknown }, socket: Duplex): boolean {
  const packet = err.rawPacket;
  if (!Buffer.isBuffer(packet)) return false;
  const parsed = typeof err.bytesParsed === 'number' && err.bytesParsed <= packet.length ? err.bytesParsed : packet.length;
  const s = socket as FollowedSocket & { parser?: HttpParser | null };
  // Notes stop being kept when node:http hands the reads to a 'data' listener instead.
  const before = s.parser?._consumed === true ? notesOf(s) : undefined;
  return stoppedInRequestLine(packet.subarray(0, parsed), before, s.bytesRead === packet.length);
}
