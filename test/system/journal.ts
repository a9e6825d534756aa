// Reading what corral said under the container's systemd, and waiting for it: shared by the
// system test's files.

import type { Container } from './container.js';

export type Json = Record<string, unknown>;

/** Polls `probe` every 200 ms until it gives a value (errors count as not yet), for `timeoutMs` at most. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function parseJsonLines(text: string): { lines: Json[]; bad: string[] } {
  const lines: Json[] = [];
  const bad: string[] = [];
  for (const l of text.split('\n')) {
    if (l === '') continue;
    try {
      lines.push(JSON.parse(l) as Json);
    } catch {
      bad.push(l);
    }
  }
  return { lines, bad };
}

/**
 * corral's JSON lines in the journal of the unit, optionally since a time (epoch seconds). journald
 * reads a service's stdout on its own schedule: a line written just before a command returned may
 * not be in the journal yet, so callers poll with until().
 */
export async function journalLines(c: Container, since?: string): Promise<Json[]> {
  const text = await c.sh(`journalctl -u corral${since ? ` --since=@${since}` : ''} --no-pager -o cat | grep '^{' || true`);
  return parseJsonLines(text).lines;
}
