import { loadSettings } from '../../config/load.js';
import { EXIT } from '../../errors.js';
import { parseFlags, type Command } from '../command.js';
import { findMasterOrSay, signalMaster } from '../master-process.js';

export const reloadCommand: Command = {
  name: 'reload',
  summary: 'Zero-downtime reload of a running corral (SIGHUP to the master).',
  help: `Usage: corral reload

Sends SIGHUP to the master named in CORRAL_PIDFILE. The master re-reads .env, starts a new
generation of workers and retires each old worker only once its replacement is ready. If the new
generation cannot boot, the old one keeps serving and the log (event reload.failed) says why.
Asked during a reload, the master queues one more (event reload.queued) for when it ends.
What the reload cannot apply is logged: settings only a restart applies, CORRAL_BIND moved to an
address overlapping the running one on the same port among them (config.restart_needed), and
settings the master's environment also sets, whose edit in .env has no effect
(config.env_overrides). Under systemd, prefer \`systemctl reload corral\` (it does the same).

Exit codes: 0 signal sent, 1 the pidfile names a live process without a start stamp that may or
may not be corral (the message says how to go on), this user may not read the pidfile, the
pidfile belongs to a user other than root and the one the process it names runs as, the
master runs as another user, or CORRAL_PIDFILE is empty (no pidfile names the master: use
systemctl reload corral), 3 not running, 64 an unknown option, 78 the settings are invalid or
CORRAL_ENV_FILE cannot be read (this command reads them to find CORRAL_PIDFILE). No signal was
sent unless 0.`,
  async run(argv) {
    parseFlags(argv, {});
    const pid = findMasterOrSay(loadSettings().settings);
    if (pid === undefined) return EXIT.NOT_RUNNING;
    signalMaster(pid, 'SIGHUP');
    process.stdout.write(`reload requested (SIGHUP to master pid ${pid}); watch the log for reload.done or reload.failed\n`);
    return 0;
  },
};
