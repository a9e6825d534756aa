// Checks of the settings as a whole, that no value's own parser can make: an admin API open beyond
// loopback without a token, the admin API on the workers' port, a log file or a pidfile that cannot
// be written. They are problems like an invalid value, collected with those in loadSettings: thrown
// one at a time after the schema's, each hid the others and the warnings that explained it (a
// misspelt CORRAL_ADMIN_TOKEN), and an operator fixed a file in as many runs as it had mistakes.

import { dirname, resolve } from 'node:path';
import { fileWriteFailure } from '../file-creatable.js';
import type { ConfigProblem, ErrorCode } from '../errors.js';
import { isLoopbackHost } from '../loopback.js';
import { parseA1 } from '../sheets/a1.js';
import { bindsOverlap, v6WildcardTakesIPv4 } from './bind-overlap.js';
import { stdioLogFileProblem } from './log-file-stdio.js';
import { logFileOwnerProblem } from './shared-dir-owner.js';
import type { Settings } from './schema.js';
import type { HostPort } from './spec.js';

const text = (b: HostPort) => (b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`);

/** Why the admin API may not listen at `bind` with this token, or undefined. */
export function adminBindProblem(s: Pick<Settings, 'CORRAL_ADMIN_BIND' | 'CORRAL_ADMIN_TOKEN'>): string | undefined {
  // Port 0 binds an ephemeral port on that host: just as reachable, so it is checked too.
  if (isLoopbackHost(s.CORRAL_ADMIN_BIND.host) || s.CORRAL_ADMIN_TOKEN) return undefined;
  return 'is reachable from other hosts but CORRAL_ADMIN_TOKEN is unset; set a token (at least 16 characters) or bind to 127.0.0.1';
}

/**
 * Why the admin API cannot share the workers' address, or undefined. The master binds the admin
 * API first; every worker then failed with EADDRINUSE and the master gave up (exit 3) with no
 * word of the admin API. Host names are left to listen time (bindsOverlap: undefined).
 */
export function bindOverlapProblem(s: Pick<Settings, 'CORRAL_ADMIN_BIND' | 'CORRAL_BIND'>, dualStack = v6WildcardTakesIPv4()): string | undefined {
  if (bindsOverlap(s.CORRAL_BIND, s.CORRAL_ADMIN_BIND, dualStack) !== true) return undefined;
  // The example is a port the workers do not hold: with CORRAL_BIND=127.0.0.1:9090 the admin API's
  // default is what overlaps, and "e.g. 127.0.0.1:9090" told the operator to set what was refused.
  const example = `127.0.0.1:${s.CORRAL_BIND.port === 9090 ? 9091 : 9090}`;
  return `overlaps CORRAL_BIND=${text(s.CORRAL_BIND)} (the same port, and one of them on every address or both on the same one): the admin API would hold the port the workers serve on; give CORRAL_ADMIN_BIND another port (e.g. ${example}), or CORRAL_BIND another`;
}

export interface WholeCheckOptions {
  /** Whether a setting is to be judged (LoadOptions.judgeOnly). */
  readonly judged: (name: keyof Settings) => boolean;
  /** Where a setting's value came from, as problems say it. */
  readonly where: (name: keyof Settings) => string;
  /** Judge whether CORRAL_LOG_FILE can be opened (LoadOptions.readFiles). */
  readonly logFile: boolean;
  /** Judge whether CORRAL_PIDFILE can be written (LoadOptions.judgePidfile). */
  readonly pidfile: boolean;
}

type Valid = Partial<Pick<Settings, 'CORRAL_ADMIN_BIND' | 'CORRAL_ADMIN_TOKEN' | 'CORRAL_BIND' | 'CORRAL_LOG_FILE' | 'CORRAL_PIDFILE'>>;

/**
 * The problems of the settings as a whole, of those whose own values are valid (`valid` holds
 * those: absolute paths). Each carries its own code and message, which a refusal for it alone
 * says as it always has (CORRAL_ERR_ADMIN_UNSAFE, CORRAL_ERR_LOG_FILE, CORRAL_ERR_PIDFILE). Creates nothing.
 */
export function wholeProblems(valid: Valid, o: WholeCheckOptions): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (name: keyof Settings, value: string, allowed: string, code?: ErrorCode, message?: string) =>
    problems.push({ name, value, source: o.where(name), allowed, ...(code ? { code } : {}), ...(message ? { message } : {}) });
  const judged = (...names: (keyof Settings)[]) => names.every(o.judged);
  const { CORRAL_ADMIN_BIND: admin, CORRAL_BIND: bind } = valid;

  if (admin && judged('CORRAL_ADMIN_BIND', 'CORRAL_ADMIN_TOKEN') && 'CORRAL_ADMIN_TOKEN' in valid) {
    const why = adminBindProblem({ CORRAL_ADMIN_BIND: admin, CORRAL_ADMIN_TOKEN: valid.CORRAL_ADMIN_TOKEN });
    if (why) add('CORRAL_ADMIN_BIND', text(admin), why, 'CORRAL_ERR_ADMIN_UNSAFE', `CORRAL_ADMIN_BIND=${text(admin)} ${why}`);
  }
  if (admin && bind && judged('CORRAL_ADMIN_BIND', 'CORRAL_BIND')) {
    const why = bindOverlapProblem({ CORRAL_ADMIN_BIND: admin, CORRAL_BIND: bind });
    if (why) add('CORRAL_ADMIN_BIND', text(admin), why);
  }
  const log = valid.CORRAL_LOG_FILE;
  // Named by its path alone wherever the settings load; through a link only where files are read.
  const stdio = log !== undefined && judged('CORRAL_LOG_FILE') ? stdioLogFileProblem(log, o.logFile) : undefined;
  // Before whether it can be opened: through another user's symlink in /tmp it can, anywhere.
  const owner = !stdio && o.logFile && log !== undefined && judged('CORRAL_LOG_FILE') ? logFileOwnerProblem(resolve(log)) : undefined;
  if (stdio) add('CORRAL_LOG_FILE', log as string, stdio);
  else if (owner !== undefined) add('CORRAL_LOG_FILE', log as string, owner, 'CORRAL_ERR_LOG_FILE', `cannot open CORRAL_LOG_FILE ${log}: ${owner}`);
  else if (o.logFile && log !== undefined && judged('CORRAL_LOG_FILE')) {
    // Judged without creating it: run by root or another user, `corral config` would otherwise
    // leave a file or a directory behind that the master cannot write.
    const failure = fileWriteFailure(log, 'CORRAL_LOG_FILE', 'corral.log');
    // A read-only filesystem (a read-only root, systemd's ProtectSystem=strict) takes no file
    // whatever the directory's owner or mode: "create its directory writable" did not fit.
    const fix = failure?.readOnly
      ? `its filesystem is mounted read-only, so no directory mode or owner helps: point CORRAL_LOG_FILE at a writable filesystem (e.g. /var/log/corral/corral.log), or under systemd, where ProtectSystem=strict or ReadOnlyPaths= make it read-only for the service, add LogsDirectory=corral to the unit (systemd creates /var/log/corral, writable by its User=) or ReadWritePaths=${dirname(log)}; unset, the log goes to stdout (the journal)`
      : 'create its directory writable by the user corral runs as, or point CORRAL_LOG_FILE elsewhere (unset: the log goes to stdout)';
    const why = failure?.message;
    if (why) add('CORRAL_LOG_FILE', log, `cannot be opened for appending: ${why}; ${fix}`, 'CORRAL_ERR_LOG_FILE', `cannot open CORRAL_LOG_FILE ${log}: ${why}; ${fix}`);
  }
  const pidfile = valid.CORRAL_PIDFILE;
  if (pidfile && log !== undefined && resolve(pidfile) === resolve(log) && judged('CORRAL_PIDFILE', 'CORRAL_LOG_FILE')) {
    // The master writes its pid over the file at start and removes it at exit: the log with it.
    add('CORRAL_PIDFILE', pidfile, `a file of its own: ${pidfile} is CORRAL_LOG_FILE too, and the pidfile is rewritten at start and removed at exit, the log with it; point one of them elsewhere`);
  }
  if (o.pidfile && pidfile && judged('CORRAL_PIDFILE')) {
    // Start writes the pidfile before anything else; a reload does not move it, so only start,
    // `corral config` and a reload that finds it moved (the restart it asks for writes it) judge it.
    // And its start stamp beside it (master/pidfile.ts stampFile), which start writes first: a
    // pidfile made beforehand for the service's user in a directory it may not write passed here,
    // `config --check` said OK, and start refused it (CORRAL_ERR_PIDFILE, exit 78).
    const stamp = `${pidfile}.start`;
    const stampFailure = fileWriteFailure(stamp, 'CORRAL_PIDFILE', 'corral.pid');
    const failure = fileWriteFailure(pidfile, 'CORRAL_PIDFILE', 'corral.pid') ?? (stampFailure && { ...stampFailure, message: `its start stamp beside it, ${stamp}, cannot be written: ${stampFailure.message}` });
    const why = failure?.message;
    const fix = failure?.readOnly
      ? `its filesystem is mounted read-only: point CORRAL_PIDFILE at a writable one (e.g. /run/corral/corral.pid), or under systemd add RuntimeDirectory=corral to the unit (systemd creates /run/corral) or ReadWritePaths=${dirname(pidfile)}`
      : 'point CORRAL_PIDFILE at a file in a directory the user corral runs as can write';
    if (why) add('CORRAL_PIDFILE', pidfile, `cannot be written: ${why}; ${fix}`, 'CORRAL_ERR_PIDFILE', `the pidfile ${pidfile} (CORRAL_PIDFILE) cannot be written: ${why}; corral start refuses it: ${fix}`);
  }
  return problems;
}

/** What one Idempotency-Key held costs the keeper, as measured (README: idempotency-memory). */
const KEY_HEAP_BYTES = 420;
const KEY_JOURNAL_BYTES = 300;

/**
 * A journal's backlog held in the keeper's heap, bytes of heap per journal byte, as measured
 * (README, the journal's backlog cap; sheets/keeper/journal-size-check.ts).
 */
const JOURNAL_HEAP_PER_BYTE = 6;

/** The keeper's V8 heap limit: `--max-old-space-size` in the NODE_OPTIONS it is given, else node's default. */
export interface KeeperHeap {
  readonly mib: number;
  /** Where the limit comes from, as a warning says it. */
  readonly from: string;
}

/** The keeper's heap limit, by the NODE_OPTIONS of its environment (the last flag wins, as in node) or this process's default. */
export function keeperHeap(nodeOptions: string | undefined, defaultBytes: number): KeeperHeap {
  const set = [...(nodeOptions ?? '').matchAll(/--max[-_]old[-_]space[-_]size[=\s]+(\d+)/g)].at(-1)?.[1];
  return set !== undefined ? { mib: Number(set), from: `--max-old-space-size=${set} in NODE_OPTIONS` } : { mib: Math.floor(defaultBytes / 1048576), from: "node's default here" };
}

/** A size in MiB as GiB, to a tenth. */
const gib = (mib: number): string => `${Math.round(mib / 102.4) / 10} GiB`;

/** The levels at which pino writes an info line (access lines are info: worker/request-stats.ts). */
const LOGS_INFO: ReadonlySet<string> = new Set(['trace', 'debug', 'info']);

/**
 * What the settings as a whole will not do that the operator may expect, said as warnings (the
 * refused combinations are wholeProblems'). Of valid values only; `set`: whether the operator
 * set a setting (a default is no request of theirs).
 */
export function wholeWarnings(valid: Partial<Settings>, set: (name: keyof Settings) => boolean, heap?: KeeperHeap): string[] {
  const out: string[] = [];
  if (valid.CORRAL_HEADERS_TIMEOUT !== undefined && valid.CORRAL_REQUEST_TIMEOUT !== undefined && valid.CORRAL_HEADERS_TIMEOUT > valid.CORRAL_REQUEST_TIMEOUT) {
    out.push('CORRAL_HEADERS_TIMEOUT is longer than CORRAL_REQUEST_TIMEOUT; the request timeout applies to headers too');
  }
  if (valid.CORRAL_MAX_REQUESTS_JITTER !== undefined && valid.CORRAL_MAX_REQUESTS_JITTER !== 0 && valid.CORRAL_MAX_REQUESTS === 0) {
    out.push('CORRAL_MAX_REQUESTS_JITTER has no effect while CORRAL_MAX_REQUESTS is 0');
  }
  // Access lines are info lines: at warn and above none was written, without a word. Said when
  // CORRAL_ACCESS_LOG was set on (the default, on, under a quieter level is what that level asks).
  const level = valid.CORRAL_LOG_LEVEL;
  if (valid.CORRAL_ACCESS_LOG === true && set('CORRAL_ACCESS_LOG') && level !== undefined && !LOGS_INFO.has(level)) {
    out.push(`CORRAL_ACCESS_LOG=true has no effect while CORRAL_LOG_LEVEL=${level}: access lines are logged at info, which ${level} leaves out; set CORRAL_LOG_LEVEL=info for them, or CORRAL_ACCESS_LOG=false`);
  }
  // With round-robin each worker holds its share of the host's cap, one connection at least
  // (master/capacity.ts perWorkerCap): under a cap below the worker count the host holds one per
  // worker. A cap sized for a few workers, on a host whose CPU x 4 default gives 128, was exceeded
  // without a word (64 workers under a cap of 32 held 64 connections; the capacity said 200 %).
  const workers = valid.CORRAL_WORKERS;
  const cap = valid.CORRAL_MAX_CONNECTIONS;
  if (valid.CORRAL_ACCEPT === 'round-robin' && workers !== undefined && cap !== undefined && cap > 0 && cap < workers) {
    out.push(
      `CORRAL_MAX_CONNECTIONS=${cap} is below CORRAL_WORKERS=${workers} with CORRAL_ACCEPT=round-robin: each worker holds its share of the cap but one connection at least, so the host may hold ${workers}, over the cap (the capacity reads over 100 %); ` +
        `raise CORRAL_MAX_CONNECTIONS to ${workers} or more, lower CORRAL_WORKERS, or set CORRAL_ACCEPT=shared, under which the cap is exact`,
    );
  }
  // Idle keep-alive connections of a draining worker end at the keep-alive timeout their clients
  // were told (a second past CORRAL_KEEPALIVE) or at the graceful timeout, whichever comes first:
  // with the keep-alive as long, every drain (a reload, a recycle) lasted the whole graceful
  // timeout, said worker.drain_forced, and cut the idle connections, resetting a client that sent
  // on one just then. The README says to keep it below; nothing said so when it was not. Said when
  // CORRAL_KEEPALIVE was set (raised for a load balancer's idle timeout): a graceful timeout
  // shortened under the default keep-alive is a choice of fast drains, not this mistake.
  const keepAlive = valid.CORRAL_KEEPALIVE;
  const graceful = valid.CORRAL_GRACEFUL_TIMEOUT;
  if (keepAlive !== undefined && graceful !== undefined && set('CORRAL_KEEPALIVE') && keepAlive > 0 && graceful > 0 && keepAlive + 1 >= graceful) {
    out.push(
      `CORRAL_KEEPALIVE=${keepAlive} is not below CORRAL_GRACEFUL_TIMEOUT=${graceful} by more than a second: a draining worker's idle keep-alive connections stay open until their keep-alive timeout, so every reload and recycle waits the whole graceful timeout (worker.drain_forced) and then cuts them, resetting a client that sends on one just then; ` +
        `lower CORRAL_KEEPALIVE (5 by default; keep a proxy's upstream keepalive_timeout below it) or raise CORRAL_GRACEFUL_TIMEOUT`,
    );
  }
  // Each key held costs the keeper about 420 bytes of heap and 300 of journal (`npm run bench --
  // idempotency-memory`): the setting's ceiling, 10 million, is 4 GB of heap, past node's default
  // limit, and nothing said so before the keeper ran out of memory holding them.
  const keys = valid.CORRAL_IDEMPOTENCY_KEYS;
  if (keys !== undefined && keys * KEY_HEAP_BYTES > 1024 ** 3) {
    out.push(
      `CORRAL_IDEMPOTENCY_KEYS=${keys} holds up to about ${Math.round((keys * KEY_HEAP_BYTES) / 1024 ** 3)} GiB of the keeper's heap and ${Math.round((keys * KEY_JOURNAL_BYTES) / 1024 ** 3)} GiB of journal (about ${KEY_HEAP_BYTES} and ${KEY_JOURNAL_BYTES} bytes a key): ` +
        'raise the keeper\'s heap with it (NODE_OPTIONS=--max-old-space-size in the unit\'s environment), or lower it',
    );
  }
  // The cap keeps a long outage of Google from running the keeper out of heap (V8 aborts it, the
  // rows held replayed at the next start): set past the heap, it kept nothing from that, and
  // nothing said so. Said when the operator set it: the default on a small host is the README's.
  const journalMib = valid.SHEETS_JOURNAL_MAX_MB;
  if (heap !== undefined && journalMib !== undefined && set('SHEETS_JOURNAL_MAX_MB') && journalMib * JOURNAL_HEAP_PER_BYTE > heap.mib) {
    out.push(
      `SHEETS_JOURNAL_MAX_MB=${journalMib} lets the keeper hold a backlog that takes about ${gib(journalMib * JOURNAL_HEAP_PER_BYTE)} of its heap (about ${JOURNAL_HEAP_PER_BYTE} bytes a journal byte), past its heap of ${gib(heap.mib)} (${heap.from}): ` +
        `a long outage of Google would run it out of memory before the cap refuses appends; lower SHEETS_JOURNAL_MAX_MB to ${Math.floor(heap.mib / JOURNAL_HEAP_PER_BYTE)} or less, or raise the heap (NODE_OPTIONS=--max-old-space-size=<MiB> in the environment corral starts with)`,
    );
  }
  // X-Forwarded-For is read from the right up to the first address not trusted (worker's client
  // address): with every address trusted that is the leftmost, which the client writes itself.
  const everyone = valid.CORRAL_TRUSTED_PROXIES?.find((entry) => /^0+$/.test(entry.split('/')[1] ?? ''));
  if (everyone !== undefined) {
    out.push(
      `CORRAL_TRUSTED_PROXIES holds ${everyone}, which trusts every address: any client can write X-Forwarded-For and choose the address the per-IP rate limit counts (a new one for each request); ` +
        "list your proxies' addresses alone (e.g. 127.0.0.1 for a local nginx, or their subnet)",
    );
  }
  for (const name of ['SHEET_PLAYERS_RANGE', 'SHEET_EVENTS_RANGE'] as const) {
    const range = valid[name];
    if (range !== undefined && set(name)) out.push(...tablessRangeWarnings(name, range));
  }
  return out;
}

