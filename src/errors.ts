// Every error corral throws or logs carries a stable `code` from this file, so operators can grep
// for it and tests can assert on it. A unit test checks the codes are unique and documented here.

/**
 * Stable error codes, each with its meaning: the README's table says the same in an operator's
 * words, at times at more length (a unit test keeps the two sets of codes equal, not the texts).
 */
export const ERROR_CODES = {
  CORRAL_ERR_CONFIG_INVALID: 'One or more settings have invalid values; all problems are listed together.',
  CORRAL_ERR_ENV_FILE: 'The .env file named by CORRAL_ENV_FILE (or ./.env) could not be read (missing, a directory, no permission, a symbolic link to nothing, a pipe such as a shell <(...), UTF-16 rather than UTF-8), or the one read at start is gone at a reload (refused: restore it, or create an empty one for the defaults).',
  CORRAL_ERR_LOG_FILE: 'CORRAL_LOG_FILE could not be opened for appending (its directory cannot be created, or is not writable).',
  CORRAL_ERR_LOG_WRITE: 'CORRAL_LOG_FILE could not be written (disk full, I/O error): lines are dropped, said once on stderr, and writing resumes by itself; `log.write_recovered` counts the lines lost.',
  CORRAL_ERR_USAGE: 'The command line was not understood.',
  CORRAL_ERR_NOT_RUNNING:
    "No running master was found through the pidfile (`CORRAL_PIDFILE`, as this command reads .env and the environment): corral is not running, or it was started with another `CORRAL_PIDFILE` or `CORRAL_ENV_FILE`; give the command the same ones (under systemd, `systemctl status corral`).",
  CORRAL_ERR_NO_PIDFILE: 'CORRAL_PIDFILE is empty, so the master writes no pidfile and reload, stop and status cannot find it: whether corral runs is unknown; status exits 4, reload and stop signal nothing and exit 1 (use systemctl, or set CORRAL_PIDFILE and restart corral).',
  CORRAL_ERR_MASTER_UNVERIFIED: 'The pidfile names a live process without a start stamp, whose command line is not `corral start`, that may or may not be the master: reload and stop signal nothing, status exits 4 (unknown).',
  CORRAL_ERR_MASTER_ELSEWHERE: 'No pidfile at CORRAL_PIDFILE names a master, but a corral master answers the admin API at CORRAL_ADMIN_BIND, or (nothing answering there) its keeper holds CORRAL_DATA_DIR\'s lock, or (none held there) a corral master runs that was started with the settings file this command read: one started with another CORRAL_PIDFILE (the setting edited since), or the same relative one (the default, corral.pid) in another working directory. reload and stop signal nothing (exit 1), status exits 4 (unknown); the message says how to reach it.',
  CORRAL_ERR_ALREADY_RUNNING: 'The pidfile names a live master, or a live process without a start stamp that may be one (remove the pidfile if it is stale).',
  CORRAL_ERR_PIDFILE: 'start could not use CORRAL_PIDFILE: its directory cannot be created or written, the path is a directory, or the file cannot be read; nothing was started (exit 78).',
  CORRAL_ERR_PIDFILE_UNREADABLE: 'reload, stop or status could not read CORRAL_PIDFILE (no permission): whether corral runs is unknown, nothing was signalled; status exits 4, reload and stop 1.',
  CORRAL_ERR_PIDFILE_UNTRUSTED: 'CORRAL_PIDFILE (or the symlink at its path, or its `.start` file) belongs to a user other than root and the one the process it names runs as, or the pidfile or its `.start` file is writable by group or others, so someone else could have named any process: reload and stop signal nothing (exit 1), status exits 4 (unknown).',
  CORRAL_ERR_STOP_TIMEOUT:
    "`corral stop` waited the master's graceful timeout plus 10 s and the master still runs. Stopped (SIGSTOP, a debugger: the message says so), it acts on no signal until `kill -CONT <pid>` resumes it, and then stops; otherwise `corral status` says what it is doing and `corral stop --fast` cuts its requests in flight short. `kill -KILL <pid>` ends it at once either way (its workers and keeper exit once it is gone; what the keeper journaled is sent after the next start). Exit 1.",
  CORRAL_ERR_SIGNAL_DENIED:
    "The master runs as another user, so this command may not signal it: run it as that user or root (`sudo -u corral corral reload`), or through systemctl under systemd.",
  CORRAL_ERR_APP_LOAD:
    "The application module (`CORRAL_APP`) could not be imported or did not export a request listener. The `worker.boot_failed` line carries the import's error and stack in `boot_error`, and its message says where in the app's files it comes from (`cannot import app module ./app.mjs: Unexpected token ';' (at /srv/app/lib.mjs:2: const x = ;)`: the module with the syntax error, often one the app imports, its line and the code there; or the frame a module's evaluation or `createApp()` threw at), as `boot.exhausted`, `reload.failed` and `reload --wait` repeat it: fix the module, then start or reload (a reload whose new workers cannot boot is rolled back, the old ones serving on).",
  CORRAL_ERR_CODE_LOAD:
    "corral's own code (dist/, node_modules) could not be loaded in a new worker or keeper: its files changed under the running corral, as `npm ci` or `git pull` in the directory it runs from does (node_modules is deleted, then rebuilt), or are incomplete. The `worker.boot_failed` (or keeper) line carries the loader's error in `boot_error`. Stop corral before upgrading it in place, or build the new release in a directory of its own (README: Upgrading corral); the workers already running are not affected. A command (`corral status`, ...) whose own modules cannot be loaded says so with this code on stderr, a file that does not parse (one cut short) named with its line as above, and exits 1 (`corral status`: 4, unknown; `corral start`: 70): once the build is whole again (`npm ci` in its directory rebuilds dist/, or reinstall corral), run it again.",
  CORRAL_ERR_LISTEN:
    "A socket could not be bound: the port is in use (another process, or corral's own admin API at `CORRAL_ADMIN_BIND`; the worker's line names the holder when /proc shows it, as processes of corral's user are: its pid and command line, and whether it is a corral master, a worker of a running corral, or a worker whose master is gone (an orphan: `kill -9` it); otherwise `ss -ltnp 'sport = :8080'` names it, as root), permission denied (a port below 1024 needs CAP_NET_BIND_SERVICE: use a higher port behind a proxy such as `config/nginx/corral.conf`), or no interface of this host has the address. The log line names the setting and the fix; a reload whose new workers cannot bind is rolled back.",
  CORRAL_ERR_BOOT_EXHAUSTED:
    "No worker could boot `CORRAL_BOOT_ATTEMPTS` times in a row, and the master stops as on `TERM` (`shutdown.start` says `no worker could boot`: the keeper is drained, so what it journaled is sent or left whole in the journal, and its exit is said), then exits 3. The `boot.exhausted` line carries the last worker's `boot_error`, whose code says why (`CORRAL_ERR_APP_LOAD`, `CORRAL_ERR_LISTEN`, or the app's own); under systemd, `Restart=on-failure` starts it again after `RestartSec`. When every failed boot of the run failed for a cause no new attempt gets past until the app's files or the settings change (a module that is not there, a file that does not parse, a module exporting neither `createApp` nor a default listener, a port below 1024 without the capability: `boot_error.lasting`), it exits 78 instead, which the unit does not restart (`RestartPreventExitStatus=78`): the unit ends `failed`, where exit 3 was restarted every few seconds for good; an error the app's own code throws at start (a database not up yet) keeps exit 3.",
  CORRAL_ERR_TASK_LIMIT:
    "The process and thread limit corral runs under (a cgroup's pids.max: systemd's TasksMax=, a container's --pids-limit; or RLIMIT_NPROC, ulimit -u, for a user other than root) is below what its processes may take: about 12 threads each for the master, the keeper and every worker, twice the workers during a reload with the reload's own command (corral reload --wait, the unit's ExecReload=), and the workers' export threads. Said at start (task_limit.low, warn) with the limit, what sets it and the fixes; corral starts all the same, and a fork past the limit fails as CORRAL_ERR_FORK.",
  CORRAL_ERR_FORK:
    "The operating system would not create a worker or keeper process: fork(2) refused with EAGAIN (the process or thread limit: systemd TasksMax=, a cgroup pids.max, ulimit -u; each node process takes about a dozen tasks, its threads), ENOMEM (no memory for a new process), EMFILE or ENFILE (file descriptors). Said as that child's boot failure (worker.boot_failed, keeper.exit) with the errno and what to raise, and counted as one: the backoff, CORRAL_BOOT_ATTEMPTS at start (boot.exhausted, exit 3), a reload rolled back. Not a broken app.",
  CORRAL_ERR_WORKER_DIED: 'A worker died without an app or listen failure: killed by a signal (SIGKILL: the OOM killer or an operator; the message names the signal and its usual sender), or exited with a code that is no boot failure; before it was ready (worker.boot_failed), or while serving (worker.exit: replaced with backoff). Not a broken app: check memory (dmesg) and who signals the workers.',
  CORRAL_ERR_WORKER_TIMEOUT:
    "A worker (or the keeper) stopped sending heartbeats and was killed; with CORRAL_STUCK_STACKS its stack is logged first (worker.stack). One booting that never sent its first (worker.timeout with never_beat: true, boot_error 'no beat in N s since it was forked') had the boot timeout, or CORRAL_TIMEOUT once the cgroup refused a fork or thread since its fork.",
  CORRAL_ERR_REQUEST: 'A request handler threw or rejected, or wrote to its answer after ending it; the client got a 500 when nothing of the answer had gone out, else the answer was cut (or, ended, went out whole).',
  CORRAL_ERR_MASTER_STEP: 'A step of the master failed inside corral (a reconcile tick, a monitoring step): a bug; the master goes on with the next one.',
  CORRAL_ERR_INTERNAL:
    "A command (`corral status`, `config`, `check`, ...) failed on an error corral did not foresee: a bug. Its stack is printed on stderr, and with `--json` the error is in the command's JSON answer, so a script never reads an empty one; exit 1 (`corral status`: 4, unknown, as LSB has it; its 1 says corral runs; `corral start`: 70, as a crash of the master, its 1 saying corral already runs). Report it with the stack.",
  CORRAL_ERR_OUTPUT:
    "A command's answer could not be written to stdout (a full disk under `corral config --json > file`, an I/O error): what was printed is missing or cut short. Said on stderr; exit 1 (`corral status`: 4, unknown). A reader that went away (EPIPE: `| head`) is no error.",
  CORRAL_ERR_ADMIN_DASHBOARD: 'The /admin dashboard files could not be read; the admin API works without the page.',
  CORRAL_ERR_KEEPER_BOOT: 'The keeper could not start (a previous keeper still holds the data dir, Google unreachable); the master restarts it with its backoff.',
  CORRAL_ERR_UNCAUGHT: 'An exception escaped to the process level; the worker drains and exits.',
  CORRAL_ERR_ADMIN_UNSAFE: 'The admin listener is bound beyond loopback without CORRAL_ADMIN_TOKEN.',
  CORRAL_ERR_ADMIN_UNREACHABLE:
    "The pidfile's master runs, but its admin API did not start (admin.failed in its log: its CORRAL_ADMIN_BIND port was in use) or did not answer where it listens (recorded beside the pidfile; CORRAL_ADMIN_BIND for a master of an older corral), as when the master is too busy to answer within the client's wait. `corral status` exits 1; `corral reload --wait` signals nothing and exits 1.",
  CORRAL_ERR_ADMIN_OTHER_MASTER:
    "The admin API asked answers for another master than the pidfile's: a master of an older corral, which records no admin address beside its pidfile, found another corral at CORRAL_ADMIN_BIND (its own could not start there: admin.failed in its log). `corral status` exits 1 and `corral reload --wait` signals nothing (exit 1); give each corral its own CORRAL_ADMIN_BIND and restart it.",
  CORRAL_ERR_MASTER_STOPPING:
    "The master is stopping (a stop has begun): `corral reload` signals nothing, as the master would ignore the reload, and `corral reload --wait` ends when a stop begins before the reload it follows ended (dropped or cut short). Exit 1; start corral again once it has exited.",
  CORRAL_ERR_RELOAD_UNFINISHED:
    "`corral reload --wait` stopped following a reload before it ended: the master exited meanwhile (its log says why), or the reload passed its bound without progress (it goes on: reload.done or reload.failed in the log says how it ends). Exit 1.",
  CORRAL_ERR_SHEETS_AUTH:
    "Google refused the service-account credentials (invalid_grant: the key revoked or deleted, or the host's clock off by minutes). Check the clock (`timedatectl`: System clock synchronized: yes) and that the key is still among the service account's keys in the Cloud console; `corral check` tries the credentials and says what Google answered.",
  CORRAL_ERR_SHEETS_CREDENTIALS: 'The service-account key could not be read or parsed.',
  CORRAL_ERR_SHEETS_FORBIDDEN: "The sheet is not shared with the service account (or not public, for SHEETS_API_KEY), or SHEETS_API_KEY's restrictions refuse the call (HTTP 403); the message says which.",
  CORRAL_ERR_SHEETS_NOT_FOUND: 'The spreadsheet does not exist: check SHEET_ID; or, with no API error in the 404, the URL is no Sheets API method: check SHEETS_API_URL (HTTP 404).',
  CORRAL_ERR_SHEETS_BAD_RANGE: 'Google rejected the request, usually a bad A1 range or a cell over its 50,000 characters (HTTP 400), or appended rows away from the range\'s first column (a range starting inside a wider table).',
  CORRAL_ERR_SHEETS_WORKBOOK_FULL: "Google refused an append because the spreadsheet would pass Google's limit of 10 million cells (every tab's rows × columns, empty cells included; HTTP 400): every append is refused alike, so journaled rows stay in the journal and are retried on the backoff. Delete (not only clear) unused rows and columns and empty tabs, or move old events to another spreadsheet and delete their rows here.",
  CORRAL_ERR_SHEETS_PROTECTED:
    "Google refused a write to a protected range or tab (HTTP 400 \"You are trying to edit a protected cell or object.\"): the service account is not among the editors of the protection (Data > Protect sheets and ranges in Google Sheets). Every row written there is refused alike, so journaled rows stay in the journal and are retried on the backoff, never in halves. Add the service account's client_email to the protection's editors, or remove the protection.",
  CORRAL_ERR_SHEETS_NOT_A_SHEET: 'SHEET_ID names a file that is not a Google Sheets document, such as an Excel .xlsx stored in Google Drive (HTTP 400 FAILED_PRECONDITION "This operation is not supported for this document"): held as a failure of the whole sheet. Open it in Google Sheets, choose File > Save as Google Sheets, and set SHEET_ID to the new id.',
  CORRAL_ERR_SHEETS_QUOTA:
    "Google answered 429 RESOURCE_EXHAUSTED; the call is retried with backoff, and the keeper holds its calls of that kind to what Google accepted in the last minute (`sheets.quota_refused`). The project's real quota is lower than `SHEETS_READS_PER_MINUTE` or `SHEETS_WRITES_PER_MINUTE` (another app calling as the same account spends it too): lower the setting, or raise the quota in the Cloud console.",
  CORRAL_ERR_SHEETS_UNAVAILABLE:
    "Google answered 5xx or did not answer in time; the call is retried with backoff. Meanwhile reads are served from the cache up to `SHEET_CACHE_MAX_STALE` and events wait in the journal; if it lasts, check the host's network and proxy (`HTTPS_PROXY`) and Google's status page.",
  CORRAL_ERR_SHEETS_TIMEOUT:
    "A Sheets call did not answer within `SHEETS_TIMEOUT` seconds; it is retried with backoff, as a 5xx is. On a slow network or proxy, raise `SHEETS_TIMEOUT`.",
  CORRAL_ERR_SHEETS_DUPLICATE_ROWS:
    "Rows corral resent after a read-back did not find them are in the sheet twice: Google applied the first append after corral gave up on it (past its timeout and SHEETS_UNSURE_DELAY). One more read of the ids, SHEETS_UNSURE_DELAY after the resend, finds them; `sheets.duplicate_rows` names each id and its row numbers. Delete one row of each; raise SHEETS_UNSURE_DELAY if it recurs.",
  CORRAL_ERR_SHEETS_QUOTA_WAIT:
    "A read with no copy to serve (a range never read, or one past SHEET_CACHE_MAX_STALE) would have waited over a second for a read token of SHEETS_READS_PER_MINUTE (with REDIS_URL, a slot of the window the sheet's hosts share): it is answered at once (the app's 503 sheets_unavailable with Retry-After, the wait for the next token) rather than held for the worker's 15 s; its read stays queued, ahead of background refreshes, so a retry finds the copy. `sheets.read_quota_wait` says it (at the first, then once a minute with the count). Many distinct ranges read at once spend the quota: raise SHEET_CACHE_TTL, read fewer distinct ranges, or raise the project's quota and SHEETS_READS_PER_MINUTE.",
  CORRAL_ERR_SHEETS_UPSTREAM: 'Google answered with an unexpected status or body.',
  CORRAL_ERR_SHEETS_TOO_LARGE:
    "Google's answer to a read was over 64 MiB (about 300,000 rows of 200 bytes) and was cut off: a range is read whole, and asking again gets the same answer, so it is not retried. A worker serves its older copy while it holds one; without, the app answers 503 sheets_unavailable saying the operator must act. Move old rows to another tab or spreadsheet, or read a smaller range (fewer rows or columns).",
  CORRAL_ERR_SHEETS_PROXY: 'The outbound proxy (HTTPS_PROXY / HTTP_PROXY), not Google, failed the call: it wants a user and password or refused the ones in its URL (407), refused to relay to Google (403), answered another error, or could not be reached (connection refused, unknown host). Google was not reached.',
  CORRAL_ERR_SHEETS_READ_ONLY: 'A write was refused locally: the Sheets backend is read-only (API key or read-only scope).',
  CORRAL_ERR_SESSION_SECRET_WEAK: "The session secret file (CORRAL_DATA_DIR/session-secret) is empty or holds fewer than 32 characters (CORRAL_SESSION_SECRET's rule): the worker does not boot, so a reload rolls back and a start exits 3. Delete the file to have a new one made, or write at least 32 random characters in it.",
  CORRAL_ERR_SESSION_SECRET_UNREADABLE: "The session secret file (CORRAL_DATA_DIR/session-secret) is there but cannot be read: owned by another user than the one corral runs as (EACCES: written by hand as root), or a directory in its place (EISDIR). The worker does not boot (worker.boot_failed names the file and the errno), so a reload rolls back and a start exits 3. Make it a file that user can read (chown, chmod 600), or delete it to have a new one made.",
  CORRAL_ERR_SESSION_SECRET_CHANGED: "A worker joining a generation that already serves (a crash's replacement, a recycle, a worker added by TTIN) found the session secret file (CORRAL_DATA_DIR/session-secret) gone, or written after the generation's first worker was ready: it does not make or use another secret than the serving workers hold, and does not boot (retried with backoff; the others keep serving). Reload to rotate the secret: the reload's workers make a new one and all use it.",
  CORRAL_ERR_KEEPER_UNAVAILABLE: 'A worker could not reach the keeper process.',
  CORRAL_ERR_KEEPER_SLOW: "A read the worker could answer from no copy of its own (none yet, or one from before an acknowledged write) got no answer from the keeper within SHEETS_TIMEOUT + 5 s: the keeper waits for Google (its retries and backoff) or for the read quota, spent after a restart. The app answers 503 sheets_unavailable with Retry-After; the read goes on, so the retry finds its answer.",
  CORRAL_ERR_KEEPER_SOCKET_DIR: "CORRAL_DATA_DIR's path is too long for a unix socket, so the keeper's socket is in the temp dir's corral-<uid> directory, and that directory is another user's, a symlink or open to others: the keeper does not start, workers do not connect (another user could stand in for the keeper). Remove it, or shorten CORRAL_DATA_DIR.",
  CORRAL_ERR_KEEPER_OTHER_SHEET: "The keeper at CORRAL_DATA_DIR's socket serves another sheet (SHEET_ID, SHEETS_API_URL) than the worker's settings name: two corrals share CORRAL_DATA_DIR, and the second one's keeper waits for the first one's lock. The keeper refuses the worker's reads and writes (nothing is read from or written to the other sheet) and the app answers 503; give each corral its own CORRAL_DATA_DIR. Also seen for a moment during a reload that changes SHEET_ID or SHEETS_API_URL, from the generation being replaced.",
  CORRAL_ERR_JOURNAL: 'The write journal could not be written or replayed.',
  CORRAL_ERR_JOURNAL_UNWRITABLE: 'A file of CORRAL_DATA_DIR the write path needs (the journal, the keeper lock), or the data dir itself, could not be written or made: disk full (ENOSPC), I/O error (EIO), read-only file system (EROFS), no permission (EACCES: a journal of another user, say), or a file where the data dir or a parent of it should be (EEXIST, ENOTDIR) or a directory where the journal should be (EISDIR). An append is refused unacknowledged (the app answers 503 not_saved) and logged as journal.write_failed; at start the keeper does not start (keeper.boot_failed). Both name the path and the errno. Also every new append while a write of the journal has not returned for 10 s (a hung disk: journal.sync_stuck), with no errno.',
  CORRAL_ERR_JOURNAL_FULL: "The write journal holds SHEETS_JOURNAL_MAX_MB of rows not yet in the sheet (Google failing or refusing for a long time while events kept coming): further appends are refused unacknowledged (the app answers 503 not_saved with Retry-After) until the flusher brings the backlog under the cap; logged as journal.backlog_full with the backlog, the cap and the journal's path. The cap keeps the keeper inside its heap and its journal replayable at a restart; raise it only with the keeper's memory (NODE_OPTIONS=--max-old-space-size) and CORRAL_TIMEOUT in mind, and look at why Google does not take the rows (sheets.append_failed).",
  CORRAL_ERR_JOURNAL_OVERSIZED: "At start, the write journal is over twice SHEETS_JOURNAL_MAX_MB (written before the cap, or the cap lowered since): it is replayed all the same, its rows having been acknowledged (never delete it), but may need more heap than Node's default or a longer CORRAL_TIMEOUT; journal.oversized names the path, the size and the NODE_OPTIONS=--max-old-space-size and CORRAL_TIMEOUT to start corral with until the sheet has taken the backlog.",
  CORRAL_ERR_JOURNAL_QUARANTINE: 'Damaged bytes of the write journal could not be copied to their quarantine file (disk full, no permission): the journal is left untouched and the keeper does not start until the copy can be written.',
  CORRAL_ERR_JOURNAL_FORMAT:
    "The write journal declares a format newer than this build of corral reads (a rollback to an older build after a newer one wrote it): its records could be misread or dropped, so the keeper does not start (keeper.boot_failed, exit 7; the master retries it with its backoff) and the journal is left untouched, byte for byte. Run the newer build again; or stop corral running it once its keeper.drained line says \"journal flushed\" (no rows left to send), move the journal aside, and start this build. `corral check` says so too.",
  CORRAL_ERR_KEEPER_FILES_REMOVED: "The keeper's journal, socket or lock file was deleted, replaced or resized while it ran, by something other than corral (an rm of CORRAL_DATA_DIR or of the file, a cleanup job, tmpfiles.d on a data dir under /tmp): the journal's memory is written back to its path before the next append is acknowledged (journal.replaced; checked before each write and every 2 s), a removed socket is bound again (keeper.socket_rebound), a removed lock written again (keeper.lock_restored), nothing acknowledged is lost. A lock another keeper took meanwhile (keeper.lock_taken) gives it the journal: this keeper sends and acknowledges nothing more and exits with code 8, its restart waiting for the lock. Find what removes files there.",
  CORRAL_ERR_REDIS: 'Redis (REDIS_URL) could not be reached, or did not answer within a second: the keeper reads Google and spends the Sheets quota on this host\'s share alone until it is back, each host counts failed logins per name alone meanwhile, and the keeper reconnects by itself.',
  CORRAL_ERR_REDIS_REFUSED: 'Redis (REDIS_URL) answered but refused the keeper: a database the server does not have (REDIS_URL …/N), a user that may not run scripts (NOPERM: grant +eval +evalsha +script) or use the corral:* keys, a key of another type (WRONGTYPE), writes refused by a Redis that answers reads (OOM: memory full under noeviction; READONLY: a replica; MISCONF; NOREPLICAS). Not an outage that passes: the keeper acts for this host alone, as with Redis away, until a connection selects the database, or one of its scripts is answered (for refused writes, one that writes; a plain command answered does not end it); redis.misconfigured names the cause and the fix.',
  CORRAL_ERR_QUEUE_FULL:
    "The bounded queue in front of the Sheets quota is full: more calls wait for a token than a minute of `SHEETS_READS_PER_MINUTE` serves (16 for writes; reads a client waits for have as many places again of their own), or the keeper is closing (a drain, a restart). Nothing was sent to Google: a read is answered from a worker's older copy when it holds one, else 503 `sheets_unavailable` (the sheet's read quota is spent for now) with `Retry-After` the wait for the next token, and the range is retried on its backoff; a write stays in the journal for the next flush. Seen at a keeper restart with the minute's quota spent, or with many distinct ranges read at once (exports of many tabs): raise `SHEET_CACHE_TTL` so each range is read less often, read fewer distinct ranges, or raise the project's quota and `SHEETS_READS_PER_MINUTE` with it.",
  CORRAL_ERR_APPEND_INVALID: 'An append was refused: rows must be lists of strings with a unique, non-empty id in the first cell.',
  CORRAL_ERR_IDEMPOTENCY_MISMATCH: 'An append came with an idempotency key the keeper holds for a different request (the app answers 422).',
  CORRAL_ERR_IDEMPOTENCY_IN_FLIGHT: 'An append came with an idempotency key whose first request is still being journaled (the app answers 409).',
  CORRAL_ERR_LOADTEST_INPUT: 'The loadtest arguments or profile are invalid.',
  CORRAL_ERR_LOADTEST_TARGET: 'The loadtest target is unreachable or not allowed.',
  CORRAL_ERR_LOADTEST_GENERATOR: "The machine running the loadtest cannot carry it: its open-file limit (ulimit -n, LimitNOFILE=) is below what the peak of virtual users needs, checked before the load (exit 64), or it could not open a connection of its own before the load (EMFILE, ENFILE, EADDRNOTAVAIL, ENOBUFS).",
  CORRAL_ERR_LOADTEST_OUTPUT: 'The loadtest result or report could not be written after the run (disk full, directory removed), or its directory could not be flushed to disk (after the run, or, for a directory the run created, before the load).',
  CORRAL_ERR_LOADTEST_STDOUT: "The loadtest's verdict could not be printed: stdout was closed before its line (its reader went away, as `| head` does) or could not be written. The result and report files were written; stderr names them with the verdict, and a run that passed exits 141 rather than 0.",
  CORRAL_ERR_NOTIFY:
    "A message to systemd (sd_notify) could not be sent (`systemd.notify.failed`; what systemd must still get, `READY=1` above all, goes again with the next message); or `NOTIFY_SOCKET` is set but the sd_notify addon is not built or cannot be loaded: `corral start` exits 78 (`npm rebuild`).",
  CORRAL_ERR_COUNTER_INVALID: 'An app asked a host counter for a limit or window out of range, or with a key that is not a string (or the master got a count request it cannot read, or the keeper a failed-login count request); the count is refused at once.',
  CORRAL_ERR_KEEPER_DIED: 'The keeper exited unexpectedly after it was ready (a crash, a signal, the OOM killer): the master restarts it with its backoff; writes wait for the new keeper, which replays the journal, so nothing acknowledged is lost.',
  CORRAL_ERR_JOURNAL_BACKLOG: 'Journaled rows have not reached Google for minutes (journal.backlog_stalled): the append errors logged before say why; the rows stay in the journal and are sent once Google takes them.',
  CORRAL_ERR_JOURNAL_OTHER_SHEET: 'The write journal holds acknowledged rows for another sheet than SHEET_ID and SHEETS_API_URL name now (they changed while rows waited): kept, not sent here; set them back and reload until the backlog is 0, then change them again.',
  CORRAL_ERR_CAPACITY: 'Busy connections passed 95 % of the cap, or reached it (capacity.alert, error): at 100 % new connections are answered 503 server full until some close. Add workers (CORRAL_WORKERS, TTIN) or raise CORRAL_WORKER_CONNECTIONS (a CORRAL_MAX_CONNECTIONS set below workers x worker connections caps them: raise it too, or unset it; set above, it raises nothing), or add hosts; corral recommend sizes them.',
  CORRAL_ERR_ROSTER:
    "The Players tab (SHEET_PLAYERS_RANGE) keeps players from logging in: its header row has no name or code column (every login answers 401), or names are written on more than one row (only the first row of each logs in; the others' failures lock the first player out). Logged as app.roster_problem once per worker and fault, with the columns missing and the names repeated; app.roster_fixed once it is fixed.",
  CORRAL_ERR_EVENTS_HEADER: 'The header row of SHEET_EVENTS_RANGE does not start with event_id or lacks one of player, kind, detail, at (app.events_header_invalid names the header found): POST /api/events writes nothing and answers 503 events_header_invalid until the header row is fixed.',
  CORRAL_ERR_APPEND_HEADER: "Journaled rows cannot be written under their tab's header row as it is now (sheets.rows_held names the range and what is missing): its first column was renamed, or a column the rows have values for was removed or renamed. The rows stay in the journal, nothing is written misplaced, the range's other rows go on, and they are sent once the header names those columns again.",
  CORRAL_ERR_SAMPLE_ROSTER: "The offline sheet still holds the sample's Players tab (its login codes are published) while the app listens beyond loopback (sheets.sample_roster_exposed, warn at the keeper's start, or the master's at a reload that moves CORRAL_BIND beyond loopback): set SHEET_ID, edit the Players tab, or bind CORRAL_BIND to 127.0.0.1.",
  CORRAL_ERR_STACK_PROBE: 'A child could not start its stack probe (its addon not built, or the thread refused); the stack of that child, stuck, cannot be logged, nor can it be ended if it is stuck when the master dies.',
  CORRAL_ERR_MASTER_GONE: "The master died (SIGKILL, a crash, the OOM killer) while a worker or the keeper was stuck in synchronous code (a busy loop, a long native call), so its JavaScript could not exit: its stack probe's thread ended it 2 s later with exit code 6 (`worker.master_gone` or `keeper.master_gone` with `stuck: true`, appended to CORRAL_LOG_FILE), freeing the listening port. Find why the master died, and the app's blocking code.",
  CORRAL_ERR_COUNTER_TABLE: 'The host counters\' shared-memory table could not be created or opened (its addon not built, or memfd_create or mmap refused); the counts go to the master over IPC instead.',
  CORRAL_ERR_FD_LIMIT: 'The open-files limit (RLIMIT_NOFILE: ulimit -n, LimitNOFILE=) is below what a worker may hold: its connections (with shared accept, the host\'s whole cap) plus 64 for its own files. At start and at a reload (fd_limit.low, warn) each worker\'s cap is lowered under the limit, and the host\'s capacity with it, so connections past it are answered 503; a worker that met the limit all the same says so (worker.accept_failed: accept() failed, those clients were closed unanswered; worker.memory_unreadable: its RSS could not be read). Raise the limit (ulimit -n N, LimitNOFILE=N) or lower CORRAL_WORKER_CONNECTIONS; the warning names N. A limit below 128 refuses `corral start` with this code on stderr, exit 78, before anything is loaded (so does a command that ran out of descriptors before it could start).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The `error` codes of corral's HTTP answers (the bundled app, the worker's own answers and the
 * admin API), each with the one status it is sent with and its meaning. Clients branch on the code,
 * so a code is never sent with another status; a unit test checks each is in the README's table.
 */
export const HTTP_ERRORS = {
  bad_request: { status: 400, meaning: 'The request is not valid HTTP, or its target is not a valid URL.' },
  invalid_json: { status: 400, meaning: "The body is not one JSON object in UTF-8 (empty, malformed, not an object, or a key repeated; an empty body to `POST /api/admin/workers` reads as `{}`); `message` says which." },
  invalid_field: { status: 400, meaning: 'One input field is missing or out of range; `field` names it and `message` says what it takes.' },
  missing_host: { status: 400, meaning: 'An HTTP/1.1 request without a Host header.' },
  invalid_host: { status: 400, meaning: 'Host sent more than once, or not of the form host[:port].' },
  invalid_idempotency_key: { status: 400, meaning: 'The Idempotency-Key header is not a valid key (empty, over 255 characters, not printable ASCII, badly quoted, or sent more than once).' },
  unauthorized: { status: 401, meaning: 'No bearer token, or one that is not valid (forged, expired), or its player left the roster; on the admin API and the app\'s admin routes, not CORRAL_ADMIN_TOKEN.' },
  invalid_credentials: { status: 401, meaning: 'The login\'s name or code is wrong (the answer does not say which).' },
  admin_token_unset: { status: 403, meaning: 'An admin route was asked for while CORRAL_ADMIN_TOKEN is not set.' },
  not_found: { status: 404, meaning: 'No route for this path.' },
  method_not_allowed: { status: 405, meaning: 'The path exists but not for this method; `Allow` lists the methods it takes (CONNECT: not a proxy).' },
  request_timeout: { status: 408, meaning: 'The request line, headers or body did not arrive in time.' },
  idempotency_key_in_flight: { status: 409, meaning: 'A request with this Idempotency-Key is still being journaled; retry after `Retry-After`.' },
  min_workers: { status: 409, meaning: 'The admin API was asked to remove the last worker.' },
  max_workers: { status: 409, meaning: 'The admin API was asked to add a worker past the most corral runs (512, the bound of CORRAL_WORKERS).' },
  reload_refused: { status: 409, meaning: 'A reload asked through the admin API was refused (its settings are not valid); the old workers keep serving.' },
  shutting_down: { status: 409, meaning: 'A reload or worker-count change was asked for during a stop.' },
  expectation_failed: { status: 417, meaning: 'An Expect header other than `100-continue`.' },
  body_too_large: { status: 413, meaning: 'The body is over the route\'s limit.' },
  uri_too_long: { status: 414, meaning: 'The request line (its URL) is over the header limit.' },
  unsupported_media_type: { status: 415, meaning: 'The body was not sent as JSON: `Content-Type: application/json`, or a type ending in `+json` (`application/merge-patch+json`).' },
  unsupported_charset: { status: 415, meaning: 'The body\'s declared charset is not UTF-8.' },
  unsupported_content_encoding: { status: 415, meaning: 'The body is compressed (Content-Encoding); send it uncompressed.' },
  host_not_allowed: { status: 421, meaning: 'A request to the loopback admin API named a Host other than a loopback one (DNS rebinding).' },
  idempotency_key_reused: { status: 422, meaning: 'This Idempotency-Key was used before for a different body.' },
  login_locked: { status: 429, meaning: 'Too many failed logins for this name (or, for a login sending the token of an earlier one, for that token); `Retry-After` says when it opens again.' },
  rate_limited: { status: 429, meaning: 'Over the per-address request limit; `Retry-After` says when to retry.' },
  headers_too_large: { status: 431, meaning: 'The request line and headers are over the limit.' },
  too_many_headers: { status: 431, meaning: 'More header fields than CORRAL_LIMIT_REQUEST_FIELDS.' },
  internal_error: { status: 500, meaning: 'A handler failed inside corral or the app (a bug); the log has the stack.' },
  method_not_implemented: { status: 501, meaning: 'A method node:http does not know (`BREW`, lower-case `get`).' },
  unsupported_transfer_encoding: { status: 501, meaning: 'A Transfer-Encoding other than `chunked`; send chunked or a Content-Length.' },
  http_version_not_supported: { status: 505, meaning: 'A request line naming `HTTP/2.0` (HTTP/2 is not spoken here) or `HTTP/0.9`; send HTTP/1.1. Another version (`HTTP/1.2`, `HTTP/3.0`) is no version node\'s parser knows: a 400 `bad_request`.' },
  sheets_unavailable: { status: 503, meaning: 'The sheet cannot be read right now (Google failing, the keeper away) and no cached copy is young enough; `Retry-After` says when to retry.' },
  events_header_invalid: { status: 503, meaning: 'The Events tab\'s header row does not name the columns an event is written under (event_id first, then player, kind, detail, at in any order): nothing was written; the operator must fix the tab (the log says how); retry after `Retry-After`.' },
  not_saved: { status: 503, meaning: 'The write journal cannot be written (disk full, I/O error, a write of it hung for 10 s), or holds SHEETS_JOURNAL_MAX_MB of rows the sheet has not taken yet, or the event could not be passed to the keeper at all (its connections busy, the keeper draining or down): nothing was recorded (for the last, with an Idempotency-Key, by this request: an earlier one with the key may have been saved); retry after `Retry-After`.' },
  export_unavailable: { status: 503, meaning: "The worker could not start its export threads (`CORRAL_EXPORT_THREADS`; the process or thread limit reached: `TasksMax=`, `pids.max`, `ulimit -u`), so nothing was sent; retry after `Retry-After` (the log's `app.export_failed` says why). A thread that started and then failed on the first rows (out of memory on a very wide tab) is a 500 `internal_error`: a retry would fail the same way." },
  server_full: { status: 503, meaning: 'Over the connection cap: answered at once with `Retry-After: 1`, never left hanging.' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** The status an HTTP error code is always sent with. */
export const statusOf = (code: HttpErrorCode): number => HTTP_ERRORS[code].status;

/** Base class: a message for humans, a code for machines, and the original error as `cause`. */
export class CorralError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CorralError';
    this.code = code;
  }
}

/**
 * A call to the keeper that never left the worker: no attempt got a connection in time, or the
 * keeper answered each that it would not take it (draining). An append that fails so cannot have
 * been journaled; one whose request reached the keeper's socket and got no answer may have been.
 */
export class NotSentError extends CorralError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'NotSentError';
  }
}

