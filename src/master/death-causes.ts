// Why a child died unasked, when its cgroup's counters say it (cgroup-events.ts): the OOM killer
// within corral's cgroup (oom_kill rose) for a SIGKILL, the process and thread limit (pids.events
// max rose) for an abort or a crash. Compared with the last reading, taken at start and at every
// child's exit, asked for or not, never on a timer: a rise read at no exit (a draining worker
// OOM-killed, a fork refused) stood in the baseline and was put to a death hours later (review).

import { bytesText } from '../bytes-text.js';
import { limitSetter } from './limit-setter.js';
import { readMemoryCounters, readPidsCounters, type MemoryCounters, type MemoryLimitLevel, type PidsCounters, type PidsLevel } from './cgroup-events.js';

export type DeathCause =
  /**
   * `limit`: the cgroup whose memory limit was reached; undefined: none was (the machine ran out).
   * `certain`: cgroup v2 counted the limit reached (its `oom`) since the last reading; v1's counts
   * also rise with page cache reclaimed at the limit, and its peak is never reset, so there the
   * limit is only the likely one.
   */
  | { readonly kind: 'oom'; readonly limit: MemoryLimitLevel | undefined; readonly certain: boolean }
  /**
   * `level`: the cgroup whose pids.max holds corral (the lowest); `need`: tasks corral may need,
   * when known; `hungAtBoot`: the child hung as it booted (killed silent) rather than aborted;
   * `neverBeat`: before its first beat, so before its app was imported.
   */
  | { readonly kind: 'task_limit'; readonly level: PidsLevel; readonly need?: number; readonly hungAtBoot?: true; readonly neverBeat?: true };

export interface CounterReaders {
  readonly memory: () => MemoryCounters | undefined;
  readonly pids: () => PidsCounters | undefined;
}

/**
 * How long a rise is held for a death not yet reaped: one OOM can kill several workers whose exits
 * the master learns of over a few ticks, and the first reading sees every kill.
 */
export const RISE_HOLD_MS = 10_000;

/** The signals a process gets from its own failure, not from another process. */
const CRASH_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGTRAP', 'SIGFPE']);

const SYSTEM: CounterReaders = { memory: () => readMemoryCounters(), pids: () => readPidsCounters() };

/** Which child exited: one the master killed silent while booting is judged against the counters at its fork. */
export interface ExitedChild {
  readonly id: number;
  /** The master killed it silent before it was ready (no beat for CORRAL_TIMEOUT). */
  readonly hungAtBoot: boolean;
  /** And it never beat at all: its app was not imported yet (stuck-judgement.ts). */
  readonly neverBeat?: boolean;
}

export class DeathCauses {
  private memory: MemoryCounters | undefined;
  private pids: PidsCounters | undefined;
  /**
   * The pids counters when each child was forked, until its exit. A node that cannot create one
   * of its threads may hang as it boots rather than abort (its main thread waits for a thread that
   * never started, and sends no beat): the master kills it at CORRAL_TIMEOUT, long after the
   * refusal, past RISE_HOLD_MS. Under the container's real systemd and TasksMax=, a third of the
   * boots refused at the limit ended so, said only as the hedge of a silent boot.
   */
  private readonly pidsAtFork = new Map<number, PidsCounters | undefined>();
  /** OOM kills seen and not yet put to a death, and the limit then reached. */
  private oomCredits: { count: number; until: number; limit: MemoryLimitLevel | undefined; certain: boolean } | undefined;
  private pidsRise: { until: number; level: PidsLevel } | undefined;

  constructor(
    private readonly now: () => number,
    private readonly readers: CounterReaders = SYSTEM,
  ) {
    // The baseline: what the counters held before any child of this master.
    this.memory = readers.memory();
    this.pids = readers.pids();
  }

  /** A child was forked (or its fork tried): its exit may be judged against the counters now. */
  forked(id: number): void {
    this.pidsAtFork.set(id, this.readers.pids());
  }

