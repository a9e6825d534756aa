// At start (and at each reload that changes the worker count), the process and thread limit the
// master runs under (task-limit.ts) against what corral's processes take. Too low, and a worker's
// fork fails (CORRAL_ERR_FORK), or its threads do and it aborts or hangs as it boots; a reload,
// whose new generation boots while the old one serves, needs twice the workers. Corral does not
// refuse to start: it says so at once, with the fixes, rather than at the first fork that fails.

import type { Settings } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { limitSetter } from './limit-setter.js';
import { PROCESSES_BESIDE_WORKERS, TASKS_PER_PROCESS, tasksNeeded, type TaskLimit } from '../task-limit.js';

type TaskSettings = Pick<Settings, 'CORRAL_WORKERS' | 'CORRAL_EXPORT_THREADS'>;

export interface TaskLimitShortfall {
  readonly limit: TaskLimit;
  readonly need: number;
  /** The limit to set: corral's need, and the tasks of the other processes a slice's limit counts. */
  readonly setTo: number;
  /** The most workers the limit leaves room for, reloads included; undefined when not even one fits. */
  readonly fittingWorkers: number | undefined;
}

/** Undefined when the limit is unknown or high enough. */
export function taskLimitShortfall(s: TaskSettings, limit: TaskLimit | undefined): TaskLimitShortfall | undefined {
  if (!limit) return undefined;
  const need = tasksNeeded(s.CORRAL_WORKERS, s.CORRAL_EXPORT_THREADS);
  const others = limit.others ?? 0;
  const room = limit.max - others;
  if (room >= need) return undefined;
  const perWorker = 2 * TASKS_PER_PROCESS + 2 * s.CORRAL_EXPORT_THREADS;
  const fitting = Math.floor((room - PROCESSES_BESIDE_WORKERS * TASKS_PER_PROCESS) / perWorker);
  // One worker that does not fit either is no fix to offer: only the limit's raise is.
  return { limit, need, setTo: need + others, fittingWorkers: fitting >= 1 ? fitting : undefined };
}

export function taskLimitMessage(f: TaskLimitShortfall, s: TaskSettings): string {
  const { cgroup } = f.limit;
  // The cgroup that sets it named, its setting is said (the unit's, a slice's, a container's);
  // unknown, the two common ones.
  const what =
    f.limit.source !== 'pids.max' ? `RLIMIT_NPROC ${f.limit.max} (ulimit -u)` : cgroup !== undefined ? `the cgroup's pids.max ${f.limit.max} (${cgroup})` : `the cgroup's pids.max ${f.limit.max} (systemd's TasksMax=, a container's --pids-limit)`;
  const fix =
    f.limit.source !== 'pids.max'
      ? `ulimit -u ${f.need} in the shell that starts corral (LimitNPROC=${f.need} in a unit)`
      : cgroup !== undefined
        ? `raise ${limitSetter(cgroup, 'TasksMax', String(f.setTo))}`
        : `TasksMax=${f.setTo} in corral's unit (systemctl edit corral), or --pids-limit ${f.setTo} for its container`;
  const others = f.limit.others !== undefined ? ` beside the ${f.limit.others} tasks of other processes in ${cgroup ?? 'that cgroup'} counted against it now` : '';
  return (
    `the process and thread limit, ${what}, is below the ${f.need} tasks corral may need${others}: ${s.CORRAL_WORKERS} workers, the keeper and the master at about ${TASKS_PER_PROCESS} threads each, ` +
    `twice the workers during a reload (the new generation boots while the old one serves) with the reload's own command (corral reload --wait, the unit's ExecReload=, in corral's cgroup), and ${s.CORRAL_EXPORT_THREADS} export thread(s) per worker. ` +
    `A fork past it fails (CORRAL_ERR_FORK), and a thread past it aborts or hangs a process as it boots. Fix: ${fix}${f.fittingWorkers !== undefined ? `, or lower CORRAL_WORKERS to ${f.fittingWorkers}` : ` (not even 1 worker fits under ${f.limit.max}${f.limit.others !== undefined ? ` less the others' ${f.limit.others}` : ''}, reloads included: only the limit's raise helps)`}`
  );
}

/** Logs the shortfall, if any (task_limit.low, warn, CORRAL_ERR_TASK_LIMIT); returns it. */
export function warnTaskLimit(logger: Logger, s: TaskSettings, limit: TaskLimit | undefined): TaskLimitShortfall | undefined {
  const f = taskLimitShortfall(s, limit);
  if (!f) return undefined;
  logger.warn(
    { event: 'task_limit.low', code: 'CORRAL_ERR_TASK_LIMIT', task_limit: f.limit.max, source: f.limit.source, task_limit_cgroup: f.limit.cgroup ?? null, tasks_current: f.limit.current ?? null, tasks_need: f.need, fix: { ...(f.fittingWorkers !== undefined ? { CORRAL_WORKERS: f.fittingWorkers } : {}), limit: f.setTo }, ...(f.limit.others !== undefined ? { tasks_others: f.limit.others } : {}) },
    taskLimitMessage(f, s),
  );
  return f;
}
