import { loadSettings } from '../../config/load.js';
import type { Settings } from '../../config/schema.js';
import { CorralError, EXIT } from '../../errors.js';
import { onStderr, WARNING_PRIORITY } from '../../log/journal.js';
import { timeoutStartSec } from '../../systemd/timeouts.js';
import { parseFlags, type Command } from '../command.js';
import { readMasterRecord, type MasterRecord } from '../../master/pidfile.js';
import { procEnviron } from '../../master/proc-identity.js';
import { loadLookupSettings, MASTER_LOOKUP_SETTINGS } from '../lookup-settings.js';
import { getAdminJson, masterAdminUrl, recordedAdminUrl } from '../master-admin-api.js';
import { findMasterOrSay } from '../master-process.js';
import { assertMaySignal, signalMaster } from '../master-signal.js';
import { readReloadStanding, waitForReloadEnd, type ReloadStanding } from '../reload-wait.js';
import { reloadGist, restartNeededText, unfinishedText } from '../reload-words.js';
import { sayRefusal } from '../say-refusal.js';

/** A bound on --wait is not CORRAL_TIMEOUT (the workers' heartbeat timeout), which the generic hint would name. */
const WAIT_BOUND = 'reload takes no timeout: --wait waits as long as the reload makes progress within its bound, as systemd does: at first the unit\'s TimeoutStartSec (twice the larger of 60 s and CORRAL_TIMEOUT with CORRAL_RELOAD_SETTLE, plus CORRAL_GRACEFUL_TIMEOUT: 154 s with the defaults), renewed by the master at each step (a boot attempt, a new worker on probation, the old workers\' drain); for a shorter bound, run it under timeout(1): `timeout 60 corral reload --wait` (CORRAL_TIMEOUT is the workers\' heartbeat timeout, not this wait)';
const RELOAD_FLAG_HINTS: Readonly<Record<string, string>> = { timeout: WAIT_BOUND, 'wait-timeout': WAIT_BOUND, t: WAIT_BOUND };

