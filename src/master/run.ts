// Runs the master: pidfile, logger, signals → intents, the arbiter, and an orderly exit.

import { existsSync, writeSync } from 'node:fs';
import { keepTickObjectMaps } from '../tick-maps.js';
import { isIP } from 'node:net';
import { adminUrlOf } from '../admin-url.js';
import { loadSettings, type LoadedSettings } from '../config/load.js';
import type { Settings } from '../config/schema.js';
import { withoutSystemdNotifyEnv } from '../config/systemd-env.js';
import { createCounterTable, openCounterTable, type CounterTable } from '../counter-table.js';
import { EXIT, describeError, codeOf } from '../errors.js';
import { isLoopbackHost } from '../loopback.js';
import type { Logger } from '../log/logger.js';
import { isJournalFd } from '../log/journal.js';
import { createLogger, EXIT_DRAIN_WAIT_MS } from '../log/logger.js';
import { watchLogFile } from '../log/file-watch.js';
import { startMonitoring, type Monitoring } from './admin/monitoring.js';
import { startAdminServer, type AdminServer } from './admin/server.js';
import { Arbiter } from './arbiter.js';
import { createConnectionGauges } from './connection-gauges.js';
import { checkKeeperLoads } from './keeper-load-check.js';
import { connectionsWithin, readOpenFilesLimit } from '../fd-limit.js';
import { fdLimitShortfall, warnFdLimit, type FdLimitShortfall } from './fd-limit-check.js';
import { taskLimitShortfall, warnTaskLimit } from './task-limit-check.js';
import { readTaskLimit } from '../task-limit.js';
import { createHostCounters } from './host-counters.js';
import { noopNotifier, type Notifier } from './notify.js';
import { fatalStderrLine, type FatalReason } from './fatal-stderr.js';
import { removePidfile, updateMasterRecord, writePidfile, type MasterRecord } from './pidfile.js';
import { sayExposedByReload } from './sample-roster-on-reload.js';
import { procReaders } from './proc-identity.js';
import { listenForSignalIntents } from './signal-intents.js';
import { createSpawner } from './spawner.js';
import { forcedExitAfterMs } from './stop-sequence.js';
import { outlastClosedOutput } from './closed-output.js';

export interface MasterEntryPoints {
  /** Compiled worker entry (forked through node:cluster). */
  readonly workerExec: string;
  /** Compiled keeper entry, if the Sheets keeper should run. */
  readonly keeperExec: string | undefined;
}

export interface MasterHooks {
  /** Creates the systemd notifier (sd-notify.ts); defaults to a no-op. */
  readonly notifier?: (logger: import('../log/logger.js').Logger) => Notifier;
}

