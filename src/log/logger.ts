// The only place that creates pino loggers. Every line carries role, worker id, pid and
// generation; all processes may share one file (O_APPEND, whole lines per write).

import { pino, type Logger } from 'pino';

export type Role = 'master' | 'worker' | 'keeper' | 'cli';

export interface LogIdentity {
  readonly role: Role;
  readonly worker?: number;
  readonly generation?: number;
}

export interface LogSettings {
  readonly CORRAL_LOG_FILE: string | undefined;
  readonly CORRAL_LOG_LEVEL: string;
}

export interface CorralLogger {
  readonly logger: Logger;
  /** Reopens the log file after logrotate moved it (USR1). No-op on stdout. */
  reopen(): void;
  /** Writes out buffered lines; call before a deliberate exit. */
  flush(): void;
}

export function createLogger(settings: LogSettings, identity: LogIdentity): CorralLogger {
  const file = settings.CORRAL_LOG_FILE;
  // A shared file is written with O_APPEND; each write is a buffer of whole lines, so lines from
  // several processes never interleave mid-line.
  const destination = file
    ? pino.destination({ dest: file, append: true, mkdir: true, sync: false })
    : pino.destination({ dest: 1, sync: false });
  const logger = pino(
    {
      level: settings.CORRAL_LOG_LEVEL,
      base: { role: identity.role, worker: identity.worker ?? null, pid: process.pid, gen: identity.generation ?? null },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return {
    logger,
    reopen() {
      if (file) destination.reopen();
    },
    flush() {
      try {
        destination.flushSync();
      } catch {
        // flushSync throws while the stream is still opening; nothing is buffered then.
      }
    },
  };
}

export type { Logger };