export const reloadCommand: Command = {
  name: 'reload',
  exitCodeIsVerdict: true,
  help: `Usage: corral reload [--wait]

Sends SIGHUP to the master named in CORRAL_PIDFILE. The master re-reads .env, starts a new
generation of workers and retires each old worker only once its replacement is ready. If the new
generation cannot boot, the old one keeps serving and the log (event reload.failed) says why.

  --wait   follow the reload to its end through the admin API (CORRAL_ADMIN_BIND, no token
           needed) and exit 0 only if it completed: 1 if it was refused, rolled back or ended
           incomplete (the master's reason on stderr, in full with CORRAL_ADMIN_TOKEN), if corral
           began to stop or the master exited meanwhile, or if its bound passed without it
           ending: at first the unit's TimeoutStartSec (twice the larger of 60 s and
           CORRAL_TIMEOUT with CORRAL_RELOAD_SETTLE, plus CORRAL_GRACEFUL_TIMEOUT), renewed by the
           master at each step the reload takes (a boot attempt, a new worker on probation, the
           old workers' drain), as it renews systemd's bound on the reload. A reload asked for during another runs after it, and the wait covers both. The generated systemd unit's
           ExecReload= uses it, so \`systemctl reload corral\` fails when the reload did.

The settings judged are those of the env file the master read at start, as recorded beside the
pidfile (<pidfile>.start), whatever directory this runs in, with the master's environment (read
from /proc when this user may; else this command's), and their relative paths are judged from the
master's working directory; that file gone is refused (exit 78: restore it, or create an
empty one to reload with the defaults).
Settings warnings (an unknown name, did you mean...) are printed on stderr, as config --check does.
Asked during a reload, the master queues one more (event reload.queued) for when it ends.
What the reload cannot apply is logged: settings only a restart applies, CORRAL_BIND moved to an
address overlapping the running one on the same port among them (config.restart_needed), and
settings the master's environment also sets, whose edit in .env has no effect
(config.env_overrides). Under systemd, prefer \`systemctl reload corral\` (it does the same).

Exit codes: 0 signal sent, 1 the master is stopping (its admin API says so: a reload would be
ignored), or the pidfile names a live process without a start stamp that may or may not be corral
(the message says how to go on), with --wait the reload did not complete (see above) or the admin
API did not answer before the signal, this user may not read the pidfile, the
pidfile belongs to a user other than root and the one the process it names runs as, the master
runs as another user, or CORRAL_PIDFILE is empty (no pidfile names the master: use systemctl
reload corral), or no pidfile names a master but a corral answers the admin API (one started
with another CORRAL_PIDFILE), 3 not running, 64 an unknown option, or with --wait
CORRAL_ADMIN_BIND's port 0 (a port chosen at start) when the master recorded no admin address
beside the pidfile (an older corral, or one whose admin API has not started yet), so its admin
API cannot be found: reload without --wait, or set a port, 78 the master would refuse the settings (an
invalid value, the admin API beyond loopback without CORRAL_ADMIN_TOKEN, a CORRAL_LOG_FILE that
cannot be opened: the check \`corral config --check\` and the master make, with the same message)
or CORRAL_ENV_FILE cannot be read. The master is looked for first: when it is not running, or
this user may not signal it, that is the answer (3 or 1), whatever the settings. No signal was
sent unless 0 (with --wait: 0, or 1 for a reload that did not complete).`,
  async run(argv) {
    // A stop or restart of the unit during the reload: systemd sends SIGTERM to this command (the
    // reload's control process) as well as the master, and counts a command killed by a signal as
    // a failure of the unit, which it then left `failed` after an orderly stop (OnFailure= hooks
    // and failed-unit monitoring fired). The master drains as asked; this ends, says so, with 0.
    process.once('SIGTERM', () => {
      process.stderr.write(`corral reload: stopped (SIGTERM: under systemd, the service is stopping or restarting); the reload's end, if it had one, is in the log (reload.done or reload.failed)\n`);
      process.exit(EXIT.OK);
    });
    const { values } = parseFlags(argv, { wait: { type: 'boolean' } }, { readsSettings: true, flagHints: RELOAD_FLAG_HINTS });
    // The master first, found with the settings that name it: to a user who may not read its
    // pidfile or signal it, that is the answer (exit 1), not the settings as this user sees them
    // (whether a log file or the data dir can be written is judged as the user running this).
    // Quietly: the settings are judged whole just below, and a lookup's warning ("this command
    // does not need it") would say the opposite of the refusal that follows it.
    const lookup = loadLookupSettings(MASTER_LOOKUP_SETTINGS, true);
    const pid = await findMasterOrSay(lookup);
    if (pid === undefined) return EXIT.NOT_RUNNING;
    assertMaySignal(pid, 'SIGHUP');
    // A master that is stopping ignores a reload (its log says shutdown.ignored): said here, not
    // answered "reload requested". Asked of its health when the admin API answers; otherwise sent.
    if (await stopping(lookup.adminApi ? (masterAdminUrl(lookup.settings, pid) ?? undefined) : undefined)) {
      // With its code, as every failure a command prints (README: Errors and exit codes): it had none.
      sayRefusal(`corral reload: [CORRAL_ERR_MASTER_STOPPING] corral is stopping (master pid ${pid}): a reload would be ignored; start it again once it has exited\n`);
      return EXIT.FAILURE;
    }
    // The master's own check of the settings it will read: refused here, no signal is sent (a
    // SIGHUP answered 0, then refused in the master's log alone, read as done). The file judged
    // is the one the master recorded reading at start, which its reload re-reads (and refuses
    // when gone), not whichever .env this command's directory holds.
    // Its relative paths too are judged from the master's directory, not this command's.
    // And with the master's environment, which its reload reads beside the file, not this shell's:
    // CORRAL_WORKERS=abc set here alone refused a reload the master would have made.
    const record = lookup.settings.CORRAL_PIDFILE ? readMasterRecord(lookup.settings.CORRAL_PIDFILE, pid) : undefined;
    const atStart = record?.envFile;
    // The environment the master started with (another user's unreadable: this command's, as before).
    const env = procEnviron(pid) ?? process.env;
    const judged = loadSettings({
      env: typeof atStart === 'string' ? { ...env, CORRAL_ENV_FILE: atStart } : env,
      ...(typeof atStart === 'string' ? { envFileAtStart: atStart } : {}),
      ...(record?.cwd !== undefined ? { cwd: record.cwd } : {}),
      // The pidfile the master was found by is its own; one the file moves is judged, as the master's reload judges it.
      pidfileAtStart: { path: lookup.settings.CORRAL_PIDFILE },
    });
    // Said as `corral status` and `config --check` say them: a misspelt name (CORAL_WORKERS) the
    // reload will ignore was otherwise said only in the master's log (config.warning).
    for (const w of judged.warnings) process.stderr.write(onStderr(`corral reload: warning: ${w}\n`, WARNING_PRIORITY));
    if (!values.wait) {
      signalMaster(pid, 'SIGHUP');
      process.stdout.write(`reload requested (SIGHUP to master pid ${pid}); watch the log for reload.done or reload.failed (or reload --wait)\n`);
      return 0;
    }
    return reloadAndWait(pid, judged.settings, record);
  },
};

/**
 * SIGHUP, then the reload followed through the admin API to its end: 0 once it completed, 1 when
 * it was refused, rolled back or ended incomplete (or a stop, the master's exit or the bound ended
 * the wait). Where reloads stood is read before the signal: a reload that ends later is this one,
 * or the one queued behind it that the master runs with the settings as they are then.
 */
