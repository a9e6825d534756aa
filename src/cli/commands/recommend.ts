// `corral recommend`: sizing from this machine's figures instead of the seeds' static RAM table.
// Reads CPU and RAM with systeminformation, the per-worker memory measured by a running corral
// (its admin stats), and prints CORRAL_WORKERS, CORRAL_WORKER_CONNECTIONS and the capacity they
// give, with the reasoning behind each number. The capacity is no setting to copy:
// CORRAL_MAX_CONNECTIONS set to it held the cap there when a worker was added (TTIN, the
// dashboard's +1 worker), the very step FULL calls for.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { cpusUnderQuota, readCpuQuota } from '../../cpu-quota.js';
import si from 'systeminformation';
import { Agent, fetch } from 'undici';
import { loadSettings } from '../../config/load.js';
import type { Settings } from '../../config/schema.js';
import { MAX_WORKERS } from '../../config/schema-daemon.js';
import { procOwner } from '../../master/proc-identity.js';
import { PROCESSES_BESIDE_WORKERS, readTaskLimit, TASKS_PER_PROCESS, type TaskLimit } from '../../task-limit.js';
import { CorralError } from '../../errors.js';
import { MASTER_FDS_PER_CHILD, MASTER_OWN_FDS, readOpenFilesLimit, WORKER_FD_RESERVE, workersWithinKeeper, workersWithinMaster, type OpenFilesLimit } from '../../fd-limit.js';
import { KEEPER_LINK_MAX_CONNECTIONS } from '../../keeper-link-pools.js';
import { effectiveMemory, readCgroupMemory, type CgroupMemory } from '../../master/cgroup-memory.js';
import { allowedCpusOf } from '../../master/cpu-times.js';
import { checkLoopbackUrl, pinnedLookup, type PinnedAddresses } from '../../loopback.js';
import { parseFlags, type Command } from '../command.js';
import { adminBaseUrl, masterAdminUrl } from '../master-admin-api.js';
import { findMaster } from '../master-process.js';
import { decimalFlag } from '../number-flag.js';

const MiB = 1048576;

/**
 * Fallbacks when no corral is running, measured on the reference machine (Node 20, 2 cores):
 * a bundled-app worker after boot (77-82 MB), the keeper, the master, and one idle keep-alive
 * connection (16.7 KiB measured with 2,000 sockets; doubled for request buffers in flight).
 */
/**
 * The CPUs the running master may use (its /proc status's Cpus_allowed_list, as host.cpus counts
 * them), else this shell's: a master pinned to 2 CPUs of 8 was recommended 8 workers.
 */
export function masterCpus(masterPid: number | undefined): number {
  if (masterPid === undefined) return availableParallelism();
  let status: string;
  try {
    status = readFileSync(`/proc/${masterPid}/status`, 'utf8');
  } catch {
    return availableParallelism();
  }
  return allowedCpusOf(status)?.size ?? availableParallelism();
}

export const DEFAULTS = {
  workerRssBytes: 80 * MiB,
  keeperRssBytes: 68 * MiB,
  masterRssBytes: 84 * MiB,
  connectionBytes: 32 * 1024,
} as const;

export interface SizingInput {
  readonly cpus: number;
  readonly ramTotalBytes: number;
  /** Share of RAM corral may use (the seeds' success criterion: RAM < 50 %). */
  readonly ramBudgetPercent: number;
  readonly workerRssBytes: number;
  readonly keeperRssBytes: number;
  readonly masterRssBytes: number;
  readonly connectionBytes: number;
  /** Soft RLIMIT_NOFILE of a worker (each connection is a file descriptor). */
  readonly fdLimit: number;
  /** Whose limit that is, for the explanation (default: this shell's). */
  readonly fdLimitFrom?: string;
  /**
   * CORRAL_ACCEPT (default shared): with round-robin the master holds every connection until a
   * worker takes it, so the host's cap counts against the master's open-files limit too.
   */
  readonly accept?: Settings['CORRAL_ACCEPT'];
  /**
   * The process and thread limit corral runs under (pids.max, RLIMIT_NPROC), and
   * CORRAL_EXPORT_THREADS (default 1): each worker takes about a dozen tasks and its export
   * threads, twice the workers during a reload (task-limit-check.ts).
   */
  readonly taskLimit?: TaskLimit | undefined;
  readonly exportThreads?: number;
  /** Where the memory figures came from, for the explanation. */
  readonly measuredFrom: string;
}

