// Nothing acknowledged is lost, under everything at once: the real daemon with the bundled app,
// against the Sheets emulator with its faults on (latency with jitter, 5xx, connections reset
// mid-answer, writes applied but answered 500), driven for two rounds of faults or more (about
// 40 s) by readers, logins and careful event posters (an Idempotency-Key per event, retried with
// it until acknowledged; one event in LOSE_EVERY has its first acknowledgement lost on the way, so
// its retry must be answered from the key; pairs of copies of one event go out at once, so that
// one meets the other in flight), while a script kills a worker and the keeper with SIGKILL,
// reloads (HUP), adds and removes a worker (TTIN, TTOU) and fills the connection cap with busy
// connections, then opens more. Then the journal drains into the emulator and the Events tab must hold every acknowledged
// event exactly once and nothing else; every answer other than a 2xx must be one the README
// documents for these conditions; no request may hang; reads include the reader's own acknowledged
// events and are no staler than the cache settings allow; the daemon ends healthy and no process
// outlives it.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { REPO_ROOT, startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { recordedRequest, type Outcome } from '../helpers/recorded-request.js';
import { clientPortsHeldBy } from '../helpers/tcp-peers.js';
import { holdRequest, type HeldAnswer, type HeldRequest } from '../helpers/held-request.js';
import { DOCUMENTED, errorCodeOf, judge, type FaultWindow, type Kill, type Verdict } from '../helpers/answer-verdict.js';
import { isAlive } from '../../src/master/pidfile.js';
import { ANSWERED_GRACE_MS } from '../../src/worker/idle-connections.js';

/**
 * Rounds of faults follow each other until both are reached. A round takes about 19 s on a busy
 * 2-core box: two rounds meet every fault twice, each time with the state the one before left
 * (at 45 s, a third round added 20 s of a CPU-bound test phase and no fault of its own).
 */
const SOAK_MS = 30_000;
const MIN_ROUNDS = 2;
/** How long a step waits for the flusher's next append: three tries at the backoff's cap (33 s). */
const UPSTREAM_TRIES_MS = 120_000;
/** The clients' own timeout: a request unanswered by then is given up. */
const REQUEST_TIMEOUT_MS = 20_000;
/** After the soak, posters keep retrying what was not acknowledged for at most this long. */
const SETTLE_MS = 30_000;
const MAX_CONNECTIONS = 40;
/** New connections opened while busy ones hold every slot of the cap: each must get the 503. */
const OVER_CAP_PROBES = 10;
/**
 * An answer to a connection over the cap comes at once (README, "Connection cap"), not once a slot
 * frees: the held requests are released only after every probe has its answer, so a probe queued
 * for a slot would wait out its REQUEST_TIMEOUT_MS. Timed by the test process, beside the soak's
 * clients and the daemon under chaos on 2 shared cores: 1 s was a bound on that box's scheduling
 * as much as on the refusal.
 */
const OVER_CAP_ANSWER_MS = 5000;
/** A copy of the cached Players tab is fresh this long (SHEET_CACHE_TTL). */
const CACHE_TTL_S = 2;
/** And served this much longer while the keeper cannot refresh it (SHEET_CACHE_MAX_STALE). */
const CACHE_MAX_STALE_S = 15;
/**
 * How often a poster reads the Events tab back (the export's id column) on its connection, all
 * posters together: each read past SHEET_CACHE_TTL has the keeper fetch the tab, and the soak's
 * other reads already use most of the 60 upstream reads a minute the keeper allows itself. At once
 * every 5 s, a run made 65 upstream reads in 69 s and every request of its fourth round waited
 * about 9 s, until a minute after the first reads: by all signs a new keeper's first fetch of the
 * roster waiting for the quota.
 */
const READ_BACK_EVERY_MS = 8000;
/** The wait before another try when a read back could not be judged. */
const READ_BACK_RETRY_MS = 3000;
/** The pause between two pairs of copies of one event, each copy on its own connection. */
const TWIN_PAUSE_MS = 200;
/** Each client's pause between two requests: the soak must leave 2 cores room for the daemon's own work. */
const THINK_MS = 5;
/**
 * Each poster loses the first acknowledgement of its 1st event, then of one in this many: the
 * client cuts the connection as the 201 arrives, so the event is journaled and the client retries
 * it with its key. Only the key keeps that retry from a second row; waiting for a kill -9 to cut an
 * answer by chance left this case out of some runs.
 */
const LOSE_EVERY = 20;
const ADMIN_TOKEN = 'chaos-soak-admin-token-0123456789';
const UPSTREAM_FAULTS = { latencyMs: 40, latencyJitterMs: 160, errorRate: 0.1, errorStatus: 503, resetRate: 0.1, appliedErrorRate: 0.2 } as const;
/**
 * The emulator's latency while the keeper is about to be killed: far longer than the test takes to
 * see an append arrive and kill, and shorter than SHEETS_UNSURE_DELAY, so the rows the dead keeper
 * sent are in the sheet before the next keeper reads them back (as Google's would be by then).
 */
const SLOW_UPSTREAM_MS = 1500;
const FAULTS_OFF = { latencyMs: 0, latencyJitterMs: 0, errorRate: 0, resetRate: 0, appliedErrorRate: 0 };
const SEED = 20261125;
/** The emulator's default Events tab (the sample sheet's) holds these before the soak. */
const SEEDED_EVENT_IDS = ['ev-sample-0001', 'ev-sample-0002', 'ev-sample-0003'];
const PLAYERS: readonly (readonly [string, string])[] = [
  ['Alice Martin', 'P001'],
  ['Bruno Leroy', 'P002'],
  ['Chloé Dubois', 'P003'],
  ['David Moreau', 'P004'],
  ['Emma Laurent', 'P005'],
];

