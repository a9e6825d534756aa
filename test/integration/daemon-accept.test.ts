// CORRAL_ACCEPT: who accepts connections. round-robin = the master accepts each one and passes it
// to a worker over IPC; shared = every worker accepts on the master's socket itself, as gunicorn's
// workers do. CORRAL_BACKLOG sizes that socket's queue.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from 'undici';
import { ROOM_WANTED_MS } from '../../src/worker/connection-gauge.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { ANSWERED_GRACE_MS } from '../../src/worker/idle-connections.js';

interface Answer {
  readonly status: number;
  readonly pid: number;
}

/** GET on a connection of its own (no pooling): the accept path is exercised every time. */
function getOnNewConnection(url: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, pid: (JSON.parse(text) as { pid: number }).pid }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** The listening socket's backlog as the kernel holds it (ss shows it as Send-Q of a LISTEN socket). */
function listenBacklog(port: number): number {
  const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
  const fields = out.split(/\s+/);
  assert.equal(fields[0], 'LISTEN', `ss: ${out}`);
  return Number(fields[2]);
}

const portOf = (c: CorralProcess) => Number(new URL(c.url).port);
const ADMIN_TOKEN = 'accept-test-admin-token-0123456789';

/**
 * A keep-alive connection that has had one answer and stays open: its status and the pid that
 * answered. `busy` (the default): it has begun its next request, so it is not idle and does not
 * give its slot to a new connection at the cap (tests using it set CORRAL_HEADERS_TIMEOUT and
 * CORRAL_REQUEST_TIMEOUT above their own length).
 */
async function holdConnection(port: number, busy = true): Promise<{ socket: Socket; status: number; pid: number }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write('GET / HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n');
  const text = await new Promise<string>((resolve, reject) => {
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString();
      // The app's answer names its pid; a 503 "server full" ends with its retry hint.
      if (/"pid":\d+|"retry_after":\d+/.test(buf)) resolve(buf);
    });
    socket.once('error', reject);
  });
  const status = Number(text.split(' ')[1]);
  socket.on('error', () => undefined);
  if (busy && status === 200) socket.write('GET / HTTP/1.1\r\n');
  return { socket, status, pid: Number(/"pid":(\d+)/.exec(text)?.[1] ?? 0) };
}

/**
 * Waits until the workers count `n` open connections, none idle (their heartbeats, in the capacity
 * answer): a held connection is busy only once its worker has read its next request's first bytes.
 * Only heartbeats sent after this call count: the capacity answer is the workers' last beat, and a
 * beat from before connections were closed and opened again showed the old ones, all busy, while a
 * new one was still idle (the second fresh-clone CI of 2026-11-26: its third connection then took
 * that idle one's slot and got 200).
 */
