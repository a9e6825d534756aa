// Relays a child's stdout to the master's, whole lines per write.
//
// Why: without CORRAL_LOG_FILE every process's log lines go to stdout (the journal under systemd,
// or a pipe). Children used to inherit fd 1 and write it themselves; a write of more than
// PIPE_BUF (4096) bytes to a pipe is not atomic, a batch of access lines is 8 KB and more, and a
// stream socket (journald's) promises nothing at any size, so lines of different processes were
// torn and merged (`{"level":"info","tim{"level":"info",...`). Now each child's stdout is a pipe
// to the master, and the master is the only writer of fd 1: the relayed text goes through the
// master's own destination (the same SonicBoom as its own lines), which writes in order and
// finishes a short write before the next. The text is relayed as it comes, cut after its last
// newline: no per-line work, so the cost is one read and one copy per chunk.
//
// The child's pipe is read at once, whatever the pace of the master's reader: the sink buffers
// (sonic-boom, LOG_BUFFER_MAX_BYTES) and drops what is past its cap, counted in the master's
// log.dropped. Pausing the pipe instead made a child block in its flush before exit when the
// reader was slow, past the graceful timeout, and be killed with its lines.

import type { Readable } from 'node:stream';

/** Where the relayed text goes: the master's stdout destination. */
export interface StdoutSink {
  write(text: string): unknown;
}

/** Text without a newline is held at most this long (a process.stdout.write that never ends its line). */
export const RELAY_MAX_PARTIAL = 1024 * 1024;

export interface StdoutRelay {
  /** Resolves once the child's stdout ended (its last lines relayed), or after `timeoutMs`. */
  ended(timeoutMs: number): Promise<void>;
}

export function relayStdout(stdout: Readable, sink: StdoutSink): StdoutRelay {
  let partial = '';
  let done = false;
  const waiters = new Set<() => void>();
  stdout.setEncoding('utf8');
  stdout.on('data', (chunk: string) => {
    const last = chunk.lastIndexOf('\n');
    if (last < 0) {
      partial += chunk;
      // Relayed unfinished rather than held without bound: that line may then be merged.
      if (partial.length > RELAY_MAX_PARTIAL) {
        sink.write(partial);
        partial = '';
      }
      return;
    }
    sink.write(partial + chunk.slice(0, last + 1));
    partial = chunk.slice(last + 1);
  });
  const finish = () => {
    if (done) return;
    done = true;
    // A child killed in mid-line: the rest is never coming, and the next line must not join it.
    if (partial) sink.write(`${partial}\n`);
    partial = '';
    for (const w of waiters) w();
    waiters.clear();
  };
  stdout.on('end', finish);
  stdout.on('close', finish);
  stdout.on('error', finish);
  return {
    ended(timeoutMs) {
      if (done) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(settle);
          resolve();
        }, timeoutMs);
        const settle = () => {
          clearTimeout(timer);
          resolve();
        };
        waiters.add(settle);
      });
    },
  };
}
