// Relays a child's stderr to the master's, line by line: lines of two children never interleave
// mid-line.

import type { Readable } from 'node:stream';

export function relayStderr(stderr: Readable, write: (line: string) => void): void {
  let partial = '';
  stderr.setEncoding('utf8');
  stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) write(`${line}\n`);
  });
  stderr.on('end', () => {
    if (partial) write(`${partial}\n`);
    partial = '';
  });
}
