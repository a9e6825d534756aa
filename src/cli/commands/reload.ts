import { loadSettings } from '../../config/load.js';
import { EXIT } from '../../errors.js';
import { parseFlags, type Command } from '../command.js';
import { readMasterRecord } from '../../master/pidfile.js';
import { adminBaseUrl, assertMaySignal, findMasterOrSay, getAdminJson, loadLookupSettings, MASTER_LOOKUP_SETTINGS, signalMaster } from '../master-process.js';

export const reloadCommand: Command = {
  name: 'reload',
  help: `Usage: corral reload

Sends SIGHUP to the master named in CORRAL_PIDFILE. The master re-reads .env, starts a new
generation of workers and retires each old worker only once its replacement is ready. If the new
generation cannot boot, the old one keeps serving and the log (event reload.failed) says why.
The settings judged are those of the env file the master read at start, as recorded beside the
pidfile (<pidfile>.start), whatever directory this runs in, and their relative paths are judged
from the master's working directory; that file gone is refused (exit 78: restore it, or create an
empty one to reload with the defaults).
Asked during a reload, the master queues one more (event reload.queued) for when it ends.
What the reload cannot apply is logged: settings only a restart applies, CORRAL_BIND moved to an
address overlapping the running one on the same port among them (config.restart_needed), and
settings the master's environment also sets, whose edit in .env has no effect
(config.env_overrides). Under systemd, prefer \`systemctl reload corral\` (it does the same).

Exit codes: 0 signal sent, 1 the master is stopping (its admin API says so: a reload would be
ignored), or the pidfile names a live process without a start stamp that may or may not be corral
(the message says how to go on), this user may not read the pidfile, the
pidfile belongs to a user other than root and the one the process it names runs as, the master
runs as another user, or CORRAL_PIDFILE is empty (no pidfile names the master: use systemctl
reload corral), or no pidfile names a master but a corral answers the admin API (one started
with another CORRAL_PIDFILE), 3 not running, 64 an unknown option, 78 the master would refuse the settings (an
invalid value, the admin API beyond loopback without CORRAL_ADMIN_TOKEN, a CORRAL_LOG_FILE that
cannot be opened: the check \`corral config --check\` and the master make, with the same message)
or CORRAL_ENV_FILE cannot be read. The master is looked for first: when it is not running, or
this user may not signal it, that is the answer (3 or 1), whatever the settings. No signal was
sent unless 0.`,
  async run(argv) {
    parseFlags(argv, {}, { readsSettings: true });
    // The master first, found with the settings that name it: to a user who may not read its
    // pidfile or signal it, that is the answer (exit 1), not the settings as this user sees them
    // (whether a log file or the data dir can be written is judged as the user running this).
    // Quietly: the settings are judged whole just below, and a lookup's warning ("this command
    // does not need it") would say the opposite of the refusal that follows it.
    const lookup = loadLookupSettings(MASTER_LOOKUP_SETTINGS, true);
    const pid = await findMasterOrSay(lookup.settings, lookup.adminApi);
    if (pid === undefined) return EXIT.NOT_RUNNING;
    assertMaySignal(pid, 'SIGHUP');
    // A master that is stopping ignores a reload (its log says shutdown.ignored): said here, not
    // answered "reload requested". Asked of its health when the admin API answers; otherwise sent.
    if (await stopping(lookup.adminApi ? adminBaseUrl(lookup.settings) : undefined)) {
      process.stderr.write(`corral reload: corral is stopping (master pid ${pid}): a reload would be ignored; start it again once it has exited\n`);
      return EXIT.FAILURE;
    }
    // The master's own check of the settings it will read: refused here, no signal is sent (a
    // SIGHUP answered 0, then refused in the master's log alone, read as done). The file judged
    // is the one the master recorded reading at start, which its reload re-reads (and refuses
    // when gone), not whichever .env this command's directory holds.
    // Its relative paths too are judged from the master's directory, not this command's.
    const record = lookup.settings.CORRAL_PIDFILE ? readMasterRecord(lookup.settings.CORRAL_PIDFILE, pid) : undefined;
    const atStart = record?.envFile;
    loadSettings({
      ...(typeof atStart === 'string' ? { env: { ...process.env, CORRAL_ENV_FILE: atStart }, envFileAtStart: atStart } : {}),
      ...(record?.cwd !== undefined ? { cwd: record.cwd } : {}),
    });
    signalMaster(pid, 'SIGHUP');
    process.stdout.write(`reload requested (SIGHUP to master pid ${pid}); watch the log for reload.done or reload.failed\n`);
    return 0;
  },
};

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
