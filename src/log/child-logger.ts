// The logger of a worker or the keeper, which the master forks while it runs: at its start, at
// each respawn, recycle (CORRAL_MAX_REQUESTS, a timeout, an uncaught exception) and reload.
//
// Why: the master checks CORRAL_LOG_FILE once, at its start, and keeps its file open from then
// on, also when a rotation's USR1 cannot open the new one (the directory made unwritable, a file
// where the directory should be, a file `create`d for another owner: log.reopen_failed, "lines are
// not lost"). A child forked after that could not open the path, failed its boot with exit 78, and
// so did every replacement after it, until no worker was left and the master gave up
// (boot.exhausted, exit 3): a log rotation gone wrong took the site down at the next recycle. The
// child now logs to its stdout instead, which the master relays to its own (the journal under
// systemd), and says so once (log.file_unavailable). A USR1 (or the master's reopen on its log
// file watch) tries the file again, and moves the child's lines to it once it opens
// (log.file_available): a keeper runs for weeks, and its lines were missing from the file until
// it was restarted. A later child opens the file at its start once it can. A setting that can
// never be a log file (/dev/stdout) still fails, as at the master's start.

import { stdioLogFileProblem } from '../config/log-file-stdio.js';
import { describeError } from '../errors.js';
import { createLogger, type CorralLogger, type LogIdentity, type LogSettings } from './logger.js';

export function createChildLogger(settings: LogSettings, identity: LogIdentity): CorralLogger {
  try {
    return createLogger(settings, identity);
  } catch (err) {
    const file = settings.CORRAL_LOG_FILE;
    if (file === undefined || (err as { code?: unknown }).code !== 'CORRAL_ERR_LOG_FILE' || stdioLogFileProblem(file, true) !== undefined) throw err;
    const log = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: settings.CORRAL_LOG_LEVEL }, identity, { unavailableFile: file });
    const d = describeError(err);
    log.logger.error(
      { event: 'log.file_unavailable', code: 'CORRAL_ERR_LOG_FILE', file, err: d },
      `${d.message}: this ${identity.role}'s lines go to its stdout instead (the master relays them to its own: the journal under systemd) until the file can be opened; fix the log's directory, then send USR1, and its lines go to the file again (log.file_available)`,
    );
    return log;
  }
}