function retryAfterMs(o: Outcome): number {
  const s = Number(o.headers?.['retry-after']);
  // A careful client waits as asked; capped at a second here so the soak keeps its pace.
  return Number.isFinite(s) && s > 0 ? Math.min(s * 1000, 1000) : 100;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** Pids of the live processes whose parent is `ppid`. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppidField = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      if (Number(ppidField) === ppid) out.push(Number(name));
    } catch {
      // Exited while listed.
    }
  }
  return out;
}

interface ChildStats {
  pid: number;
  uptime_s: number;
  state: string;
  heartbeat_late: boolean;
}
interface Stats {
  workers_expected: number;
  workers_ready: number;
  workers_not_beating: number;
  workers: ChildStats[];
  keeper: ChildStats | null;
  sheets: { journal_backlog: number | null };
}

interface SentEvent {
  readonly key: string;
  readonly player: string;
  readonly detail: string;
  attempts: number;
  ack?: { id: string; at: string };
  replays: number;
  /** 201s the client cut at their head on purpose (`loseSuccess`), each followed by a retry. */
  lostAcks: number;
}

/** A poster told to lose its next 201 and to hold that event's retry until `release()`. */
interface HeldRetry {
  event?: SentEvent;
  readonly released: Promise<void>;
  readonly release: () => void;
}