async function allCountedBusy(c: CorralProcess, n: number): Promise<boolean> {
  const since = Date.now();
  const auth = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
  /** What the last look saw, for the message when the wait fails. */
  let seen = 'nothing yet';
  try {
    return await waitFor(
      async () => {
        const stats = (await http(`${c.adminUrl}/api/admin/stats`, auth)).json<{ workers: { role: string; pid: number; last_beat_s_ago: number | null }[]; totals: { idle_connections_closed: number } }>();
        const asked = Date.now();
        const workers = stats.workers.filter((w) => w.role === 'worker');
        // last_beat_s_ago is rounded to a tenth of a second: 100 ms of margin.
        const fresh = workers.every((w) => w.last_beat_s_ago !== null && asked - w.last_beat_s_ago * 1000 - 100 > since);
        seen = `workers' last beats ${workers.map((w) => `${w.pid}: ${String(w.last_beat_s_ago)} s ago`).join(', ')} at ${asked - since} ms into the wait, ${stats.totals.idle_connections_closed} idle connections closed to admit others since start`;
        if (!fresh) return false;
        const cap = (await http(`${c.adminUrl}/api/admin/capacity`, auth)).json<{ capacity: { current_connections: number; idle_connections: number } }>().capacity;
        seen += `; capacity ${cap.current_connections} open, ${cap.idle_connections} idle`;
        return cap.current_connections === n && cap.idle_connections === 0;
      },
      10_000,
      `${n} connections busy, as the workers count them in a heartbeat sent since`,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (last seen: ${seen})`);
  }
}

/** A process's user + system CPU time, in clock ticks (1/100 s). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** With round-robin accept, a new connection is not answered while the master is stopped, and is once it runs. */
async function assertWaitsForMaster(c: CorralProcess): Promise<void> {
  c.kill('SIGSTOP');
  let pending: Promise<Answer>;
  try {
    pending = getOnNewConnection(`${c.url}/`, 15000);
    // The kernel completes the handshake, but nobody accepts the connection until the master runs.
    const early = await Promise.race([pending.then(() => 'answered'), new Promise((r) => setTimeout(r, 500, 'waiting'))]);
    assert.equal(early, 'waiting');
  } finally {
    c.kill('SIGCONT');
  }
  assert.equal((await pending).status, 200);
}

/** With shared accept, new connections are answered while the master is stopped. */
async function assertServedWithoutMaster(c: CorralProcess): Promise<void> {
  c.kill('SIGSTOP');
  try {
    for (let i = 0; i < 10; i++) assert.equal((await getOnNewConnection(`${c.url}/`, 5000)).status, 200);
  } finally {
    c.kill('SIGCONT');
  }
}

test('CORRAL_ACCEPT=shared (the default): workers accept on their own, so new connections are served while the master is stopped', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_BACKLOG: '77' } });
  try {
    assert.equal(listenBacklog(portOf(c)), 77);
    await assertServedWithoutMaster(c);
  } finally {
    await c.stop();
  }
});

test('CORRAL_ACCEPT=round-robin: the master deals every new connection, so none is served while it is stopped', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_ACCEPT: 'round-robin', CORRAL_BACKLOG: '91' } });
  try {
    assert.equal(listenBacklog(portOf(c)), 91);
    await assertWaitsForMaster(c);
  } finally {
    await c.stop();
  }
});

test('CORRAL_ACCEPT=shared: a worker stuck in a busy loop is handed no new connections; the others serve them all', async () => {
  // CORRAL_TIMEOUT long enough that the stuck worker is still there while the connections arrive.
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_ACCEPT: 'shared', CORRAL_TIMEOUT: '60', CORRAL_GRACEFUL_TIMEOUT: '1' } });
  const stuckClient = new Client(c.url, { keepAliveTimeout: 60_000, pipelining: 1 });
  try {
    const who = await stuckClient.request({ path: '/', method: 'GET' });
    const stuckPid = ((await who.body.json()) as { pid: number }).pid;
    const cpuBefore = cpuTicks(stuckPid);
    // The answer never comes (the loop spins until the worker is killed at stop()).
    stuckClient.request({ path: '/spin', method: 'GET' }).catch(() => {});
    // Spinning, not just sent: an idle worker never burns 300 ms of CPU.
    await waitFor(() => cpuTicks(stuckPid) - cpuBefore >= 30, 10_000, 'the worker spinning');
    const answers: Answer[] = [];
    for (let i = 0; i < 20; i++) answers.push(await getOnNewConnection(`${c.url}/`, 5000));
    assert.deepEqual(answers.map((a) => a.status), Array<number>(20).fill(200));
    assert.ok(answers.every((a) => a.pid !== stuckPid), `answered by ${[...new Set(answers.map((a) => a.pid))].join(', ')}; stuck: ${stuckPid}`);
  } finally {
    await stuckClient.destroy().catch(() => {});
    await c.stop();
  }
});

test('CORRAL_ACCEPT=shared: the host cap holds exactly across workers, whichever takes the connections, and a killed worker\'s connections stop counting', async () => {
  // 2 workers, a host cap of 4: the kernel may give all 4 to one worker, which then holds more
  // than an even share; the 5th connection is refused at once, not a heartbeat later.
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_ACCEPT: 'shared', CORRAL_MAX_CONNECTIONS: '4', CORRAL_KEEPALIVE: '120', CORRAL_HEADERS_TIMEOUT: '120', CORRAL_REQUEST_TIMEOUT: '120', CORRAL_RATE_LIMIT: '0', CORRAL_ADMIN_TOKEN: ADMIN_TOKEN } });
  const held: Socket[] = [];
  // A held connection is busy once its worker has read the next request's first bytes; until then
  // it is idle and gives its slot to a new client at the cap (the design, shown by the next test).
  // Under load a worker may read them after the next connection arrives: wait until the workers
  // count all four busy (their heartbeats, in the capacity answer) before asking for one more.
  const allBusy = () => allCountedBusy(c, 4);
  try {
    const port = portOf(c);
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const h = await holdConnection(port);
      held.push(h.socket);
      answers.push(h);
      assert.equal(h.status, 200, `connection ${i + 1} of 4`);
    }
    await allBusy();
    const fifth = await holdConnection(port);
    held.push(fifth.socket);
    assert.equal(fifth.status, 503, 'the 5th connection, at once');
    // Kill the worker holding the most of the 4 without letting it close anything: the master
    // gives its count back, so that many new connections are served again, and no more.
    const pids = answers.map((a) => a.pid);
    const victim = pids.sort((a, b) => pids.filter((p) => p === b).length - pids.filter((p) => p === a).length)[0] ?? 0;
    const freed = pids.filter((p) => p === victim).length;
    process.kill(victim, 'SIGKILL');
    await c.waitForLog((l) => l.event === 'worker.exit' && l.worker_pid === victim, 10_000, 'the killed worker\'s exit');
    await c.waitForLog((l) => l.event === 'worker.ready' && !pids.includes(Number(l.worker_pid)), 15_000, 'its replacement listening');
    for (let i = 0; i < freed; i++) {
      const h = await holdConnection(port);
      held.push(h.socket);
      assert.equal(h.status, 200, `new connection ${i + 1} of ${freed} after the kill`);
    }
    await allBusy();
    assert.equal((await holdConnection(port).then((h) => (held.push(h.socket), h))).status, 503, 'one more than the cap again');
  } finally {
    for (const s of held) s.destroy();
    await c.stop();
  }
});

test('CORRAL_ACCEPT=shared: at the host cap an idle connection gives its slot to a new one, and the host count stays exact', async () => {
  const c = await startCorral({
    app: 'basic.mjs',
    workers: 1,
    env: { CORRAL_ACCEPT: 'shared', CORRAL_MAX_CONNECTIONS: '2', CORRAL_KEEPALIVE: '120', CORRAL_HEADERS_TIMEOUT: '120', CORRAL_REQUEST_TIMEOUT: '120', CORRAL_RATE_LIMIT: '0', CORRAL_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  // A connection whose next request has begun is busy once the worker has read those bytes; until
  // then it is idle to the worker, and gives way to a connection that comes first. The worker's
  // idle count (its heartbeat, in the capacity answer) says when it has read them.
  const noneIdle = () => allCountedBusy(c, 2);
  const held: Socket[] = [];
  const hold = async (busy: boolean) => {
    const h = await holdConnection(portOf(c), busy);
    held.push(h.socket);
    return h;
  };
  try {
    const idle = [await hold(false), await hold(false)];
    const closed = idle.map((h) => new Promise<void>((resolve) => h.socket.once('close', () => resolve())));
    // Idle once ANSWERED_GRACE_MS has passed since their answers (counted from before the client read them).
    await new Promise((r) => setTimeout(r, ANSWERED_GRACE_MS + 100));
    // Host full of idle connections: the third takes the longest-idle one's slot.
    assert.equal((await hold(true)).status, 200, 'a new connection at the cap, with one idle');
    await closed[0];
    // The slot passed over, not a new one: with the other two busy the host is full again.
    idle[1]?.socket.write('GET / HTTP/1.1\r\n');
    await noneIdle();
    assert.equal((await hold(true)).status, 503, 'nothing idle: refused');
    // And nothing leaked: closed, all of them, the host holds two new ones again and no more.
    for (const s of held.splice(0)) s.destroy();
    await waitFor(async () => (await getOnNewConnection(`${c.url}/`, 5000)).status === 200, 5000, 'room again');
    // Every closed connection uncounted before the next two come: one still counted put the host at
    // its cap, and the second took the first's slot in the moment between its answer and its next
    // request's bytes, while it was idle (the fresh-clone CI of 2026-11-27: 1 open, not 2).
    await allCountedBusy(c, 0);
    assert.deepEqual([(await hold(true)).status, (await hold(true)).status], [200, 200]);
    await noneIdle();
    assert.equal((await hold(true)).status, 503, 'full again: two busy, none idle');
  } finally {
    for (const s of held) s.destroy();
    await c.stop();
  }
});

test('CORRAL_ACCEPT=shared: at the host cap idle connections of one worker give way to a client the other worker refused, one per refusal', async () => {
  // The kernel hands a new connection to either worker. Here every slot is held by idle
  // keep-alive connections of one worker (x), and the new connection lands on the other (y),
  // which has none idle of its own: it answers 503 (Retry-After: 1) and asks for room in the
  // shared table; x closes one idle connection, and the retry is served. A worker stopped with
  // SIGSTOP accepts nothing, which steers each connection to the other.
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_ACCEPT: 'shared', CORRAL_MAX_CONNECTIONS: '4', CORRAL_KEEPALIVE: '120', CORRAL_HEADERS_TIMEOUT: '120', CORRAL_REQUEST_TIMEOUT: '120', CORRAL_RATE_LIMIT: '0' } });
  const held: Socket[] = [];
  const port = portOf(c);
  const hold = async (busy: boolean) => {
    const h = await holdConnection(port, busy);
    held.push(h.socket);
    return h;
  };
  /** Runs `fn` while `pid` is stopped, so that every new connection goes to the other worker. */
  const whileStopped = async <T>(pid: number, fn: () => Promise<T>): Promise<T> => {
    process.kill(pid, 'SIGSTOP');
    try {
      return await fn();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  };
  try {
    await waitFor(() => c.events('worker.ready').length >= 2 && c.events('worker.ready'), 10_000, 'both workers ready');
    const [x, y] = c.events('worker.ready').map((l) => Number(l.worker_pid)) as [number, number];
    const idle = await whileStopped(y, async () => [await hold(false), await hold(false), await hold(false), await hold(false)]);
    assert.deepEqual(idle.map((h) => [h.status, h.pid]), Array(4).fill([200, x]), 'four idle connections, all on x');
    const closed = new Set<Socket>();
    for (const h of idle) h.socket.once('close', () => closed.add(h.socket));

    assert.equal((await whileStopped(x, () => hold(true))).status, 503, 'refused by y: nothing idle there');
    await waitFor(() => closed.size > 0, 5000, 'x closing an idle connection for the refused client');
    assert.equal((await whileStopped(x, () => hold(true))).status, 200, 'the retry, on y again');
    // One closed for one refusal: x's other three still hold their slots, so the host is full again.
    assert.equal(closed.size, 1);
    assert.equal((await whileStopped(x, () => hold(true))).status, 503, 'full again');
    const line = await c.waitForLog((l) => l.event === 'worker.idle_connections_closed' && l.pid === x, 5000, 'x telling it closed one');
    assert.equal(line.host_full, true);
  } finally {
    for (const s of held) s.destroy();
    await c.stop();
  }
});

test('CORRAL_ACCEPT=shared: after TTIN the host cap grows with the worker count, for the old worker and from the new one\'s first connection', async () => {
  // One worker of 2 connections: the host holds 2. After TTIN, 2 workers: it holds 4, whichever
  // worker the kernel gives the next connections to (the new one, forked after the TTIN, must
  // start from the new count rather than from CORRAL_WORKERS).
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_ACCEPT: 'shared', CORRAL_WORKER_CONNECTIONS: '2', CORRAL_KEEPALIVE: '120', CORRAL_HEADERS_TIMEOUT: '120', CORRAL_REQUEST_TIMEOUT: '120', CORRAL_RATE_LIMIT: '0' } });
  const held: Socket[] = [];
  const hold = async () => {
    const h = await holdConnection(portOf(c));
    held.push(h.socket);
    return h;
  };
  try {
    assert.deepEqual([(await hold()).status, (await hold()).status], [200, 200]);
    assert.equal((await hold()).status, 503);
    // That refusal asks the host for room for ROOM_WANTED_MS: until it lapses, a worker closes a
    // connection of its own the moment it is idle (between its answer and the held request's
    // first bytes), and the count below would be one short. The refused client never retries
    // here, so the test counts once the ask has lapsed, as a host would after it.
    const refusedAt = performance.now();
    c.kill('SIGTTIN');
    await c.waitForLog((l) => l.event === 'worker.ready' && l.worker_id !== 1, 15_000, 'the second worker ready');
    const lapse = refusedAt + ROOM_WANTED_MS + 200 - performance.now();
    if (lapse > 0) await new Promise((resolve) => setTimeout(resolve, lapse));
    for (let i = 0; i < 2; i++) assert.equal((await hold()).status, 200, `connection ${i + 3} of 4 after TTIN`);
    assert.equal((await hold()).status, 503, 'the 5th');
  } finally {
    for (const s of held) s.destroy();
    await c.stop();
  }
});

test('a reload that changes CORRAL_ACCEPT or CORRAL_BACKLOG says they need a restart, and keeps serving', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-accept-reload-'));
  const envFile = join(dir, 'corral.env');
  writeFileSync(envFile, 'CORRAL_ACCEPT=shared\nCORRAL_BACKLOG=64\n');
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_ENV_FILE: envFile } });
  try {
    writeFileSync(envFile, 'CORRAL_ACCEPT=round-robin\nCORRAL_BACKLOG=128\n');
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'reload.done', 20000, 'reload.done');
    const lines = c.events('config.restart_needed');
    assert.deepEqual(
      lines.map((l) => [l.setting, l.running, l.configured]),
      [
        ['CORRAL_ACCEPT', 'shared', 'round-robin'],
        ['CORRAL_BACKLOG', '64', '128'],
      ],
    );
    assert.match(String(lines[0]?.msg), /takes effect at the next restart/);
    // The new generation runs with the socket as it is: the same queue (a shared-mode worker's own
    // listen() would resize it), and still accepting without the master.
    assert.equal(listenBacklog(portOf(c)), 64);
    await assertServedWithoutMaster(c);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
