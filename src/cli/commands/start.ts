import { fileURLToPath } from 'node:url';
import { loadSettings } from '../../config/load.js';
import { takeSystemdEnv } from '../../config/systemd-env.js';
import { runMaster } from '../../master/run.js';
import { createNotifier } from '../../master/sd-notify.js';
import { parseFlags, type Command } from '../command.js';
import { appArgumentHint } from '../flag-hints.js';

/** The CLI is the one place that knows every entry point. */
export const ENTRY_POINTS = {
  workerExec: fileURLToPath(new URL('../../worker/entry.js', import.meta.url)),
  keeperExec: fileURLToPath(new URL('../../sheets/keeper-entry.js', import.meta.url)),
};

export const startCommand: Command = {
  name: 'start',
  // A stdout whose reader went away must not end the master (master/closed-output.ts).
  handlesClosedStdout: true,
  help: `Usage: corral start

Starts the master in the foreground (systemd, a container or a terminal supervise it). The master
forks CORRAL_WORKERS workers serving CORRAL_BIND, the Sheets keeper, and the admin API on
CORRAL_ADMIN_BIND. Settings come from .env (or CORRAL_ENV_FILE) and the environment: see
\`corral config\` and config/.env.example.

Signals to the master:
  TERM, INT   graceful stop (in-flight requests finish, up to CORRAL_GRACEFUL_TIMEOUT)
  QUIT        fast stop
  HUP         zero-downtime reload (re-reads .env, new generation of workers)
  TTIN, TTOU  one worker more / less
  USR1        reopen the log file (after logrotate)
  USR2        ignored and logged (signal.ignored): corral has no binary upgrade; reload instead

Exit codes: 0 stopped cleanly, 1 not started: corral already runs (CORRAL_ERR_ALREADY_RUNNING:
the pidfile names a live master, or a live process that may be one; the message says how to
tell), 3 no worker could boot (a port in use, an app whose start throws: the log's
boot.exhausted says why, and with CORRAL_LOG_FILE set, the same line on stderr, naming the
file), 64 an unknown option or argument, 70 uncaught exception in the master (its workers
stopped first; said on stderr too with CORRAL_LOG_FILE), or an error start did not foresee
before the master ran (CORRAL_ERR_INTERNAL or CORRAL_ERR_CODE_LOAD, on stderr), 78 settings refused (an invalid value,
an unreadable CORRAL_ENV_FILE, a CORRAL_LOG_FILE or CORRAL_PIDFILE that cannot be written, with
SHEET_ID a service-account key that cannot be read or is no key, a CORRAL_DATA_DIR that is a
file or that this user cannot write in or create, an admin API beyond loopback without a token),
or NOTIFY_SOCKET is set but the sd_notify addon is not built or cannot be loaded
(CORRAL_ERR_NOTIFY: npm rebuild): nothing was started; or no worker could boot for a cause no
restart gets past until the files or settings change (a module that is not there, a syntax
error, no listener exported, a port below 1024 without the capability), which systemd's
RestartPreventExitStatus=78 does not restart.`,
  async run(argv) {
    parseFlags(argv, {}, { readsSettings: true, argumentHint: appArgumentHint });
    const loaded = loadSettings({ judgePidfile: true });
    await runMaster(loaded, ENTRY_POINTS, { notifier: (logger) => createNotifier(takeSystemdEnv(), logger) });
    // The master exits through its own lifecycle; keep the CLI promise pending.
    return new Promise<number>(() => {});
  },
};