it('chaos soak: kill -9 of a worker and of the keeper, HUP, TTIN/TTOU and a connection burst under upstream faults lose no acknowledged event', { timeout: 600_000 }, async () => {
  const emu = await startEmulator({ faults: UPSTREAM_FAULTS, randomSeed: SEED });
  const dir = mkdtempSync(join(tmpdir(), 'corral-chaos-'));
  const keyFile = join(dir, 'service-account.json');
  writeFileSync(keyFile, JSON.stringify(emu.registerServiceAccount()), { mode: 0o600 });
  const env = {
    SHEET_ID: emu.spreadsheetId,
    SHEETS_API_URL: emu.url,
    GOOGLE_APPLICATION_CREDENTIALS: keyFile,
    SHEETS_FLUSH_INTERVAL_MS: '100',
    SHEETS_TIMEOUT: '3',
    // The emulator applies or refuses each append before it answers: an unsure one can be read
    // back soon, within the drain's wait.
    SHEETS_UNSURE_DELAY: '2',
    // Reads go upstream (and meet its faults) every few seconds, not once.
    SHEET_CACHE_TTL: String(CACHE_TTL_S),
    // Low enough that a copy served past it would show within the soak (the default is an hour),
    // and well above what a keeper's restart and its first fetches under these faults take (a few
    // seconds), during which the workers serve their copies.
    SHEET_CACHE_MAX_STALE: String(CACHE_MAX_STALE_S),
    CORRAL_RATE_LIMIT: '0',
    CORRAL_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    // The burst's held requests keep their heads unfinished while the cap fills (up to 15 s) and
    // the probes run: past the default 10 s the headers timeout closes them, as it should a slow
    // client. In the second fresh-clone CI one round took 690 refusals (about 10 s) to fill, just
    // after the keeper's kill -9 had the clients' connections waiting, and one held request was
    // closed unanswered. Well above the fill's bound, so what is tested is the cap, not this timeout.
    CORRAL_HEADERS_TIMEOUT: '40',
    CORRAL_ADMIN_TOKEN: ADMIN_TOKEN,
    CORRAL_ACCESS_LOG: 'false',
  };
  const controlUrl = (path: string) => `${emu.url}/__emulator/${path}`;
  let c: CorralProcess | undefined;
  const agents: Agent[] = [];
  /** By player; released in `finally` too, so that no poster waits on a failed soak. */
  const holds = new Map<string, HeldRetry>();
  // Cleared when the soak ends, and in `finally` when a step failed: a client loop left running
  // would keep this process alive.
  let soaking = true;
  try {
    c = await startCorral({ cwd: dir, workers: 2, env });
    const corral = c;
    const port = Number(new URL(corral.url).port);
    const t0 = Date.now();
    const t = () => `t=${((Date.now() - t0) / 1000).toFixed(1)}s`;
    const say = (line: string) => console.log(`[chaos ${t()}] ${line}`);
    say(`corral ${corral.url} (master ${corral.pid}), emulator ${emu.url} with faults ${JSON.stringify(UPSTREAM_FAULTS)}, seed ${SEED}`);

    const stats = async (): Promise<Stats> => {
      const r = await http(`${corral.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(r.status, 200, r.text);
      return r.json<Stats>();
    };
    const healthy = async (workers: number) => {
      const s = await stats();
      return (
        s.workers_expected === workers &&
        s.workers_ready === workers &&
        s.workers_not_beating === 0 &&
        s.workers.length === workers &&
        s.workers.every((w) => w.state === 'ready') &&
        s.keeper?.state === 'ready' &&
        !s.keeper.heartbeat_late &&
        s
      );
    };
    await waitFor(() => healthy(2), 60_000, 'two ready workers and a ready keeper');

    const outcomes: Outcome[] = [];
    const kills: Kill[] = [];
    const keeperKills: number[] = [];
    const windows: FaultWindow[] = [];
    const sent = new Map<string, SentEvent>();
    let acked = 0;
    const settleBy = () => (soaking ? Infinity : soakEndedAt + SETTLE_MS);
    let soakEndedAt = 0;

    const agent = (sockets: number) => {
      const a = new Agent({ keepAlive: true, maxSockets: sockets });
      agents.push(a);
      return a;
    };
    const send = async (a: Agent | false, method: string, path: string, headers: Record<string, string> = {}, body?: string, loseSuccess = false) => {
      const o = await recordedRequest({ port, method, path, agent: a, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body } : {}), timeoutMs: REQUEST_TIMEOUT_MS, loseSuccess });
      outcomes.push(o);
      return o;
    };
    const login = async (a: Agent, name: string, code: string): Promise<string | undefined> => {
      const o = await send(a, 'POST', '/api/login', {}, JSON.stringify({ name, code }));
      return o.status === 200 ? (JSON.parse(o.text ?? '{}') as { token?: string }).token : undefined;
    };

    // Tokens, taken before the faults: every later login is traffic of its own.
    const setupAgent = agent(1);
    const tokens = new Map<string, string>();
    for (const [name, code] of PLAYERS) {
      const token = await waitFor(() => login(setupAgent, name, code), 30_000, `a token for ${name}`);
      tokens.set(name, token);
    }
    outcomes.length = 0;

    /**
     * Events read back on the connection whose 201s acknowledged them: at each of them the worker
     * that answered ended its own copy of the tab, so its next read asks the keeper, whose copy
     * includes journaled rows (README, "Acknowledged means durable": read-your-writes). Another
     * connection may reach another worker, which the keeper's notice of new rows reaches a moment
     * later: such a read is not judged.
     */
    interface AckedOnConnection {
      readonly port: number | undefined;
      readonly ids: string[];
    }
    const readBacks: { checked: number; missing: string[] }[] = [];
    let readBacksOnAnotherConnection = 0;
    let nextReadBackAt = Date.now() + READ_BACK_EVERY_MS;
    let readBackInFlight = false;
    /**
     * Whether the read was judged. One not judged (a 503 while the keeper restarts, or a read on
     * another connection after a draining worker's `Connection: close`) is tried again after the
     * poster's first 201 3 s on (each read goes upstream, within the read quota above), not
     * READ_BACK_EVERY_MS later: two lost in a row could leave a soak with one.
     */
    const readBack = async (a: Agent, acked: AckedOnConnection): Promise<boolean> => {
      // The id column only: the ids are what is checked, and a read of the whole tab costs more.
      const o = await send(a, 'GET', `/api/export?sheet=${encodeURIComponent('Events!A:A')}`, { authorization: `Bearer ${ADMIN_TOKEN}` });
      if (o.status !== 200) return false;
      if (!o.reusedSocket || o.localPort === undefined || o.localPort !== acked.port) {
        readBacksOnAnotherConnection++;
        return false;
      }
      const ids = new Set((o.text ?? '').split(/\r?\n/));
      readBacks.push({ checked: acked.ids.length, missing: acked.ids.filter((id) => !ids.has(id)) });
      return true;
    };

    const poster = async (player: string) => {
      const a = agent(1);
      const auth = { authorization: `Bearer ${tokens.get(player) ?? ''}` };
      let onConnection: AckedOnConnection = { port: undefined, ids: [] };
      for (let n = 1; soaking; n++) {
        const key = randomUUID();
        const ev: SentEvent = { key, player, detail: `chaos ${key}`, attempts: 0, replays: 0, lostAcks: 0 };
        sent.set(key, ev);
        const body = JSON.stringify({ kind: 'chaos', detail: ev.detail });
        const hold = holds.get(player);
        let loseAck = n % LOSE_EVERY === 1 || (hold !== undefined && hold.event === undefined);
        // A careful client: the same key and body until the event is acknowledged.
        while (Date.now() < settleBy()) {
          ev.attempts++;
          const o = await send(a, 'POST', '/api/events', { ...auth, 'idempotency-key': key }, body, loseAck);
          if (o.lost) {
            // Journaled (a 201 is sent only then) and unknown to the client, which retries at once.
            ev.lostAcks++;
            loseAck = false;
            if (hold && hold.event === undefined) {
              hold.event = ev;
              await hold.released;
            }
            continue;
          }
          if (o.status === 201) {
            ev.ack = JSON.parse(o.text ?? '{}') as { id: string; at: string };
            if (o.headers?.['idempotent-replayed'] === 'true') ev.replays++;
            acked++;
            if (o.localPort !== onConnection.port) onConnection = { port: o.localPort, ids: [] };
            onConnection.ids.push(ev.ack.id);
            if (!readBackInFlight && Date.now() >= nextReadBackAt) {
              readBackInFlight = true;
              try {
                nextReadBackAt = Date.now() + ((await readBack(a, onConnection)) ? READ_BACK_EVERY_MS : READ_BACK_RETRY_MS);
              } finally {
                readBackInFlight = false;
              }
            }
            break;
          }
          if (o.failure === undefined && o.status !== 409 && o.status !== 429 && o.status !== 503) break;
          await pause(o.failure === undefined ? retryAfterMs(o) : 100);
        }
        await pause(THINK_MS);
      }
    };

    /**
     * Two copies of one event, same key and body, sent at once on two connections: the keeper holds
     * a key "in flight" from its first request's arrival until that request's journal record is
     * fsynced (upstream plays no part), so one copy often arrives within that window and must get
     * `409 idempotency_key_in_flight`, not a second row. A careful client retries a 409 after its
     * Retry-After; every copy must end with the first 201's id.
     */
    interface TwinCopy {
      readonly answers: string[];
      ack?: { id: string; at: string };
    }
    const twins: { ev: SentEvent; copies: TwinCopy[] }[] = [];
    const twinPoster = async (player: string) => {
      const pair = [agent(1), agent(1)];
      const auth = { authorization: `Bearer ${tokens.get(player) ?? ''}` };
      while (soaking) {
        const key = randomUUID();
        const ev: SentEvent = { key, player, detail: `chaos ${key}`, attempts: 0, replays: 0, lostAcks: 0 };
        sent.set(key, ev);
        const body = JSON.stringify({ kind: 'chaos', detail: ev.detail });
        const copies = await Promise.all(
          pair.map(async (a) => {
            const copy: TwinCopy = { answers: [] };
            while (Date.now() < settleBy()) {
              ev.attempts++;
              const o = await send(a, 'POST', '/api/events', { ...auth, 'idempotency-key': key }, body);
              copy.answers.push(o.failure ?? `${o.status ?? 0}${errorCodeOf(o) ? ` ${errorCodeOf(o) ?? ''}` : ''}`);
              if (o.status === 201) {
                copy.ack = JSON.parse(o.text ?? '{}') as { id: string; at: string };
                if (o.headers?.['idempotent-replayed'] === 'true') ev.replays++;
                break;
              }
              if (o.failure === undefined && o.status !== 409 && o.status !== 503) break;
              await pause(o.failure === undefined ? retryAfterMs(o) : 100);
            }
            return copy;
          }),
        );
        ev.ack = copies.find((c) => c.ack)?.ack;
        if (ev.ack) acked++;
        twins.push({ ev, copies });
        await pause(TWIN_PAUSE_MS);
      }
    };
    const reader = async (path: string, headers: Record<string, string> = {}) => {
      const a = agent(1);
      while (soaking) {
        const o = await send(a, 'GET', path, headers);
        await pause(o.status === 200 ? THINK_MS : o.failure === undefined ? retryAfterMs(o) : 100);
      }
    };
    const loginLoop = async () => {
      const a = agent(1);
      for (let i = 0; soaking; i++) {
        const [name, code] = PLAYERS[i % PLAYERS.length] ?? PLAYERS[0]!;
        const o = await send(a, 'POST', '/api/login', {}, JSON.stringify({ name, code }));
        // Waits as asked after a 503 (a full host above all), as the other clients do.
        await pause(o.status === 200 ? THINK_MS : o.failure === undefined ? retryAfterMs(o) : 100);
      }
    };
    const clients = Promise.all([
      // One poster per player: the more posts are in flight when a worker or the keeper dies, the
      // more of them meet it (cut by the kill, a 409 while the first is still being journaled).
      ...PLAYERS.map(([name]) => poster(name)),
      twinPoster(PLAYERS[0]?.[0] ?? ''),
      reader('/api/players'),
      reader('/api/me', { authorization: `Bearer ${tokens.get('David Moreau') ?? ''}` }),
      loginLoop(),
    ]);

    // Between two faults, the clients must get somewhere: this many more events acknowledged.
    const progress = async (events: number) => {
      const target = acked + events;
      await waitFor(() => acked >= target, 30_000, `${events} more events acknowledged (${acked} so far)`);
    };
    /** Runs one fault; its window (for judging keep-alive races) spans it and 2 s of its aftermath. */
    const fault = async (name: string, run: () => Promise<string>) => {
      const w: FaultWindow = { name, from: Date.now(), to: Infinity };
      windows.push(w);
      const said = await run();
      w.to = Date.now() + 2000;
      say(`${name}: ${said} (recovered in ${Date.now() - w.from} ms)`);
    };

    // A process killed within 10 s of its ready is a crash loop, restarted after a growing backoff
    // (up to 30 s, README "Boot"): the soak kills processes that have run a while, as a crash in
    // production does, so each is replaced after the backoff's first step.
    const RUNNING_S = 12;
    const oldWorkerAndKeeper = () =>
      waitFor(async () => {
        const s = await healthy(2);
        return s && s.workers.some((w) => w.uptime_s >= RUNNING_S) && (s.keeper?.uptime_s ?? 0) >= RUNNING_S && s;
      }, 30_000, `a worker and the keeper up for ${RUNNING_S} s`);
    const killWorker = (victim: ChildStats) =>
      fault('kill -9 of a worker', async () => {
        // Stopped first, so that it accepts nothing between the reading of its connections and its death.
        process.kill(victim.pid, 'SIGSTOP');
        const ports = clientPortsHeldBy(victim.pid, port);
        process.kill(victim.pid, 'SIGKILL');
        kills.push({ pid: victim.pid, at: Date.now(), ports });
        await waitFor(async () => {
          const s = await healthy(2);
          return s && !s.workers.some((w) => w.pid === victim.pid);
        }, 30_000, 'the killed worker replaced');
        return `pid ${victim.pid}, which held ${ports.size} client connections`;
      });
    /**
     * Slows the emulator until an append reaches it, so that the keeper can be killed with that
     * append on the wire and its rows unsure for the next keeper. Left to chance (an append in
     * flight, or one answered 5xx less than SHEETS_UNSURE_DELAY before) the kill missed both in
     * some runs. Every call that arrives now waits SLOW_UPSTREAM_MS before the emulator carries it
     * out, and the flusher writes its send record before the append leaves: one counted here is in
     * the journal as sent, and not yet answered. Returns how long the append took to come: up to
     * the backoff's cap (32 s and 1 s of jitter) when failures in a row hold the range, as these
     * faults often do (7 s, 20 s and 28 s in runs beside another soak), and again after each try
     * that fails at the cap (a read-back of unsure rows first, then the append): 120 s is three
     * tries at the cap. 60 s ran out in a run whose applied-then-500 had just come after 33 s.
     */
    const appendOnTheWire = async () => {
      const from = Date.now();
      const appendsBefore = emu.counters().calls['values.append'];
      emu.setFaults({ latencyMs: SLOW_UPSTREAM_MS, latencyJitterMs: 0 });
      try {
        await waitFor(() => emu.counters().calls['values.append'] > appendsBefore, UPSTREAM_TRIES_MS, 'an append to reach the emulator');
      } catch (err) {
        restoreLatency();
        throw err;
      }
      return Date.now() - from;
    };
    const restoreLatency = () => emu.setFaults({ latencyMs: UPSTREAM_FAULTS.latencyMs, latencyJitterMs: UPSTREAM_FAULTS.latencyJitterMs });
    /**
     * Makes the next append the emulator carries out answer 500 after applying it, then puts the
     * soak's rate back. Left to the rate alone (0.2), the few appends of a run (the flusher batches:
     * 13 in one run on a slow host) drew none about one run in ten, and the path where a row is in
     * the sheet but the keeper was told it failed went unchecked. Not a fault window: the clients
     * see nothing of it, and nothing they get during it is excused.
     */
    const appliedThen500 = async () => {
      const before = emu.counters().appliedErrors;
      emu.setFaults({ appliedErrorRate: 1 });
      try {
        await waitFor(() => emu.counters().appliedErrors > before, UPSTREAM_TRIES_MS, 'an append applied, then answered 500');
      } finally {
        emu.setFaults({ appliedErrorRate: UPSTREAM_FAULTS.appliedErrorRate });
      }
      say('an append applied, then answered 500');
    };
    const killKeeper = (pid: number, appendWaitedMs: number) =>
      fault('kill -9 of the keeper', async () => {
        process.kill(pid, 'SIGKILL');
        keeperKills.push(pid);
        restoreLatency();
        await waitFor(async () => {
          const s = await healthy(2);
          return s && s.keeper?.pid !== pid;
        }, 30_000, 'the killed keeper replaced');
        return `pid ${pid}, with an append on the wire (it came ${appendWaitedMs} ms after the emulator was slowed to ${SLOW_UPSTREAM_MS} ms a call)`;
      });
    const reload = () =>
      fault('SIGHUP reload', async () => {
        const done = corral.events('reload.done').length;
        corral.kill('SIGHUP');
        const line = await waitFor(() => corral.events('reload.done')[done], 60_000, 'reload.done');
        await waitFor(() => healthy(2), 30_000, 'the old generation gone after the reload');
        return `generation ${String(line.generation)} serving`;
      });
    const scaleUpAndDown = () =>
      fault('TTIN then TTOU', async () => {
        corral.kill('SIGTTIN');
        await waitFor(() => healthy(3), 30_000, 'three ready workers after TTIN');
        corral.kill('SIGTTOU');
        await waitFor(() => healthy(2), 30_000, 'two workers after TTOU');
        return '3 workers, then 2';
      });
    /** What each over-cap burst saw, checked at the end. */
    const bursts: { probes: Outcome[]; released: (HeldAnswer | { failure: string })[]; refusedWhileFilling: number }[] = [];
    const burst = () =>
      fault('connections over the cap while busy ones hold every slot', async () => {
        // Busy connections take every slot: each new one takes a free slot or an idle client
        // connection's (which gives way), or is refused and tried again. The clients' own
        // connections give way one by one as they fall idle between requests, and their
        // reconnections find the host full (a 503 they retry after its Retry-After).
        // The clients' connections in use (a request at least every 250 ms) are busy and keep
        // their slots (idle-connections.ts): the held ones take every other slot, and the fill
        // ends once none has come free for longer than that.
        const holders: HeldRequest[] = [];
        let refusedWhileFilling = 0;
        try {
          const fillBy = Date.now() + 15_000;
          let heldAt = Date.now();
          while (holders.length < MAX_CONNECTIONS && !(refusedWhileFilling > 0 && Date.now() - heldAt > ANSWERED_GRACE_MS + 1000)) {
            assert.ok(Date.now() < fillBy, `busy connections took ${holders.length} slots of ${MAX_CONNECTIONS} in 15 s (${refusedWhileFilling} refused)`);
            const h = await holdRequest({ port, firstPath: '/api/admin/health', heldPath: '/api/players', timeoutMs: REQUEST_TIMEOUT_MS });
            if ('status' in h.first && h.first.status === 200) {
              holders.push(h);
              heldAt = Date.now();
              continue;
            }
            h.close();
            assert.ok('status' in h.first && h.first.status === 503 && h.first.text.includes('"server_full"'), `a connection opened to hold a slot got ${JSON.stringify(h.first)}`);
            refusedWhileFilling++;
            // Room is made asynchronously (another worker closes an idle connection within 0.1 s).
            await pause(THINK_MS);
          }
          assert.ok(holders.length >= MAX_CONNECTIONS / 2, `held ${holders.length} of ${MAX_CONNECTIONS} slots: the clients' connections hold the rest`);
          // Nothing can give way now: every new connection must be refused, at once.
          const probes = await Promise.all(Array.from({ length: OVER_CAP_PROBES }, () => send(false, 'GET', '/api/players', { connection: 'close' })));
          const released = await Promise.all(holders.map((h) => h.release()));
          bursts.push({ probes, released, refusedWhileFilling });
          const full = probes.filter((o) => o.status === 503 && errorCodeOf(o) === 'server_full').length;
          const servedHeld = released.filter((a) => 'status' in a && a.status === 200).length;
          return `${holders.length} connections busy with a held request and the clients' own in use fill the cap of ${MAX_CONNECTIONS} (${refusedWhileFilling} refused while they took the slots); ${OVER_CAP_PROBES} more: ${full} answered 503 server_full (slowest ${Math.max(...probes.map((o) => o.endedAt - o.startedAt))} ms); held requests released: ${servedHeld} answered 200`;
        } finally {
          for (const h of holders) h.close();
        }
      });

    /**
     * Has `player`'s poster lose the 201 of an event and hold its retry until released: released
     * once the keeper that journaled it was killed and replaced, the retry meets a keeper that knows
     * the key only from the journal. Left to the kill itself (a post it cuts after the journaling,
     * retried after the restart), that came up in some runs only.
     */
    const heldAcrossKeeperKill: SentEvent[] = [];
    const holdRetry = async (player: string): Promise<HeldRetry> => {
      let release = () => {};
      const released = new Promise<void>((r) => {
        release = r;
      });
      const hold: HeldRetry = { released, release };
      holds.set(player, hold);
      const ev = await waitFor(() => hold.event, 30_000, `${player}'s poster to lose a 201`);
      heldAcrossKeeperKill.push(ev);
      return hold;
    };

    // Each round: a worker dies while a burst of connections arrives; the keeper dies as a reload
    // starts, with an event's retry held across its death; then one worker more and one less; in
    // the first round, one append applied and answered 500.
    // Rounds follow each other until the soak's time is up, each once the clients have made
    // progress since the last.
    let rounds = 0;
    while (rounds < MIN_ROUNDS || Date.now() - t0 < SOAK_MS) {
      await progress(5);
      const s = await oldWorkerAndKeeper();
      const victim = [...s.workers].sort((x, y) => y.uptime_s - x.uptime_s)[0];
      assert.ok(victim && s.keeper);
      await killWorker(victim);
      await burst();
      await progress(5);
      const [heldPlayer] = PLAYERS[rounds % PLAYERS.length] ?? PLAYERS[0]!;
      const held = await holdRetry(heldPlayer);
      const appendWaitedMs = await appendOnTheWire();
      await Promise.all([killKeeper(s.keeper.pid, appendWaitedMs), reload()]);
      holds.delete(heldPlayer);
      held.release();
      await progress(5);
      await scaleUpAndDown();
      if (rounds === 0) await appliedThen500();
      rounds++;
    }
    soaking = false;
    soakEndedAt = Date.now();
    say(`soak over after ${rounds} rounds of faults; ${acked} events acknowledged; posters settle what is pending`);
    await clients;

    const faultsOff = await http(controlUrl('faults'), { method: 'POST', body: JSON.stringify(FAULTS_OFF) });
    assert.equal(faultsOff.status, 200, faultsOff.text);
    const eventRows = async () => {
      const r = await http(controlUrl(`spreadsheets/${emu.spreadsheetId}/sheets/Events`));
      assert.equal(r.status, 200, r.text);
      return r.json<{ values: string[][] }>().values.slice(1);
    };
    const ackedEvents = [...sent.values()].filter((e) => e.ack);
    await waitFor(async () => {
      const s = await stats();
      if (s.sheets.journal_backlog !== 0) return false;
      const ids = new Set((await eventRows()).map((r) => r[0]));
      return ackedEvents.every((e) => ids.has(e.ack?.id));
    }, 120_000, 'the journal to drain into the emulator (admin stats journal_backlog 0, every acknowledged id in the Events tab)');
    say('journal drained');

    // What the clients saw.
    const verdicts = new Map<Verdict, number>();
    const byAnswer = new Map<string, number>();
    const failures: string[] = [];
    for (const o of outcomes) {
      const v = judge(o, kills, windows);
      verdicts.set(v, (verdicts.get(v) ?? 0) + 1);
      const answer = o.failure ?? `${o.status ?? '?'}${errorCodeOf(o) ? ` ${errorCodeOf(o) ?? ''}` : ''}${o.lost ? ' lost by the client' : ''}`;
      const k = `${o.method} ${o.path} ${answer}`;
      byAnswer.set(k, (byAnswer.get(k) ?? 0) + 1);
      if (v === 'failure') failures.push(`${k} at t=${((o.endedAt - t0) / 1000).toFixed(1)}s after ${o.endedAt - o.startedAt} ms${o.text ? `: ${o.text.slice(0, 200)}` : ''}${o.reusedSocket ? ' (reused connection)' : ''}`);
    }
    const slowest = new Map<string, number>();
    for (const o of outcomes) if (o.status !== undefined) slowest.set(`${o.method} ${o.path}`, Math.max(slowest.get(`${o.method} ${o.path}`) ?? 0, o.endedAt - o.startedAt));
    const slow = outcomes.filter((o) => o.status !== undefined && o.endedAt - o.startedAt > 1000).map((o) => `${o.method} ${o.path} ${o.endedAt - o.startedAt} ms at t=${((o.endedAt - t0) / 1000).toFixed(1)}s`);
    say(`slowest answer: ${[...slowest].map(([k, ms]) => `${k} ${ms} ms`).join(', ')}; ${slow.length} over 1 s${slow.length > 0 ? `: ${slow.slice(0, 12).join(', ')}` : ''}`);
    // The answers allowed above must be the README's own: each status and error code as it writes them.
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const undocumented = [...new Set(outcomes.filter((o) => judge(o, kills, windows) === 'documented').map((o) => `${o.status ?? 0} ${errorCodeOf(o) ?? ''}`))].filter((answer) => {
      const [status, code] = answer.split(' ');
      return !readme.includes(`${status} {"error":"${code}"`) && !readme.includes(`${status} \`${code}\``);
    });
    say(`requests: ${outcomes.length}; ${[...verdicts].map(([v, n]) => `${n} ${v}`).join(', ')}`);
    say(`answers: ${[...byAnswer].sort().map(([k, n]) => `${k}: ${n}`).join('; ')}`);

    // What the sheet holds.
    const rows = await eventRows();
    const chaosRows = rows.filter((r) => r[2] === 'chaos');
    const rowsById = new Map<string, number>();
    for (const r of chaosRows) rowsById.set(r[0] ?? '', (rowsById.get(r[0] ?? '') ?? 0) + 1);
    const rowsByDetail = new Map<string, string[][]>();
    for (const r of chaosRows) rowsByDetail.set(r[3] ?? '', [...(rowsByDetail.get(r[3] ?? '') ?? []), r]);
    const byDetail = new Map([...sent.values()].map((e) => [e.detail, e]));
    const unacked = [...sent.values()].filter((e) => !e.ack);
    // By the id each acknowledgement gave: no row, or several rows with it. A key that made a second
    // row gave that row another id, so this does not see it: `doubled` (by the event's detail) does.
    const absentById = ackedEvents.filter((e) => !rowsById.has(e.ack?.id ?? ''));
    const repeatedById = ackedEvents.filter((e) => (rowsById.get(e.ack?.id ?? '') ?? 0) > 1);
    // Rows added to the seed's: each must be an event some client sent, as that client's player.
    const strangers = rows.filter((r) => !SEEDED_EVENT_IDS.includes(r[0] ?? '')).filter((r) => {
      const e = byDetail.get(r[3] ?? '');
      return r[2] !== 'chaos' || !e || e.player !== r[1];
    });
    const doubled = [...rowsByDetail].filter(([, rs]) => rs.length > 1);
    const wrongId = ackedEvents.filter((e) => {
      const rs = rowsByDetail.get(e.detail) ?? [];
      return rs.length === 1 && rs[0]?.[0] !== e.ack?.id;
    });
    const counters = emu.counters();
    const retried = [...sent.values()].filter((e) => e.attempts > 1);
    const lostAck = [...sent.values()].filter((e) => e.lostAcks > 0);
    say(
      `events: ${sent.size} sent, ${ackedEvents.length} acknowledged (${retried.length} after retries, ${ackedEvents.reduce((n, e) => n + e.replays, 0)} by a replayed answer; ` +
        `${lostAck.length} retried after their 201 was lost, ${lostAck.filter((e) => e.replays > 0).length} of them answered by a replay, ` +
        `${heldAcrossKeeperKill.length} of those only after a keeper's kill -9, ${heldAcrossKeeperKill.filter((e) => e.replays > 0).length} answered by a replay), ` +
        `${unacked.length} never acknowledged; sheet: ${chaosRows.length} chaos rows, ${absentById.length} acknowledged ids in no row, ${repeatedById.length} in several rows, ` +
        `${doubled.length} keys with several rows (by detail, whatever their ids), ${wrongId.length} rows with another id than their acknowledgement's, ${strangers.length} rows nobody sent`,
    );
    // Two copies of one event at once: one 201, the other its replay or a 409 while the first was
    // being journaled (then its replay), and one row.
    const twinsInFlight = twins.filter((p) => p.copies.some((c) => c.answers.includes('409 idempotency_key_in_flight')));
    const twinsSplit = twins.filter((p) => p.copies.some((c) => c.ack?.id !== p.copies[0]?.ack?.id || !c.ack));
    say(
      `twins (two copies of one event at once on two connections): ${twins.length} sent, ${twinsInFlight.length} with a copy answered 409 idempotency_key_in_flight, ` +
        `${twins.filter((p) => p.ev.replays > 0).length} with a replayed 201, ${twinsSplit.length} whose copies were not both acknowledged with one id`,
    );
    // Read-your-writes, and the cache's staleness bound on the roster's reads.
    const unseen = readBacks.flatMap((r) => r.missing);
    const players = outcomes
      .filter((o) => o.path === '/api/players' && o.status === 200 && o.text)
      .map((o) => {
        const b = JSON.parse(o.text ?? '{}') as { fetched_at: string; stale: boolean };
        return { ageMs: o.endedAt - Date.parse(b.fetched_at), stale: b.stale };
      });
    // The client reads the answer a few milliseconds after the worker judged its copy's age, or
    // later when this process stalls (it parses the whole log in its waits): a second of slack
    // still tells a copy past its bound (one refresh late is a whole TTL, 2 s).
    const CLOCK_SLACK_MS = 1000;
    const tooOld = players.filter((r) => r.ageMs > (CACHE_TTL_S + CACHE_MAX_STALE_S) * 1000 + CLOCK_SLACK_MS || (!r.stale && r.ageMs > CACHE_TTL_S * 1000 + CLOCK_SLACK_MS));
    say(
      `reads: ${readBacks.length} reads of the Events tab on a poster's connection, checking the ${readBacks.reduce((n, r) => n + r.checked, 0)} events acknowledged on it (${Math.min(...readBacks.map((r) => r.checked))} to ${Math.max(...readBacks.map((r) => r.checked))} each), ${unseen.length} missing from the read, ${readBacksOnAnotherConnection} reads on another connection (not judged); ` +
        `${players.length} rosters read, the oldest copy ${Math.max(0, ...players.map((r) => r.ageMs))} ms old (fresh ones ${Math.max(0, ...players.filter((r) => !r.stale).map((r) => r.ageMs))} ms), ${tooOld.length} past the bound`,
    );
    const burstChecks = bursts.map((b) => {
      const full = b.probes.filter((o) => o.status === 503 && errorCodeOf(o) === 'server_full' && o.headers?.['retry-after'] !== undefined && o.endedAt - o.startedAt <= OVER_CAP_ANSWER_MS);
      return { ...b, full };
    });
    say(
      `emulator: ${counters.calls['values.append']} appends, ${counters.calls['values.get'] + counters.calls['values.batchGet']} reads, ${counters.injectedErrors} injected 5xx, ` +
        `${counters.resets} resets, ${counters.appliedErrors} applied-then-500, ${counters.quotaRejections} quota refusals, ${counters.rowsAppended} rows kept`,
    );

    // The daemon: healthy, every process it forked accounted for, none dead by surprise.
    const end = await waitFor(() => healthy(2), 30_000, 'two ready workers and a ready keeper at the end');
    const forked = new Set(corral.logs().filter((l) => l.event === 'worker.boot' || l.event === 'keeper.boot').map((l) => Number(l.worker_pid)));
    const current = new Set([...end.workers.map((w) => w.pid), end.keeper?.pid ?? -1]);
    await waitFor(() => [...forked].every((pid) => current.has(pid) || !isAlive(pid)), 15_000, 'every replaced process to have exited');
    const children = new Set(childrenOf(corral.pid));
    const surprises = corral
      .logs()
      .filter((l) => (l.event === 'worker.exit' || l.event === 'keeper.exit') && (l.reason === null || l.reason === 'timeout') && !kills.some((k) => k.pid === l.worker_pid) && !keeperKills.includes(Number(l.worker_pid)));
    const bugs = corral.logs().filter((l) => ['request.error', 'app.error', 'worker.uncaught', 'admin.error', 'master.tick_failed', 'master.uncaught', 'worker.timeout', 'keeper.timeout'].includes(String(l.event)) || l.level === 'fatal');
    // Appends sent and not known done when the keeper is killed (in flight, or answered 500 and
    // waiting to be read back) are unsure: the next keeper must read them back before any resend.
    // Each kill comes with an append on the wire (killKeeper), so every replay has some.
    const replays = corral.logs().filter((l) => l.event === 'journal.replayed');
    say(`journal replays by a new keeper: ${replays.map((l) => `${String(l.pending)} pending, ${String(l.unsure)} unsure`).join('; ') || 'none'}`);
    say(`processes: ${forked.size} forked, ${current.size} running (${[...current].join(', ')}), ${children.size} children of the master`);

    assert.deepEqual(failures, [], 'every answer other than a 2xx is a documented one; no hang, no reset outside a kill -9 or a keep-alive race');
    assert.deepEqual(undocumented, [], 'the README documents every answer other than a 2xx the clients got');
    assert.ok((verdicts.get('ok') ?? 0) > 0);
    assert.deepEqual(unacked.map((e) => e.key), [], 'every event a client kept retrying was acknowledged');
    assert.deepEqual(absentById.map((e) => e.ack?.id), [], 'every acknowledged event is in the sheet, by its id');
    assert.deepEqual(repeatedById.map((e) => e.ack?.id), [], 'no acknowledged id is in two rows');
    assert.deepEqual(doubled.map(([d]) => d), [], 'no key made a second row');
    assert.deepEqual(wrongId.map((e) => e.key), [], "each event's row has the id its acknowledgement gave");
    assert.deepEqual(strangers, [], 'every row in the sheet is one a client sent');
    assert.ok(retried.length > 0 && counters.appliedErrors > 0 && counters.resets > 0, 'the retry and applied-then-500 paths were exercised');
    assert.ok(lostAck.length >= PLAYERS.length, `every poster retried an event whose acknowledgement it lost (${lostAck.length} events)`);
    assert.equal(heldAcrossKeeperKill.length, rounds, 'each kill -9 of the keeper came between a lost 201 and its retry');
    assert.ok(replays.filter((l) => Number(l.unsure) > 0).length >= rounds, 'after each kill -9, the new keeper read back the appends the kill left unsure');
    assert.ok(kills.length > 0, 'every scripted fault ran');
    assert.equal(bursts.length, rounds, 'each round held the cap with busy connections');
    for (const b of burstChecks) {
      assert.equal(b.full.length, OVER_CAP_PROBES, `with every slot busy, each new connection got 503 server_full with Retry-After within ${OVER_CAP_ANSWER_MS} ms: ${b.probes.map((o) => `${o.failure ?? o.status ?? '?'} ${errorCodeOf(o) ?? ''} in ${o.endedAt - o.startedAt} ms`).join(', ')}`);
      const unanswered = b.released.filter((a) => !('status' in a) || !(a.status === 200 || (DOCUMENTED[a.status]?.some((code) => a.text.includes(`"${code}"`)) && a.headers['retry-after'] !== undefined)));
      assert.deepEqual(unanswered, [], 'each held request, once released, was answered 200 or as the README documents');
    }
    assert.deepEqual(twinsSplit.map((p) => p.copies.map((c) => c.answers)), [], 'both copies of each twin were acknowledged, with the same id');
    assert.ok(twinsInFlight.length >= 3, `a copy arrived while its twin was being journaled and got 409 idempotency_key_in_flight, at least 3 times (${twinsInFlight.length})`);
    // One judged read per READ_BACK_EVERY_MS at most, and only after a 201: over the 30 s soak, 3
    // while posting flows, 2 when faults held the posters at a read's time (CI, November 2026).
    assert.ok(readBacks.length >= 2, `acknowledged events were read back on the connection that posted them (${readBacks.length} reads)`);
    assert.deepEqual(unseen, [], 'a read on the connection that got 201s includes the events they acknowledged (read-your-writes)');
    assert.deepEqual(tooOld.slice(0, 5), [], `${tooOld.length} roster reads too old: no roster read was older than SHEET_CACHE_TTL (${CACHE_TTL_S} s) when fresh, nor than it plus SHEET_CACHE_MAX_STALE (${CACHE_MAX_STALE_S} s)`);
    assert.deepEqual(surprises, [], 'no worker or keeper exited but those killed or stopped on purpose');
    assert.deepEqual(bugs, [], 'no handler error, uncaught exception or stuck worker');
    assert.deepEqual([...children].sort(), [...current].sort(), "the master's children are its workers and keeper, nothing else");

    await corral.stop();
    await waitFor(() => ![corral.pid, ...forked].some(isAlive), 15_000, 'no process of the daemon left after its stop');
  } finally {
    soaking = false;
    for (const h of holds.values()) h.release();
    for (const a of agents) a.destroy();
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
    await emu.close();
  }
});
