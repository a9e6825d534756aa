// The master's admin API as a command reaches it (status, reload --wait, and the search for a
// master its pidfile does not name): where it listens, the GET of one of its documents, and
// whether a corral answers there. A file of its own: the commands ask it for their figures,
// master-process.ts only whether a master is there.

import { get as httpGet } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { adminUrlOf } from '../admin-url.js';
import { isLoopbackHost } from '../loopback.js';
import type { Settings } from '../config/schema.js';
import { readMasterRecord } from '../master/pidfile.js';

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
  return recordedAdminUrl(settings, settings.CORRAL_PIDFILE ? readMasterRecord(settings.CORRAL_PIDFILE, pid)?.adminUrl : undefined);
}

/**
 * `recorded`, the admin address a master recorded beside its pidfile (null: its admin API did not
 * start; undefined: none recorded), when it names this host; else the one these settings name.
 * Every command that sends the token to the recorded address asks here: `reload --wait` took it
 * as written, and sent CORRAL_ADMIN_TOKEN wherever the stamp said (see namesThisHost).
 */
export function recordedAdminUrl(settings: Settings, recorded: string | null | undefined): string | null | undefined {
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
 * when it says it), or undefined: nothing listens, something else does, or the port is ephemeral.
 * Loopback or the host's own address only, as the settings say.
 *
 * Without CORRAL_ADMIN_TOKEN: no pidfile names a master here, so nothing says who holds that port,
 * and while corral is down any local user may listen there and answer as a master does. Asked for
 * its stats with the token, to name its pid, `corral status`, `stop` and `reload` (root's, through
 * sudo) gave that user the admin API, and the whole sheet through GET /api/export on the public
 * port, players' codes included. The pid comes from the reload state, which needs no token.
 */
export async function corralAtAdminApi(settings: Settings): Promise<{ url: string; pid: number | undefined } | undefined> {
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
    const reload = (await get('/api/admin/reload').catch(() => undefined)) as { master_pid?: unknown } | undefined;
    const pid = reload?.master_pid;
    return { url, pid: typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined };
  } catch {
    return undefined;
  }
}
