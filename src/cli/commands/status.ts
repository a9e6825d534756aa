import { CorralError, EXIT } from '../../errors.js';
import { parseFlags, type Command } from '../command.js';
import { loadLookupSettings, STATUS_SETTINGS, type MasterLookup } from '../lookup-settings.js';
import { getAdminJson, masterAdminUrl } from '../master-admin-api.js';
import { isAdminTokenUnset } from '../../loadtest/admin-token-unset.js';
import { findMasterOrSay } from '../master-process.js';
import { sheetsStatusLine, type SheetsStatus } from './status-sheets.js';
import { readReloadStanding, type ReloadStanding } from '../reload-wait.js';
import { reloadGist, restartNeededText } from '../reload-words.js';

interface WorkerRow {
  id: number;
  pid: number;
  generation: number;
  state: string;
  /** Absent from a corral older than it. */
  heartbeat_late?: boolean;
  /** Why it is to be replaced, once marked (absent from a corral older than it). */
  retiring?: string | null;
  uptime_s: number;
  requests_served: number | null;
  rss_bytes: number | null;
}

interface Stats {
  /** `stopping`: absent from a master older than this command. */
  master: { pid: number; generation: number; uptime_s: number; stopping?: boolean; starting?: boolean };
  /** idle_connections, and the interval's figures: absent from a corral older than them. */
  capacity: { status: string; current_connections: number; idle_connections?: number; peak_busy_connections?: number; refused_last_interval?: number; idle_closed_last_interval?: number; max_connections: number };
  workers_ready: number;
  workers_expected: number;
  /** Ready workers whose loop stopped beating (absent from an older master). */
  workers_not_beating?: number;
  /** Absent from a master older than this command. */
  respawn?: { in_ms: number; crash_loop: number; boot_failures: number } | null;
  workers: WorkerRow[];
  /** Absent from a master older than this command; null figures before the keeper reports. */
  sheets?: SheetsStatus;
  /** The keeper's own figures (its `extra` names the backend); null without a keeper. */
  keeper?: { extra?: Record<string, unknown>; heartbeat_late?: boolean; last_beat_s_ago?: number | null } | null;
  /** Absent from a master older than this command. */
  reload?: { in_progress_generation: number | null; queued: boolean; last: (NonNullable<ReloadStanding['last']> & { message?: string }) | null };
}

/**
 * The reload in progress, or the latest one that ended without applying (as systemd's STATUS=
 * line says it, until a reload completes; its gist without the token, which its message needs):
 * a rollback was said in the log alone to whoever runs corral without systemd. Then what the
 * last reload left until a restart (a new build of corral, CORRAL_ACCEPT...), which only
 * `reload --wait` said.
 */
function reloadLines(r: Stats['reload'] | undefined): string[] {
  if (!r) return [];
  const lines: string[] = [];
  const last = r.last;
  if (r.in_progress_generation !== null) lines.push(`reload to generation ${r.in_progress_generation} in progress${r.queued ? ', another queued behind it' : ''}`);
  else if (last && last.outcome !== 'completed') lines.push(last.message ?? reloadGist({ ...last, outcome: last.outcome }));
  const kept = restartNeededText(last);
  if (kept !== undefined) lines.push(kept);
  return lines;
}

/** The backoff holding the next fork, said as the master's status line says it. */
function respawnText(inMs: number | null | undefined, why?: { crash_loop: number; boot_failures: number }): string {
  if (inMs === null || inMs === undefined) return '';
  const reason = why ? ` (${why.boot_failures > 0 ? `${why.boot_failures} failed boot${why.boot_failures === 1 ? '' : 's'} in a row` : `crash loop ${why.crash_loop}`})` : '';
  return `; respawning in ${Math.ceil(inMs / 1000)} s${reason}`;
}

/** The admin API's health answer (GET /api/admin/health, no token needed). */
interface Health {
  status: string;
  workers_ready: number;
  workers_expected: number;
  workers_not_beating?: number;
  /** The keeper's state while it is not ready (not_running, booting, draining, not_beating). */
  keeper?: string;
  respawn_in_ms?: number | null;
  /** While the keeper waits out its crash backoff: absent from a corral older than it. */
  keeper_respawn_in_ms?: number;
  /** A stop has begun (absent otherwise, and from a corral older than this command). */
  stopping?: true;
  /** The master has not been ready yet: its first workers boot (absent otherwise, and from an older corral). */
  starting?: true;
  /** The journal refuses events (sync_stuck, not_writable, full): absent while it takes them, and from an older corral. */
  journal?: string;
}