  /**
   * Reads the pids counters once and says, by child, whether the cgroup refused a fork or a thread
   * since that child was forked: a booting child silent since then is likely a node hung for want
   * of a thread (stuck-judgement.ts). A hedge: the refusal may have been another process's (a
   * sibling's fork, an export thread), and a limit the cgroup does not count (RLIMIT_NPROC,
   * ulimit -u) is not seen at all. Leaves the baseline the exits use where it was.
   */
  taskRefusals(): (id: number) => boolean {
    const current = this.readers.pids();
    return (id) => {
      const atFork = this.pidsAtFork.get(id);
      return atFork !== undefined && current !== undefined && risenLevel(atFork, current) !== undefined;
    };
  }

  /**
   * A child exited: the counters are read (the baseline kept current whatever the exit), and for
   * one that died `unasked` (no stop, drain or kill of the master's: see reap) the cause they
   * say, if any; for one the master killed silent while booting (`child.hungAtBoot`), the process
   * and thread limit when its cgroup refused a fork or a thread since that child was forked.
   */
  exited(signal: NodeJS.Signals | null, code: number | null, unasked: boolean, tasksNeed?: number, child?: ExitedChild): DeathCause | undefined {
    const now = this.now();
    this.readMemory(now);
    this.readPids(now);
    const atFork = child ? this.pidsAtFork.get(child.id) : undefined;
    if (child) this.pidsAtFork.delete(child.id);
    if (child?.hungAtBoot) {
      const level = atFork && this.pids ? risenLevel(atFork, this.pids) : undefined;
      if (!level) return undefined;
      return { kind: 'task_limit', level, ...(tasksNeed !== undefined ? { need: tasksNeed } : {}), hungAtBoot: true, ...(child.neverBeat === true ? { neverBeat: true as const } : {}) };
    }
    if (!unasked) return undefined;
    if (signal === 'SIGKILL') return this.takeOomKill(now);
    // A thread refused aborts node (or crashes what did not check for it), or fails an exit, and a
    // fork refused leaves no process (code and signal null: fork-failure.ts); a SIGTERM or SIGINT
    // is someone's, whatever the counters did meanwhile.
    if (signal === null ? code === 0 : !CRASH_SIGNALS.has(signal)) return undefined;
    const r = this.pidsRise;
    if (!r || r.until < now) return undefined;
    return { kind: 'task_limit', level: r.level, ...(tasksNeed !== undefined ? { need: tasksNeed } : {}) };
  }

  private readMemory(now: number): void {
    const before = this.memory;
    const after = this.readers.memory();
    if (after) this.memory = after;
    if (!before || !after || after.version !== before.version || after.oomKills <= before.oomKills) return;
    // The deepest cgroup whose limit was reached since: its own, or a slice's above it. A level
    // not in the last reading (its limit set since: systemctl set-property) counts from 0.
    const counted = after.limits.find((l) => l.reached > (before.limits.find((b) => b.path === l.path)?.reached ?? 0));
    // v1's counts of refusals miss some (cgroup-events.ts): a peak at the limit then names it,
    // as the likely one only.
    const limit = counted ?? after.limits.find((l) => l.peakAtLimit === true);
    const certain = after.version === 2;
    this.oomCredits = { count: (this.oomCredits && this.oomCredits.until >= now ? this.oomCredits.count : 0) + after.oomKills - before.oomKills, until: now + RISE_HOLD_MS, limit, certain };
  }

  private takeOomKill(now: number): DeathCause | undefined {
    const c = this.oomCredits;
    if (!c || c.until < now || c.count <= 0) return undefined;
    c.count -= 1;
    return { kind: 'oom', limit: c.limit, certain: c.certain };
  }

  private readPids(now: number): void {
    const before = this.pids;
    const after = this.readers.pids();
    if (after) this.pids = after;
    if (!before || !after) return;
    const level = risenLevel(before, after);
    if (level) this.pidsRise = { until: now + RISE_HOLD_MS, level };
  }
}

/** The cgroup whose limit refused forks or threads between two readings, if any did. */
function risenLevel(before: PidsCounters, after: PidsCounters): PidsLevel | undefined {
  const rose = after.levels.filter((l) => l.refused > (before.levels.find((b) => b.path === l.path)?.refused ?? 0));
  if (rose.length === 0) return undefined;
  // The limiting cgroup counts the refusal on v2; on v1 the forking task's does, under
  // whichever ancestor's pids.max: the lowest limit of the chain is the one that binds.
  return rose.find((l) => l.max !== undefined) ?? lowestLimit(after.levels) ?? rose[0];
}