export interface Sizing {
  readonly workers: number;
  readonly workerConnections: number;
  readonly maxConnections: number;
  readonly reasons: readonly string[];
}

/** A worker's descriptors besides its connections (fd-limit.ts): the master's start check uses the same. */
const FD_RESERVE = WORKER_FD_RESERVE;
/** Above this a single Node worker spends more on bookkeeping than it gains; more workers or hosts instead. */
const CONNECTIONS_CEILING = 20_000;

export function recommend(i: SizingInput): Sizing {
  const mb = (b: number) => `${Math.round(b / MiB)} MiB`;
  const budget = (i.ramTotalBytes * i.ramBudgetPercent) / 100;
  const fixed = i.masterRssBytes + i.keeperRssBytes;
  const byRam = Math.max(0, Math.floor((budget - fixed) / i.workerRssBytes));
  // The keeper holds every worker's links to it, and the master 4 descriptors per child, both for
  // two generations during a reload, under the same open-files limit (fd-limit-check.ts): one
  // worker per core of a 32-core host under the usual 1024 was flagged fd_limit.low at start.
  const byFdWorkers = Math.min(workersWithinKeeper(i.fdLimit), workersWithinMaster(i.fdLimit, 0));
  // A container's --pids-limit or TasksMax=: the master's task_limit.low check, by the same sums.
  const byTasks = i.taskLimit === undefined ? Infinity : Math.floor((i.taskLimit.max - (i.taskLimit.others ?? 0) - PROCESSES_BESIDE_WORKERS * TASKS_PER_PROCESS) / (2 * TASKS_PER_PROCESS + 2 * (i.exportThreads ?? 1)));
  // Never past the schema's own limit (a host of more cores than it allows would be told a value start refuses).
  const workers = Math.max(1, Math.min(i.cpus, byRam, MAX_WORKERS, byFdWorkers, byTasks));
  // The smallest corral (master, keeper, one worker) must fit, or every figure below is over budget.
  const smallest = fixed + i.workerRssBytes;
  const neededPercent = Math.ceil((smallest * 100) / i.ramTotalBytes);
  const ramLine =
    byRam === 0
      ? `RAM allows no worker: the budget (${mb(budget)}) does not cover master + keeper + one worker (${mb(smallest)}), so CORRAL_WORKERS=1, the minimum, is over budget; ${neededPercent <= 100 ? `give corral --ram-budget ${neededPercent} or more, or a host with more RAM` : `this host has less RAM than that: use one with more`}.`
      : `RAM would allow ${byRam} worker(s) of ${mb(i.workerRssBytes)} each, so CORRAL_WORKERS=${workers}${workers === MAX_WORKERS && Math.min(i.cpus, byRam) > MAX_WORKERS ? ` (the most corral runs: more hosts beyond that)` : ''}${workers === byFdWorkers && Math.min(i.cpus, byRam, MAX_WORKERS) > byFdWorkers ? ` (the open-files limit ${i.fdLimit} of ${i.fdLimitFrom ?? 'this shell'} allows no more: the keeper holds up to ${KEEPER_LINK_MAX_CONNECTIONS} connections per worker and the master ${MASTER_FDS_PER_CHILD} descriptors per child, for two generations during a reload; raise LimitNOFILE= in the unit, or ulimit -n, to lift it)` : ''}${i.taskLimit !== undefined && workers === Math.max(1, byTasks) && Math.min(i.cpus, byRam, MAX_WORKERS, byFdWorkers) > workers ? ` (the process and thread limit, ${i.taskLimit.source} ${i.taskLimit.max}${i.taskLimit.others ? ` less ${i.taskLimit.others} tasks of other processes` : ''}, allows no more: about ${TASKS_PER_PROCESS} tasks per process, twice the workers during a reload; raise TasksMax= or the container's --pids-limit to lift it)` : ''}.`;
  const reasons: string[] = [
    `RAM budget: ${i.ramBudgetPercent}% of ${mb(i.ramTotalBytes)} = ${mb(budget)}; master ${mb(i.masterRssBytes)} + keeper ${mb(i.keeperRssBytes)} leave ${mb(Math.max(0, budget - fixed))} (${i.measuredFrom}).`,
    `Workers: one per CPU core (${i.cpus}) gives the most requests/s on Node (on the 2-core reference machine, 2 workers served ~62k req/s, 8 workers ~37k). ${ramLine}`,
    `The default CPU x 4 (${i.cpus * 4}) only pays off when requests block the event loop (they should not: exports run in a thread pool, Sheets calls are async).`,
  ];
  const leftForConnections = Math.max(0, budget - fixed - workers * i.workerRssBytes);
  const byRamConns = Math.floor(leftForConnections / workers / i.connectionBytes);
  // With round-robin the master holds the host's cap of connections at once in a burst, beside
  // its own files and its children's pipes (masterFdNeed): the share of that left per worker.
  const byMasterFd = i.accept === 'round-robin' ? Math.floor((i.fdLimit - MASTER_OWN_FDS - MASTER_FDS_PER_CHILD * (2 * workers + 1)) / workers) : Infinity;
  const byFd = Math.max(1, Math.min(i.fdLimit - FD_RESERVE, byMasterFd));
  const workerConnections = Math.max(1, Math.min(byRamConns, byFd, CONNECTIONS_CEILING));
  reasons.push(
    `Connections per worker: memory left after the workers (${mb(leftForConnections)}) at ${Math.round(i.connectionBytes / 1024)} KiB per open connection allows ${byRamConns.toLocaleString('en-US')}; the open-files limit allows ${byFd.toLocaleString('en-US')} (RLIMIT_NOFILE ${i.fdLimit} minus ${FD_RESERVE} reserved${byMasterFd < i.fdLimit - FD_RESERVE ? `, and with CORRAL_ACCEPT=round-robin the master holding every worker's connections until taken` : ''}, the limit of ${i.fdLimitFrom ?? 'this shell'}; raise LimitNOFILE= in the unit, or ulimit -n in the shell that starts corral, to lift it); capped at ${CONNECTIONS_CEILING.toLocaleString('en-US')} per worker. CORRAL_WORKER_CONNECTIONS=${workerConnections}.`,
  );
  const maxConnections = workers * workerConnections;
  reasons.push(
    `Capacity: ${workers} x ${workerConnections} = ${maxConnections.toLocaleString('en-US')} simultaneous connections, with CORRAL_MAX_CONNECTIONS left unset (0: workers x worker connections), so that a worker added (TTIN, the dashboard's +1 worker) brings its connections; set to this figure, it would hold the cap there whatever the worker count. The status turns WARNING at 80% (${warningAt(maxConnections).toLocaleString('en-US')} busy) and FULL refuses new connections at 100%. Scale up or out before WARNING is the norm.`,
  );
  return { workers, workerConnections, maxConnections, reasons };
}

/**
 * The fewest busy connections that read WARNING (80 % of the cap or more, master/capacity.ts's
 * statusOf): rounded up, as 31,897 of 39,872 is 79.99 %, still HEALTHY. Integer arithmetic: 0.8
 * has no exact binary form.
 */
export function warningAt(maxConnections: number): number {
  return Math.ceil((maxConnections * 80) / 100);
}

/**
 * The RAM a recommendation is sized on: the cgroup's where a limit holds, and then the lowest
 * of the hierarchy (corral's own MemoryMax=), not the level with the least room left that the
 * monitor judges (a fuller slice's larger limit): corral can never hold more than its own.
 */
export function sizingMemory(host: { total: number; available: number }, cgroup: CgroupMemory | undefined): ReturnType<typeof effectiveMemory> {
  return effectiveMemory(host, cgroup?.lowestLimitBytes === undefined ? cgroup : { ...cgroup, limitBytes: cgroup.lowestLimitBytes });
}

/** Whose open-files limit a recommendation is sized on, and why that one. */
export interface FdLimitSource {
  readonly limit: number;
  /** "the running corral master (pid 123, …)", or "this shell, as no corral master was found: …why…". */
  readonly from: string;
  /** The running master's pid, when its limit was read: its cgroup's memory limit is read too. */
  readonly masterPid?: number;
}

/** An unlimited (or unknown) soft limit, sized as the kernel's default nr_open, or as Linux's usual 1024. */
function softOf(limit: OpenFilesLimit | undefined): number {
  if (limit === undefined) return 1024;
  return limit.soft ?? 1_048_576;
}

/**
 * The limit the workers run under: a running corral's master's (its workers inherit it), found
 * through CORRAL_PIDFILE as `corral status` finds it, else this shell's, which a corral started
 * from it would get. Reading this shell's while corral ran under systemd's LimitNOFILE (or another
 * shell's ulimit) recommended 19,936 connections per worker to a corral limited to 256 files.
 */
export function fdLimitSource(
  settings: Settings,
  find: (s: Settings) => number = findMaster,
  read: (pid: number | 'self') => OpenFilesLimit | undefined = readOpenFilesLimit,
): FdLimitSource {
  let pid: number;
  try {
    pid = find(settings);
  } catch (err) {
    // Not running, or not found for sure (no pidfile, an unverified one): said as such.
    return { limit: softOf(read('self')), from: `this shell, as no corral master was found: ${err instanceof Error ? err.message : String(err)}` };
  }
  const limit = read(pid);
  if (limit !== undefined) return { limit: softOf(limit), from: `the running corral master (pid ${pid}, read from /proc/${pid}/limits)`, masterPid: pid };
  return { limit: softOf(read('self')), from: `this shell, as the running corral master's /proc/${pid}/limits cannot be read (run this as its user or as root)` };
}

export interface Measured {
  workerRssBytes: number;
  keeperRssBytes: number;
  masterRssBytes: number;
  from: string;
}

/** The sizes a running corral measured, or why none could be had (said in the reasons). */
export type AdminAnswer = { readonly measured: Measured } | { readonly why: string };

/**
 * Asks a running corral for its measured process sizes. A corral that answers but refuses
 * (401/403: no CORRAL_ADMIN_TOKEN here, or another one) is running: saying "no corral answered"
 * would send the operator looking for a dead service instead of for the token. `pinned`: the
 * addresses the URL's host name was checked against (adminUrlAllowed), connected to alone.
 */
export async function measuredFromAdmin(url: string, token: string | undefined, pinned?: PinnedAddresses): Promise<AdminAnswer> {
  const agent = pinned ? new Agent({ connect: { lookup: pinnedLookup(pinned) } }) : undefined;
  try {
    return await askAdmin(url, token, agent);
  } finally {
    await agent?.close();
  }
}

async function askAdmin(url: string, token: string | undefined, agent: Agent | undefined): Promise<AdminAnswer> {
  let res: Awaited<ReturnType<typeof fetch>>;
  try {
    res = await fetch(new URL('/api/admin/stats', url), {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(2000),
      ...(agent ? { dispatcher: agent } : {}),
    });
  } catch {
    return { why: `no running corral answered at ${url} (start corral and run this again for this machine's own figures)` };
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    const fix =
      res.status === 403
        ? 'it has no CORRAL_ADMIN_TOKEN, so its admin API shows nothing: set one in its settings file, reload it, and run this with the same file'
        : token
          ? 'CORRAL_ADMIN_TOKEN here is not the running corral\'s: run this with its settings file'
          : 'run this with its settings file (CORRAL_ADMIN_TOKEN)';
    return { why: `the corral at ${url} refused to show its stats (HTTP ${res.status}): ${fix}` };
  }
  try {
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const s = (await res.json()) as {
      master?: { rss_bytes?: number };
      workers?: { state?: string; rss_bytes?: number | null }[];
      keeper?: { rss_bytes?: number | null } | null;
    };
    const rss = (s.workers ?? []).filter((w) => w.state === 'ready' && typeof w.rss_bytes === 'number').map((w) => w.rss_bytes as number);
    if (rss.length === 0) return { why: `the corral at ${url} has no ready worker with a measured size yet` };
    // The largest worker, not the mean: sizing must hold for the worst one.
    return {
      measured: {
        workerRssBytes: Math.max(...rss),
        keeperRssBytes: s.keeper?.rss_bytes ?? DEFAULTS.keeperRssBytes,
        masterRssBytes: s.master?.rss_bytes ?? DEFAULTS.masterRssBytes,
        from: `measured on the running corral at ${url}: largest of ${rss.length} worker(s)`,
      },
    };
  } catch (err) {
    return { why: `${url} did not answer as a corral admin API (${(err as Error).message})` };
  }
}

/**
 * The admin API asked without --admin-url: the running master's, where it recorded it beside its
 * pidfile, as `corral status` asks it (an address given to `npm start` alone, edited in .env since
 * the start, or a port 0 chosen at start), else the one CORRAL_ADMIN_BIND names. Asking the
 * settings' address alone, a master found through the pidfile was said not to run ("start corral
 * and run this again") and sized on the reference machine's figures. null: the master's admin API
 * did not start; undefined: CORRAL_ADMIN_BIND's port is 0 and no master recorded the one it chose.
 */
export function defaultAdminUrl(settings: Settings, masterPid: number | undefined): string | null | undefined {
  return masterPid === undefined ? adminBaseUrl(settings) : masterAdminUrl(settings, masterPid);
}

/**
 * Why CORRAL_ADMIN_BIND's address is not asked when no master was found through the pidfile: the
 * stats need CORRAL_ADMIN_TOKEN, and nothing says who holds that port; while corral is down any
 * local user may listen there, and was sent the token of whoever ran this (root's, through sudo):
 * the admin API, and the whole sheet through GET /api/export. An --admin-url is the operator's word.
 */
function unfoundMaster(url: string): string {
  return `no corral master was found through CORRAL_PIDFILE, so CORRAL_ADMIN_TOKEN is not sent to ${url} (CORRAL_ADMIN_BIND), where any local user may listen while corral is down: give --admin-url ${url} to ask the corral there`;
}

/** --admin-url: an http(s) URL, or a usage error (a typo must not read as "no corral running"). */
function adminUrlFlag(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CorralError('CORRAL_ERR_USAGE', `--admin-url must be an http(s) URL such as http://127.0.0.1:9090, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CorralError('CORRAL_ERR_USAGE', `--admin-url must be an http(s) URL such as http://127.0.0.1:9090, got ${JSON.stringify(raw)}`);
  return raw;
}

/**
 * An --admin-url is sent CORRAL_ADMIN_TOKEN: held to this host (loopback) unless --allow-remote,
 * with the check `corral loadtest --admin` makes (src/loopback.ts). Returns the addresses a host
 * name was checked against, to connect to those alone.
 */
export async function adminUrlAllowed(url: string, allowRemote: boolean): Promise<PinnedAddresses | undefined> {
  if (allowRemote) return undefined;
  const checked = await checkLoopbackUrl(new URL(url), '--admin-url');
  if (checked.ok) return checked.pinned;
  throw new CorralError('CORRAL_ERR_USAGE', `${checked.why}; pass --allow-remote if you own that server and mean to send it the admin token`);
}

export const recommendCommand: Command = {
  name: 'recommend',
  help: `Usage: corral recommend [--admin-url URL [--allow-remote]] [--ram-budget PERCENT] [--json]

Reads this machine's CPU count and RAM (systeminformation) and the per-process memory measured by
a running corral (GET /api/admin/stats, with CORRAL_ADMIN_TOKEN, where the master found through
CORRAL_PIDFILE recorded its admin API; a master found otherwise is asked with --admin-url alone,
as the token is not sent to whatever listens on CORRAL_ADMIN_BIND's port). With no
corral running it uses figures measured on the reference machine and says so. The open-files
limit is the running master's (found through CORRAL_PIDFILE; its workers inherit it), else this
shell's; the output says which. Prints recommended settings and the reasoning behind each.

Options:
  --admin-url URL        admin API to ask (default: the running master's, found
                         through CORRAL_PIDFILE); it is sent
                         CORRAL_ADMIN_TOKEN, so it must be this machine (loopback) unless
                         --allow-remote
  --allow-remote         allow an --admin-url that is not this machine
  --ram-budget PERCENT   share of RAM corral may use (default 50, the seeds' "RAM < 50 %")
  --json                 machine-readable output: {"machine", "recommended", "capacity",
                         "reasons"}, or when refused {"recommended": null, "error": {"code",
                         "message"}} (the exit code and stderr as without it)
  -h, --help             this text

Exit codes: 0 printed (with the reference machine's figures when no corral answered), 64 an
unknown or invalid option, or an --admin-url that is not loopback without --allow-remote, 78 the settings are invalid or CORRAL_ENV_FILE cannot be read (this
command reads them to find the admin API).`,
  // Nothing recommended: the command line or the settings were refused, or no sizing was possible.
  jsonRefusal: (err) => ({ recommended: null, error: { code: err.code, message: err.message } }),
  async run(argv) {
    const { values } = parseFlags(argv, { 'admin-url': { type: 'string' }, 'allow-remote': { type: 'boolean' }, 'ram-budget': { type: 'string' }, json: { type: 'boolean' } });
    if (values.help) {
      process.stdout.write(`${this.help}\n`);
      return 0;
    }
    const budget = decimalFlag('ram-budget', values['ram-budget'], 1, 100) ?? 50;
    const givenUrl = values['admin-url'] === undefined ? undefined : adminUrlFlag(values['admin-url']);
    // The default URL is this host's own admin listener (CORRAL_ADMIN_BIND), which it binds here.
    const pinned = givenUrl === undefined ? undefined : await adminUrlAllowed(givenUrl, values['allow-remote'] === true);
    // Sizing and the admin API only: the files the keeper reads (its key, the Redis CA) are not its business.
    const { settings } = loadSettings({ readFiles: false });
    const fdSource = fdLimitSource(settings);
    const adminUrl = givenUrl ?? defaultAdminUrl(settings, fdSource.masterPid);
    const fds = fdSource.limit;
    const adminAnswer = (): Promise<AdminAnswer> => {
      if (adminUrl === undefined) return Promise.resolve({ why: 'CORRAL_ADMIN_BIND has port 0 (a port chosen at start), so give --admin-url' });
      if (adminUrl === null) return Promise.resolve({ why: `the running corral master (pid ${fdSource.masterPid}) serves without its admin API (admin.failed in its log)` });
      if (givenUrl === undefined && fdSource.masterPid === undefined && settings.CORRAL_ADMIN_TOKEN !== undefined) return Promise.resolve({ why: unfoundMaster(adminUrl) });
      return measuredFromAdmin(adminUrl, settings.CORRAL_ADMIN_TOKEN, pinned);
    };
    // The RAM the master runs under: its cgroup's memory limit where one below the machine's RAM
    // holds (a container, MemoryMax=), read from the running master's cgroup, else this shell's.
    const [cpu, hostMem, cgroup, answer] = await Promise.all([
      si.cpu(),
      si.mem(),
      readCgroupMemory({ root: '/sys/fs/cgroup', selfCgroup: fdSource.masterPid === undefined ? '/proc/self/cgroup' : `/proc/${fdSource.masterPid}/cgroup` }),
      adminAnswer(),
    ]);
    const mem = sizingMemory({ total: hostMem.total, available: hostMem.available }, cgroup);
    // The cgroup's CPU quota counted (cpu-quota.ts), as the default CORRAL_WORKERS and the master's
    // host.cpus count it: the running master's cgroup's, as for RAM above (a shell outside
    // corral's unit is not under its CPUQuota=), else this shell's.
    // Its CPUs too: the master's affinity (CPUAffinity=, AllowedCPUs=, taskset) is not this shell's.
    const cpus = cpusUnderQuota(masterCpus(fdSource.masterPid), readCpuQuota({ pid: fdSource.masterPid }));
    const measured = 'measured' in answer ? answer.measured : undefined;
    const m: Measured = measured ?? {
      ...DEFAULTS,
      from: `${'why' in answer ? answer.why : ''}; using figures measured on the reference machine`,
    };
    const sizing = recommend({
      cpus,
      ramTotalBytes: mem.total,
      ramBudgetPercent: budget,
      workerRssBytes: m.workerRssBytes,
      keeperRssBytes: m.keeperRssBytes,
      masterRssBytes: m.masterRssBytes,
      connectionBytes: DEFAULTS.connectionBytes,
      fdLimit: fds,
      fdLimitFrom: fdSource.from,
      accept: settings.CORRAL_ACCEPT,
      // The running master's, as its cgroup and limits hold its workers; else this shell's.
      taskLimit: readTaskLimit(fdSource.masterPid === undefined ? {} : { pid: fdSource.masterPid, isRoot: procOwner(fdSource.masterPid) === 0 }),
      exportThreads: settings.CORRAL_EXPORT_THREADS,
      measuredFrom: m.from,
    });
    const machine = { cpu: `${cpu.manufacturer} ${cpu.brand}`.trim(), cpus, ram_total_bytes: mem.total, ram_from: mem.from, fd_limit: fds, fd_limit_from: fdSource.from, measured: Boolean(measured) };
    if (values.json) {
      // The capacity beside the settings, not among them: see the header comment.
      process.stdout.write(`${JSON.stringify({ machine, recommended: { CORRAL_WORKERS: sizing.workers, CORRAL_WORKER_CONNECTIONS: sizing.workerConnections }, capacity: sizing.maxConnections, reasons: sizing.reasons }, null, 2)}\n`);
      return 0;
    }
    const out = [
      `# this machine: ${machine.cpu}, ${cpus} CPU(s), ${Math.round(mem.total / MiB)} MiB RAM${mem.from === 'cgroup' ? " (its cgroup's memory limit)" : ''}, open-files limit ${fds} of ${fdSource.from}`,
      '',
      `CORRAL_WORKERS=${sizing.workers}`,
      `CORRAL_WORKER_CONNECTIONS=${sizing.workerConnections}`,
      `# capacity: ${sizing.workers} x ${sizing.workerConnections} = ${sizing.maxConnections} connections (leave CORRAL_MAX_CONNECTIONS unset: it grows with the workers)`,
      '',
      'Why:',
      ...sizing.reasons.map((r) => `- ${r}`),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  },
};
