// Streams a sheet as CSV: rows go to the thread pool in chunks, at most two chunks ahead of the
// socket, through gzip (zlib runs on libuv's threadpool) when the client accepts it. The event
// loop only slices arrays and moves buffers, so heartbeats and other requests keep flowing.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { CsvPool } from './pool.js';
import { APP_CUT, HOST_CUT } from '../../contract.js';

export const CHUNK_ROWS = 2000;
const AHEAD = 2;
/**
 * How long the socket may take no more bytes before the export is given up (nginx's send_timeout
 * has the same default). A client that stops reading would otherwise hold the handler, the
 * sheet's rows and two formatted chunks for as long as its connection stays open.
 */
export const SEND_STALL_MS = 60_000;
/**
 * A formatted chunk goes to the socket in slices of this size, each written once the one before
 * it drained, so the send-stall time is how long the client may take to read one slice. A whole
 * 2000-row chunk of wide rows is megabytes, and libuv writes a buffer as one request: a client
 * reading it steadily but slowly (tens of KB/s) was cut off when the whole chunk did not go out
 * within the stall time.
 */
export const SLICE_BYTES = 64 * 1024;

/**
 * How an export ended: sent whole, the client closed first, the client stopped reading, or the
 * worker closed the connection when the graceful timeout of its stop or reload ran out.
 */
export type ExportEnd = 'complete' | 'client_closed' | 'stalled' | 'drain';

/** A connection closed before the end: by the worker's drain (contract.ts HOST_CUT), else by the client. */
function closedBy(res: ServerResponse): ExportEnd {
  return (res as ServerResponse & { [HOST_CUT]?: unknown })[HOST_CUT] === 'drain' ? 'drain' : 'client_closed';
}

export interface StreamCsvOptions {
  readonly sendStallMs?: number;
  /**
   * Starts the CSV with a UTF-8 byte order mark. Excel reads a CSV without one in the machine's
   * ANSI code page, so `Zoé` shows as `ZoÃ©`; with it, Excel reads UTF-8. Other readers (pandas,
   * Python's csv with utf-8-sig, LibreOffice) take either, but a plain `utf-8` reader keeps the
   * mark in the first header's name, so it is asked for (`bom=1`), not the default.
   */
  readonly bom?: boolean;
}