/**
 * Running, or on its way out: a stopping master's workers drain, which is no outage. Or on its
 * way in: a master whose first workers boot read "running: 0/2 workers ready (unavailable)" as an
 * outage, right after `corral start`.
 */
const stateOf = (stopping: boolean | undefined, starting?: boolean): string => (stopping ? 'stopping' : starting ? 'starting' : 'running');

const JOURNAL_REFUSAL: Record<string, string> = {
  sync_stuck: 'journal write hangs (the data disk): events refused',
  not_writable: 'journal not writable: events refused',
  full: 'journal full: events refused',
};

/** What makes the health degraded, as far as it says: workers not beating, the keeper's state, a journal refusing events. */
function whyDegraded(h: Health): string {
  const why = [
    ...(h.workers_not_beating ? [`${h.workers_not_beating} worker${h.workers_not_beating === 1 ? '' : 's'} not beating`] : []),
    ...(h.keeper ? [`keeper ${h.keeper.replace('_', ' ')}${h.keeper_respawn_in_ms === undefined ? '' : ` (restarting in ${Math.ceil(h.keeper_respawn_in_ms / 1000)} s)`}`] : []),
    ...(h.journal ? [JOURNAL_REFUSAL[h.journal] ?? `journal ${h.journal}`] : []),
  ];
  return why.length > 0 ? `: ${why.join(', ')}` : '';
}

/**
 * Busy connections (at their peak over the last heartbeat interval) over the cap, the idle ones,
 * which give their slot to a new client, and the refusals and closures that made the status FULL
 * or WARNING with few busy.
 */
function capacityText(c: Stats['capacity']): string {
  const idle = c.idle_connections ?? 0;
  const refused = c.refused_last_interval ? `, ${c.refused_last_interval} refused` : '';
  const closed = c.idle_closed_last_interval ? `, ${c.idle_closed_last_interval} idle closed to admit new ones` : '';
  return `${c.peak_busy_connections ?? c.current_connections - idle}/${c.max_connections} connections busy, ${idle} idle${refused}${closed}`;
}

