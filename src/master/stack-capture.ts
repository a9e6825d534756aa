// Captures the JavaScript stack of a stuck worker before it is killed.
//
// Node's diagnostic report on a signal (--report-on-signal) is handled by a JS listener, so it
// never runs while the loop is blocked. The inspector is different: SIGUSR1 starts it from a
// separate thread, and its protocol messages are dispatched through V8 interrupts, which a busy
// loop still services. So the master sends SIGUSR1, reads the ws:// URL the worker prints on its
// stderr (piped to the master), asks `Debugger.pause`, and logs the paused call frames. The
// inspector listens on loopback only, on a random port, and only for the seconds before the kill.

import type { Readable } from 'node:stream';
import { WebSocket } from 'undici';

export interface StackFrame {
  readonly fn: string;
  readonly url: string;
  readonly line: number;
  readonly column: number;
}

const INSPECTOR_LINE = /Debugger listening on (ws:\/\/\S+)/;
const INSPECTOR_NOISE = /^(Debugger listening on|For help, see: https:\/\/nodejs\.org|Debugger attached\.|Debugger ending on|Waiting for the debugger to disconnect)/;

export interface StderrRelay {
  /** The inspector URL once the worker printed it. */
  inspectorUrl(): string | undefined;
  waitForInspectorUrl(timeoutMs: number): Promise<string | undefined>;
}

/** Forwards a child's stderr line by line (never mid-line) and notes the inspector URL. */
export function relayStderr(stderr: Readable, write: (line: string) => void): StderrRelay {
  let url: string | undefined;
  let partial = '';
  const waiters = new Set<(u: string) => void>();
  stderr.setEncoding('utf8');
  stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = INSPECTOR_LINE.exec(line);
      if (m?.[1]) {
        url = m[1];
        for (const w of waiters) w(url);
        waiters.clear();
      }
      if (!INSPECTOR_NOISE.test(line)) write(`${line}\n`);
    }
  });
  stderr.on('end', () => {
    if (partial && !INSPECTOR_NOISE.test(partial)) write(`${partial}\n`);
    partial = '';
  });
  return {
    inspectorUrl: () => url,
    waitForInspectorUrl(timeoutMs) {
      if (url) return Promise.resolve(url);
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          waiters.delete(done);
          resolve(undefined);
        }, timeoutMs);
        const done = (u: string) => {
          clearTimeout(t);
          resolve(u);
        };
        waiters.add(done);
      });
    },
  };
}

/** Pauses the process behind `wsUrl` and returns its call frames, or undefined within `timeoutMs`. */
export function pauseAndReadStack(wsUrl: string, timeoutMs: number): Promise<StackFrame[] | undefined> {
  return new Promise((resolve) => {
    const scripts = new Map<string, string>();
    let settled = false;
    const ws = new WebSocket(wsUrl);
    const finish = (frames: StackFrame[] | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        ws.close();
      } catch {
        // already closed
      }
      resolve(frames);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    let id = 0;
    const send = (method: string) => ws.send(JSON.stringify({ id: ++id, method, params: {} }));
    ws.onopen = () => {
      send('Debugger.enable');
      send('Debugger.pause');
    };
    ws.onerror = () => finish(undefined);
    ws.onmessage = (ev: { data: unknown }) => {
      let msg: { method?: string; params?: Record<string, unknown> };
      try {
        msg = JSON.parse(String(ev.data)) as typeof msg;
      } catch {
        return;
      }
      if (msg.method === 'Debugger.scriptParsed') {
        const p = msg.params as { scriptId: string; url: string };
        scripts.set(p.scriptId, p.url);
      } else if (msg.method === 'Debugger.paused') {
        const frames = (msg.params?.callFrames ?? []) as { functionName: string; url?: string; location: { scriptId: string; lineNumber: number; columnNumber: number } }[];
        finish(
          frames.slice(0, 30).map((f) => ({
            fn: f.functionName || '(anonymous)',
            url: f.url || scripts.get(f.location.scriptId) || '',
            line: f.location.lineNumber + 1,
            column: f.location.columnNumber + 1,
          })),
        );
      }
    };
  });
}

/** SIGUSR1 → inspector → pause → frames. Bounded by `timeoutMs` overall. */
export async function captureStuckStack(pid: number, relay: StderrRelay, timeoutMs: number): Promise<StackFrame[] | undefined> {
  // kill(0, …) and kill(-1, …) signal the whole process group, or every process this user may
  // signal: a child whose fork failed has no pid of its own to ask.
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const started = Date.now();
  if (!relay.inspectorUrl()) {
    try {
      process.kill(pid, 'SIGUSR1');
    } catch {
      return undefined;
    }
  }
  const url = await relay.waitForInspectorUrl(timeoutMs);
  if (!url) return undefined;
  return pauseAndReadStack(url, Math.max(100, timeoutMs - (Date.now() - started)));
}

export function formatStack(frames: readonly StackFrame[]): string {
  return frames.map((f) => `    at ${f.fn} (${f.url}:${f.line}:${f.column})`).join('\n');
}
