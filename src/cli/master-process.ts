// Finds a running master through the pidfile, for reload/stop/status.
// Its neighbours: the settings a command finds it with (lookup-settings.ts), whether the pidfile
// may be believed (pidfile-trust.ts), the admin API that may answer for a master the pidfile does
// not name (master-admin-api.ts), the settings file it started with (master-by-settings-file.ts),
// and the signal sent once it is found (master-signal.ts).

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Settings } from '../config/schema.js';
import { CorralError } from '../errors.js';
import { checkPidfile } from '../master/pidfile.js';
import { procReaders, type ProcReaders } from '../master/proc-identity.js';
import { lockOwnerPid } from '../sheets/keeper/lock.js';
import type { MasterLookup } from './lookup-settings.js';
import { corralAtAdminApi } from './master-admin-api.js';
import { mastersOfSettingsFile } from './master-by-settings-file.js';
import { assertPidfileTrusted } from './pidfile-trust.js';
import { masterOfRelativePidfile } from './relative-pidfile.js';

/**
 * The master's pid, through the pidfile. Throws CORRAL_ERR_NOT_RUNNING when it is certainly not
 * running, and CORRAL_ERR_MASTER_UNVERIFIED when the pidfile names a live process nothing tells
 * apart from a master: that is not "not running" (start refuses the same pidfile as running).
 * CORRAL_ERR_PIDFILE_UNTRUSTED when the pidfile belongs to a user who could have named any process.
 * CORRAL_ERR_NO_PIDFILE when CORRAL_PIDFILE is empty: there is nothing to look at.
 */
export function findMaster(settings: Pick<Settings, 'CORRAL_PIDFILE'>, proc: ProcReaders = procReaders): number {
  const file = settings.CORRAL_PIDFILE;
  // Empty is no pidfile (under systemd, which tracks the master itself): not "not running", which
  // would make `stop` report success and `status || start` start a second master into a refusal.
  if (!file) {
    throw new CorralError(
      'CORRAL_ERR_NO_PIDFILE',
      'CORRAL_PIDFILE is empty, so the master writes no pidfile and cannot be found: whether corral runs is unknown; nothing was signalled. Use systemctl (systemctl status|reload|stop corral) or signal the master yourself (kill -HUP|-TERM <pid>), or set CORRAL_PIDFILE (e.g. CORRAL_PIDFILE=/run/corral/corral.pid) and restart corral (a reload does not apply it)',
    );
  }
  const state = checkPidfile(file, proc);
  if (state === undefined) throw new CorralError('CORRAL_ERR_NOT_RUNNING', `corral is not running (no pidfile at ${file})`);
  // An empty or garbled pidfile names no process to signal. (A master starting this very moment
  // truncates, then writes its pid: microseconds in which its pidfile reads empty.)
  if (state.status === 'no-pid') throw new CorralError('CORRAL_ERR_NOT_RUNNING', `corral is not running (the pidfile ${file} ${state.why}, so it names no master)`);
  if (state.status === 'unreadable') {
    throw new CorralError(
      'CORRAL_ERR_PIDFILE_UNREADABLE',
      `cannot read the pidfile ${file} (CORRAL_PIDFILE): ${state.why}. Whether corral runs is unknown; nothing was signalled. Run this as the user corral runs as (sudo -u <user> corral ...) or as root, or use systemctl (systemctl status|reload|stop corral)`,
    );
  }
  if (state.status === 'dead') throw new CorralError('CORRAL_ERR_NOT_RUNNING', `corral is not running (stale pidfile ${file} names pid ${state.pid})`);
  // A live pid is not proof: after a master died without removing its pidfile, the kernel may have
  // given that pid to anything, which must not get our SIGTERM or SIGHUP.
  if (state.status === 'reused') throw new CorralError('CORRAL_ERR_NOT_RUNNING', `no corral master running (stale pidfile ${file}: ${state.why}); nothing was signalled`);
  if (state.status === 'unverified') {
    throw new CorralError(
      'CORRAL_ERR_MASTER_UNVERIFIED',
      `no corral master could be verified through the pidfile ${file}: ${state.why}. Whether corral runs is unknown; nothing was signalled. If pid ${state.pid} is corral, signal it yourself (kill -HUP|-TERM ${state.pid}); if it is not, the pidfile is stale: remove it (rm ${file})`,
    );
  }
  assertPidfileTrusted(file, state.pid, proc);
  return state.pid;
}

