// A large write-journal backlog and the keeper's process (audit F3): Google answering 503 for long
// while appends kept being acknowledged made a keeper that could not restart (killed as silent
// while it replayed, its boot error blaming the app), ran out of heap (SIGABRT, said nowhere but
// stderr), or could not open a journal over 2 GiB. The real master, keeper and a worker here.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client, request } from 'undici';
import { encodeRecord } from '../../src/sheets/keeper/journal-scan.js';
import { keeperSocketPath } from '../../src/sheets/keeper/socket-path.js';
import { CORRAL_BIN, startCorral, waitFor, type CorralProcess, type LogLine } from '../helpers/corral.js';

function workDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `corral-backlog-${name}-`));
}

async function keeperFigures(dataDir: string): Promise<Record<string, unknown>> {
  const client = new Client('http://keeper', { socketPath: keeperSocketPath(dataDir) });
  try {
    const res = await client.request({ method: 'GET', path: '/figures' });
    return (await res.body.json()) as Record<string, unknown>;
  } finally {
    await client.close();
  }
}

/** The master's line for a keeper that became ready (it carries the pid and the boot time). */
const keeperReady = (l: LogLine) => l.event === 'keeper.ready' && typeof l.boot_ms === 'number';

describe('write journal backlog and the keeper process', () => {
  it('at SHEETS_JOURNAL_MAX_MB appends are refused unacknowledged, said once, and a keeper restarted after kill -9 replays every acknowledged row and keeps refusing', async () => {
    const dir = workDir('cap');
    let c: CorralProcess | undefined;
    try {
      // The offline sheet has no tab "Gone": every append of it is refused, so rows stay journaled.
      c = await startCorral({ cwd: dir, app: 'sheets-app.mjs', workers: 1, env: { SHEETS_JOURNAL_MAX_MB: '1', SHEETS_FLUSH_INTERVAL_MS: '100', CORRAL_ACCESS_LOG: 'false' } });
      const corral = c;
      await corral.waitForLog(keeperReady, 30_000, 'keeper.ready');
      const append = async (i: number) => {
        const rows = Array.from({ length: 10 }, (_, j) => [`cap-${i}-${j}`, 'P001', 'goal', 'x'.repeat(10_000), '2024-07-01']);
        const res = await request(`${corral.url}/append`, { method: 'POST', body: JSON.stringify({ range: 'Gone', rows }) });
        return { status: res.statusCode, body: (await res.body.json()) as { code?: string } };
      };
      let acked = 0;
      let refused: { status: number; body: { code?: string } } | undefined;
      for (let i = 0; i < 40 && !refused; i++) {
        const r = await append(i);
        if (r.status === 201) acked += 10;
        else refused = r;
      }
      // 1 MiB of 100 KB appends: the eleventh is refused, before it is journaled.
      assert.equal(acked, 110);
      assert.equal(refused?.body.code, 'CORRAL_ERR_JOURNAL_FULL');
      assert.equal((await append(100)).body.code, 'CORRAL_ERR_JOURNAL_FULL');
      const full = await corral.waitForLog((l) => l.event === 'journal.backlog_full', 10_000, 'journal.backlog_full');
      assert.deepEqual([full.level, full.code, full.path, full.max_bytes, full.backlog_rows], ['error', 'CORRAL_ERR_JOURNAL_FULL', join(corral.dataDir, 'sheets.journal'), 1048576, 110]);
      assert.equal(corral.events('journal.backlog_full').length, 1, 'said once, not per refusal');
      const figures = await keeperFigures(corral.dataDir);
      assert.deepEqual([figures.journalBacklogRows, figures.journalFull, figures.journalAppendsRefusedFull], [110, true, 2]);
      // Health says it (degraded, still 200: reads go on), and so does `corral status` without a token.
      await waitFor(async () => {
        const h = (await (await request(`${corral.adminUrl}/api/admin/health`)).body.json()) as { status: string; journal?: string };
        return h.status === 'degraded' && h.journal === 'full';
      }, 10_000, 'health degraded with journal full');
      const status = spawnSync(process.execPath, [CORRAL_BIN, 'status'], { env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: corral.pidFile, CORRAL_ADMIN_BIND: new URL(corral.adminUrl ?? '').host }, encoding: 'utf8', timeout: 30_000 });
      assert.match(status.stdout, /1\/1 workers ready \(degraded: journal full: events refused\)/, status.stderr);

      const first = await corral.waitForLog(keeperReady, 1000, 'keeper.ready');
      process.kill(first.worker_pid as number, 'SIGKILL');
      await waitFor(() => corral.logs().filter(keeperReady).length >= 2, 60_000, 'a second keeper.ready');
      const replayed = await keeperFigures(corral.dataDir);
      assert.equal(replayed.journalBacklogRows, 110, 'every acknowledged row replayed');
      assert.equal((await append(101)).body.code, 'CORRAL_ERR_JOURNAL_FULL');
    } finally {
      await c?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a keeper whose journal takes longer than CORRAL_TIMEOUT to replay boots, beating all along, and is not killed', async () => {
    const dir = workDir('replay');
    let c: CorralProcess | undefined;
    try {
      // 96 MiB of 100-row appends, as a long outage leaves them (no sheet recorded: taken as this one).
      // CORRAL_TIMEOUT=3: at 2, a loaded CI box once held the replaying keeper's loop 2.2 s (a
      // slice of rows, or the collector, with the cores busy elsewhere), which is no part of what
      // this shows: a boot several times CORRAL_TIMEOUT long that beats all along.
      const dataDir = join(dir, 'data');
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const fd = openSync(join(dataDir, 'sheets.journal'), 'w', 0o600);
      let bytes = 0;
      let entries = 0;
      for (; bytes < 96 * 1048576; entries++) {
        const rows = Array.from({ length: 100 }, (_, j) => [`old-${entries}-${j}`, 'P001', 'goal', 'detail '.repeat(5), '2024-07-01T12:00:00Z']);
        const line = encodeRecord({ k: 'add', id: `entry-${entries}`, r: 'Gone', rows, at: Date.now() });
        bytes += writeSync(fd, line);
      }
      closeSync(fd);
      c = await startCorral({ cwd: dir, app: 'sheets-app.mjs', workers: 1, readyTimeoutMs: 120_000, env: { CORRAL_TIMEOUT: '3', CORRAL_ACCESS_LOG: 'false' } });
      const ready = await c.waitForLog(keeperReady, 120_000, 'keeper.ready');
      // While it booted. Once ready, the first flush of 96 MiB of rows may hold its loop past a
      // CORRAL_TIMEOUT this short on a loaded machine, which is no part of the boot's claim.
      const beforeReady = (l: Record<string, unknown>) => Date.parse(String(l.time)) <= Date.parse(String(ready.time));
      assert.deepEqual(c.events('keeper.timeout').filter(beforeReady), [], 'never killed as silent while it replayed');
      assert.deepEqual(c.events('keeper.exit').filter(beforeReady), []);
      assert.equal(ready.worker_pid, c.events('keeper.boot')[0]?.worker_pid, 'the first keeper started is the one ready');
      // Its boot outlasted CORRAL_TIMEOUT: only its beats while it replayed kept it alive.
      assert.ok((ready.boot_ms as number) > 3000, `boot took ${String(ready.boot_ms)} ms`);
      const replayed = await c.waitForLog((l) => l.event === 'journal.replayed', 1000, 'journal.replayed');
      assert.equal(replayed.pending, entries);
    } finally {
      await c?.stop(60_000);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a keeper that aborts (SIGABRT, as V8 out of heap) is said to have likely run out of heap, with how to raise it, and is restarted', async () => {
    const dir = workDir('abort');
    let c: CorralProcess | undefined;
    try {
      const token = 'backlog-abort-admin-token-0123456789';
      c = await startCorral({ cwd: dir, app: 'sheets-app.mjs', workers: 1, env: { CORRAL_ACCESS_LOG: 'false', CORRAL_ADMIN_TOKEN: token } });
      const corral = c;
      const first = await corral.waitForLog(keeperReady, 30_000, 'keeper.ready');
      // A beat with its figures (heap, journal) at the master, which the exit line reads: waited
      // for, not a fixed 1.5 s after the ready line, which a loaded box's beats may outlast.
      await waitFor(async () => {
        const res = await request(`${corral.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${token}` } });
        const stats = (await res.body.json()) as { keeper: { pid: number; heap_used_bytes: number | null; extra: Record<string, unknown> } | null };
        const k = stats.keeper;
        return k !== null && k.pid === first.worker_pid && k.heap_used_bytes !== null && typeof k.extra.journalBytes === 'number';
      }, 15_000, "the keeper's heap and journal figures at the master");
      process.kill(first.worker_pid as number, 'SIGABRT');
      const exit = await corral.waitForLog((l) => l.event === 'keeper.exit', 15_000, 'keeper.exit');
      assert.deepEqual([exit.level, exit.signal, exit.likely], ['error', 'SIGABRT', 'out_of_heap']);
      assert.match(String(exit.msg), /likely out of heap memory \(V8's "Reached heap limit" goes to stderr only, [\d.]+ MiB of heap in use at its last heartbeat, its journal [\d.]+ MiB\)/);
      assert.match(String(exit.msg), /NODE_OPTIONS=--max-old-space-size=<MiB>.*SHEETS_JOURNAL_MAX_MB/);
      await waitFor(() => corral.logs().filter(keeperReady).length >= 2, 60_000, 'the keeper restarted');
    } finally {
      await c?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
