// Finds a running master through the pidfile, for reload/stop/status.

import { lstatSync, readFileSync, statSync, type Stats } from 'node:fs';
import { get as httpGet } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { adminUrlOf } from '../admin-url.js';
import { isLoopbackHost } from '../loopback.js';
import { loadSettings } from '../config/load.js';
import type { SettingName, Settings } from '../config/schema.js';
import type { SettingSource } from '../config/setting-value.js';
import { CorralError } from '../errors.js';
import { checkPidfile, readMasterRecord, stampFile } from '../master/pidfile.js';
import { procReaders, type ProcReaders } from '../master/proc-identity.js';
import { lockOwnerPid } from '../sheets/keeper/lock.js';
import { mastersOfSettingsFile } from './master-by-settings-file.js';

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
 * Whoever may write the pidfile chooses the process that stop and reload signal. The master's
 * user owns it (under systemd, /run/corral belongs to the service's user), and that user can
 * write any pid and a matching start stamp there: run as root, `corral stop` would then send
 * SIGTERM to a process of root's (sshd) on behalf of a compromised service account. So the
 * pidfile, a symlink at its path and its start stamp must belong to root or to the user the named
 * process runs as (the same check systemd makes of a PIDFile= it does not own), and the pidfile and
 * stamp be writable by their owner alone (openToOthers). Skipped when the process cannot
 * be looked at (another user's, hidden by hidepid): the kernel then refuses a non-root signal
 * to it anyway, and root always sees every process.
 */
function assertPidfileTrusted(file: string, pid: number, proc: ProcReaders): void {
  const runsAs = proc.owner?.(pid);
  if (runsAs === undefined) return;
  let link: Stats;
  let target: Stats;
  try {
    link = lstatSync(file);
    target = link.isSymbolicLink() ? statSync(file) : link;
  } catch {
    // Gone since it was read (the master exited and removed it): signalMaster then finds no process.
    return;
  }
  // The stamp decides whether a live pid is the master: a stranger's stamp for a reused pid would
  // make a stale pidfile name that process as running. None: an older corral, or a hand-written
  // pidfile, whose command line checkPidfile judged.
  let stamp: Stats | undefined;
  try {
    stamp = statSync(stampFile(file));
  } catch {
    stamp = undefined;
  }
  // A symlink is named as one: "the pidfile belongs to uid 65534" sent the operator to root's
  // file it pointed at, when the link was the stranger's.
  const owners = [
    { path: link.isSymbolicLink() ? `the pidfile ${file}, a symlink,` : `the pidfile ${file}`, uid: link.uid },
    ...(link.isSymbolicLink() ? [{ path: `the file the pidfile ${file} links to`, uid: target.uid }] : []),
    ...(stamp ? [{ path: `its start stamp ${stampFile(file)}`, uid: stamp.uid }] : []),
  ];
  const stranger = owners.find((o) => o.uid !== 0 && o.uid !== runsAs);
  if (stranger) {
    throw new CorralError(
      'CORRAL_ERR_PIDFILE_UNTRUSTED',
      `${stranger.path} belongs to uid ${stranger.uid}, but pid ${pid} it names runs as uid ${runsAs}: that user could have named any process, so nothing was signalled. A master writes its pidfile as the user it runs as; if pid ${pid} is corral, signal it yourself (kill -HUP|-TERM ${pid}) or use systemctl, and look at who wrote ${file}`,
    );
  }
  const open = openToOthers([[`the pidfile ${file}`, target.mode], ...(stamp ? [[`its start stamp ${stampFile(file)}`, stamp.mode] as const] : [])]);
  if (open) {
    throw new CorralError(
      'CORRAL_ERR_PIDFILE_UNTRUSTED',
      `${open}: users other than its owner could have named any process there (with a matching ${stampFile(file)}), so nothing was signalled. A master writes them writable by itself alone; if pid ${pid} is corral, signal it yourself (kill -HUP|-TERM ${pid}) or use systemctl, and make them writable by their owner alone (chmod go-w ${stamp ? `${file} ${stampFile(file)}` : file})`,
    );
  }
}

/**
 * Why others than their owner may have written the pidfile or its stamp (each named, with its
 * mode), or undefined: one of them writable by its group or by everyone (an older corral left them
 * so under a umask of 002 or 000). The owner check alone let root's `corral stop` kill a process
 * of root's that any local user had named in a root-owned 0666 pidfile with a matching stamp.
 */
function openToOthers(files: readonly (readonly [name: string, mode: number])[]): string | undefined {
  for (const [name, mode] of files) {
    if ((mode & 0o022) !== 0) return `${name} is writable by ${(mode & 0o002) !== 0 ? 'every user' : 'its group'} (mode ${(mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return undefined;
}

/** The admin API base URL as seen from this host, or undefined when its port is ephemeral. */
export function adminBaseUrl(settings: Settings): string | undefined {
  const { host, port } = settings.CORRAL_ADMIN_BIND;
  return port === 0 ? undefined : adminUrlOf(host, port);
}

/**
 * Where the master `pid` serves its admin API: the address it recorded beside its pidfile once it
 * listened (its settings may have come from `npm start`'s environment alone, or been edited in
 * .env since), else the one these settings name. `null`: its admin API did not start.
 */
export function masterAdminUrl(settings: Settings, pid: number): string | null | undefined {
  const recorded = settings.CORRAL_PIDFILE ? readMasterRecord(settings.CORRAL_PIDFILE, pid)?.adminUrl : undefined;
  if (typeof recorded === 'string' && !namesThisHost(recorded)) {
    process.stderr.write(`corral: warning: the admin address recorded beside the pidfile (${recorded}) is no address of this host; not asked (CORRAL_ADMIN_TOKEN is not sent there): asking ${adminBaseUrl(settings) ?? 'nothing'} from the settings instead\n`);
    return adminBaseUrl(settings);
  }
  return recorded !== undefined ? recorded : adminBaseUrl(settings);
}

/**
 * Whether a recorded admin URL names this host: a loopback address or `localhost`, or an address of
 * one of its interfaces. The stamp beside the pidfile is not checked for its owner as the pidfile
 * is, and whoever may write that directory (the service's user) could have named any host there:
 * `corral status` and `reload --wait`, run by root, sent it CORRAL_ADMIN_TOKEN.
 */
function namesThisHost(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  if (isLoopbackHost(host)) return true;
  return isIP(host) !== 0 && Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address.toLowerCase() === host.toLowerCase()));
}

/**
 * Sends `signal` to the master. A master run by another user (the service account) refuses with
 * EPERM: say how to reach it instead of a stack trace.
 */
export function signalMaster(pid: number, signal: NodeJS.Signals): void {
  sendOrDeny(pid, signal, signal);
}

/**
 * Throws CORRAL_ERR_SIGNAL_DENIED, as signalMaster(pid, signal) would, when this user may not
 * signal the master; sends nothing (signal 0). For a command that has more to judge before it
 * signals, and whose judgement would be this user's, not the master's.
 */
export function assertMaySignal(pid: number, signal: NodeJS.Signals): void {
  sendOrDeny(pid, 0, signal);
}

function sendOrDeny(pid: number, sent: NodeJS.Signals | 0, named: NodeJS.Signals): void {
  try {
    process.kill(pid, sent);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    throw new CorralError(
      'CORRAL_ERR_SIGNAL_DENIED',
      `not allowed to send ${named} to the master (pid ${pid}): it runs as another user. Run this as that user (sudo -u <user> corral ...) or as root, or use systemctl (systemctl reload|stop corral)`,
    );
  }
}

/**
 * The setting that finds the master; other invalid settings must not keep stop, reload and status
 * from finding it. The admin API's are used best effort (MasterLookup.adminApi). reload judges the
 * master's settings whole once it has found it (a refusal is 78), but "not running" comes first.
 */
export const MASTER_LOOKUP_SETTINGS = ['CORRAL_PIDFILE'] as const;
/**
 * status asks the admin API: its address must be valid too. An invalid token stands as unset (a
 * warning, and the summary without per-worker figures): refused, status exited 78 with corral
 * running fine, and a `corral status || alert` alerted on a typo in a setting it can do without.
 * So did an invalid CORRAL_GRACEFUL_TIMEOUT, which status never reads, while it was judged with stop's.
 */
export const STATUS_SETTINGS = [...MASTER_LOOKUP_SETTINGS, 'CORRAL_ADMIN_BIND'] as const;

export interface MasterLookup {
  readonly settings: Settings;
  /**
   * Whether CORRAL_ADMIN_BIND is valid, so the admin API may be asked whether a corral answers
   * there (findMasterHere). An invalid one stands at its default, where another corral may answer.
   * (An invalid token stands as unset: only the master's pid goes unread.)
   */
  readonly adminApi: boolean;
  /** The settings file read (LoadedSettings.envFile); undefined: none (no ./.env, or CORRAL_ENV_FILE=none). */
  readonly envFile: string | undefined;
  /** Why no file was read, when none was: CORRAL_ENV_FILE=none (LoadedSettings.envFileNone), or no ./.env. */
  readonly envFileNone: boolean;
  /** Where CORRAL_PIDFILE's value came from: the hint of a lookup that found nothing names it. */
  readonly pidfileSource: SettingSource;
  /** CORRAL_ADMIN_TOKEN is set but invalid: it stands as unset (said among the warnings). */
  readonly tokenInvalid: boolean;
}

/**
 * Loads the settings that find the master (`judge`), printing the warnings unless `quiet` (a
 * broken .env is worth knowing of).
 */
export function loadLookupSettings(judge: readonly SettingName[] = MASTER_LOOKUP_SETTINGS, quiet = false): MasterLookup {
  const loaded = loadSettings({ judgeOnly: judge });
  if (!quiet) for (const w of loaded.warnings) process.stderr.write(`corral: warning: ${w}\n`);
  return {
    settings: loaded.settings,
    adminApi: !loaded.invalidIgnored.includes('CORRAL_ADMIN_BIND'),
    envFile: loaded.envFile,
    envFileNone: loaded.envFileNone,
    pidfileSource: loaded.sources.CORRAL_PIDFILE,
    tokenInvalid: loaded.invalidIgnored.includes('CORRAL_ADMIN_TOKEN'),
  };
}

/** How long a command waits for the admin API to say whether a corral answers there. */
const ADMIN_PROBE_MS = 1500;

/**
 * GET of an admin API document (with the token when given): its status and parsed JSON body.
 * `timeoutMs` bounds the whole call, connecting included.
 */
export function getAdminJson(url: string, token: string | undefined, timeoutMs = 3000): Promise<{ status: number; body: unknown }> {
  // node:http, not undici: importing undici doubled the CPU of each `corral status`, `stop` and
  // `reload` (a status: 0.65 s against 0.30 s on a 2-core Xeon); nor Node's fetch (0.55 s), which
  // also refuses the ports browsers block (an admin API on 6000 or 6666 would be a "bad port").
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => reject(err.name === 'AbortError' ? new Error(`no answer within ${timeoutMs} ms`) : err);
    const req = httpGet(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on('error', fail);
  });
}

/**
 * Whether a corral master answers the admin API at CORRAL_ADMIN_BIND (its base URL, and its pid
 * when CORRAL_ADMIN_TOKEN lets the figures be read), or undefined: nothing listens, something
 * else does, or the port is ephemeral. Loopback or the host's own address only, as the settings say.
 */
async function corralAtAdminApi(settings: Settings): Promise<{ url: string; pid: number | undefined } | undefined> {
  const url = adminBaseUrl(settings);
  if (url === undefined) return undefined;
  // Health answers 503 while no worker is ready (a crash loop, every worker stuck, a stop begun):
  // a master all the same. Taken as nobody there, `stop` said "nothing to stop" and exited 0, and
  // `status` said not running (3), beside a master whose workers were all stuck.
  const get = async (path: string, token?: string, statuses: readonly number[] = [200]): Promise<unknown> => {
    const { status, body } = await getAdminJson(`${url}${path}`, token, ADMIN_PROBE_MS);
    return statuses.includes(status) ? body : undefined;
  };
  try {
    const health = (await get('/api/admin/health', undefined, [200, 503])) as { status?: unknown; workers_expected?: unknown } | undefined;
    if (typeof health?.status !== 'string' || typeof health.workers_expected !== 'number') return undefined;
    const token = settings.CORRAL_ADMIN_TOKEN;
    const stats = token ? ((await get('/api/admin/stats', token).catch(() => undefined)) as { master?: { pid?: unknown } } | undefined) : undefined;
    return { url, pid: typeof stats?.master?.pid === 'number' ? stats.master.pid : undefined };
  } catch {
    return undefined;
  }
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
    const which = other.pid === undefined ? 'its pid: pgrep -f "corral start", or master.pid in GET /api/admin/stats with CORRAL_ADMIN_TOKEN' : `pid ${other.pid}`;
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