/** The UTF-8 byte order mark (U+FEFF). */
export const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export function acceptsGzip(req: IncomingMessage): boolean {
  const h = String(req.headers['accept-encoding'] ?? '');
  // An explicit `gzip` entry decides; `*` only speaks for codings not listed (RFC 9110 §12.5.3),
  // so `gzip;q=0, *` refuses gzip.
  let gzip: boolean | undefined;
  let any: boolean | undefined;
  for (const part of h.split(',')) {
    const [coding, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const q = params.find((p) => p.startsWith('q='));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    if (coding === '*') any = ok;
    else gzip = ok;
  }
  return gzip ?? any ?? false;
}

/**
 * Content-Disposition for a download named `name`: `filename` in plain ASCII for every browser
 * (other characters as `_`), and, when that lost any, `filename*` with the name itself in UTF-8
 * (RFC 6266 §4.3, RFC 8187), which browsers prefer: a tab named `Jöueurs` downloads as
 * Jöueurs.csv, not J_ueurs.csv.
 */
export function attachmentOf(name: string): string {
  const ascii = name.replace(/[^A-Za-z0-9._-]/g, '_');
  if (ascii === name) return `attachment; filename="${ascii}"`;
  // RFC 8187's attr-char: encodeURIComponent leaves ! ' ( ) * bare, which it does not allow.
  const encoded = encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** The export handles its own send stall: see streamCsv. */
function keepTimeoutToExport(): void {}

/** The export's first chunk failed, before anything was sent: its threads did not start (a thread limit) or failed. */
export class ExportPrepareError extends Error {
  constructor(cause: unknown) {
    super(`the export's first rows could not be formatted: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ExportPrepareError';
  }
}

/**
 * Resolves once the whole CSV went out, the client closed the connection, it stopped reading, or
 * the worker's drain closed the connection.
 * Rejects with ExportPrepareError, before any byte is sent, when the first rows cannot be formatted.
 */
export async function streamCsv(
  req: IncomingMessage,
  res: ServerResponse,
  pool: CsvPool,
  values: readonly (readonly string[])[],
  filename: string,
  options: StreamCsvOptions = {},
): Promise<ExportEnd> {
  const stallMs = options.sendStallMs ?? SEND_STALL_MS;
  // The client left while the sheet was read: its 'close' has come and gone, so nothing below
  // would ever see it, and a write to the closed response never drains.
  if (res.destroyed) return closedBy(res);
  const gzip = acceptsGzip(req);
  let aborted = false;
  let stalled = false;
  // This export cuts a client that stopped reading itself (progressOr, below) and logs why. A
  // 'timeout' listener on the response tells the server so (node:http's contract): corral's
  // worker, whose send timeout would otherwise close the socket first, leaves it alone.
  res.on('timeout', keepTimeoutToExport);
  // One listener for the whole stream: a per-drain `once(res, 'close')` would pile up listeners.
  // Before the first chunk is awaited: a client leaving meanwhile is seen.
  const closed = new Promise<void>((resolve) =>
    res.once('close', () => {
      aborted = !res.writableFinished;
      resolve();
    }),
  );
  let width = 0;
  const pending: Promise<Buffer>[] = [];
  let next = 0;
  const schedule = () => {
    while (pending.length < AHEAD && next < values.length) {
      const chunk = pool.format({ rows: values.slice(next, next + CHUNK_ROWS), width, first: next === 0 });
      // Awaited in its turn; a chunk that fails while the one before it is awaited was an
      // unhandled rejection meanwhile, which ends a worker (Node's default).
      chunk.catch(() => undefined);
      pending.push(chunk);
      next += CHUNK_ROWS;
    }
  };
  if (req.method !== 'HEAD') {
    // Every row as wide as the widest (RFC 4180: each record the same number of fields): the Sheets
    // API trims trailing empty cells, so rows come back ragged, and a row wider than the header
    // (a note in a column past it) left the rows above it short. An empty row becomes a row of
    // empty fields, not a blank line, which CSV readers skip (pandas does by default).
    for (const row of values) if (row.length > width) width = row.length;
    schedule();
    // The first chunk before the headers: threads that cannot start (a process or thread limit)
    // failed the export after its 200, and the client got a closed connection and no answer.
    try {
      await pending[0];
    } catch (err) {
      await Promise.allSettled(pending);
      throw new ExportPrepareError(err);
    }
    if (aborted || res.destroyed) {
      await Promise.allSettled(pending);
      return closedBy(res);
    }
  }
  res.writeHead(200, {
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': attachmentOf(`${filename}.csv`),
    'Cache-Control': 'no-store',
    // As every JSON answer: a browser sniffing the sheet's text as HTML would run what a player typed.
    'X-Content-Type-Options': 'nosniff',
    Vary: 'Accept-Encoding',
    ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
  });
  if (req.method === 'HEAD') {
    res.end();
    return 'complete';
  }
  // Waits for `event` while the client reads; one that has not taken a slice in stallMs is cut off.
  const progressOr = async (event: Promise<unknown>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const stall = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        stalled = true;
        // Its access line's 499 says the export cut it, not the client.
        (res as typeof res & { [APP_CUT]?: string })[APP_CUT] = 'send_stall';
        // A reset, not a FIN, as the worker's send timeout cuts (send-timeout.ts): closed normally,
        // the kernel kept the megabytes the client never took as an orphan in FIN-WAIT-1, probing
        // its zero window for minutes (nginx's reset_timedout_connection).
        const socket = res.socket;
        if (socket && !socket.destroyed) socket.resetAndDestroy();
        res.destroy();
        resolve();
      }, stallMs);
    });
    try {
      await Promise.race([event, closed, stall]);
    } finally {
      clearTimeout(timer);
    }
  };
  const zip = gzip ? createGzip() : undefined;
  if (zip) {
    zip.pipe(res);
    zip.once('error', () => res.destroy());
  }
  const out: Writable = zip ?? res;
  if (options.bom) out.write(UTF8_BOM);
  try {
    while (pending.length > 0 && !aborted) {
      const chunk = await (pending.shift() as Promise<Buffer>);
      schedule();
      for (let at = 0; at < chunk.length && !aborted; at += SLICE_BYTES) {
        if (!out.write(chunk.subarray(at, at + SLICE_BYTES)) && !aborted) await progressOr(once(out, 'drain'));
      }
    }
  } finally {
    // Let in-flight chunks settle so no rejection goes unhandled after an abort.
    await Promise.allSettled(pending);
  }
  if (aborted) {
    zip?.destroy();
    return stalled ? 'stalled' : closedBy(res);
  }
  out.end();
  // 'close' too: a client that leaves after the last chunk, while gzip still holds the tail, ends
  // the response with 'close' and no 'finish' (awaiting 'finish' alone hung the handler). The
  // tail in the socket's buffer may wait for a client that stopped reading, too.
  await progressOr(once(res, 'finish').catch(() => undefined));
  if (res.writableFinished) return 'complete';
  zip?.destroy();
  return stalled ? 'stalled' : closedBy(res);
}
