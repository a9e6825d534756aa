// Reads the target's admin API (served by the master) once a second during the run: capacity
// (connections, status) and host CPU/RAM, for the charts and the CPU < 80 % / RAM < 50 % criteria.
// It tolerates missing fields and a missing API: the run goes on and the verdict says what it
// could not judge.

import { Agent, request } from 'undici';
import { pinnedLookup, type PinnedAddresses } from '../loopback.js';
import { ADMIN_TOKEN_UNSET, isAdminTokenUnset, SET_ADMIN_TOKEN } from './admin-token-unset.js';

export interface ServerSample {
  /** Milliseconds since the run started. */
  readonly t: number;
  readonly cpu: number | null;
  readonly ram: number | null;
  /**
   * When the master measured cpu and ram, in ms since the run started: it samples the host every
   * few seconds, so a figure fetched now can describe a moment before this step (or the run) began.
   */
  readonly hostT: number;
  /**
   * The admin API said when (host.sampled_at): corral's master then reports CPU as the busy share
   * since its previous measurement. Undated figures are taken as of the fetch.
   */
  readonly hostDated: boolean;
  /**
   * The admin API called these figures stale (host.stale): the master's measurements kept failing
   * for three intervals, so they are its last ones, not the host's now. Absent when not.
   */
  readonly hostStale?: true;
  readonly connections: number | null;
  readonly maxConnections: number | null;
  readonly status: string | null;
  /**
   * The server's write journal (admin stats sheets.journal_backlog, sheets.journal_oldest_seconds):
   * rows acknowledged and not yet in the Google Sheet, and the age of the oldest. Absent when the
   * stats have none (no Sheets backend, another server).
   */
  readonly journalBacklog?: number;
  readonly journalOldestS?: number;
}

/** A fetch during the run that brought no host figures: the admin API failed or refused it. */
export interface AdminFailure {
  /** Milliseconds since the run started. */
  readonly t: number;
  /** "HTTP 503", "HTTP 401: token refused", "ECONNREFUSED", "no answer within 2 s". */
  readonly problem: string;
}