/**
 * A range naming no tab is read, and appended to, on the sheet's first tab, as Google reads it:
 * `P01` or `Wk1` is the cell P1 or WK1 there, not the tab of that name, so the roster read one
 * empty cell (every login refused), and `A:E` as SHEET_EVENTS_RANGE appended events under the
 * first tab's table, the roster's when it comes first.
 */
function tablessRangeWarnings(name: 'SHEET_PLAYERS_RANGE' | 'SHEET_EVENTS_RANGE', range: string): string[] {
  let parsed: ReturnType<typeof parseA1>;
  try {
    parsed = parseA1(range);
  } catch {
    return [];
  }
  if (parsed.sheet !== undefined) return [];
  // A tab's name that reads as a cell: an A1 one (P01, Wk1), or an R1C1 one (RC, R, C, R[1]C[1]).
  const asTab = /^([A-Za-z]+\d+|R(\d+|\[\d+\])?C(\d+|\[\d+\])?|R(\[\d+\])?|C)$/i.test(range) ? `; to name a tab called ${range}, quote it: ${name}='${range.replaceAll("'", "''")}'` : '';
  return [`${name}=${range} names no tab: Google reads it as cells of the sheet's first tab (whatever that tab is)${asTab}, or name the tab before the cells (Players!A:E)`];
}