async function reloadAndWait(pid: number, settings: Settings, record: MasterRecord | undefined): Promise<number> {
  const runningGracefulS = record?.gracefulTimeoutS;
  // Where the master recorded its admin API (when that is this host), else where these settings put it.
  const base = recordedAdminUrl(settings, record?.adminUrl);
  if (base === null) {
    sayRefusal(`corral reload: [CORRAL_ERR_ADMIN_UNREACHABLE] the master (pid ${pid}) has no admin API (admin.failed in its log: the port was taken?), so the reload could not be followed; nothing was signalled. Reload without --wait and watch the log for reload.done or reload.failed\n`);
    return EXIT.FAILURE;
  }
  if (base === undefined) {
    throw new CorralError(
      'CORRAL_ERR_USAGE',
      `reload --wait follows the reload through the admin API, and CORRAL_ADMIN_BIND=${settings.CORRAL_ADMIN_BIND.host}:0 gives it a port chosen at start, which this command cannot know; set a port, or reload without --wait and watch the log for reload.done or reload.failed`,
    );
  }
  let before: ReloadStanding;
  try {
    before = await readReloadStanding(base);
  } catch (err) {
    sayRefusal(`corral reload: [CORRAL_ERR_ADMIN_UNREACHABLE] the admin API at ${base} (CORRAL_ADMIN_BIND) did not say where reloads stand (${(err as Error).message}), so the reload could not be followed; nothing was signalled\n`);
    return EXIT.FAILURE;
  }
  // The admin port was taken when this master started (admin.failed in its log): another corral
  // answers there, whose reloads are not this one's.
  if (before.master_pid !== pid) {
    sayRefusal(
      `corral reload: [CORRAL_ERR_ADMIN_OTHER_MASTER] the admin API at ${base} answers for another master (pid ${before.master_pid}) than the pidfile's (pid ${pid}): CORRAL_ADMIN_BIND's port was in use when this one started (admin.failed in its log), so its reload cannot be followed; nothing was signalled. Give each corral its own CORRAL_ADMIN_BIND and restart it, or reload without --wait\n`,
    );
    return EXIT.FAILURE;
  }
  // systemd's first bound on the reload (TimeoutStartSec, the unit's own): the boot and its settle
  // time, then the old workers' drain by the longer of the graceful timeouts the master runs and
  // the reload reads. The master renews it at each step the reload takes, and says so in its
  // answers: the wait follows (waitForReloadEnd). Alone it held for a master of an older corral,
  // which gives none.
  const boundS = timeoutStartSec(Math.max(settings.CORRAL_GRACEFUL_TIMEOUT, runningGracefulS ?? 0), settings.CORRAL_TIMEOUT, settings.CORRAL_RELOAD_SETTLE);
  signalMaster(pid, 'SIGHUP');
  // A master of an older corral gives no bound of its own (the field is absent): the first one holds.
  const renewed = before.in_progress_bound_ms !== undefined ? ', extended while it makes progress' : '';
  process.stdout.write(`reload requested (SIGHUP to master pid ${pid}); waiting for it to end (up to ${boundS} s${renewed})\n`);
  const end = await waitForReloadEnd(base, pid, before, boundS * 1000);
  switch (end.kind) {
    case 'ended': {
      const { outcome, generation } = end.last;
      if (outcome === 'completed') {
        process.stdout.write(`reload done: generation ${generation} serves (master pid ${pid})\n`);
        // Said here too, not in the log alone: the operator who edited them is the one reading.
        const kept = restartNeededText(end.last);
        if (kept !== undefined) process.stdout.write(`${kept}\n`);
        return EXIT.OK;
      }
      // The master's own line (systemd's STATUS=) when the token lets it be read, else its gist.
      const line = (await failureMessage(base, settings.CORRAL_ADMIN_TOKEN, end.last.seq)) ?? reloadGist({ ...end.last, outcome });
      sayRefusal(`corral reload: ${line}\n`);
      return EXIT.FAILURE;
    }
    case 'stopping':
    case 'master-gone':
    case 'timeout':
      sayRefusal(`corral reload: ${unfinishedText(end, pid)}\n`);
      return EXIT.FAILURE;
  }
}

/** The failed reload's one-line why, from the stats when CORRAL_ADMIN_TOKEN lets them be read (it may quote the settings). */
async function failureMessage(base: string, token: string | undefined, seq: number): Promise<string | undefined> {
  if (!token) return undefined;
  try {
    const { status, body } = await getAdminJson(`${base}/api/admin/stats`, token);
    const last = (body as { reload?: { last?: { seq?: unknown; message?: unknown } | null } }).reload?.last;
    return status === 200 && last?.seq === seq && typeof last.message === 'string' ? last.message : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the admin API at `base` says a stop has begun; false when it cannot tell. */
async function stopping(base: string | undefined): Promise<boolean> {
  if (!base) return false;
  try {
    const health = await getAdminJson(`${base}/api/admin/health`, undefined, 1500);
    return (health.body as { stopping?: unknown }).stopping === true;
  } catch {
    return false;
  }
}