function lowestLimit(levels: readonly PidsLevel[]): PidsLevel | undefined {
  return levels.filter((l) => l.max !== undefined).sort((a, b) => (a.max ?? 0) - (b.max ?? 0))[0];
}

export interface CauseFields {
  readonly oom_kill: true;
  readonly memory_limit_bytes: number | null;
  readonly memory_limit_cgroup: string | null;
  /** false: cgroup v1, whose counters name the limit as the likely one only. */
  readonly memory_limit_certain: boolean;
  readonly task_limit_reached: true;
  readonly task_limit: number | null;
  readonly task_limit_cgroup: string;
}

/** The log fields a cause adds to an exit line (its event and code unchanged), and to its boot error. */
export function causeFields(c: DeathCause): Partial<CauseFields> {
  if (c.kind === 'oom') return { oom_kill: true, memory_limit_bytes: c.limit?.limitBytes ?? null, memory_limit_cgroup: c.limit?.path ?? null, memory_limit_certain: c.certain };
  return { task_limit_reached: true, task_limit: c.level.max ?? null, task_limit_cgroup: c.level.path };
}

/** The cause in words, for the exit line and the boot error a reload.failed repeats. */
export function causeWords(c: DeathCause): string {
  if (c.kind === 'oom') {
    if (!c.limit) return "killed by the kernel's OOM killer (the oom_kill count of corral's cgroup rose) with no cgroup memory limit of corral's reached: the machine ran out of memory (dmesg names the victim)";
    const more = bytesText(c.limit.limitBytes * 1.5).replace(/ /g, '').replace('MiB', 'M').replace('GiB', 'G');
    const fix = `Raise ${limitSetter(c.limit.path, 'MemoryMax', more)}, or lower what corral holds (CORRAL_WORKERS, CORRAL_MAX_WORKER_MEMORY_MB)`;
    if (!c.certain) {
      return (
        `killed by the kernel's OOM killer (the oom_kill count of corral's cgroup rose), most likely at the cgroup's memory limit, ${bytesText(c.limit.limitBytes)} (${c.limit.path}), which its use has reached ` +
        `(cgroup v1 cannot tell that from the machine running out: dmesg's oom-kill line says constraint=CONSTRAINT_MEMCG for the limit, CONSTRAINT_NONE for the machine). ${fix}`
      );
    }
    return `killed by the kernel's OOM killer: the cgroup's memory limit, ${bytesText(c.limit.limitBytes)} (${c.limit.path}), was reached (its oom_kill count rose). ${fix}`;
  }
  const max = c.level.max === undefined ? '' : ` ${c.level.max}`;
  // What corral needs when that is over the limit in force; else (the 12 tasks a process the
  // estimate counts fell short) half as much again as that limit, never one below it.
  const raised = c.level.max === undefined ? undefined : Math.ceil(c.level.max * 1.5);
  const need = c.need !== undefined && (c.level.max === undefined || c.need > c.level.max) ? String(c.need) : raised !== undefined ? String(raised) : `<more than${max}>`;
  return (
    (c.hungAtBoot
      ? // Any refusal in the cgroup since its fork counts (another worker's, an export thread's):
        // the limit is the likely cause, and an app that blocks at import stays the other one.
        // Before its first beat the app was not even imported: the other cause is the host.
        `most likely the process and thread limit: the cgroup's pids.max${max} (${c.level.path}) refused a fork or a thread since it was forked (its pids.events max count rose), and node hangs as it boots, or aborts, when it cannot create a thread (else ${c.neverBeat ? 'the host was too short of CPU or memory to start it' : 'the app blocks the event loop at import or in createApp'}). `
      : `the process and thread limit was reached: the cgroup's pids.max${max} (${c.level.path}) refused a fork or a thread (its pids.events max count rose), and node aborts when it cannot create a thread. `) +
    `Raise ${limitSetter(c.level.path, 'TasksMax', need)}, or lower CORRAL_WORKERS (task_limit.low at start says what fits)`
  );
}