/**
 * A failure to try again no sooner than `retryAfterMs` from now: a range the keeper holds in
 * backoff after Google failed (range-failures.ts); the app's 503 says it in Retry-After.
 */
export class RetryLaterError extends CorralError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'RetryLaterError';
  }
}

/**
 * A file of the data dir could not be written. Carries the path and the errno (ENOSPC, EIO, EROFS,
 * EACCES) apart, for the log line an operator greps, and keeps the system error as `cause`.
 */
export class DataDirWriteError extends CorralError {
  readonly path: string;
  /** The system error's code, or undefined when the failure had none (a write that wrote nothing). */
  readonly errno: string | undefined;
  constructor(what: string, path: string, cause: unknown) {
    const errno = (cause as { code?: unknown } | null)?.code;
    const known = typeof errno === 'string' && /^E[A-Z0-9]+$/.test(errno) ? errno : undefined;
    super('CORRAL_ERR_JOURNAL_UNWRITABLE', `cannot write ${what} ${path}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'DataDirWriteError';
    this.path = path;
    this.errno = known;
  }
}

/**
 * An append refused at once because a write of the journal has been in flight SYNC_STUCK_MS (10 s)
 * or longer (sheets/keeper/journal-sync-watch.ts): nothing journaled, nothing acknowledged. The
 * code of a journal that cannot be written (507 on the keeper's socket, 503 not_saved from the
 * app): the disk takes nothing for now. Said by journal.sync_stuck, not by journal.write_failed,
 * which names an errno and says to free space.
 */
export class JournalWriteStuckError extends DataDirWriteError {
  constructor(
    path: string,
    readonly stuckMs: number,
  ) {
    super('the journal', path, new Error(`a write of it has not returned for ${Math.round(stuckMs / 1000)} s (the data disk hangs: a dead network mount, a failing drive?); appends are refused until it returns`));
    this.name = 'JournalWriteStuckError';
  }
}

/**
 * The journal declares a format this build cannot read (sheets/keeper/journal-format.ts): written by
 * a newer corral, whose records this one could take for damage or misread. The keeper refuses to
 * open it, before anything is written to it, rather than drop or quarantine what it does not know.
 */
export class JournalFormatError extends CorralError {
  constructor(
    readonly path: string,
    /** The `v` of the format record found, as it is in the file. */
    readonly found: unknown,
    /** The format this build writes (and the newest it reads). */
    readonly known: number,
  ) {
    super(
      'CORRAL_ERR_JOURNAL_FORMAT',
      `the write journal ${path} declares format ${JSON.stringify(found)}, and this build of corral writes format ${known} and reads none newer: a newer corral wrote it, and its records could be misread or lost here. ` +
        'The journal was left untouched and the keeper does not start. Run the newer build again; or let it drain the journal first (stop corral running it: its keeper.drained line must say "journal flushed"), ' +
        `then move ${path} aside and start this build`,
    );
    this.name = 'JournalFormatError';
  }
}

/**
 * An append refused because the journal's backlog (rows not yet in the sheet) reached
 * SHEETS_JOURNAL_MAX_MB: refused before anything is journaled, so nothing acknowledged is lost.
 * Carries the figures the keeper's log line and the operator need.
 */
export class JournalFullError extends CorralError {
  constructor(
    readonly path: string,
    readonly backlogBytes: number,
    readonly maxBytes: number,
  ) {
    super(
      'CORRAL_ERR_JOURNAL_FULL',
      `the write journal ${path} holds ${mib(backlogBytes)} MiB of rows not yet in the sheet, at its cap SHEETS_JOURNAL_MAX_MB=${mib(maxBytes)}: appends are refused until the sheet takes rows again`,
    );
    this.name = 'JournalFullError';
  }
}

const mib = (bytes: number): string => String(Math.round((bytes / 1048576) * 10) / 10);

/** One problem found while reading settings; all of them are reported together. */
export interface ConfigProblem {
  readonly name: string;
  readonly value: string;
  readonly allowed: string;
  readonly source: string;
  /**
   * A problem of the settings as a whole that has its own code (CORRAL_ERR_ADMIN_UNSAFE,
   * CORRAL_ERR_LOG_FILE, CORRAL_ERR_PIDFILE), and its own message for a refusal of it alone.
   */
  readonly code?: ErrorCode;
  readonly message?: string;
}

/** The settings a refusal read: the valid values, and where a setting's value came from, as a problem says it. */
export interface ConfigRead {
  readonly valid: Readonly<Record<string, unknown>>;
  readonly where: (name: string) => string;
}

export class ConfigError extends CorralError {
  readonly problems: readonly ConfigProblem[];
  /** The notes (did you mean, deprecated aliases) found while reading the refused settings. */
  readonly warnings: readonly string[];
  /**
   * What a further check of the same settings needs (`corral config` judges the addresses this
   * host can listen on after a refusal too): the values that are valid, and where each was read.
   * Not enumerable: it holds the secrets (the admin token, Redis's password), and a logger's or
   * util.inspect's view of the error must not print them.
   */
  declare readonly read: ConfigRead | undefined;
  constructor(problems: readonly ConfigProblem[], warnings: readonly string[] = [], read?: ConfigRead) {
    const lines = problems.map((p) => `  ${p.name}=${JSON.stringify(p.value)} (from ${p.source}): ${p.allowed}${p.code ? ` [${p.code}]` : ''}`);
    // The warnings go with the refusal: a did-you-mean is often what explains it (a misspelt
    // CORRAL_ADMIN_TOKEN behind "CORRAL_ADMIN_TOKEN is unset").
    const notes = warnings.map((w) => `  note: ${w}`);
    // A refusal for one problem with a code of its own keeps that code and message, as scripts
    // and operators know them; any other set of problems is CORRAL_ERR_CONFIG_INVALID, listing all.
    const only = problems.length === 1 ? problems[0] : undefined;
    const own = only?.code !== undefined && only.message !== undefined ? only : undefined;
    const message = own ? [own.message, ...notes].join('\n') : `invalid settings:\n${[...lines, ...notes].join('\n')}`;
    // No "nothing was started": the same error refuses a reload (the old workers keep serving) and
    // stops `corral reload` or `corral config`, which start nothing anyway.
    super(own?.code ?? 'CORRAL_ERR_CONFIG_INVALID', message);
    this.name = 'ConfigError';
    this.problems = problems;
    this.warnings = warnings;
    Object.defineProperty(this, 'read', { value: read, enumerable: false });
  }
}

/**
 * Named exit codes. The master reads a worker's exit code to tell "can never boot" from
 * "crashed once" (gunicorn's WORKER_BOOT_ERROR / APP_LOAD_ERROR idea).
 */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  /** LSB: `status` when the program is not running. */
  NOT_RUNNING: 3,
  /** Master: no worker could boot after the bounded attempts. */
  BOOT_EXHAUSTED: 3,
  /** Worker: the app module failed to import or export a listener. */
  APP_LOAD_ERROR: 4,
  /**
   * LSB: `status` when whether the program runs is unknown (the pidfile names a live process that
   * nothing identifies as the master, or as not). The same number as APP_LOAD_ERROR: that one is a
   * worker's exit code, which only the master reads; this one is the CLI's.
   */
  STATUS_UNKNOWN: 4,
  /** Worker: the listening socket could not be bound. */
  LISTEN_ERROR: 5,
  /** Worker: its IPC channel to the master closed (master gone). */
  MASTER_GONE: 6,
  /** Keeper: the Sheets backend cannot start (bad credentials file), or CORRAL_DATA_DIR cannot be read or written (full). */
  KEEPER_BOOT_ERROR: 7,
  /**
   * Keeper: another keeper took the data dir's lock while it ran (keeper.lock_taken): it left the
   * journal to that keeper. Restarted by the master, it waits for the lock.
   */
  KEEPER_LOCK_TAKEN: 8,
  /** sysexits EX_USAGE. */
  USAGE: 64,
  /** sysexits EX_SOFTWARE: an uncaught exception. */
  UNCAUGHT: 70,
  /** sysexits EX_CONFIG: invalid settings. */
  CONFIG: 78,
} as const;

/**
 * The exit code for an error a process cannot go on after, by its code: the one place that says so.
 * Settings problems exit 78 whether a value is invalid, the .env file cannot be read (missing, a
 * directory, no permission), the log file or the pidfile cannot be opened or the settings together are refused
 * (an admin API open beyond loopback without a token): nothing was started, and the fix is in the
 * settings, so a supervisor's restart cannot help.
 */
const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = {
  CORRAL_ERR_CONFIG_INVALID: EXIT.CONFIG,
  CORRAL_ERR_ENV_FILE: EXIT.CONFIG,
  CORRAL_ERR_LOG_FILE: EXIT.CONFIG,
  CORRAL_ERR_PIDFILE: EXIT.CONFIG,
  CORRAL_ERR_ADMIN_UNSAFE: EXIT.CONFIG,
  // Out of descriptors before corral could start (cli/main.ts): a restart cannot help either.
  CORRAL_ERR_FD_LIMIT: EXIT.CONFIG,
  // Thrown only by `corral start` under systemd with the sd_notify addon missing or not loadable
  // (sd-notify.ts): only a rebuild helps. Exiting 1, the unit (Restart=on-failure) started it
  // again every 2 s, failing alike each time.
  CORRAL_ERR_NOTIFY: EXIT.CONFIG,
  CORRAL_ERR_USAGE: EXIT.USAGE,
  // A master gone between the pidfile's lookup and the signal (cli/master-signal.ts): reload says
  // so as it does for one the pidfile already said was gone (LSB's 3), not as a failure.
  CORRAL_ERR_NOT_RUNNING: EXIT.NOT_RUNNING,
};

export function exitCodeFor(err: unknown): number {
  return (err instanceof CorralError ? EXIT_BY_CODE[err.code] : undefined) ?? EXIT.FAILURE;
}

/** Exit codes that mean "this worker can never boot as configured"; retries only help if the files change. */
export const BOOT_FAILURE_EXITS: ReadonlySet<number> = new Set([EXIT.APP_LOAD_ERROR, EXIT.LISTEN_ERROR, EXIT.CONFIG, EXIT.KEEPER_BOOT_ERROR]);

/**
 * The stable code a log line about `err` carries: its own when it is one of ERROR_CODES, else
 * `fallback`. A node or library code (ECONNRESET, ERR_STREAM_PREMATURE_CLOSE) stays in `err`: the
 * top-level `code` of an error line is always one an operator can look up in the README.
 */
export function codeOf(err: unknown, fallback: ErrorCode): ErrorCode {
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) ? (code as ErrorCode) : fallback;
}

/**
 * A printable message and code from anything thrown. `type`: the error's class (TypeError, CorralError), as pino's serializer says it of an Error; a
 * log line's `err` made from this object said "Object" (log/logger.ts keeps this one's).
 */
export function describeError(err: unknown): { type?: string; message: string; code?: string; stack?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const type = typeof err.constructor === 'function' && err.constructor.name ? err.constructor.name : err.name;
    return { type, message: err.message, ...(typeof code === 'string' ? { code } : {}), ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { message: String(err) };
}

/** An error's headline for a message another line repeats: "TypeError: boom", one line, at most 300 characters. */
export function errorHeadline(err: unknown): string {
  const d = describeError(err);
  const line = `${d.type ? `${d.type}: ` : ''}${d.message}`.split('\n', 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}
