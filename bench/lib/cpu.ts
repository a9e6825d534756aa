// CPU time used by a process tree (Linux /proc), so a benchmark can report CPU per successful
// answer: a figure that holds up on a noisy shared machine where requests/s does not.

import { readFileSync } from 'node:fs';
import type { LoadResult } from './load.js';

const TICKS_PER_SECOND = 100;

function descendants(pid: number): number[] {
  const out = [pid];
  try {
    for (const tid of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) out.push(...descendants(Number(tid)));
  } catch {
    // gone, or not Linux
  }
  return out;
}

/** Seconds of user+system CPU used so far by `pid` and its live descendants. */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of descendants(pid)) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    } catch {
      // exited between listing and reading
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/**
 * Microseconds of CPU per successful (2xx) answer of a load; NaN when none succeeded. Divided by
 * every answer, 503s included, a server that refuses much of a load at once (gunicorn at 1000
 * connections, its quota spent) spread its CPU over answers it never served and read cheaper than
 * one that serves them all.
 */
export function cpuUsPerOk(cpuSeconds: number, load: Pick<LoadResult, 'okAnswers'>): number {
  return load.okAnswers > 0 ? (cpuSeconds * 1e6) / load.okAnswers : NaN;
}
