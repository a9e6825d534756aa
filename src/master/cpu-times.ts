// CPU time of the CPUs this process may run on, from /proc. The host monitor's CPU share was taken
// over every CPU of the machine (the first line of /proc/stat) while the count it showed was the
// CPUs corral may use (availableParallelism(), its affinity): under `taskset -c 0` on 2 cores, cpu0
// at 100 % read as 51.7 % "of 1 core", and host.cpu_high (80 %) never fired. Both now come from
// the affinity mask (Cpus_allowed_list of /proc/self/status, what sched_getaffinity() returns).

import { readFile } from 'node:fs/promises';

export interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

/** "0-3,8,10-11" (Cpus_allowed_list) → the CPU numbers; undefined when it is not such a list. */
export function parseCpuList(list: string): Set<number> | undefined {
  const cpus = new Set<number>();
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to - from > 65_536) return undefined;
    for (let c = from; c <= to; c++) cpus.add(c);
  }
  return cpus.size > 0 ? cpus : undefined;
}

/** The CPUs a process may run on, from the text of /proc/PID/status; undefined when not said. */
export function allowedCpusOf(statusText: string): Set<number> | undefined {
  const m = /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(statusText);
  return m?.[1] === undefined ? undefined : parseCpuList(m[1]);
}

/** Busy and total time of one /proc/stat cpu line's fields (user nice system idle iowait irq softirq steal; guest is inside user). */
function timesOf(fields: readonly string[]): CpuTimes | undefined {
  const f = fields.slice(0, 8).map(Number);
  if (f.length !== 8 || !f.every(Number.isFinite)) return undefined;
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Summed times of the `allowed` CPUs (all of them, the first line, when undefined) in the text of
 * /proc/stat. A CPU of the mask that is offline has no line and adds nothing. Undefined when no
 * line of those CPUs could be read.
 */
export function cpuTimesOf(statText: string, allowed: ReadonlySet<number> | undefined): (CpuTimes & { readonly lines: number }) | undefined {
  let busy = 0;
  let total = 0;
  let found = false;
  let lines = 0;
  for (const line of statText.split('\n')) {
    const [name, ...fields] = line.trim().split(/\s+/);
    if (!name?.startsWith('cpu')) continue;
    const which = name.slice(3);
    const wanted = allowed === undefined ? which === '' : which !== '' && allowed.has(Number(which));
    if (!wanted) continue;
    const t = timesOf(fields);
    if (!t) continue;
    busy += t.busy;
    total += t.total;
    found = true;
    lines++;
  }
  return found ? { busy, total, lines } : undefined;
}

/**
 * This process's CPUs and their times now; undefined where /proc cannot say (not Linux, or no line
 * of those CPUs). `proc`: where /proc is (a test's tree elsewhere). On Linux a /proc/stat that
 * cannot be read (a sandbox, EMFILE at the master's open-files limit) rejects with its error:
 * os.cpus(), the fallback elsewhere, reads the same file and then gives no CPU at all, which kept
 * the last share as a fresh sample (never stale, no host.sample_failed) and measured the next one
 * from zero (the share since boot).
 */
export async function readAllowedCpuTimes(proc = '/proc', platform: NodeJS.Platform = process.platform): Promise<{ times: CpuTimes; cpus: number | undefined } | undefined> {
  let stat: string;
  let status: string;
  try {
    [stat, status] = await Promise.all([readFile(`${proc}/stat`, 'utf8'), readFile(`${proc}/self/status`, 'utf8').catch(() => '')]);
  } catch (err) {
    if (platform === 'linux') throw err;
    return undefined;
  }
  const allowed = allowedCpusOf(status);
  const times = cpuTimesOf(stat, allowed);
  // The CPUs of the mask that are online (a line each): the mask may name CPUs that are not (a
  // VM's hotplug slots, `Cpus_allowed_list: 0-63` on 4 online), which neither run corral nor add
  // to the share measured, and `host.cpus` said 64.
  return times === undefined ? undefined : { times: { busy: times.busy, total: times.total }, cpus: allowed === undefined ? undefined : times.lines };
}
