// A worker offers itself to the kernel's OOM killer ahead of the keeper, and the keeper ahead of
// the master. The kernel kills the process with the highest oom_score (its share of memory, plus
// oom_score_adj), and at rest the master is the largest corral process: under a memory limit that
// a reload's second generation crossed (systemd's MemoryMax=, a container's), the kernel killed
// the master, and with it the whole service, where losing one worker (replaced at once) would have
// done. A worker's death costs its in-flight requests; the keeper's the writes in flight (answered
// 503, never acknowledged) until the master's next one takes over, the workers' own copies serving
// reads meanwhile; the master's costs every connection and a restart. With both old workers killed
// and still over the limit, the next after them was the master, the keeper a little smaller.
//
// Raising a process's oom_score_adj needs no privilege (lowering it does), and a process of the
// same user may raise another's. The master raises each child's the moment fork() returns; a
// worker checks its own too, before it loads anything else, and the keeper once it logs, each
// saying so if it cannot (the master's raise then likely failed as well). A reload's new workers
// are what crosses the limit, while they boot: raised only once a worker had loaded its modules
// (about 40 MiB in 100-300 ms), they were still at the master's value when the kernel had killed
// the old generation and needed one more, and it took the master (the system test, CI, November
// 2026). From the master's value, so the two raises make one: under a unit's OOMScoreAdjust= the
// order holds.
//
// By 200 and 100, not more: the kernel adds adj × limit / 1000 to a process's pages, so a worker
// goes first among processes of about its size, while a master larger than a worker by a fifth
// of the limit (a leak, a cache grown past reason), a keeper larger than one by a tenth, or a
// master larger than the keeper by a tenth still goes before it. With +500 a keeper leaking to
// 45 % of MemoryMax= was never the one killed: workers died in a loop instead (review).

import { readFileSync, writeFileSync } from 'node:fs';

/** Added to the master's oom_score_adj for each child; the kernel's range ends at 1000. */
export const OOM_SCORE_BONUS = { worker: 200, keeper: 100 } as const;
export type OomRole = keyof typeof OOM_SCORE_BONUS;
const OOM_SCORE_ADJ_MAX = 1000;

export type OomPreference = { readonly ok: true; readonly before: number; readonly after: number } | { readonly ok: false; readonly reason: string };

function readAdj(path: string): number {
  const v = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  if (!Number.isInteger(v)) throw new Error(`${path} holds no number`);
  return v;
}

/** A child's oom_score_adj for a master at `masterAdj`. */
export function childOomScoreAdj(role: OomRole, masterAdj: number): number {
  return Math.min(OOM_SCORE_ADJ_MAX, masterAdj + OOM_SCORE_BONUS[role]);
}

/**
 * Raises the oom_score_adj at `target` (a child's /proc/<pid>/oom_score_adj) to the `role`'s
 * value for the master at `master`, unless it is there already. Never lowers it.
 */
export function preferForOomKill(role: OomRole, target = '/proc/self/oom_score_adj', master = `/proc/${process.ppid}/oom_score_adj`): OomPreference {
  try {
    const before = readAdj(target);
    const wanted = childOomScoreAdj(role, readAdj(master));
    if (before >= wanted) return { ok: true, before, after: before };
    writeFileSync(target, `${wanted}\n`);
    return { ok: true, before, after: wanted };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/** The master's raise of a child it just forked; a failure is the child's to say (it tries again). */
export function preferChildForOomKill(role: OomRole, pid: number | undefined): void {
  if (pid !== undefined) preferForOomKill(role, `/proc/${pid}/oom_score_adj`, '/proc/self/oom_score_adj');
}
