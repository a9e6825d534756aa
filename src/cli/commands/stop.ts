import { schema } from '../../config/schema.js';
import { isAlive, readMasterRecord } from '../../master/pidfile.js';
import { isStopped } from '../../master/proc-identity.js';
import { CorralError, EXIT } from '../../errors.js';
import { parseFlags, type Command } from '../command.js';
import type { SettingFlagHints } from '../flag-hints.js';
import { loadLookupSettings } from '../lookup-settings.js';
import { findMasterHere } from '../master-process.js';
import { signalMaster } from '../master-signal.js';

/** A bound on the wait is not CORRAL_TIMEOUT (the workers' heartbeat timeout), which the generic hint would name. */
const WAIT_BOUND = 'stop takes no timeout: it waits for the master to exit, at most its CORRAL_GRACEFUL_TIMEOUT plus 10 s; --fast stops without waiting for requests, --no-wait returns once the master is signalled (CORRAL_TIMEOUT is the workers\' heartbeat timeout, not this wait)';
const STOP_FLAG_HINTS: Readonly<Record<string, string>> = { timeout: WAIT_BOUND, 'wait-timeout': WAIT_BOUND, t: WAIT_BOUND };
/**
 * gunicorn's --graceful-timeout, and every other flag naming CORRAL_GRACEFUL_TIMEOUT: the generic
 * hint said to set it in the settings file, but the master drains by the one it started or last
 * reloaded with (recorded beside the pidfile, which is what stop waits by), so an edit followed
 * by `corral stop` changed nothing.
 */
const STOP_SETTING_HINTS: SettingFlagHints = {
  CORRAL_GRACEFUL_TIMEOUT: (assignment) =>
    `stop takes no graceful timeout: the master lets requests in flight finish by the CORRAL_GRACEFUL_TIMEOUT it started or last reloaded with, and stop waits at most that + 10 s for it to exit, whatever the settings file says now; to stop by another, set ${assignment} in the settings file (.env, or CORRAL_ENV_FILE), run \`corral reload\`, then \`corral stop\` (an edit alone changes nothing until a reload applies it, nor then while the master's environment sets it: config.env_overrides in the log); --fast stops without waiting for requests in flight`,
};