/**
 * findMaster, but "not running" only when no corral answers the admin API either. A master started
 * with another CORRAL_PIDFILE (the setting edited in .env since it started) has its pidfile where
 * this command does not look: said to be not running, `stop` exited 0 with the master serving on,
 * and the `start` after it failed on the port in use. Throws CORRAL_ERR_MASTER_ELSEWHERE then.
 */
export async function findMasterHere(lookup: MasterLookup): Promise<number> {
  const { settings, adminApi } = lookup;
  try {
    return findMaster(settings);
  } catch (err) {
    if (!(err instanceof CorralError && err.code === 'CORRAL_ERR_NOT_RUNNING')) throw err;
    const names = (pidfile: string, pid: number) => {
      try {
        return findMaster({ CORRAL_PIDFILE: pidfile }) === pid;
      } catch {
        return false;
      }
    };
    const there = masterOfRelativePidfile(lookup, names);
    if (there !== undefined) {
      throw new CorralError(
        'CORRAL_ERR_MASTER_ELSEWHERE',
        `no pidfile names a master at ${settings.CORRAL_PIDFILE} (CORRAL_PIDFILE, a relative path: taken from this command's directory, ${process.cwd()}), but corral master pid ${there.pid}, started with the settings file this command read, runs in ${there.cwd}, where its pidfile is (${there.pidfile}). Nothing was signalled. ` +
          `Run this from there (cd ${there.cwd}), or give it an absolute CORRAL_PIDFILE (e.g. /run/corral/corral.pid, the unit's RuntimeDirectory=) and restart corral (a reload does not move the pidfile), or use systemctl`,
        { cause: err },
      );
    }
    if (!adminApi) {
      throw new CorralError('CORRAL_ERR_NOT_RUNNING', `${err.message}; the admin API was not asked whether a corral answers elsewhere: CORRAL_ADMIN_BIND is invalid${noSettingsFileHint(lookup)}`, { cause: err });
    }
    const other = await corralAtAdminApi(settings);
    const read = `this command read ${lookup.envFile ?? 'no settings file'}`;
    if (other === undefined) {
      const held = settings.CORRAL_DATA_DIR === undefined ? undefined : masterOfDataDir(resolve(settings.CORRAL_DATA_DIR));
      if (held === undefined) {
        const sameFile = lookup.envFile === undefined ? [] : mastersOfSettingsFile(lookup.envFile);
        if (sameFile.length > 0) {
          const pids = sameFile.join(', ');
          throw new CorralError(
            'CORRAL_ERR_MASTER_ELSEWHERE',
            `no pidfile names a master at ${settings.CORRAL_PIDFILE} (CORRAL_PIDFILE), no corral answers the admin API at ${settings.CORRAL_ADMIN_BIND.host}:${settings.CORRAL_ADMIN_BIND.port} and no keeper holds CORRAL_DATA_DIR's lock, but corral master pid ${pids} runs, started with the settings file this command read (${lookup.envFile}): ` +
              `CORRAL_PIDFILE, CORRAL_ADMIN_BIND and CORRAL_DATA_DIR were edited there since it started (a reload applies none of them until a restart). Nothing was signalled. ` +
              `Put back the values it started with (or run this with them in the environment), or signal it yourself (kill -TERM|-HUP ${sameFile[0]}), or use systemctl`,
            { cause: err },
          );
        }
        const hint = noSettingsFileHint(lookup);
        throw hint ? new CorralError('CORRAL_ERR_NOT_RUNNING', err.message + hint, { cause: err }) : err;
      }
      throw new CorralError(
        'CORRAL_ERR_MASTER_ELSEWHERE',
        `no pidfile names a master at ${settings.CORRAL_PIDFILE} (CORRAL_PIDFILE) and no corral answers the admin API at ${settings.CORRAL_ADMIN_BIND.host}:${settings.CORRAL_ADMIN_BIND.port}, but corral master pid ${held.master} runs, its keeper (pid ${held.keeper}) holding ${held.lock}: ` +
          `one started with another CORRAL_PIDFILE and CORRAL_ADMIN_BIND (edited since it started, or another settings file: ${read}). Whether it is this corral is unknown; nothing was signalled. ` +
          `Run this with the settings it started with (the same CORRAL_ENV_FILE), or signal it yourself (kill -TERM|-HUP ${held.master}), or use systemctl`,
        { cause: err },
      );
    }
    const which = other.pid === undefined ? 'its pid: pgrep -f "corral start", or master_pid in GET /api/admin/reload' : `pid ${other.pid}`;
    throw new CorralError(
      'CORRAL_ERR_MASTER_ELSEWHERE',
      `no pidfile names a master at ${settings.CORRAL_PIDFILE} (CORRAL_PIDFILE), but a corral master answers the admin API at ${other.url}${other.pid === undefined ? '' : ` (master pid ${other.pid})`}: ` +
        `one started with another CORRAL_PIDFILE (edited since it started, or another settings file: ${read}), whose pidfile is where that setting pointed. Whether it is this corral is unknown; nothing was signalled. ` +
        `Run this with the settings it started with (the same CORRAL_ENV_FILE, or its CORRAL_PIDFILE), or signal it yourself (${which}; kill -TERM|-HUP <pid>), or use systemctl`,
    );
  }
}

