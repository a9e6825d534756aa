// A child the operating system would not create: fork(2) refused (EAGAIN: the process or thread
// limit reached, as systemd's TasksMax=, a cgroup's pids.max or RLIMIT_NPROC set it; ENOMEM: no
// memory for a new process). Said as the child's boot error, so it counts towards the boot
// attempts and backoff as a worker that cannot boot does. Before, the refusal was dropped: the
// boot failure read "exited with code null ... (the app or a library called process.exit?)",
// sending the operator to the app, and a fork that threw (ENOMEM) failed the master's tick every
// 250 ms instead, forever. When the cgroup's counters say which limit refused it (death-causes.ts),
// the limit is named with its value and how to raise it, in place of the list of limits EAGAIN
// may mean.

import type { BootError } from './crash-ledger.js';
import { causeFields, causeWords, type DeathCause } from './death-causes.js';

/** Why fork(2) refused, and what to change, by errno. */
const WHY: Record<string, string> = {
  EAGAIN:
    'the process or thread limit is reached (systemd TasksMax=, a cgroup pids.max, ulimit -u): each node process takes about a dozen tasks (its threads), so allow CORRAL_WORKERS + 2 processes with room for their threads (TasksMax=infinity, or a higher number), or lower CORRAL_WORKERS',
  ENOMEM: 'no memory for a new process (free -m, the unit\'s MemoryMax=, dmesg): free memory, or lower CORRAL_WORKERS',
  EMFILE: 'the master is out of file descriptors for the new child\'s pipes (ulimit -n, LimitNOFILE=): raise the limit',
  ENFILE: 'the system is out of file descriptors (fs.file-max): raise it, or find what holds them',
};

/** The boot error of a `role` whose fork failed with `err`; `cause`, the limit its cgroup counted. */
export function forkFailure(role: 'worker' | 'keeper', err: Error, cause?: DeathCause): BootError {
  const errno = (err as NodeJS.ErrnoException).code ?? '';
  const why = cause ? causeWords(cause) : (WHY[errno] ?? 'see the error');
  return { code: 'CORRAL_ERR_FORK', message: `could not fork a ${role} process: ${err.message}: ${why}`, ...(cause ? causeFields(cause) : {}) };
}
