// Who this process is, as set by the master when it forks a child. Kept apart from the settings
// schema because operators never set these; the master does.

export type ChildRole = 'worker' | 'keeper';

export interface ChildIdentity {
  readonly role: ChildRole;
  /** Worker number (1..), stable across the process's life; 0 for the keeper. */
  readonly workerId: number;
  readonly generation: number;
  /**
   * The worker count the master steered to when it forked this child: CORRAL_WORKERS until a
   * TTIN/TTOU changes it. A worker's connection cap depends on it from its first connection.
   */
  readonly workers?: number;
  /**
   * When the first worker of this generation became ready (epoch ms), for a worker forked after
   * that: one that joins a generation already serving (a crash's replacement, a recycle, a worker
   * added by TTIN). Absent for a worker of the generation's first boot, and for the keeper. What a
   * generation's workers must share and the app makes on first use (the session secret) is made
   * by the first boot only; a worker joining later finds it as it was, or refuses to boot.
   */
  readonly generationReadyAt?: number;
}

const ROLE = 'CORRAL_INTERNAL_ROLE';
const WORKER_ID = 'CORRAL_INTERNAL_WORKER_ID';
const GENERATION = 'CORRAL_INTERNAL_GENERATION';
const WORKERS = 'CORRAL_INTERNAL_WORKERS';
const GENERATION_READY_AT = 'CORRAL_INTERNAL_GENERATION_READY_AT';

/** Env entries the master adds when forking a child. */
export function identityEnv(identity: ChildIdentity): Record<string, string> {
  return {
    [ROLE]: identity.role,
    [WORKER_ID]: String(identity.workerId),
    [GENERATION]: String(identity.generation),
    ...(identity.workers === undefined ? {} : { [WORKERS]: String(identity.workers) }),
    ...(identity.generationReadyAt === undefined ? {} : { [GENERATION_READY_AT]: String(identity.generationReadyAt) }),
  };
}

/** Reads this child's identity; undefined in the master or a CLI process. */
export function readIdentity(env: NodeJS.ProcessEnv = process.env): ChildIdentity | undefined {
  const role = env[ROLE];
  if (role !== 'worker' && role !== 'keeper') return undefined;
  const workers = Number(env[WORKERS]);
  const readyAt = env[GENERATION_READY_AT] === undefined ? NaN : Number(env[GENERATION_READY_AT]);
  return {
    role,
    workerId: Number(env[WORKER_ID] ?? 0),
    generation: Number(env[GENERATION] ?? 0),
    ...(Number.isSafeInteger(workers) && workers > 0 ? { workers } : {}),
    ...(Number.isFinite(readyAt) && readyAt > 0 ? { generationReadyAt: readyAt } : {}),
  };
}

const COUNTER_TABLE_FD = 'CORRAL_INTERNAL_COUNTER_TABLE_FD';

/** Env entry telling a worker at which fd the master handed it the host counters' table. */
export function counterTableEnv(fd: number): Record<string, string> {
  return { [COUNTER_TABLE_FD]: String(fd) };
}

/** A whole number >= 0 the master put in the env; undefined when absent or not one. */
function readIndex(text: string | undefined): number | undefined {
  const n = text === undefined ? NaN : Number(text);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** The fd of the host counters' table this worker was handed; undefined when it was not. */
export function readCounterTableFd(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return readIndex(env[COUNTER_TABLE_FD]);
}

const STACK_PROBE_FD = 'CORRAL_INTERNAL_STACK_PROBE_FD';

/** Env entry telling a child at which fd the master's end of its stack probe is (stack-probe.ts). */
export function stackProbeEnv(fd: number): Record<string, string> {
  return { [STACK_PROBE_FD]: String(fd) };
}

/** The fd of this child's stack probe; undefined when it was given none (CORRAL_STUCK_STACKS=false). */
export function readStackProbeFd(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return readIndex(env[STACK_PROBE_FD]);
}

const CONNECTION_GAUGE = 'CORRAL_INTERNAL_CONNECTION_GAUGE';

/** Env entry telling a worker which connection gauge of the table is its own. */
export function connectionGaugeEnv(index: number): Record<string, string> {
  return { [CONNECTION_GAUGE]: String(index) };
}

/** This worker's connection gauge in the host counters' table; undefined when it was given none. */
export function readConnectionGauge(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return readIndex(env[CONNECTION_GAUGE]);
}

const STDOUT_JOURNAL = 'CORRAL_INTERNAL_STDOUT_JOURNAL';

/**
 * Env entry telling a child that its stdout, a pipe the master relays (master/stdout-relay.ts),
 * ends in the journal: it then writes its lines with their syslog priorities, as the master does
 * (log/journal.ts), since it cannot tell from its own fd 1.
 */
export function stdoutJournalEnv(): Record<string, string> {
  return { [STDOUT_JOURNAL]: '1' };
}

/** True when the master said this child's stdout is relayed to the journal. */
export function readStdoutJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[STDOUT_JOURNAL] === '1';
}
