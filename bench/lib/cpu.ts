// CPU time used by a process tree (Linux /proc), so a benchmark can report CPU per request: a
// figure that holds up on a noisy shared machine where requests/s does not.

import { readFileSync } from 'node:fs';

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
