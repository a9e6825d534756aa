// What systemd told this process through its environment (sd_notify(3), sd_watchdog_enabled(3)).
// The only reader of these variables: src/config owns every look at process.env.

export interface SystemdEnv {
  /** $NOTIFY_SOCKET: "/path" or "@abstract"; undefined when not started by systemd with Type=notify. */
  readonly notifySocket: string | undefined;
  /**
   * Watchdog period in microseconds ($WATCHDOG_USEC), only when it is meant for this process:
   * like sd_watchdog_enabled(), a $WATCHDOG_PID naming another process disables it.
   */
  readonly watchdogUsec: number | undefined;
  /** $INVOCATION_ID: set by systemd for every unit run; lets logs be tied to `journalctl _SYSTEMD_INVOCATION_ID=`. */
  readonly invocationId: string | undefined;
  /**
   * $JOURNAL_STREAM: device and inode of the stream systemd connected stdout/stderr to. Set does not
   * mean connected: compare with fstat() of the descriptor (systemd.exec(5)), as src/log/journal.ts does.
   */
  readonly journalStream: JournalStreamId | undefined;
}

export interface JournalStreamId {
  readonly dev: bigint;
  readonly ino: bigint;
}

/**
 * Variables a child (worker, keeper) must not inherit: it is not the service's main process, and
 * with NotifyAccess=main systemd would log a rejected message for each one it sent.
 */
export const SYSTEMD_NOTIFY_VARS = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

function positiveInt(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  const n = Number(raw.trim());
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export function readSystemdEnv(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): SystemdEnv {
  const socket = env.NOTIFY_SOCKET;
  // sd_notify accepts an absolute path or an abstract name; anything else is not for us.
  const notifySocket = socket && (socket.startsWith('/') || socket.startsWith('@')) && socket.length > 1 ? socket : undefined;
  const watchdogPid = positiveInt(env.WATCHDOG_PID);
  const watchdogUsec = watchdogPid !== undefined && watchdogPid !== pid ? undefined : positiveInt(env.WATCHDOG_USEC);
  const invocationId = env.INVOCATION_ID && /^[0-9a-f]{32}$/i.test(env.INVOCATION_ID) ? env.INVOCATION_ID : undefined;
  return { notifySocket, watchdogUsec, invocationId, journalStream: journalStreamId(env.JOURNAL_STREAM) };
}

/** "<dev>:<ino>" in decimal, as systemd writes it; anything else is not a journal stream. */
function journalStreamId(raw: string | undefined): JournalStreamId | undefined {
  const m = raw === undefined ? null : /^(\d+):(\d+)$/.exec(raw);
  return m?.[1] && m[2] ? { dev: BigInt(m[1]), ino: BigInt(m[2]) } : undefined;
}

/** A copy of `env` without the variables that address systemd's notify socket. */
export function withoutSystemdNotifyEnv<T extends Record<string, string | undefined>>(env: T): T {
  const copy = { ...env };
  for (const name of SYSTEMD_NOTIFY_VARS) delete copy[name];
  return copy;
}

/**
 * Reads the notify variables and removes them from this process's environment, like libsystemd's
 * sd_notify(unset_environment=1): node:cluster merges process.env into every worker's
 * environment, and only the master may speak to systemd.
 */
export function takeSystemdEnv(env: NodeJS.ProcessEnv = process.env): SystemdEnv {
  const taken = readSystemdEnv(env);
  for (const name of SYSTEMD_NOTIFY_VARS) delete env[name];
  return taken;
}
