// A worker offers itself to the kernel's OOM killer ahead of the master and the keeper. The
// kernel kills the process with the highest oom_score (its share of memory, plus oom_score_adj),
// and at rest the master is the largest corral process: under a memory limit that a reload's
// second generation crossed (systemd's MemoryMax=, a container's), the kernel killed the master,
// and with it the whole service, where losing one worker (replaced at once) would have done. A
// worker's death costs its in-flight requests; the master's costs every connection and a
// restart, the keeper's the writes in flight until the next one takes over.
//
// Raising one's own oom_score_adj needs no privilege (lowering it does), so each worker does it
// for itself at boot, from what it inherited: under a unit's OOMScoreAdjust= the order holds.
//
// By 200, not more: the kernel adds adj × limit / 1000 to a process's pages, so a worker goes
// first among processes of about its size, and a master or keeper larger than a worker by a
// fifth of the limit (a leak, a cache grown past reason) still goes before it. With +500 a keeper
// leaking to 45 % of MemoryMax= was never the one killed: workers died in a loop instead (review).

import { readFileSync, writeFileSync } from 'node:fs';

/** Added to the oom_score_adj a worker inherits; the kernel's range ends at 1000. */
export const WORKER_OOM_SCORE_BONUS = 200;
const OOM_SCORE_ADJ_MAX = 1000;

export type OomPreference = { readonly ok: true; readonly before: number; readonly after: number } | { readonly ok: false; readonly reason: string };

/** Raises this process's oom_score_adj by WORKER_OOM_SCORE_BONUS (at most to 1000). */
export function preferForOomKill(path = '/proc/self/oom_score_adj'): OomPreference {
  try {
    const before = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    if (!Number.isInteger(before)) return { ok: false, reason: `${path} holds no number` };
    const after = Math.min(OOM_SCORE_ADJ_MAX, before + WORKER_OOM_SCORE_BONUS);
    if (after !== before) writeFileSync(path, `${after}\n`);
    return { ok: true, before, after };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
