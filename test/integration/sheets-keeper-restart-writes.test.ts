// The keeper restarts, on purpose (a reload that changes a keeper setting) or not (kill -9): writes
// made meanwhile wait for the new keeper instead of failing. With the real master, the bundled app
// and the emulator, clients post events over keep-alive connections through the whole restart;
// every one is answered 201, and every acknowledged event reaches the sheet exactly once.

import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from 'undici';
import { startEmulator } from '../../src/sheets/emulator/index.js';
import { waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { startWithEmulator } from '../helpers/sheets-load.js';

const CLIENTS = 8;
type Corral = Awaited<ReturnType<typeof startWithEmulator>>;

/** A player's session token, from the bundled app's login. */
async function loginToken(url: string): Promise<string> {
  const login = await http(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Alice Martin', code: 'P001' }) });
  assert.equal(login.status, 200, login.text);
  return login.json<{ token: string }>().token;
}

/** One event posted on `agent`'s keep-alive connections; a transport failure is status 0. */
function postEvent(url: string, agent: Agent, token: string, kind: string, detail: string, headers: Record<string, string> = {}) {
  return http(`${url}/api/events`, {
    method: 'POST',
    dispatcher: agent,
    timeoutMs: 30_000,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ kind, detail }),
  }).catch((err: Error) => ({ status: 0, text: err.message, json: () => ({}) as { id?: string } }));
}

/**
 * Clients post events through `restart`, which returns when it began and when the new keeper was
 * ready; every write is answered 201 and reaches the sheet once.
 */