export const stopCommand: Command = {
  name: 'stop',
  help: `Usage: corral stop [--fast] [--no-wait]

Sends SIGTERM to the master named in CORRAL_PIDFILE: workers stop accepting, in-flight requests
finish (up to CORRAL_GRACEFUL_TIMEOUT), then everything exits. Waits until the master is gone.

Options:
  --fast      SIGQUIT: do not wait for in-flight requests
  --no-wait   return as soon as the signal is sent

Of the settings, only CORRAL_PIDFILE must be valid: a bad edit elsewhere in .env (an invalid
CORRAL_GRACEFUL_TIMEOUT too, which stands at its default) is reported as a warning and does not
keep you from stopping corral. With
CORRAL_ADMIN_BIND invalid, the admin API is not asked whether a corral started with another
CORRAL_PIDFILE answers there (said with the answer); an invalid CORRAL_ADMIN_TOKEN is left unused.

Waits for the master's own CORRAL_GRACEFUL_TIMEOUT (the one it started or last reloaded with,
recorded beside the pidfile) + 10 s; when it recorded none (an older corral), for the larger of
.env's value and the default, 30 s, + 10 s.

Exit codes: 0 stopped, or not running (no pidfile, or a stale one, which is named and left in
place): LSB's stop of a stopped service succeeds (\`corral status\` exits 3 for it), 1 still
running after that wait, which it names (or not allowed to signal it: run as the user corral
runs as, or use systemctl; or the pidfile names a live process without a start stamp that may or
may not be corral, or this user may not read the pidfile, or the pidfile belongs to a user other
than root and the one the process it names runs as, or CORRAL_PIDFILE is empty so no pidfile
names the master, or no pidfile names one but a corral answers the admin API at
CORRAL_ADMIN_BIND (started with another CORRAL_PIDFILE): nothing was signalled, the message says
how to go on), 64 an unknown option, 78 CORRAL_PIDFILE is invalid, or CORRAL_ENV_FILE cannot be
read.`,
  async run(argv) {
    const { values } = parseFlags(argv, { fast: { type: 'boolean' }, 'no-wait': { type: 'boolean' } }, { readsSettings: true, flagHints: STOP_FLAG_HINTS, settingFlagHints: STOP_SETTING_HINTS });
    // The pidfile alone must be valid: the wait is the master's own graceful timeout, recorded
    // beside it. An invalid one in .env (a typo) stands at its default with a warning: judged,
    // it kept the operator from stopping corral at all (exit 78), and from hearing "nothing to
    // stop" of one that was not running.
    const lookup = loadLookupSettings();
    const { settings } = lookup;
    let pid: number;
    let recorded: number | undefined;
    try {
      pid = await findMasterHere(lookup);
      // Read before the signal: the master removes its stamp with the pidfile as it exits.
      recorded = settings.CORRAL_PIDFILE ? readMasterRecord(settings.CORRAL_PIDFILE, pid)?.gracefulTimeoutS : undefined;
      signalMaster(pid, values.fast ? 'SIGQUIT' : 'SIGTERM');
    } catch (err) {
      if (!(err instanceof CorralError && err.code === 'CORRAL_ERR_NOT_RUNNING')) throw err;
      // LSB init-script actions: stop on a stopped service succeeds. Exiting 3 made a script's or
      // a deploy tool's "make sure it is stopped" step fail when there was nothing to stop. The
      // message still says why (no pidfile, which stale one, or a master gone at the signal).
      process.stdout.write(`${err.message}; nothing to stop\n`);
      return EXIT.OK;
    }
    if (values['no-wait']) {
      process.stdout.write(`stop requested (master pid ${pid})\n`);
      return 0;
    }
    const wait = stopWait(recorded, settings.CORRAL_GRACEFUL_TIMEOUT);
    const deadline = Date.now() + wait.seconds * 1000;
    while (isAlive(pid)) {
      if (Date.now() > deadline) {
        // A stopped master acts on nothing until resumed: neither status (its admin API does not
        // answer) nor --fast (one more pending signal) helps it, SIGCONT does.
        const next = isStopped(pid)
          ? `it is stopped (SIGSTOP, or a debugger) and acts on no signal until resumed: \`kill -CONT ${pid}\` lets it carry out the stop, \`kill -KILL ${pid}\` ends it at once`
          : `it may be stuck or still finishing: \`corral status\` says what it is doing, \`corral stop --fast\` cuts its requests in flight short, \`kill -KILL ${pid}\` ends it at once`;
        throw new CorralError('CORRAL_ERR_STOP_TIMEOUT', `master pid ${pid} is still running after ${wait.seconds} s (${wait.why}); ${next}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stdout.write(`corral stopped (master pid ${pid})\n`);
    return 0;
  },
};

/** Beyond the graceful timeout: the keeper's drain, the last log lines, the exit itself. */
const STOP_SLACK_S = 10;

/**
 * How long stop waits for the master to exit, and why, from the graceful timeout the master
 * recorded (the one it stops by) or, without one, the larger of .env's and the default: .env may
 * have been edited since the master read it, and waiting too short reports a stop that is going
 * well as failed (exit 1).
 */
export function stopWait(recorded: number | undefined, inFile: number): { seconds: number; why: string } {
  if (recorded !== undefined) {
    return { seconds: recorded + STOP_SLACK_S, why: `the master's own CORRAL_GRACEFUL_TIMEOUT=${recorded} s + ${STOP_SLACK_S} s` };
  }
  const spec = schema.CORRAL_GRACEFUL_TIMEOUT.default;
  const fallback = typeof spec === 'number' ? spec : spec();
  const used = Math.max(inFile, fallback);
  return {
    seconds: used + STOP_SLACK_S,
    why: `the master recorded no graceful timeout; waited by the larger of the settings' CORRAL_GRACEFUL_TIMEOUT=${inFile} s and the default ${fallback} s, + ${STOP_SLACK_S} s`,
  };
}
