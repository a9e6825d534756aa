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

/**
 * Whose stdout it is, for lines it writes outside corral's logger: given, each such line is
 * written as a JSON line of that child's (`event` `stdout.raw`, the text in `msg`), so that the
 * stream stays one JSON object a line. Unset: relayed as they are (the master's stdout is not the
 * log, CORRAL_LOG_FILE is).
 */
export interface RelayedChild {
  readonly role: 'worker' | 'keeper';
  readonly workerId: number;
  readonly generation: number;
  readonly pid: number;
  /** The master's stdout is the journal: a wrapped line gets its syslog priority, as the child's own lines carry theirs. */
  readonly journal: boolean;
}

/** How corral's own lines begin (logger.ts's level formatter comes first), after a `<N>` journal priority if any. */
const OURS = '{"level":"';

/** Whether `line` (its newline excluded) is a whole line of corral's logger. */
function isOurs(line: string): boolean {
  const start = line.charCodeAt(0) === 0x3c /* < */ && line.charCodeAt(2) === 0x3e /* > */ ? 3 : 0;
  return line.startsWith(OURS, start) && line.charCodeAt(line.length - 1) === 0x7d; /* } */
}

/** `text` (one line, no newline) as a JSON line of `child`'s. */
export function wrapRaw(text: string, child: RelayedChild): string {
  const line = JSON.stringify({ level: 'info', time: new Date().toISOString(), role: child.role, worker: child.workerId, pid: child.pid, gen: child.generation, event: 'stdout.raw', msg: text });
  return `${child.journal ? '<6>' : ''}${line}\n`;
}

/**
 * Whole lines (each ending in a newline) with every line that is not one of corral's written as
 * a JSON line of `child`'s. An app's console.log, a partial line the next log line ran on from,
 * a line of ours cut short by a kill: each made `jq` stop at that line of the journal, with an
 * error, and the lines after it unread. Only the first characters of each line are looked at.
 */
function structured(text: string, child: RelayedChild): string {
  let out = '';
  let start = 0;
  let kept = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    if (!isOurs(line)) {
      out += text.slice(kept, start);
      // A partial line of the app's with a line of ours run on from it: each said as what it is,
      // ours with its journal priority (`<7>` left in the app's text sent an access line to the
      // journal at info, the app's partial line ending in "<7>").
      let ours = line.indexOf(OURS, 1);
      if (ours >= 3 && line.charCodeAt(ours - 3) === 0x3c /* < */ && line.charCodeAt(ours - 1) === 0x3e /* > */) ours -= 3;
      if (ours > 0 && isOurs(line.slice(ours))) out += wrapRaw(line.slice(0, ours), child) + line.slice(ours) + '\n';
      else out += wrapRaw(line, child);
      kept = end + 1;
    }
    start = end + 1;
  }
  return kept === 0 ? text : out + text.slice(kept);
}

export function relayStdout(stdout: Readable, sink: StdoutSink, child?: RelayedChild): StdoutRelay {
  let partial = '';
  let done = false;
  const waiters = new Set<() => void>();
  const write = (text: string) => sink.write(child ? structured(text, child) : text);
  stdout.setEncoding('utf8');
  stdout.on('data', (chunk: string) => {
    const last = chunk.lastIndexOf('\n');
    if (last < 0) {
      partial += chunk;
      // Relayed unfinished rather than held without bound: that line may then be merged. With
      // `child`, it is said as a line of its own (it cannot be whole JSON of ours any more).
      if (partial.length > RELAY_MAX_PARTIAL) {
        if (child) write(`${partial}\n`);
        else sink.write(partial);
        partial = '';
      }
      return;
    }
    write(partial + chunk.slice(0, last + 1));
    partial = chunk.slice(last + 1);
  });
  const finish = () => {
    if (done) return;
    done = true;
    // A child killed in mid-line: the rest is never coming, and the next line must not join it.
    if (partial) write(`${partial}\n`);
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
