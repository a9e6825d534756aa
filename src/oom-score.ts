// A worker offers itself to the kernel's OOM killer ahead of the master and the keeper. The
// kernel kills the process with the highest oom_score (its share of memory, plus oom_score_adj),
// and at rest the master is the largest corral process: under a memory limit that a reload's
// second generation crossed (systemd's MemoryMax=, a container's), the kernel killed the master,
// and with it the whole service, where losing one worker (replaced at once) would have done. A
// worker's death costs its in-flight requests; the master's costs every connection and a
// restart, the keeper's the writes in flight until the next one takes over.
//
// Raising a process's oom_score_adj needs no privilege (lowering it does), and a process of the
// same user may raise another's. The master raises each worker's the moment fork() returns, and
// the worker checks its own before it loads anything else: a reload's new workers are what
// crosses the limit, while they boot. Raised only once the worker had loaded its modules (about
// 40 MiB in 100-300 ms), they were still at the master's value when the kernel had killed the old
// generation and needed one more: it took the master (the system test, CI, November 2026). From
// the master's value, so the two raises make one: under a unit's OOMScoreAdjust= the order holds.
//
// By 200, not more: the kernel adds adj × limit / 1000 to a process's pages, so a worker goes
// first among processes of about its size, and a master or keeper larger than a worker by a
// fifth of the limit (a leak, a cache grown past reason) still goes before it. With +500 a keeper
// leaking to 45 % of MemoryMax= was never the one killed: workers died in a loop instead (review).

import { readFileSync, writeFileSync } from 'node:fs';

/** Added to the master's oom_score_adj for its workers; the kernel's range ends at 1000. */
export const WORKER_OOM_SCORE_BONUS = 200;
const OOM_SCORE_ADJ_MAX = 1000;

export type OomPreference = { readonly ok: true; readonly before: number; readonly after: number } | { readonly ok: false; readonly reason: string };

function readAdj(path: string): number {
  const v = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  if (!Number.isInteger(v)) throw new Error(`${path} holds no number`);
  return v;
}

/** A worker's oom_score_adj for a master at `masterAdj`. */
export function workerOomScoreAdj(masterAdj: number): number {
  return Math.min(OOM_SCORE_ADJ_MAX, masterAdj + WORKER_OOM_SCORE_BONUS);
}

/**
 * Raises the oom_score_adj at `target` (a worker's /proc/<pid>/oom_score_adj) to the worker's
 * value for the master at `master`, unless it is there already. Never lowers it.
 */
export function preferForOomKill(target = '/proc/self/oom_score_adj', master = `/proc/${process.ppid}/oom_score_adj`): OomPreference {
  try {
    const before = readAdj(target);
    const wanted = workerOomScoreAdj(readAdj(master));
    if (before >= wanted) return { ok: true, before, after: before };
    writeFileSync(target, `${wanted}\n`);
    return { ok: true, before, after: wanted };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/** The master's raise of a worker it just forked; a failure is the worker's to say (it tries again). */
export function preferChildForOomKill(pid: number | undefined): void {
  if (pid !== undefined) preferForOomKill(`/proc/${pid}/oom_score_adj`, '/proc/self/oom_score_adj');
}