export async function runMaster(loaded: LoadedSettings, entry: MasterEntryPoints, hooks: MasterHooks = {}): Promise<void> {
  // The settings as a whole (an admin API open to the network without a token, a log file that
  // cannot be opened) were judged where they were read (config/whole-checks.ts).
  const settings = loaded.settings;
  // The master's ticks (IPC with every worker, the admin API) keep their maps too (tick-maps.ts).
  keepTickObjectMaps();
  const log = createLogger(settings, { role: 'master' });
  const logger = log.logger;
  outlastClosedOutput(logger);
  // The notifier may refuse to start (NOTIFY_SOCKET set but no transport): before the pidfile.
  const notifier = hooks.notifier?.(logger) ?? noopNotifier;
  // Before the pidfile names this process: a signal sent by whoever reads it is recorded, and
  // handed to the arbiter once it exists (signal-intents.ts). `corral start` listens earlier still.
  const intents = listenForSignalIntents();
  const pidfile = settings.CORRAL_PIDFILE;
  /** Where the admin API listens, once it does (null: it could not start): recorded beside the pidfile. */
  let adminUrl: string | null | undefined;
  const masterRecord = (gracefulTimeoutS: number): MasterRecord => ({ gracefulTimeoutS, envFile: loaded.envFile ?? null, cwd: process.cwd(), ...(adminUrl !== undefined ? { adminUrl } : {}) });
  const replaced = pidfile ? writePidfile(pidfile, procReaders, masterRecord(settings.CORRAL_GRACEFUL_TIMEOUT)) : undefined;
  /** CORRAL_GRACEFUL_TIMEOUT as last applied. */
  let gracefulTimeoutS = settings.CORRAL_GRACEFUL_TIMEOUT;
  /** The settings whose CORRAL_BIND the workers listen on, as last applied. */
  let bindApplied: Pick<Settings, 'CORRAL_BIND' | 'SHEET_ID' | 'CORRAL_DATA_DIR'> = settings;
  const recordMaster = (what: string, fallback: string) => {
    if (!pidfile) return;
    try {
      updateMasterRecord(pidfile, masterRecord(gracefulTimeoutS));
    } catch (err) {
      logger.warn({ event: 'pidfile.record_failed', pidfile, err: describeError(err) }, `cannot record ${what} beside the pidfile (${fallback}): ${describeError(err).message}`);
    }
  };
  // A master that died without its exit path (SIGKILL, the OOM killer, a power cut) left its pidfile.
  if (replaced) logger.warn({ event: 'pidfile.stale', pidfile }, replaced);
  const keeperExec = entry.keeperExec && existsSync(entry.keeperExec) ? entry.keeperExec : undefined;
  // Without its file (an incomplete build) the master ran without a keeper and said nothing: every
  // read and append of the sheet failed, and status only showed "keeper: not running".
  if (entry.keeperExec && !keeperExec) {
    logger.error(
      { event: 'keeper.entry_missing', code: 'CORRAL_ERR_CODE_LOAD', path: entry.keeperExec },
      `corral's keeper (${entry.keeperExec}) is missing, an incomplete build: corral runs without it, so every read and append of the sheet fails (503); rebuild corral (npm ci, npm run build) and restart it`,
    );
  }

  let arbiter: Arbiter | undefined;
  let admin: AdminServer | undefined;
  let monitoring: Monitoring | undefined;
  // Set by an uncaught exception: the clean stop that follows must still exit non-zero, so that
  // systemd (Restart=on-failure) brings corral back.
  // Its reason, said on stderr at the exit as a start that gave up is (fatal-stderr.ts).
  let crashed: FatalReason | undefined;
  let exiting = false;
  let logFileWatch: { close(): void } | undefined;
  /** What the log file watch found, said once the reopen it asked for is done. */
  let fileChange: { state: 'replaced' | 'missing'; file: string } | undefined;
  // `reopened`: whether the master's own reopen opened the file (the children open the same path
  // as the same user, and each says log.reopen_failed if it cannot). Said only once known: with the
  // log's directory unwritable (chmod 0555 after a rotation), "created again and reopened" was
  // written into the rotated file while no file stood at the path.
  const sayFileChange = ({ state, file }: { state: 'replaced' | 'missing'; file: string }, reopened: boolean | undefined) => {
    const done = reopened === true;
    if (state === 'missing') {
      logger.warn(
        { event: 'log.file_removed', code: 'CORRAL_ERR_LOG_WRITE', file, reopened: reopened ?? null },
        `CORRAL_LOG_FILE ${file} was removed (or moved away with nothing put in its place) while corral wrote to it: ` +
          (done
            ? 'created again and reopened by every process; the lines of the last few seconds went to the file that was there (lost if removed, in the moved file if moved)'
            : reopened === false
              ? 'it could not be created again (log.reopen_failed says why), so every process keeps writing to the file it had open (in the moved file if moved; if removed, to a file no directory names, whose space is not freed): fix the directory, then USR1'
              : 'every process was asked to create it again and reopen it, and the master did not learn within seconds whether it could (a log.reopen_failed line says so if not)'),
      );
    } else {
      logger.info(
        { event: 'log.file_replaced', file, reopened: reopened ?? null },
        `CORRAL_LOG_FILE ${file} is another file than the one open (moved aside, a rotation before its USR1): ` +
          (done ? 'reopened by every process' : reopened === false ? 'it could not be opened (log.reopen_failed says why); lines keep going to the file open before until a USR1 can open it' : 'every process was asked to reopen it'),
      );
    }
  };
  const exit = (stopCode: number, fatal?: FatalReason) => {
    // Once: the exit below waits for the log's write in flight, and nothing said meanwhile changes it.
    if (exiting) return;
    exiting = true;
    const code = crashed && stopCode === EXIT.OK ? EXIT.UNCAUGHT : stopCode;
    const notRemoved = pidfile ? removePidfile(pidfile) : undefined;
    if (notRemoved) {
      logger.warn(
        { event: 'pidfile.remove_failed', pidfile, err: describeError(notRemoved) },
        `cannot remove the pidfile at exit (${describeError(notRemoved).message}): it is left naming this master's pid, which corral status and the next start take for stale once it has exited`,
      );
    }
    monitoring?.close();
    logFileWatch?.close();
    void admin?.close();
    notifier.close();
    void log.drained(EXIT_DRAIN_WAIT_MS).then(() => {
      // After drained(), which says the lines dropped since the last log.dropped: master.exit
      // stays the master's last line. flush() writes it with the rest.
      logger.info({ event: 'master.exit', exit_code: code }, `master exiting with code ${code}`);
      log.flush();
      const why = fatal ?? crashed;
      const line = why && fatalStderrLine(why, log.file(), logger.level);
      if (line) {
        try {
          writeSync(2, line);
        } catch {
          // stderr closed or full: the log file still says it.
        }
      }
      process.exit(code);
    });
  };

  // Workers inherit the master's open-files limit: a cap they cannot hold is lowered under it, and said.
  const fdLimit = readOpenFilesLimit();
  let fdNeedSaid = fdNeedKey(warnFdLimit(logger, settings, fdLimit));
  // Its process and thread limit, which a fork or a thread past it fails (and reloads double).
  let taskNeedSaid = warnTaskLimit(logger, settings, readTaskLimit())?.need;
  const fdCeiling = connectionsWithin(fdLimit?.soft);
  const counterTable = createCounterTableOrWarn(logger);
  arbiter = new Arbiter({
    loaded,
    // The file read at start, gone at a reload, is refused rather than read as "no file"; a
    // pidfile moved since is judged, as the restart that applies it will.
    reloadSettings: () => loadSettings({ envFileAtStart: loaded.envFile, pidfileAtStart: { path: pidfile } }),
    spawner: createSpawner({ workerExec: entry.workerExec, keeperExec, envFilter: withoutSystemdNotifyEnv, listenSocket: { accept: settings.CORRAL_ACCEPT, backlog: settings.CORRAL_BACKLOG }, counters: createHostCounters({ logger }), ...(counterTable === undefined ? {} : { counterTableFd: counterTable.fd, connectionGauges: createConnectionGauges(counterTable.table) }), stderrJournal: isJournalFd(2), stdout: log.stdoutSink(), stdoutJournal: isJournalFd(1), stdoutStructured: log.file() === undefined }),
    withKeeper: keeperExec !== undefined,
    ...(keeperExec === undefined ? {} : { keeperLoadCheck: (env: Readonly<Record<string, string>>) => checkKeeperLoads(keeperExec, withoutSystemdNotifyEnv(env)) }),
    logger,
    reopenLogs: (said) => {
      const change = fileChange;
      fileChange = undefined;
      // Said once the reopen is done, so that the line lands in the new file, not the one that
      // went, and says whether it worked; the arbiter's own line after it.
      void log.reopen().then((reopened) => {
        if (change) sayFileChange(change, reopened);
        said?.();
      });
    },
    configureLogs: (next) => log.configure(next),
    // `corral stop` waits by the graceful timeout the master runs, not by a .env edited since.
    settingsApplied: (next, how) => {
      // A reload may raise the connections or the workers past the limit the master started with
      // (said again only when what a worker, the master or the keeper needs changed; a rollback to
      // the same settings says nothing).
      // With the accept the master runs: a reload does not apply CORRAL_ACCEPT (the children are
      // forked with the start's), and judged by the file's it warned of a shortfall the running
      // master does not have, or missed one it does.
      const running = { ...next, CORRAL_ACCEPT: settings.CORRAL_ACCEPT };
      const need = fdNeedKey(fdLimitShortfall(running, fdLimit));
      if (need !== undefined && need !== fdNeedSaid) warnFdLimit(logger, running, fdLimit);
      fdNeedSaid = need;
      // Read again: a limit changed on the running unit (systemctl set-property corral TasksMax=).
      const taskLimit = readTaskLimit();
      const tasks = taskLimitShortfall(next, taskLimit)?.need;
      if (tasks !== undefined && tasks !== taskNeedSaid) warnTaskLimit(logger, next, taskLimit);
      taskNeedSaid = tasks;
      gracefulTimeoutS = next.CORRAL_GRACEFUL_TIMEOUT;
      recordMaster('the reloaded settings', 'corral stop falls back to .env');
      // Not at a rollback (the bind goes back to what it was), nor when the keeper restarts: the
      // new keeper says it at its start.
      if (!how.rollBack && !how.keeperRestarts) void sayExposedByReload(logger, bindApplied, next).catch(() => undefined);
      bindApplied = next;
    },
    notifier,
    onExit: exit,
    ...(fdCeiling === undefined ? {} : { fdCeiling }),
  });

  // CORRAL_LOG_FILE removed or replaced without a USR1: reopened as on one (file-watch.ts).
  logFileWatch = watchLogFile({
    file: () => log.file(),
    fd: () => log.fd(),
    changed: (state, file) => {
      fileChange = { state, file };
      arbiter?.record('log-file-changed');
    },
  });
  process.on('uncaughtException', (err) => {
    // The master must outlive its own bugs long enough to stop its children cleanly.
    const d = describeError(err);
    logger.fatal({ event: 'master.uncaught', code: 'CORRAL_ERR_UNCAUGHT', err: d }, 'uncaught exception in the master');
    crashed ??= { code: 'CORRAL_ERR_UNCAUGHT', message: `uncaught exception in the master (${d.message}); the workers were stopped, and it exits 70 for systemd to restart it` };
    arbiter?.record('stop');
    // By the graceful timeout in force (a reload may have raised it), not the start's.
    setTimeout(() => exit(EXIT.UNCAUGHT), forcedExitAfterMs(gracefulTimeoutS * 1000)).unref();
  });
  // Capacity and host alerts run whether or not the admin listener could bind.
  monitoring = startMonitoring(arbiter.view(), logger);
  try {
    admin = await startAdminServer(arbiter.view(), logger, { monitoring });
    arbiter.adminPort = admin.port;
    // Judged against a reload's CORRAL_BIND by its address: a host name overlaps nothing.
    arbiter.adminAddress = admin.address;
    // A host name is recorded as the address it was bound to: the commands ask only an address
    // of this host (or localhost) found there, and warned at every status of one named so.
    const bindHost = settings.CORRAL_ADMIN_BIND.host;
    adminUrl = adminUrlOf(isIP(bindHost) !== 0 || isLoopbackHost(bindHost) ? bindHost : admin.address, admin.port);
  } catch (err) {
    // The admin API is for operators; its port being taken must not keep the site down.
    logger.error({ event: 'admin.failed', code: 'CORRAL_ERR_LISTEN', err: describeError(err) }, `admin API not started: ${describeError(err).message}`);
    adminUrl = null;
  }
  recordMaster('where the admin API listens', 'corral status and reload --wait look for it at CORRAL_ADMIN_BIND');
  // Signals kept since the start are handed over only now: a stop handed over while the admin
  // listener was still starting finished the master without closing it, and master.start was
  // then logged after shutdown.done.
  intents.deliverTo((intent) => arbiter?.record(intent));
  arbiter.start();
}

/** What an fd_limit.low said, to tell a reload's shortfall from the one said before. */
function fdNeedKey(f: FdLimitShortfall | undefined): string | undefined {
  return f === undefined ? undefined : `${f.workerShort ? f.need : '-'}/${f.master?.need ?? '-'}/${f.keeper?.need ?? '-'}`;
}

/**
 * The host counters' shared table, made once per master (a restarted master starts from an empty
 * one; the memfd goes when the last process holding it exits). Without it the workers count
 * through the master, as they did before it: slower, just as exact.
 */
function createCounterTableOrWarn(logger: Logger): { fd: number; table: CounterTable } | undefined {
  try {
    const fd = createCounterTable();
    return { fd, table: openCounterTable(fd) };
  } catch (err) {
    const d = describeError(err);
    logger.warn({ event: 'counters.table_unavailable', code: codeOf(d, 'CORRAL_ERR_COUNTER_TABLE'), err: d.message }, 'host counters: no shared table; workers count through the master');
    return undefined;
  }
}
