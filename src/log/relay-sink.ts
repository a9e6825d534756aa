// The master's stdout destination as the sink of its children's relayed stdout
// (master/stdout-relay.ts), with room kept for the lines that say what the processes did.
//
// Why: the relay reads a child's pipe at once and buffers what the master's reader has not taken
// yet, up to LOG_BUFFER_MAX_BYTES; past it, sonic-boom dropped every line alike. Under load through
// a slow reader the buffer stays full of access lines (six workers log faster than a pipe read
// 4 KB every 2 ms takes them): each completed write frees room the next relayed chunk fills at
// once, and a line that came between found a few bytes free, or none. A SIGTERM's shutdown.start,
// the workers' worker.draining, the master's worker.exit, shutdown.done and master.exit were lost
// that way: the master exited 0 with its log ending mid-shutdown. log.dropped, logged as a write
// completes (before sonic-boom takes the written bytes off its count), could be dropped too, and
// was said once a minute at most: of 16,298 lines dropped in one run, 115 were said.
//
// Now relayed text may fill the buffer only up to LOG_BUFFER_MAX_BYTES - RESERVED_BYTES; past
// that, its access lines are dropped (counted in log.dropped, as before) and its other lines go
// into the reserve, with the master's own lines: what stays unsaid under load is the traffic, not
// the daemon's life (as journal.ts files access lines apart for journald's rate limit). The
// reserve fills only with lines that are not access lines, a few per event; past it, the
// destination's own cap drops whatever comes, and memory stays bounded.
//
// A process's own access lines on stdout go through the same sink (logger.ts): a worker's stdout
// is a pipe the master reads, and a master that falls behind left the worker's buffer as full of
// access lines as its own had been.

import { LOG_BUFFER_MAX_BYTES } from './write-failure.js';

/** The room in the master's stdout buffer that relayed access lines cannot take. */
export const RESERVED_BYTES = 1024 * 1024;

/** How an access line is told apart in relayed text (request-stats.ts logs them; a journal prefix comes before). */
const ACCESS_EVENT = '"event":"access"';

/** The part of a sonic-boom destination the sink uses: `_len` is its count of bytes not yet written. */
export interface RelayDestination {
  write(data: string): boolean;
  emit(event: 'drop', data: string): boolean;
}

/** Where master/stdout-relay.ts writes the children's text: `d`, keeping RESERVED_BYTES from their access lines. */
export function relaySink(d: RelayDestination): { write(text: string): boolean } {
  const buffered = d as unknown as { _len: number };
  return {
    write(text) {
      if (buffered._len + Buffer.byteLength(text) <= LOG_BUFFER_MAX_BYTES - RESERVED_BYTES) return d.write(text);
      // Past the relay's share: only on this path is the text looked at line by line.
      let kept = '';
      let dropped = '';
      let start = 0;
      while (start < text.length) {
        const end = text.indexOf('\n', start);
        const stop = end < 0 ? text.length : end + 1;
        const line = text.slice(start, stop);
        if (line.includes(ACCESS_EVENT)) dropped += line;
        else kept += line;
        start = stop;
      }
      // Said as sonic-boom's own drops are: write-failure.ts counts the lines in log.dropped.
      if (dropped) d.emit('drop', dropped);
      return kept ? d.write(kept) : false;
    },
  };
}
