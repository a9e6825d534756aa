import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sheetsStatusLine } from '../../src/cli/commands/status-sheets.js';

const healthy = { ranges_failing: 0, max_stale_seconds: 0, journal_backlog: 0, journal_oldest_seconds: 0, journal_writable: true, journal_appends_refused: 0, redis_connected: null };

describe("corral status's sheets line", () => {
  it('is absent while no keeper reported (an app without Sheets, a keeper not started yet)', () => {
    assert.equal(sheetsStatusLine(undefined), undefined);
    assert.equal(sheetsStatusLine({ ranges_failing: null, journal_backlog: null, journal_writable: null, redis_connected: null }), undefined);
  });

  it('says all is well in a few words, naming the backend the keeper reads', () => {
    assert.equal(sheetsStatusLine(healthy, { backend: 'google' }), 'sheets: Google answering, journal empty');
    assert.equal(sheetsStatusLine(healthy, { backend: 'offline' }), 'sheets: the offline sheet answering, journal empty');
    assert.equal(sheetsStatusLine({ ...healthy, redis_connected: true }, { backend: 'google' }), 'sheets: Google answering, journal empty, Redis connected');
  });

  it('says what is wrong: Google failing and how stale, rows waiting and how long, a journal that cannot be written or is full, Redis down', () => {
    const line = sheetsStatusLine(
      { ranges_failing: 2, max_stale_seconds: 41.6, journal_backlog: 12, journal_oldest_seconds: 30.2, journal_writable: false, journal_appends_refused: 3, redis_connected: false },
      { backend: 'google', journalFull: true, journalBacklogMaxBytes: 256 * 1048576 },
    );
    assert.equal(
      line,
      'sheets: Google failing for 2 ranges, answers up to 42 s stale, journal 12 rows not yet in the sheet (oldest 30 s), ' +
        'journal NOT WRITABLE (disk full or read-only? see journal.write_failed in the log, 3 writes refused), ' +
        'journal FULL: new writes refused until the sheet takes the backlog (SHEETS_JOURNAL_MAX_MB, 256 MiB), journal.backlog_full in the log, ' +
        'Redis down: this host reads and spends quota alone (redis.unavailable in the log)',
    );
    assert.match(sheetsStatusLine({ ...healthy, ranges_failing: 1, journal_backlog: 1, journal_oldest_seconds: 0 }, { backend: 'google' }) ?? '', /failing for 1 range, journal 1 row not yet in the sheet$/);
  });

  it('says a journal write that hangs as such, not as a full or read-only disk', () => {
    const line = sheetsStatusLine({ ...healthy, journal_writable: false, journal_appends_refused: 4 }, { backend: 'google', journalSyncStuckSeconds: 37 });
    assert.equal(line, 'sheets: Google answering, journal empty, journal write HANGS for 37 s (a dead network mount or a failing drive? see journal.sync_stuck in the log), new writes refused');
  });

  it('says what Redis refuses, and that redis.misconfigured holds the fix, when an answering Redis refuses the keeper: not "Redis down"', () => {
    const line = (refused: string) => sheetsStatusLine({ ...healthy, redis_connected: false, redis_refused: refused }, { backend: 'google' });
    assert.equal(line('login'), 'sheets: Google answering, journal empty, Redis refuses the login of REDIS_URL: this host reads and spends quota alone (redis.misconfigured in the log, with the fix)');
    assert.match(line('writes') ?? '', /Redis refuses writes \(memory full, or a replica\?\): .*\(redis\.misconfigured in the log, with the fix\)$/);
    assert.match(line('database') ?? '', /Redis refuses the database in REDIS_URL: /);
    assert.match(line('scripts') ?? '', /Redis refuses the keeper's scripts: /);
    // Refusing nothing: Redis away.
    assert.match(sheetsStatusLine({ ...healthy, redis_connected: false, redis_refused: null }, { backend: 'google' }) ?? '', /Redis down: .*\(redis\.unavailable in the log\)$/);
  });

  it("says its figures are the last known while the keeper is not beating, not that the sheet answers now", () => {
    assert.equal(
      sheetsStatusLine(healthy, { backend: 'offline' }, { heartbeat_late: true, last_beat_s_ago: 6.3 }),
      "sheets: the offline sheet answering, journal empty (as of the keeper's last heartbeat, 6 s ago: it is not beating)",
    );
    assert.equal(sheetsStatusLine(healthy, { backend: 'google' }, { heartbeat_late: false, last_beat_s_ago: 0.4 }), 'sheets: Google answering, journal empty');
  });
});