/** "HTTP 503 ×3, ECONNREFUSED ×2": what the admin API did instead of answering, most frequent first. */
export function describeFailures(failures: readonly AdminFailure[]): string {
  const counts = new Map<string, number>();
  for (const f of failures) counts.set(f.problem, (counts.get(f.problem) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([problem, n]) => `${problem} ×${n}`).join(', ');
}

export interface AdminProbe {
  readonly ok: boolean;
  /** Why the admin API cannot be used (unreachable, 401, ...). */
  readonly problem?: string;
  /** It answered, and refused the token (or its absence): an argument to fix, not an outage. */
  readonly tokenRefused?: boolean;
  /**
   * It answered, but not as corral's admin API (404s, a page that is not JSON: the app's port, a
   * path in --admin): an argument to fix, refused as a refused token is.
   */
  readonly notAdmin?: boolean;
  readonly sample?: ServerSample;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function at(root: unknown, path: string): unknown {
  let v: unknown = root;
  for (const key of path.split('.')) {
    if (!isObject(v)) return undefined;
    v = v[key];
  }
  return v;
}

/** Paths tried in order before a breadth-first search for a key that names the figure. */
const CPU_PATHS = ['host.cpu_percent', 'host.cpu', 'system.cpu_percent', 'system.cpu', 'cpu_percent', 'cpu.percent', 'cpu.load', 'cpu'];
const RAM_PATHS = ['host.ram_percent', 'host.memory_percent', 'host.mem_percent', 'host.ram', 'system.ram_percent', 'system.memory_percent', 'ram_percent', 'memory_percent', 'ram.percent', 'memory.percent', 'ram'];
const CPU_KEY = /^(host_?)?cpu(_?(percent|pct|load|usage|used))?$/i;
const RAM_KEY = /^(host_?)?(ram|mem|memory)(_?(used_?)?(percent|pct|usage))?$/i;

/** A percentage under /stats, wherever the master put it (the shallowest match wins: host, not a worker). */
export function findPercent(stats: unknown, paths: readonly string[], key: RegExp): number | null {
  for (const p of paths) {
    const v = num(at(stats, p));
    if (v !== null && v >= 0 && v <= 100) return v;
  }
  let level: unknown[] = [stats];
  for (let depth = 0; depth < 4 && level.length > 0; depth++) {
    const next: unknown[] = [];
    for (const node of level) {
      if (!isObject(node)) continue;
      for (const [k, v] of Object.entries(node)) {
        const n = num(v);
        if (n !== null && key.test(k) && n >= 0 && n <= 100) return n;
        if (isObject(v)) next.push(v);
      }
    }
    level = next;
  }
  return null;
}

/**
 * `t` is when the fetch was sent, in ms since the run started; `nowWall` the same moment by the wall
 * clock; `answeredT` when its answer came (ms since the run started). A measurement can be taken
 * while the fetch is on its way, so it is dated up to the answer, not the sending: bounded by the
 * sending, it got one date from that fetch and another from the next ones returning it, and was
 * counted twice, milliseconds apart.
 */
export function sampleFrom(t: number, capacityBody: unknown, statsBody: unknown, nowWall = Date.now(), answeredT = t): ServerSample {
  const cap = isObject(capacityBody) && isObject(capacityBody.capacity) ? capacityBody.capacity : isObject(capacityBody) ? capacityBody : {};
  const status = cap.status;
  const sampledAt = at(statsBody, 'host.sampled_at');
  const dated = typeof sampledAt === 'string' && Number.isFinite(Date.parse(sampledAt));
  // Never after the answer: a master whose clock runs ahead (a remote target) cannot date a figure into the future.
  const hostT = dated ? Math.min(Math.max(t, answeredT), t + Date.parse(sampledAt) - nowWall) : t;
  return {
    t: Math.round(t),
    cpu: findPercent(statsBody, CPU_PATHS, CPU_KEY),
    ram: findPercent(statsBody, RAM_PATHS, RAM_KEY),
    hostT: Math.round(hostT),
    hostDated: dated,
    ...(at(statsBody, 'host.stale') === true ? { hostStale: true as const } : {}),
    connections: num(cap.current_connections),
    maxConnections: num(cap.max_connections),
    status: typeof status === 'string' ? status : null,
    ...journalOf(statsBody),
  };
}

function journalOf(statsBody: unknown): { journalBacklog?: number; journalOldestS?: number } {
  const backlog = num(at(statsBody, 'sheets.journal_backlog'));
  const oldest = num(at(statsBody, 'sheets.journal_oldest_seconds'));
  return backlog === null || oldest === null ? {} : { journalBacklog: backlog, journalOldestS: oldest };
}

/** How long one admin answer may take: the master answers in milliseconds when it is healthy. */
const ANSWER_TIMEOUT_MS = 2000;

/**
 * What to do about an admin API that cannot be used: the likeliest slip is an --admin naming the
 * app's port, or a master whose admin listener was moved.
 */
export const ADMIN_URL_HINT = "check --admin: it is the master's admin listener (the target's CORRAL_ADMIN_BIND, 127.0.0.1:9090 by default), not the app's port";

/** Why one answered fetch of /stats brought no figures. */
function refusal(status: number): string {
  return status === 401 || status === 403 ? `HTTP ${status}: token refused` : `HTTP ${status}`;
}

/** Why one fetch got no answer at all. */
function noAnswer(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if ((err as Error).name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return `no answer within ${ANSWER_TIMEOUT_MS / 1000} s`;
  return typeof code === 'string' ? code : (err as Error).message;
}

export class AdminSampler {
  readonly samples: ServerSample[] = [];
  /**
   * Fetches that brought no host figures, so a step without CPU or RAM can say why (a master that
   * went down, a token rotated by a reload) rather than blame the step's length.
   */
  readonly failures: AdminFailure[] = [];
  readonly #base: URL;
  readonly #token: string | undefined;
  readonly #agent: Agent;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  readonly #closing = new AbortController();

  /** `pinned`: the addresses the --admin host name was checked against (target.ts), connected to alone. */
  constructor(base: URL, token: string | undefined, pinned?: PinnedAddresses) {
    this.#base = base;
    this.#token = token;
    this.#agent = new Agent({ connections: 2, keepAliveTimeout: 10_000, ...(pinned ? { connect: { lookup: pinnedLookup(pinned) } } : {}) });
  }

  async #get(path: string): Promise<{ status: number; body: unknown; url: string }> {
    const url = new URL(path.replace(/^\//, ''), this.#base.href.endsWith('/') ? this.#base : new URL(`${this.#base.href}/`));
    // One controller per fetch, tied to the sampler's closing by hand: AbortSignal.any() on that
    // run-long signal, twice a second, grew its dependant set for the whole run (nodejs/node#55351,
    // about 11 MB a day), as client.ts says of the run's signal.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException('admin API answer timeout', 'TimeoutError')), ANSWER_TIMEOUT_MS + 500);
    const onClosing = (): void => controller.abort(this.#closing.signal.reason);
    if (this.#closing.signal.aborted) onClosing();
    else this.#closing.signal.addEventListener('abort', onClosing, { once: true });
    try {
      return await this.#fetch(url, controller.signal);
    } finally {
      clearTimeout(timer);
      this.#closing.signal.removeEventListener('abort', onClosing);
    }
  }

  async #fetch(url: URL, signal: AbortSignal): Promise<{ status: number; body: unknown; url: string }> {
    const res = await request(url, {
      dispatcher: this.#agent,
      headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {},
      headersTimeout: ANSWER_TIMEOUT_MS,
      bodyTimeout: ANSWER_TIMEOUT_MS,
      signal,
    });
    const text = await res.body.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, body, url: url.href };
  }

  /** One sample before the run, to say up front whether CPU/RAM can be judged. */
  async probe(t: number): Promise<AdminProbe> {
    try {
      const [cap, stats] = await Promise.all([this.#get('/api/admin/capacity'), this.#get('/api/admin/stats')]);
      for (const r of [cap, stats]) {
        if (r.status === 401 || r.status === 403) {
          // A master with no token of its own answers every one so (403 admin_token_unset): no
          // token passed here can help, only one set there.
          if (isAdminTokenUnset(r.body)) {
            return { ok: false, problem: `the target's master has no admin token set (HTTP ${r.status} ${ADMIN_TOKEN_UNSET}), so its admin API answers no one: ${SET_ADMIN_TOKEN}`, tokenRefused: true };
          }
          // With no token at all, "refused the token" would send the operator hunting for a typo.
          const problem = this.#token === undefined
            ? `the admin API needs a token (HTTP ${r.status}); pass --admin-token or set CORRAL_ADMIN_TOKEN`
            : `the admin API refused the token (HTTP ${r.status}); check --admin-token (or CORRAL_ADMIN_TOKEN)`;
          return { ok: false, problem, tokenRefused: true };
        }
      }
      // Every answer a 4xx (401 and 403 are above) or a 200 that is no JSON object: whatever
      // answers there, it is not corral's admin API. Its full URLs are said, as a path given in
      // --admin (http://h:p/api/admin) is put before /api/admin/stats.
      const foreign = (r: { status: number; body: unknown }): boolean => (r.status >= 400 && r.status < 500) || (r.status === 200 && !isObject(r.body));
      const said = (r: { status: number; body: unknown; url: string }): string => `${r.url} answered HTTP ${r.status}${r.status === 200 ? ' (not JSON)' : ''}`;
      if (foreign(cap) && foreign(stats)) {
        const path = this.#base.pathname.replace(/\/+$/, '');
        const pathHint = path !== '' ? `--admin takes the admin listener's address without a path, ${this.#base.origin}, as ${path} was put before /api/admin/; ` : '';
        return { ok: false, notAdmin: true, problem: `${said(cap)} and ${said(stats)}, so it does not look like corral's admin API; ${pathHint}${ADMIN_URL_HINT}` };
      }
      if (cap.status !== 200 && stats.status !== 200) {
        return { ok: false, problem: `${this.#base.origin} answered HTTP ${cap.status} for /api/admin/capacity and HTTP ${stats.status} for /api/admin/stats; ${ADMIN_URL_HINT}` };
      }
      const sample = sampleFrom(t, cap.status === 200 ? cap.body : undefined, stats.status === 200 ? stats.body : undefined);
      return { ok: true, sample };
    } catch (err) {
      // A listener that accepts and never answers is not "unreachable": say what happened.
      const code = (err as { code?: unknown }).code;
      if ((err as Error).name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        return { ok: false, problem: `the admin API at ${this.#base.origin} accepted the connection but did not answer within ${ANSWER_TIMEOUT_MS / 1000} s; ${ADMIN_URL_HINT}` };
      }
      return { ok: false, problem: `the admin API at ${this.#base.origin} is not reachable (${typeof code === 'string' ? code : (err as Error).message}); ${ADMIN_URL_HINT}` };
    }
  }

  /** Samples every intervalMs; clock() gives ms since the run started. */
  start(clock: () => number, intervalMs = 1000): void {
    // One wall-clock origin for the run: every fetch that returns the same host.sampled_at then
    // dates it to the same hostT (which is how a measurement is counted once), whatever the fetch's
    // own latency.
    const wallOrigin = Date.now() - clock();
    // The ticks that found a fetch still waiting, when they were due: no figure was fetched then
    // either, and a step that lies within a hung fetch must say so, not blame its own length.
    let skipped: number[] = [];
    const once = async (): Promise<void> => {
      const t = clock();
      skipped = [];
      let problem: string | undefined;
      try {
        const [cap, stats] = await Promise.all([this.#get('/api/admin/capacity'), this.#get('/api/admin/stats')]);
        const answeredT = clock();
        if (stats.status !== 200) problem = refusal(stats.status);
        // Refused both ways, the fetch measured nothing: an empty sample would pass for a measurement.
        if (cap.status === 200 || stats.status === 200) this.samples.push(sampleFrom(t, cap.status === 200 ? cap.body : undefined, stats.status === 200 ? stats.body : undefined, wallOrigin + t, answeredT));
      } catch (err) {
        // A missed sample leaves a gap in the chart; the master may be busy, which is itself data.
        // Cut by the end of the run, it is a failure once it has waited a whole interval (a healthy
        // master answers in milliseconds); sent just before, it had not had its chance.
        if (!this.#closing.signal.aborted) problem = noAnswer(err);
        else if (clock() - t >= intervalMs) problem = 'no answer before the run ended';
      }
      if (problem === undefined) return;
      for (const at of [t, ...skipped]) this.failures.push({ t: Math.round(at), problem });
    };
    this.#timer = setInterval(() => {
      if (this.#inFlight) skipped.push(clock());
      else this.#inFlight = once().finally(() => (this.#inFlight = undefined));
    }, intervalMs);
    this.#inFlight = once().finally(() => (this.#inFlight = undefined));
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#closing.abort();
    await this.#inFlight;
    await this.#agent.close();
  }
}