function duration(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

/**
 * Why `status` has no per-worker figures, when the stats were not answered 200: no token here, a
 * token the master refused (the .env edited since it started, or another file), or a master that
 * runs with no token at all and so refuses every one.
 */
export function figuresRefusedHint(stats: { readonly status: number; readonly body: unknown } | undefined): string {
  if (!stats) return 'set CORRAL_ADMIN_TOKEN for per-worker figures';
  if (stats.status === 403 && isAdminTokenUnset(stats.body)) {
    return 'the master runs without CORRAL_ADMIN_TOKEN (its settings at its start or last reload had none), so it refuses every token: `corral reload` applies the one set now';
  }
  if (stats.status === 401 || stats.status === 403) {
    return `the admin API refused CORRAL_ADMIN_TOKEN (HTTP ${stats.status}): it must be the token the master runs with (the one it started with, or read at its last reload)`;
  }
  return `the admin API answered HTTP ${stats.status} for the figures; see the master's log`;
}

/**
 * `status --timeout 5` means how long status waits, not the workers' heartbeat timeout the generic
 * hint named ("set CORRAL_TIMEOUT=5": followed, it had a worker whose loop blocks 5 s killed).
 */
const STATUS_WAIT = 'status takes no timeout: each question to the admin API waits at most 3 s; for a shorter bound, run it under timeout(1): `timeout 2 corral status` (CORRAL_TIMEOUT is the workers\' heartbeat timeout, not this wait)';
const STATUS_FLAG_HINTS: Readonly<Record<string, string>> = { timeout: STATUS_WAIT, 'wait-timeout': STATUS_WAIT, t: STATUS_WAIT };

export const statusCommand: Command = {
  name: 'status',
  exitCodeIsVerdict: true,
  help: `Usage: corral status [--json]

Finds the master through CORRAL_PIDFILE and asks its admin API (CORRAL_ADMIN_BIND, with
CORRAL_ADMIN_TOKEN) for the master and per-worker figures, and the Sheets layer's state (Google
answering or failing, writes waiting in the journal, Redis connected or this host alone).
Without a token it shows the health summary only. Both say a reload in progress, the last one
if it did not apply (refused, rolled back), and what the last reload left until a restart (a new
build of corral, CORRAL_ACCEPT...). With --json, one JSON object on stdout whatever the answer, led by "running"
(true; false when not running; null when unknown): then the admin API's figures with a token,
or "pid", "health" and "reload" without one, and "error" with the message when the exit code is 1 or 4,
or with its code and message when the settings are refused (78) or the command line is (64).
Of the settings, only CORRAL_PIDFILE and CORRAL_ADMIN_BIND must be valid: a bad
edit elsewhere in .env (CORRAL_ADMIN_TOKEN included) is reported as a warning.
A master whose stop has begun is still running (exit 0): it is shown as stopping, its workers
finishing their requests; one whose first workers still boot, as starting (exit 0).

Exit codes (LSB's): 0 running, 3 not running (no pidfile, or a stale one), 4 unknown: the
pidfile names a live process without a start stamp that may or may not be corral (the message
says how to tell), or this user may not read the pidfile (run as the user corral runs as), or
the pidfile belongs to a user other than root and the one the process it names runs as,
or CORRAL_PIDFILE is empty (no pidfile is written: use systemctl status corral), or no pidfile
names a master but a corral answers the admin API (one started with another CORRAL_PIDFILE), or
corral failed on an error it did not foresee (CORRAL_ERR_INTERNAL, a bug: its stack on stderr), 1 running but the admin API did not answer, or answers for another master (its port was
taken); and 64 an unknown option, 78 CORRAL_PIDFILE or
CORRAL_ADMIN_BIND is invalid, or CORRAL_ENV_FILE cannot be read (an invalid
CORRAL_ADMIN_TOKEN is a warning: the summary without per-worker figures).`,
  // Whether corral runs is not known when the command line or the settings are refused.
  jsonRefusal: (err) => ({ running: null, error: { code: err.code, message: err.message } }),
  async run(argv) {
    // A command line refused beside --json (`status --json --quiet`), and settings refused (78),
    // still print one JSON object: jsonRefusal below, printed by the CLI's entry.
    const { values } = parseFlags(argv, { json: { type: 'boolean' } }, { readsSettings: true, flagHints: STATUS_FLAG_HINTS });
    // With --json, every answer is one JSON object on stdout, led by `running` (true, false, or
    // null when unknown): a script's `corral status --json | jq .running` must never read nothing,
    // which jq takes as success. The message stays on stderr, the exit code says the same.
    const json = (answer: Record<string, unknown>) => {
      if (values.json) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    };
    const lookup: MasterLookup = loadLookupSettings(STATUS_SETTINGS);
    let pid: number | undefined;
    try {
      pid = await findMasterOrSay(lookup);
    } catch (err) {
      // Not "not running": start refuses this pidfile (or fails on the ports of the corral that
      // answers elsewhere), so `status || start` must not be told to start.
      const unknown = ['CORRAL_ERR_MASTER_UNVERIFIED', 'CORRAL_ERR_PIDFILE_UNREADABLE', 'CORRAL_ERR_PIDFILE_UNTRUSTED', 'CORRAL_ERR_NO_PIDFILE', 'CORRAL_ERR_MASTER_ELSEWHERE'];
      if (!(err instanceof CorralError && unknown.includes(err.code))) throw err;
      process.stderr.write(`corral status: [${err.code}] ${err.message}\n`);
      json({ running: null, error: { code: err.code, message: err.message } });
      return EXIT.STATUS_UNKNOWN;
    }
    const { settings } = lookup;
    if (pid === undefined) {
      json({ running: false });
      return EXIT.NOT_RUNNING;
    }
    const base = masterAdminUrl(settings, pid);
    if (base === null) {
      const message = `corral master pid ${pid} is running, but its admin API did not start (admin.failed in its log says why: its CORRAL_ADMIN_BIND port in use, or an address this host does not have); give it a free CORRAL_ADMIN_BIND and restart it`;
      process.stderr.write(`corral status: [CORRAL_ERR_ADMIN_UNREACHABLE] ${message}\n`);
      json({ running: true, pid, error: { code: 'CORRAL_ERR_ADMIN_UNREACHABLE', message } });
      return 1;
    }
    if (base === undefined) {
      const why = 'the admin API port is ephemeral (CORRAL_ADMIN_BIND port 0) and this master recorded none beside its pidfile (an older corral), so no details';
      if (values.json) json({ running: true, pid, health: null, note: why });
      else process.stdout.write(`corral is running (master pid ${pid}); ${why}\n`);
      return 0;
    }
    // The admin port was taken when this master started (it logs admin.failed and serves on
    // without its admin API): what answers there is another corral, whose figures are not this one's.
    const otherMaster = (otherPid: number): number => {
      const message =
        `corral master pid ${pid} is running, but the admin API at ${base} answers for another master (pid ${otherPid}): ` +
        `CORRAL_ADMIN_BIND's port was in use when this one started (admin.failed in its log); give each corral its own CORRAL_ADMIN_BIND and restart it`;
      process.stderr.write(`corral status: [CORRAL_ERR_ADMIN_OTHER_MASTER] ${message}\n`);
      json({ running: true, pid, error: { code: 'CORRAL_ERR_ADMIN_OTHER_MASTER', message } });
      return 1;
    };
    try {
      const token = settings.CORRAL_ADMIN_TOKEN;
      const stats = token ? await getAdminJson(`${base}/api/admin/stats`, token) : undefined;
      if (!stats || stats.status !== 200) {
        const health = await getAdminJson(`${base}/api/admin/health`, undefined);
        const h = health.body as Health;
        const hint = lookup.tokenInvalid ? 'CORRAL_ADMIN_TOKEN in the settings is invalid (the warning above says why): per-worker figures need the token the master runs with' : figuresRefusedHint(stats);
        // Where reloads stand needs no token (an older master answers without it: left out).
        const reload = await readReloadStanding(base).catch(() => undefined);
        // Its master_pid, the one figure that says whose API this is without a token.
        if (reload && reload.master_pid !== pid) return otherMaster(reload.master_pid);
        if (values.json) json({ running: true, pid, health: h, ...(reload ? { reload: { in_progress_generation: reload.in_progress_generation, queued: reload.queued, last: reload.last } } : {}), note: hint });
        else {
          const lines = [`corral is ${stateOf(h.stopping, h.starting)}: master pid ${pid}, ${h.workers_ready}/${h.workers_expected} workers ready (${h.status}${whyDegraded(h)})${respawnText(h.respawn_in_ms)}; ${hint}`, ...reloadLines(reload)];
          process.stdout.write(`${lines.join('\n')}\n`);
        }
        return 0;
      }
      const s = stats.body as Stats;
      if (s.master.pid !== pid) return otherMaster(s.master.pid);
      if (values.json) {
        json({ running: true, ...s });
        return 0;
      }
      // The health says what the figures leave to be worked out: a keeper down, workers not beating.
      const h = (await getAdminJson(`${base}/api/admin/health`, undefined)).body as Health;
      // The master's generation is the one a reload in progress boots, not yet the one serving.
      const reloading = s.reload?.in_progress_generation !== null && s.reload?.in_progress_generation !== undefined;
      const stateText = (w: WorkerRow) => (w.state === 'ready' && w.heartbeat_late ? 'not beating' : w.state === 'ready' && w.retiring ? `retiring (${w.retiring})` : w.state);
      const stateWidth = Math.max(11, ...s.workers.map((w) => stateText(w).length));
      const lines = [
        `corral is ${stateOf(s.master.stopping, s.master.starting)}: master pid ${s.master.pid}, ${reloading ? 'reloading to ' : ''}generation ${s.master.generation}, up ${duration(s.master.uptime_s)}${s.master.stopping ? ' (a stop has begun: its workers finish their requests, then it exits)' : ''}`,
        `workers ${s.workers_ready}/${s.workers_expected} ready${s.workers_not_beating ? ` (${s.workers_not_beating} not beating)` : ''}, capacity ${s.capacity.status} (${capacityText(s.capacity)})${respawnText(s.respawn?.in_ms, s.respawn ?? undefined)}`,
        ...(h.status !== 'ok' ? [`health ${h.status}${whyDegraded(h)}`] : []),
        ...reloadLines(s.reload),
        ...[sheetsStatusLine(s.sheets, s.keeper?.extra, s.keeper)].filter((line) => line !== undefined),
        '',
        `${'ID'.padStart(4)} ${'PID'.padStart(8)} ${'GEN'.padStart(4)} ${'STATE'.padEnd(stateWidth)} ${'UPTIME'.padStart(7)} ${'REQUESTS'.padStart(10)} ${'RSS MiB'.padStart(8)}`,
        ...s.workers.map(
          (w) =>
            `${String(w.id).padStart(4)} ${String(w.pid).padStart(8)} ${String(w.generation).padStart(4)} ${stateText(w).padEnd(stateWidth)} ${duration(w.uptime_s).padStart(7)} ${String(w.requests_served ?? '-').padStart(10)} ${(w.rss_bytes === null ? '-' : (w.rss_bytes / 1048576).toFixed(0)).padStart(8)}`,
        ),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } catch (err) {
      const message = `corral master pid ${pid} is running but its admin API at ${base} did not answer: ${(err as Error).message}`;
      process.stderr.write(`corral status: [CORRAL_ERR_ADMIN_UNREACHABLE] ${message}\n`);
      json({ running: true, pid, error: { code: 'CORRAL_ERR_ADMIN_UNREACHABLE', message } });
      return 1;
    }
  },
};
