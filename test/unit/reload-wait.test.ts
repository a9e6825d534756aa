// `corral reload --wait` against a fake admin API on loopback that answers where a reload stands,
// as a master does: how long it keeps waiting, and when it gives up.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { deadlineAfter, waitForReloadEnd, type ReloadStanding } from '../../src/cli/reload-wait.js';
import { RESTART_HOW, restartNeededText, unfinishedText } from '../../src/cli/reload-words.js';
import { ERROR_CODES } from '../../src/errors.js';

const IDLE: ReloadStanding = { master_pid: process.pid, in_progress_generation: null, in_progress_bound_ms: null, queued: false, last: null, stopping: false } as ReloadStanding;
const ended = (seq: number): ReloadStanding => ({ ...IDLE, last: { seq, outcome: 'rolled_back', generation: 1, code: 'CORRAL_ERR_APP_LOAD' } });

test('the deadline moves to where the bound of a reload in progress ends, never earlier; nothing moves it without a reload in progress or a bound', () => {
  const inProgress = { in_progress_generation: 2, in_progress_bound_ms: 5_000 };
  assert.equal(deadlineAfter(10_000, inProgress, 8_000), 13_000);
  assert.equal(deadlineAfter(20_000, inProgress, 8_000), 20_000, 'the first bound holds while longer');
  assert.equal(deadlineAfter(10_000, { in_progress_generation: 2, in_progress_bound_ms: 0 }, 8_000), 10_000, 'a bound run out moves nothing');
  assert.equal(deadlineAfter(10_000, { in_progress_generation: null, in_progress_bound_ms: 5_000 }, 8_000), 10_000);
  assert.equal(deadlineAfter(10_000, { in_progress_generation: 2, in_progress_bound_ms: null }, 8_000), 10_000);
  assert.equal(deadlineAfter(10_000, { in_progress_generation: 2 }, 8_000), 10_000, 'an older corral gives no bound: the first one holds');
});

/** What the fake master answers now: set by each test. */
let answer: () => ReloadStanding = () => IDLE;
let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    if (req.url !== '/api/admin/reload') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ success: true, ...answer() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('a reload that keeps making progress is followed past the first bound to its end', async () => {
  const start = Date.now();
  // Each step renews a 600 ms bound, three times the first one; it ends after 2.4 s.
  answer = () => {
    const t = Date.now() - start;
    if (t >= 2400) return ended(1);
    return { ...IDLE, in_progress_generation: 2, in_progress_bound_ms: 600 - (t % 600) };
  };
  const end = await waitForReloadEnd(base, process.pid, IDLE, 200);
  assert.equal(end.kind, 'ended', JSON.stringify(end));
  assert.ok(Date.now() - start >= 2400);
});

test('a reload in progress whose bound passes without progress ends the wait, once the bound has passed and not before', async () => {
  const start = Date.now();
  // One step at the start, good for 1.5 s, then nothing more.
  answer = () => ({ ...IDLE, in_progress_generation: 2, in_progress_bound_ms: Math.max(0, 1500 - (Date.now() - start)) });
  const end = await waitForReloadEnd(base, process.pid, IDLE, 300);
  const waited = Date.now() - start;
  assert.equal(end.kind, 'timeout');
  assert.ok(end.kind === 'timeout' && end.standing?.in_progress_generation === 2);
  assert.ok(waited >= 1500, `gave up after ${waited} ms, within the master's bound`);
  assert.ok(waited < 1500 + 1500, `waited ${waited} ms, well past the bound`);
});

test('a master of an older corral, which gives no bound: the first bound alone, as before', async () => {
  const start = Date.now();
  answer = () => {
    const { in_progress_bound_ms: _none, ...older } = { ...IDLE, in_progress_generation: 2 };
    return older as ReloadStanding;
  };
  const end = await waitForReloadEnd(base, process.pid, IDLE, 800);
  const waited = Date.now() - start;
  assert.equal(end.kind, 'timeout');
  assert.ok(waited >= 800 && waited < 800 + 1500, `waited ${waited} ms for a bound of 800`);
});

test('what a reload left until a restart: the settings and the log lines that say more; a moved pidfile says how to stop the master it does not name', () => {
  const last = { seq: 1, outcome: 'completed', generation: 2, code: null, restart_needed: ['CORRAL_ACCEPT'], at: '' } as unknown as Parameters<typeof restartNeededText>[0];
  assert.equal(restartNeededText(last), `not applied until a restart (${RESTART_HOW}): CORRAL_ACCEPT (config.restart_needed in the log says what runs and what is configured)`);
  const moved = { ...last, restart_needed: ['CORRAL_PIDFILE'] } as Parameters<typeof restartNeededText>[0];
  assert.match(restartNeededText(moved) ?? '', /CORRAL_PIDFILE \(config\.restart_needed .*\); the running master is at the CORRAL_PIDFILE it started with: stop it with that one in the environment \(CORRAL_PIDFILE=<old path> corral stop\), or with systemctl$/);
  assert.equal(restartNeededText({ ...last, restart_needed: [] } as Parameters<typeof restartNeededText>[0]), undefined);
});

// README (Errors and exit codes): every failure a command prints has a stable code. A wait cut
// short by a stop, the master's exit or the bound said why with none.
test('a wait that ends before the reload did says why with its code: a stop began, the master exited, the bound passed', () => {
  const timeout = { kind: 'timeout', standing: { ...IDLE, in_progress_generation: 3 }, why: undefined, waitedMs: 154_000 } as const;
  for (const [end, code, says] of [
    [{ kind: 'stopping' }, 'CORRAL_ERR_MASTER_STOPPING', 'corral began to stop (master pid 42) before the reload ended: it was dropped or cut short'],
    [{ kind: 'master-gone' }, 'CORRAL_ERR_RELOAD_UNFINISHED', 'the master (pid 42) exited before the reload ended; its log says why'],
    [timeout, 'CORRAL_ERR_RELOAD_UNFINISHED', 'the reload had not ended after 154 s, past its bound without progress: generation 3 is still booting or the old workers still drain; it goes on'],
  ] as const) {
    assert.ok(code in ERROR_CODES, code);
    const text = unfinishedText(end, 42);
    assert.ok(text.startsWith(`[${code}] ${says}`), text);
  }
});