async function writesThrough(restart: (c: Corral, envFile: string) => Promise<{ startedAt: number; readyAt: number }>): Promise<void> {
  const emu = await startEmulator();
  const dir = mkdtempSync(join(tmpdir(), 'corral-keeper-writes-'));
  const envFile = join(dir, 'corral.env');
  writeFileSync(envFile, 'SHEET_CACHE_TTL=30\n');
  // A keeper killed while its append was on its way leaves those entries unsure: the next one reads
  // the sheet back before resending them, no sooner than SHEETS_UNSURE_DELAY (default 60 s) after
  // the send, in case Google applies it late. Under load the kill often lands on a flush in flight,
  // and the rows it held reached the sheet after this test's 30 s wait (2 of 8 runs, 70 of 118).
  const c = await startWithEmulator(emu, 2, { CORRAL_ENV_FILE: envFile, CORRAL_RATE_LIMIT: '0', SHEETS_FLUSH_INTERVAL_MS: '100', SHEETS_UNSURE_DELAY: '2' }, { bundledApp: true });
  const agent = new Agent({ connections: CLIENTS, keepAliveTimeout: 30_000 });
  let stopped = false;
  const answers: { status: number; text: string; sentAt: number; answeredAt: number; id?: string }[] = [];
  try {
    const token = await loginToken(c.url);
    let n = 0;
    const client = async (i: number) => {
      while (!stopped) {
        const sentAt = Date.now();
        // Half the clients send an Idempotency-Key: the link's retries must not trip over it either.
        const key: Record<string, string> = i % 2 === 0 ? { 'idempotency-key': `restart-${i}-${n}` } : {};
        const r = await postEvent(c.url, agent, token, 'restart-test', `client ${i} write ${n++}`, key);
        answers.push({ status: r.status, text: r.text.slice(0, 200), sentAt, answeredAt: Date.now(), ...(r.status === 201 ? { id: r.json<{ id: string }>().id } : {}) });
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
    await waitFor(() => answers.length >= 50, 20_000, 'writes before the reload');

    const { startedAt, readyAt } = await restart(c, envFile);
    const doneCount = answers.length;
    await waitFor(() => answers.length >= doneCount + 50, 20_000, 'writes after the restart');
    stopped = true;
    await Promise.all(clients);

    // Each client had a write on its way while the old keeper drained and the new one booted.
    const during = answers.filter((a) => a.sentAt <= readyAt && a.answeredAt >= startedAt).length;
    assert.ok(during >= CLIENTS, `writes were on their way while the keeper restarted (${during})`);
    const failed = answers.filter((a) => a.status !== 201);
    assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${answers.length} writes not answered 201`);

    // Every acknowledged event reaches the sheet once: none lost, none doubled by a retry.
    const ids = answers.map((a) => a.id!);
    assert.equal(new Set(ids).size, ids.length, 'each 201 names its own event');
    const inSheet = () => (emu.getSheet(emu.spreadsheetId, 'Events') ?? []).filter((row) => row[2] === 'restart-test').map((row) => row[0]!);
    await waitFor(() => inSheet().length >= ids.length, 30_000, `all ${ids.length} events in the sheet (${inSheet().length})`);
    const rows = inSheet();
    assert.equal(rows.length, ids.length, 'no event twice');
    assert.deepEqual(new Set(rows), new Set(ids));
  } finally {
    stopped = true;
    await agent.close();
    await c.stop();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('writes during a reload that restarts the keeper are all answered 201, and each reaches the sheet once', () =>
  writesThrough(async (c, envFile) => {
    appendFileSync(envFile, 'SHEET_CACHE_TTL=20\n');
    const startedAt = Date.now();
    c.kill('SIGHUP');
    const restart = await c.waitForLog((l) => l.event === 'keeper.restart', 20_000, 'keeper.restart');
    assert.deepEqual(restart.changed, ['SHEET_CACHE_TTL']);
    await c.waitForLog((l) => l.event === 'keeper.ready' && l.ttl === 20, 30_000, 'the new keeper');
    const readyAt = Date.now();
    await c.waitForLog((l) => l.event === 'reload.done', 30_000, 'reload.done');
    return { startedAt, readyAt };
  }));

test('writes while a killed keeper is replaced are all answered 201, and each reaches the sheet once', () =>
  writesThrough(async (c) => {
    // The master's line names the keeper's pid (the keeper logs one of its own, without it).
    const ready = (l: Record<string, unknown>) => l.event === 'keeper.ready' && typeof l.worker_pid === 'number';
    const pid = Number((await c.waitForLog(ready, 30_000, 'keeper.ready')).worker_pid);
    const startedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await c.waitForLog((l) => ready(l) && l.worker_pid !== pid, 30_000, 'the new keeper');
    return { startedAt, readyAt: Date.now() };
  }));

test('a stop during a reload that restarts the keeper: the writes on their way get the new keeper (201, in the sheet once), none waits out the restart for a 503', async (t) => {
  const emu = await startEmulator();
  const dir = mkdtempSync(join(tmpdir(), 'corral-keeper-stop-'));
  const envFile = join(dir, 'corral.env');
  writeFileSync(envFile, 'SHEET_CACHE_TTL=30\n');
  const c = await startWithEmulator(emu, 2, { CORRAL_ENV_FILE: envFile, CORRAL_RATE_LIMIT: '0', SHEETS_FLUSH_INTERVAL_MS: '100' }, { bundledApp: true });
  const agent = new Agent({ connections: CLIENTS, keepAliveTimeout: 30_000 });
  let stopped = false;
  const answers: { status: number; text: string; id?: string }[] = [];
  try {
    const token = await loginToken(c.url);
    let n = 0;
    // Each client writes until its connection is refused: the workers have closed their listeners.
    const client = async (i: number) => {
      while (!stopped) {
        const r = await postEvent(c.url, agent, token, 'stop-test', `client ${i} write ${n++}`);
        answers.push({ status: r.status, text: r.text.slice(0, 200), ...(r.status === 201 ? { id: r.json<{ id: string }>().id } : {}) });
        if (r.status === 0) return;
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
    await waitFor(() => answers.length >= 50, 20_000, 'writes before the reload');
    appendFileSync(envFile, 'SHEET_CACHE_TTL=20\n');
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'keeper.restart', 20_000, 'keeper.restart');
    c.kill('SIGTERM');
    const exit = await c.exited;
    stopped = true;
    await Promise.all(clients);
    assert.equal(exit.code, 0, c.stderr());
    // The new keeper was started for the draining workers, and drained after them. Under load the
    // workers may instead answer every write in flight through the first keeper and exit before it
    // does: no write waits then, and none is needed. The master's own lines say which: a worker
    // that exited after the first keeper did was there, its writes waiting, when it left.
    // Forked, as the master says it (keeper.boot): the last worker may still exit before it is ready.
    const keepers = c.events('keeper.boot');
    const lines = c.logs();
    const firstKeeperExit = lines.findIndex((l) => l.event === 'keeper.exit');
    const lastWorkerExit = lines.length - 1 - [...lines].reverse().findIndex((l) => l.event === 'worker.exit');
    const t0 = Date.parse(String(lines[0]?.time));
    const timeline = () => lines.filter((l) => /^(keeper|shutdown|reload|worker\.(exit|draining))/.test(String(l.event))).map((l) => `${Date.parse(String(l.time)) - t0} ${l.pid} ${l.event}`).join(', ');
    if (lastWorkerExit > firstKeeperExit) assert.equal(keepers.length, 2, `a worker outlived the first keeper: the one the reload restarts was forked during the stop, for its writes (${timeline()})`);
    else t.diagnostic(`every worker exited before the first keeper (${keepers.length} keeper${keepers.length === 1 ? '' : 's'} forked): no write waited for the new one`);
    const unanswered = answers.filter((a) => a.status !== 201 && a.status !== 0);
    assert.deepEqual(unanswered.slice(0, 5), [], `${unanswered.length} of ${answers.length} writes answered neither 201 nor cut by the stop`);
    // Every acknowledged event is in the sheet, once: the keeper sent them before the master exited.
    const ids = answers.filter((a) => a.id !== undefined).map((a) => a.id!);
    const rows = (emu.getSheet(emu.spreadsheetId, 'Events') ?? []).filter((row) => row[2] === 'stop-test').map((row) => row[0]!);
    // Said with what the keepers said at their drain (rows left in the journal, how long it took),
    // so a miss tells a drain cut short from a row lost.
    const drained = () => JSON.stringify(c.logs().filter((l) => l.event === 'keeper.drained' || l.event === 'journal.replayed').map((l) => ({ pid: l.pid, event: l.event, msg: l.msg, pending: l.pending, unsure: l.unsure })));
    // And whether the missing ones wait in the journal (sent at the next start) or are gone.
    const missing = ids.filter((id) => !rows.includes(id));
    const journalPath = join(c.dataDir, 'sheets.journal');
    const journal = existsSync(journalPath) ? readFileSync(journalPath, 'utf8') : '';
    // Rows of writes not acknowledged (cut by the stop), and rows twice, with what their clients saw.
    const unacknowledged = rows.filter((id) => !ids.includes(id));
    const twice = rows.length - new Set(rows).size;
    const cut = answers.filter((a) => a.status !== 201).map((a) => `${a.status} ${a.text.slice(0, 60)}`);
    assert.equal(rows.length, ids.length, `each acknowledged event once; ${missing.length} missing, ${missing.filter((id) => journal.includes(id)).length} of them in the journal; ${unacknowledged.length} rows not acknowledged, ${twice} rows twice; answers not 201: ${JSON.stringify(cut.slice(0, 12))}; the keepers: ${drained()}`);
    assert.deepEqual(new Set(rows), new Set(ids));
  } finally {
    stopped = true;
    await agent.close();
    await c.stop();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
