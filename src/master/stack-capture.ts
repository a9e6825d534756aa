// Captures the JavaScript stack of a stuck child before it is killed: the master writes a byte on
// the child's stack probe (a socketpair handed to it at the fork, see src/stack-probe.ts and
// native/stack_probe.cc) and reads back one JSON line of frames.
//
// Node's diagnostic report on a signal (--report-on-signal) is handled by a JS listener, so it
// never runs while the loop is blocked. V8's interrupts do: the probe's thread asks for one, and a
// busy loop services it at its next stack check. (The master used to pause the child through the
// inspector, opened by SIGUSR1 on a loopback TCP port: any local user could connect to that port
// in the second before the kill and run code as corral's user. Nobody but the master and the
// child holds the socketpair.)

import type { Duplex } from 'node:stream';

export interface StackFrame {
  readonly fn: string;
  readonly url: string;
  readonly line: number;
  readonly column: number;
}

const MAX_ANSWER_BYTES = 64 * 1024;

function framesOf(line: string): StackFrame[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  return parsed
    .filter((f): f is Record<string, unknown> => typeof f === 'object' && f !== null)
    .map((f) => ({ fn: String(f.fn ?? '(anonymous)'), url: String(f.url ?? ''), line: Number(f.line ?? 0), column: Number(f.column ?? 0) }));
}

/**
 * The child's call frames, or undefined when it does not answer within `timeoutMs` (stopped by a
 * signal, stuck in one long native call), answers that it could not reach its loop, or has no probe.
 */
export function captureStuckStack(probe: Duplex | undefined, timeoutMs: number): Promise<StackFrame[] | undefined> {
  if (!probe || probe.destroyed || !probe.writable) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (frames: StackFrame[] | undefined) => {
      clearTimeout(timer);
      probe.off('data', onData);
      probe.off('end', onEnd);
      probe.off('error', onEnd);
      probe.pause();
      resolve(frames);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(bytes);
      size += bytes.length;
      const end = bytes.indexOf(0x0a);
      if (end !== -1) finish(framesOf(Buffer.concat(chunks).toString('utf8', 0, size - bytes.length + end)));
      else if (size > MAX_ANSWER_BYTES) finish(undefined);
    };
    const onEnd = () => finish(undefined);
    const timer = setTimeout(onEnd, timeoutMs);
    probe.on('data', onData);
    probe.on('end', onEnd);
    probe.on('error', onEnd);
    // Paused at the end of the last capture: a 'data' listener alone does not resume it then.
    probe.resume();
    probe.write('s', (err) => {
      if (err) onEnd();
    });
  });
}

export function formatStack(frames: readonly StackFrame[]): string {
  return frames.map((f) => `    at ${f.fn} (${f.url}:${f.line}:${f.column})`).join('\n');
}