/**
 * What "not running" adds when this command read no settings file: it looked at the default
 * pidfile, while a corral installed as a service was started with a settings file (the unit's
 * CORRAL_ENV_FILE=/etc/corral/corral.env). Run from the install directory, which has no .env,
 * `corral status` said only "not running" and `corral stop` "nothing to stop", with corral serving.
 */
function noSettingsFileHint(lookup: MasterLookup): string {
  if (lookup.envFile !== undefined) return '';
  const why = lookup.envFileNone ? 'CORRAL_ENV_FILE=none' : `no .env in ${process.cwd()}, CORRAL_ENV_FILE unset`;
  // CORRAL_PIDFILE given in the environment (as README asks of settings given to `npm start`) is
  // the one looked at: calling it "the default" sent the reader looking for a pidfile never used.
  const pidfile = lookup.pidfileSource === 'default' ? 'the default CORRAL_PIDFILE' : 'the CORRAL_PIDFILE of the environment';
  return `; no settings file was read (${why}), so ${pidfile} was looked at: a corral started with a settings file, as the systemd unit starts it, is found through the same file (CORRAL_ENV_FILE=/etc/corral/corral.env corral <command>)`;
}

/**
 * The corral master whose keeper holds the data dir's lock: the keeper's parent, when it runs
 * corral. The last trace of a master whose pidfile and admin API were both moved in .env since it
 * started: said to be not running, `stop` exited 0 and the `start` after it made a second master
 * that waited on this lock and failed on the port in use.
 */
function masterOfDataDir(dataDir: string): { keeper: number; master: number; lock: string } | undefined {
  const lock = join(dataDir, 'keeper.lock');
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  };
  const keeper = lockOwnerPid(read(lock) ?? '');
  if (!Number.isInteger(keeper) || keeper <= 0) return undefined;
  const master = Number(/^PPid:\s*(\d+)$/m.exec(read(`/proc/${keeper}/status`) ?? '')?.[1]);
  if (!Number.isInteger(master) || master <= 1) return undefined;
  const argv = (read(`/proc/${master}/cmdline`) ?? '').split('\0');
  return argv.includes('start') && argv.some((a) => /corral/.test(a)) ? { keeper, master, lock } : undefined;
}

/**
 * findMasterHere for commands that exit 3 when corral is not running (status, reload): prints
 * why, returns undefined. CORRAL_ERR_MASTER_UNVERIFIED, CORRAL_ERR_PIDFILE_UNREADABLE,
 * CORRAL_ERR_PIDFILE_UNTRUSTED, CORRAL_ERR_NO_PIDFILE and CORRAL_ERR_MASTER_ELSEWHERE are thrown
 * on: reload fails with them (exit 1), status says "unknown" (exit 4). (stop calls findMasterHere
 * itself: not running is success for it.)
 */
export async function findMasterOrSay(lookup: MasterLookup): Promise<number | undefined> {
  try {
    return await findMasterHere(lookup);
  } catch (err) {
    if (err instanceof CorralError && err.code === 'CORRAL_ERR_NOT_RUNNING') {
      process.stderr.write(`${err.message}\n`);
      return undefined;
    }
    throw err;
  }
}
