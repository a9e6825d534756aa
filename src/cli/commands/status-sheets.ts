// The Sheets line of `corral status`: what an operator asks first when users report stale data or
// lost writes (is Google failing, are writes waiting, is this host sharing through Redis), from
// the admin stats' `sheets` figures. The health says none of it: a host serving stale answers
// through a Google outage, or alone through a Redis one, is still "ok".

/** The stats' `sheets` figures this line reads; each null while the keeper has not reported it. */
export interface SheetsStatus {
  readonly ranges_failing?: number | null;
  readonly max_stale_seconds?: number | null;
  readonly journal_backlog?: number | null;
  readonly journal_oldest_seconds?: number | null;
  readonly journal_writable?: boolean | null;
  readonly journal_appends_refused?: number | null;
  readonly redis_connected?: boolean | null;
  /** What Redis refuses the keeper (a refusal's kind), null while it refuses nothing. */
  readonly redis_refused?: string | null;
}

/** What a refusal's kind (redis/refusal.ts) says Redis refuses, as the status line says it. */
const REFUSED: Readonly<Record<string, string>> = {
  login: 'the login of REDIS_URL',
  database: 'the database in REDIS_URL',
  scripts: "the keeper's scripts",
  keys: "the keeper's keys",
  writes: 'writes (memory full, or a replica?)',
  command: 'a command of the keeper',
};

/**
 * Why this host does not share through Redis. Redis refusing (a wrong password, memory full) is
 * not Redis down: the line names the refusal and the log line that holds its fix, where it said
 * "Redis down ... (redis.unavailable in the log)" of a Redis that answered, and the log held none.
 */
function redisDownPart(refused: string | null | undefined): string {
  if (typeof refused === 'string') return `Redis refuses ${REFUSED[refused] ?? refused}: this host reads and spends quota alone (redis.misconfigured in the log, with the fix)`;
  return 'Redis down: this host reads and spends quota alone (redis.unavailable in the log)';
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * One line, or undefined when no keeper reported figures (an app without Sheets, or a keeper not
 * yet started): `sheets: Google answering, journal empty, Redis connected`, and what is wrong
 * when something is. `keeperExtra`: the keeper's heartbeat figures (its `backend`, google or
 * offline, `journalFull`, the backlog at SHEETS_JOURNAL_MAX_MB, and `journalSyncStuckSeconds`, a
 * write of the journal that hangs).
 */
export function sheetsStatusLine(
  s: SheetsStatus | undefined,
  keeperExtra: Readonly<Record<string, unknown>> = {},
  keeper?: { readonly heartbeat_late?: boolean; readonly last_beat_s_ago?: number | null } | null,
): string | undefined {
  if (!s || [s.ranges_failing, s.journal_backlog, s.journal_writable, s.redis_connected].every((v) => v === null || v === undefined)) return undefined;
  const parts: string[] = [];
  // The keeper's backend (its heartbeat's `backend`): the offline sample sheet is no Google.
  const source = keeperExtra.backend === 'offline' ? 'the offline sheet' : 'Google';
  if (typeof s.ranges_failing === 'number') {
    const stale = typeof s.max_stale_seconds === 'number' && s.max_stale_seconds > 0 ? `, answers up to ${Math.round(s.max_stale_seconds)} s stale` : '';
    parts.push(s.ranges_failing > 0 ? `${source} failing for ${plural(s.ranges_failing, 'range')}${stale}` : `${source} answering`);
  }
  if (typeof s.journal_backlog === 'number') {
    const oldest = typeof s.journal_oldest_seconds === 'number' && s.journal_oldest_seconds > 0 ? ` (oldest ${Math.round(s.journal_oldest_seconds)} s)` : '';
    parts.push(s.journal_backlog > 0 ? `journal ${plural(s.journal_backlog, 'row')} not yet in the sheet${oldest}` : 'journal empty');
  }
  const stuckSeconds = typeof keeperExtra.journalSyncStuckSeconds === 'number' ? keeperExtra.journalSyncStuckSeconds : 0;
  if (stuckSeconds > 0) {
    // A disk that hangs is not full nor read-only: what to look at differs.
    parts.push(`journal write HANGS for ${stuckSeconds} s (a dead network mount or a failing drive? see journal.sync_stuck in the log), new writes refused`);
  } else if (s.journal_writable === false) {
    const refused = typeof s.journal_appends_refused === 'number' ? `, ${plural(s.journal_appends_refused, 'write')} refused` : '';
    parts.push(`journal NOT WRITABLE (disk full or read-only? see journal.write_failed in the log${refused})`);
  }
  if (keeperExtra.journalFull === true) {
    const max = typeof keeperExtra.journalBacklogMaxBytes === 'number' ? ` (SHEETS_JOURNAL_MAX_MB, ${Math.round(keeperExtra.journalBacklogMaxBytes / 1048576)} MiB)` : '';
    parts.push(`journal FULL: new writes refused until the sheet takes the backlog${max}, journal.backlog_full in the log`);
  }
  if (s.redis_connected === true) parts.push('Redis connected');
  else if (s.redis_connected === false) parts.push(redisDownPart(s.redis_refused));
  // These are the keeper's figures of its last heartbeat: a keeper whose loop is blocked (or that
  // was stopped) still read "Google answering, journal empty" under "health degraded: keeper not
  // beating", while every read its workers' copies missed failed. Said as the last known.
  const late = keeper?.heartbeat_late === true ? ` (as of the keeper's last heartbeat${typeof keeper.last_beat_s_ago === 'number' ? `, ${Math.round(keeper.last_beat_s_ago)} s ago` : ''}: it is not beating)` : '';
  return `sheets: ${parts.join(', ')}${late}`;
}
