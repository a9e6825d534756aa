// Relays a child's stderr to the master's, line by line: lines of two children never interleave
// mid-line.
//
// Only the chunk that came is searched for newlines, and text without one is held up to
// RELAY_MAX_PARTIAL, as the stdout relay does. Re-splitting everything held at each chunk made a
// child that writes no newline (a progress bar redrawn with `\r`, binary output) cost the master
// quadratic CPU and memory without bound: 100 MB of `\r` progress from one worker took the master
// 98 s of CPU and 1.5 GB of RSS, and the worker's request, blocked on its full stderr pipe, 168 s.

import type { Readable } from 'node:stream';
import { RELAY_MAX_PARTIAL } from './stdout-relay.js';

export function relayStderr(stderr: Readable, write: (line: string) => void): void {
  let partial = '';
  stderr.setEncoding('utf8');
  stderr.on('data', (chunk: string) => {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
      write(`${partial}${chunk.slice(start, end)}\n`);
      partial = '';
      start = end + 1;
    }
    partial += chunk.slice(start);
    // Said as a line of its own (with a newline, so that another child's next line does not run
    // on from it) rather than held without bound; the rest of it follows as further lines.
    if (partial.length > RELAY_MAX_PARTIAL) {
      write(`${partial}\n`);
      partial = '';
    }
  });
  stderr.on('end', () => {
    if (partial) write(`${partial}\n`);
    partial = '';
  });
}
