import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { FIXTURE_APPS, startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { delay, http, startClientLoop } from '../helpers/http.js';

for (const freshConnections of [false, true]) {
  const clients = freshConnections ? 'a new connection per request' : 'keep-alive connections';
  test(`SIGHUP under a 50-client loop (${clients}): zero failed requests, and every worker is of the new generation`, async () => {
    const c = await startCorral({ app: 'basic.mjs', workers: 3 });
    const loop = startClientLoop(c.url, 50, { freshConnections });
    try {
      // Requests counted, not a time waited: a busy machine answers fewer in a given time.
      await waitFor(() => loop.answered() >= 50, 30_000, '50 requests answered before the reload');
      c.kill('SIGHUP');
      await c.waitForLog((l) => l.event === 'reload.done', 20000, 'reload.done');
      const atDone = loop.answered();
      await waitFor(() => loop.answered() >= atDone + 50, 30_000, '50 requests answered after it');
      const result = await loop.stop();
      assert.equal(result.failed, 0, `failures: ${result.failures.join('; ')}`);
      const oldPids = new Set(c.events('worker.ready').filter((l) => l.generation === 1).map((l) => l.worker_pid));
      const exits = c.events('worker.exit').filter((l) => oldPids.has(l.worker_pid));
      assert.equal(exits.length, 3, 'the three old workers exited');
      assert.ok(exits.every((l) => l.exit_code === 0), 'old workers drained and exited cleanly');
      const seen = new Set<number>();
      for (let i = 0; i < 12; i++) seen.add((await http(c.url, { headers: { connection: 'close' } })).json<{ generation: number }>().generation);
      assert.deepEqual([...seen], [2]);
    } finally {
      await loop.stop();
      await c.stop();
    }
  });
}

test('an idle keep-alive connection to a worker that starts draining: the request sent on it next is answered with Connection: close, not reset', async () => {
  // The drain leaves idle keep-alive connections open (until their next answer, or the keep-alive
  // timeout the client was told): closing them at once raced clients sending on them.
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_KEEPALIVE: '30' } });
  const s = connect(Number(new URL(c.url).port), '127.0.0.1');
  try {
    await new Promise<void>((r) => s.once('connect', () => r()));
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString()));
    const errors: string[] = [];
    s.on('error', (e) => errors.push(e.message));
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => answer.endsWith('\r\n0\r\n\r\n'), 5000, 'the first answer');
    assert.match(answer, /\r\nconnection: keep-alive\r\n/i);
    answer = '';
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'worker.draining', 15000, 'the old worker draining');
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await Promise.race([closed, delay(10000)]);
    assert.deepEqual(errors, []);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, /"generation":1/);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.equal(s.destroyed || s.readableEnded, true, 'the connection ended after that answer');
  } finally {
    s.destroy();
    await c.stop();
  }
});

for (const keepalive of ['', 'set', 'args'] as const) {
  const asked = keepalive === '' ? '' : ` (the app asking for keep-alive through ${keepalive === 'set' ? 'setHeader' : "writeHead's headers"})`;
  test(`a request in flight when its worker starts draining is answered with Connection: close, and its connection ends at once${asked}`, async () => {
    // A long keep-alive: without Connection: close the old worker would hold this connection (and
    // its own exit) until the keep-alive timeout.
    const dir = mkdtempSync(join(tmpdir(), 'corral-drain-close-'));
    const release = join(dir, 'release');
    const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_KEEPALIVE: '30' } });
    const s = connect(Number(new URL(c.url).port), '127.0.0.1');
    try {
      await new Promise<void>((r) => s.once('connect', () => r()));
      let answer = '';
      let answeredAt = 0;
      s.on('data', (d: Buffer) => {
        answeredAt ||= Date.now();
        answer += d.toString();
      });
      const closed = new Promise<number>((r) => s.once('close', () => r(Date.now())));
      // Held until the old worker drains (once its replacement is ready, however slow its boot).
      s.write(`GET /hold?release=${encodeURIComponent(release)}&keepalive=${keepalive} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await c.waitForLog((l) => l.event === 'fixture.holding', 10000, 'the held request in the worker');
      c.kill('SIGHUP');
      await c.waitForLog((l) => l.event === 'worker.draining', 15000, 'the old worker draining');
      writeFileSync(release, '');
      const closedAt = await Promise.race([closed, delay(20000).then(() => undefined)]);
      assert.match(answer, /^HTTP\/1\.1 200 /);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      assert.doesNotMatch(answer, /keep-alive/i);
      assert.ok(closedAt !== undefined && closedAt - answeredAt < 10_000, 'the connection ended with its answer, not at the keep-alive timeout (30 s)');
    } finally {
      s.destroy();
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('SIGHUP after the app module was broken on disk: the old workers keep serving and the log says why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-app-'));
  const appFile = join(dir, 'app.mjs');
  copyFileSync(join(FIXTURE_APPS, 'basic.mjs'), appFile);
  const c = await startCorral({ app: appFile, workers: 2, env: { CORRAL_BOOT_ATTEMPTS: '2' } });
  try {
    // ESM caches by URL, but each reload forks fresh processes, which read the file anew.
    writeFileSync(appFile, "throw new Error('syntax slip in the new release');\n");
    c.kill('SIGHUP');
    const failed = await c.waitForLog((l) => l.event === 'reload.failed', 20000, 'reload.failed');
    assert.match(String(failed.msg), /syntax slip in the new release/);
    assert.match(String(failed.msg), /generation 1 keeps serving/);
    for (let i = 0; i < 6; i++) {
      const r = await http(c.url, { headers: { connection: 'close' } });
      assert.equal(r.status, 200);
      assert.equal(r.json<{ generation: number }>().generation, 1);
    }
    assert.equal(c.proc.exitCode, null, 'the master is still running');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload that fails goes back to the worker count that served before it, TTIN included, not to the settings\' CORRAL_WORKERS', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-app-'));
  const appFile = join(dir, 'app.mjs');
  // Generation 1 boots, every later one fails: the old generation's replacements, forked after
  // the rollback, must boot as it did.
  writeFileSync(
    appFile,
    `import { createApp as basic } from ${JSON.stringify(pathToFileURL(join(FIXTURE_APPS, 'basic.mjs')).href)};\n` +
      "export function createApp(ctx) {\n  if (ctx.generation > 1) throw new Error('the new release cannot boot');\n  return basic(ctx);\n}\n",
  );
  const c = await startCorral({ app: appFile, workers: 1, env: { CORRAL_BOOT_ATTEMPTS: '2' } });
  try {
    // One at a time: the kernel keeps one pending signal of a kind, two in a row may count once.
    c.kill('SIGTTIN');
    await waitFor(() => c.events('worker.ready').length === 2, 15000, 'two workers after a TTIN');
    c.kill('SIGTTIN');
    await waitFor(() => c.events('worker.ready').length === 3, 15000, 'three workers after two TTINs');
    // The new generation's count (CORRAL_WORKERS=1) drains two of the three old workers at once;
    // when it cannot boot, those two must come back.
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'reload.failed', 20000, 'reload.failed');
    const health = async () => (await http(`${c.adminUrl}/api/admin/health`)).json<{ workers_ready: number; workers_expected: number }>();
    await waitFor(async () => {
      const h = await health();
      return h.workers_expected === 3 && h.workers_ready === 3;
    }, 20000, 'three ready workers again after the rollback');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TTIN and TTOU add and remove one worker', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 2 });
  try {
    c.kill('SIGTTIN');
    await waitFor(() => c.events('worker.ready').length === 3, 10000, 'a third worker');
    c.kill('SIGTTOU');
    const exit = await c.waitForLog((l) => l.event === 'worker.exit', 10000, 'one worker retired');
    assert.equal(exit.reason, 'scale-down');
    assert.equal(exit.exit_code, 0);
    assert.deepEqual(c.events('workers.scale').map((l) => l.expected), [3, 2]);
  } finally {
    await c.stop();
  }
});

test('SIGHUP re-reads .env: a new CORRAL_WORKERS applies to the new generation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-envreload-'));
  writeFileSync(join(dir, 'corral.env'), 'CORRAL_WORKERS=2\n');
  const c = await startCorral({ app: 'basic.mjs', workers: null, env: { CORRAL_ENV_FILE: join(dir, 'corral.env') } });
  try {
    assert.equal(c.events('worker.ready').length, 2);
    writeFileSync(join(dir, 'corral.env'), 'CORRAL_WORKERS=3\n');
    c.kill('SIGHUP');
    const done = await c.waitForLog((l) => l.event === 'reload.done', 20000, 'reload.done');
    assert.equal(done.workers, 3);
    assert.equal(c.events('worker.ready').filter((l) => l.generation === 2).length, 3);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a SIGHUP during a reload is queued: the reload after it applies the .env as edited last', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-queued-reload-'));
  const envFile = join(dir, 'corral.env');
  const timings = join(dir, 'timings.json');
  writeFileSync(envFile, 'CORRAL_WORKERS=2\n');
  writeFileSync(timings, JSON.stringify({ bootMs: 0 }));
  const c = await startCorral({ app: 'slow-boot.mjs', workers: null, env: { CORRAL_ENV_FILE: envFile, FIXTURE_TIMINGS: timings } });
  try {
    // Generation 2 takes 2 s to load its app; the operator edits .env again meanwhile.
    writeFileSync(timings, JSON.stringify({ bootMs: 2000 }));
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'reload.start' && l.generation === 2, 10000, 'reload to generation 2');
    writeFileSync(timings, JSON.stringify({ bootMs: 0 }));
    writeFileSync(envFile, 'CORRAL_WORKERS=3\n');
    c.kill('SIGHUP');
    c.kill('SIGHUP');
    const queued = await c.waitForLog((l) => l.event === 'reload.queued', 10000, 'reload.queued');
    assert.equal(queued.generation, 2);
    const done = await c.waitForLog((l) => l.event === 'reload.done' && l.generation === 3, 20000, 'reload to generation 3');
    assert.equal(done.workers, 3, 'the .env as edited last is running');
    assert.equal(c.events('reload.queued').length, 1, 'two SIGHUPs during one reload queue one more');
    assert.deepEqual(c.events('reload.start').map((l) => l.generation), [2, 3]);
    assert.ok(c.events('reload.done').some((l) => l.generation === 2), 'the reload in progress finished first');
    const seen = new Set<number>();
    for (let i = 0; i < 9; i++) seen.add((await http(c.url, { headers: { connection: 'close' } })).json<{ generation: number }>().generation);
    assert.deepEqual([...seen], [3]);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a SIGHUP during a reload whose workers fail to boot supersedes it: its booting workers are stopped and the settings read now boot at once, not after its rollback; one whose boot has not failed is queued behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-superseded-reload-'));
  const timings = join(dir, 'timings.json');
  const envFile = join(dir, 'corral.env');
  writeFileSync(timings, JSON.stringify({ bootMs: 0 }));
  // Many attempts: the rollback is far off, as it is for an app that never loads (a minute each).
  writeFileSync(envFile, 'CORRAL_WORKERS=1\nCORRAL_BOOT_ATTEMPTS=20\nCORRAL_LOG_LEVEL=info\n');
  const c = await startCorral({ app: 'slow-boot.mjs', workers: null, env: { CORRAL_ENV_FILE: envFile, FIXTURE_TIMINGS: timings } });
  try {
    // Generation 2's app fails to load, with a keeper setting changed (the keeper restarts for
    // it); the operator fixes the app and reloads again, the keeper setting kept.
    writeFileSync(timings, JSON.stringify({ fail: true }));
    writeFileSync(envFile, 'CORRAL_WORKERS=1\nCORRAL_BOOT_ATTEMPTS=20\nCORRAL_LOG_LEVEL=debug\n');
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'reload.start' && l.generation === 2, 10000, 'reload to generation 2');
    await c.waitForLog((l) => l.event === 'worker.boot_failed' && l.generation === 2, 10000, "generation 2's first failed boot");
    writeFileSync(timings, JSON.stringify({ bootMs: 0 }));
    c.kill('SIGHUP');
    const superseded = await c.waitForLog((l) => l.event === 'reload.superseded', 10000, 'reload.superseded');
    assert.deepEqual([superseded.generation, superseded.serving], [2, 1]);
    const done = await c.waitForLog((l) => l.event === 'reload.done' && l.generation === 3, 20000, 'reload to generation 3');
    assert.ok(Date.parse(String(done.time)) - Date.parse(String(superseded.time)) < 15_000, 'generation 3 serves within seconds of the SIGHUP');
    assert.deepEqual(c.events('reload.queued'), [], 'not queued behind the reload that could not boot');
    assert.deepEqual(c.events('reload.failed'), [], 'no failure said: it was superseded');
    assert.equal((await http(c.url, { headers: { connection: 'close' } })).json<{ generation: number }>().generation, 3);
    assert.equal(c.events('keeper.restart').length, 1, 'the keeper restarted once for the new log level, not back and forth');

    // A reload whose boot is slow but has not failed: the next SIGHUP queues behind it.
    writeFileSync(timings, JSON.stringify({ bootMs: 3000 }));
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'fixture.loading' && l.gen === 4, 10000, "generation 4's worker loading");
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'reload.queued', 10000, 'reload.queued');
    await c.waitForLog((l) => l.event === 'reload.done' && l.generation === 5, 30000, 'the queued reload done');
    assert.deepEqual(c.events('reload.superseded').map((l) => l.generation), [2], 'the slow boot was not superseded');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
test('SIGHUP applies a new CORRAL_LOG_LEVEL to the master too, not only to the new workers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-levelreload-'));
  const envFile = join(dir, 'corral.env');
  writeFileSync(envFile, 'CORRAL_LOG_LEVEL=info\n');
  const c = await startCorral({ app: 'basic.mjs', env: { CORRAL_ENV_FILE: envFile } });
  try {
    writeFileSync(envFile, 'CORRAL_LOG_LEVEL=warn\n');
    c.kill('SIGHUP');
    await delay(3000);
    writeFileSync(envFile, 'CORRAL_LOG_LEVEL=info\n');
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'reload.done' && l.generation === 3, 20000, 'reload.done of generation 3');
    // Logged while generation 2 ran at warn (its exits are logged by the reload to 3, at info again).
    const duringGen2 = ['reload.start', 'worker.boot', 'worker.ready', 'reload.done', 'worker.listening'];
    const infoOfGen2 = c.logs().filter((l) => l.level === 'info' && (l.generation === 2 || l.gen === 2) && duringGen2.includes(l.event ?? ''));
    assert.deepEqual(infoOfGen2.map((l) => `${l.role} ${l.event}`), [], 'at warn, no process logs the info lines of generation 2');
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

const ADMIN_TOKEN = 'integration-admin-token-1234';

/** corral_requests_total as /metrics says it: live workers' figures and those of workers that exited. */
async function requestsTotal(c: CorralProcess): Promise<number> {
  const text = await waitFor(async () => {
    const m = /^corral_requests_total (\d+)$/m.exec((await http(`${c.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text);
    return m?.[1];
  }, 5000, 'corral_requests_total in /metrics');
  return Number(text);
}

test('a request cut at the graceful timeout of a reload still counts in the master\'s totals, as in the access log', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_ADMIN_TOKEN: ADMIN_TOKEN, CORRAL_GRACEFUL_TIMEOUT: '1' } });
  try {
    assert.equal((await http(c.url)).status, 200);
    const cut = http(`${c.url}/sleep?ms=30000`).then(() => 'answered', () => 'cut');
    await waitFor(() => c.events('access').length === 1 && true, 5000, 'the first request logged');
    await c.waitForLog((l) => l.event === 'fixture.sleeping', 10000, 'the slow request in the worker');
    c.kill('SIGHUP');
    const exit = await c.waitForLog((l) => l.event === 'worker.exit' && l.generation === 1, 15_000, 'the old worker exits');
    assert.equal(exit.exit_code, 0);
    assert.equal(await cut, 'cut');
    // Its response closes a turn of the event loop after the drain's forced close: the worker's
    // last figures were sent before it, and the master never counted it.
    await waitFor(() => c.events('access').length === 2, 5000, 'the cut request logged');
    // The worker's own cut, said apart from a client that went away.
    assert.deepEqual(c.events('access').map((l) => [l.status, l.cut]), [[200, undefined], [499, 'drain']]);
    assert.equal(await requestsTotal(c), 2);
  } finally {
    await c.stop();
  }
});

test('a worker killed in a close hook that blocks its event loop: the requests it served still count', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-close-blocks-'));
  const timings = join(dir, 'timings.json');
  writeFileSync(timings, JSON.stringify({ closeMs: 60_000, closeBlocks: true }));
  const c = await startCorral({ app: 'slow-boot.mjs', workers: 1, env: { CORRAL_ADMIN_TOKEN: ADMIN_TOKEN, CORRAL_GRACEFUL_TIMEOUT: '1', FIXTURE_TIMINGS: timings } });
  try {
    // The next generation closes at once.
    writeFileSync(timings, JSON.stringify({}));
    for (let i = 0; i < 3; i++) assert.equal((await http(c.url, { headers: { connection: 'close' } })).status, 200);
    // Right away, before a regular beat (every second) could carry them.
    c.kill('SIGHUP');
    const killed = await c.waitForLog((l) => l.event === 'worker.exit' && l.generation === 1, 15_000, 'the old worker killed');
    assert.equal(killed.signal, 'SIGKILL', 'killed at its drain deadline, in its close hook');
    // The figures went out when the drain ended, before the close hooks ran.
    assert.equal(await requestsTotal(c), 3);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an old worker killed while it drains (shared accept): its slow request and its idle keep-alive connection end at once, and new connections reach the new generation', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_KEEPALIVE: '30', CORRAL_GRACEFUL_TIMEOUT: '30' } });
  const idle = connect(Number(new URL(c.url).port), '127.0.0.1');
  try {
    await new Promise<void>((r) => idle.once('connect', () => r()));
    let first = '';
    idle.on('data', (d: Buffer) => (first += d.toString()));
    idle.on('error', () => undefined);
    const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
    idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => first.endsWith('\r\n0\r\n\r\n'), 5000, 'the idle connection\'s first answer');
    const slow = http(`${c.url}/sleep?ms=60000`, { timeoutMs: 60000 }).then(() => 'answered', (e: Error) => e.message);
    await c.waitForLog((l) => l.event === 'fixture.sleeping', 10000, 'the slow request in the worker');
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'worker.draining', 15000, 'the old worker draining');
    const old = c.events('worker.ready').find((l) => l.generation === 1);
    process.kill(Number(old?.worker_pid), 'SIGKILL');
    // Bounded well under the 30 s of the drain and of the keep-alive timeout.
    const ended = await Promise.race([Promise.all([slow, idleClosed]).then(([s]) => s), delay(5000).then(() => 'still open after 5 s')]);
    assert.match(String(ended), /other side closed|socket|reset/i);
    const r = await http(c.url, { headers: { connection: 'close' } });
    assert.equal(r.json<{ generation: number }>().generation, 2);
    await c.waitForLog((l) => l.event === 'reload.done', 15000, 'reload.done');
  } finally {
    idle.destroy();
    await c.stop();
  }
});

/** A keep-alive connection that has had one answer, for a health check sent on it later (as Envoy's reuse theirs). */
async function keptConnection(port: number): Promise<{ send(path: string): Promise<string>; close(): void }> {
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.on('error', () => undefined);
  let buf = '';
  s.on('data', (d: Buffer) => (buf += d.toString()));
  const send = async (path: string) => {
    buf = '';
    s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await waitFor(() => /\r\n\r\n\{[^]*\}$/.test(buf) || /\r\n0\r\n\r\n$/.test(buf), 5000, `the answer to ${path}`);
    return buf;
  };
  await send('/');
  return { send, close: () => s.destroy() };
}

test('health on a kept-alive connection to a worker draining for a reload answers 200 (the host goes on serving); once the host stops, 503 draining', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_KEEPALIVE: '30', CORRAL_GRACEFUL_TIMEOUT: '30' } });
  const port = Number(new URL(c.url).port);
  const [duringReload, duringStop] = [await keptConnection(port), await keptConnection(port)];
  try {
    // Keeps the old worker draining through both checks.
    void http(`${c.url}/sleep?ms=60000`, { timeoutMs: 60000 }).catch(() => undefined);
    await c.waitForLog((l) => l.event === 'fixture.sleeping', 10000, 'the slow request in the worker');
    c.kill('SIGHUP');
    await c.waitForLog((l) => l.event === 'worker.draining' && l.gen === 1, 15000, 'the old worker draining for the reload');
    const reloadAnswer = await duringReload.send('/api/admin/health');
    assert.match(reloadAnswer, /^HTTP\/1\.1 200 /);
    assert.match(reloadAnswer, /"status":"ok"/);
    assert.match(reloadAnswer, /"draining":true/);
    assert.match(reloadAnswer, /\r\nconnection: close\r\n/i);
    c.kill('SIGTERM');
    await c.waitForLog((l) => l.event === 'worker.draining' && l.host_stopping === true && l.gen === 1, 15000, 'the old worker told the host stops');
    const stopAnswer = await duringStop.send('/api/admin/health');
    assert.match(stopAnswer, /^HTTP\/1\.1 503 /);
    assert.match(stopAnswer, /"status":"draining"/);
    c.kill('SIGQUIT');
    assert.equal((await c.exited).code, 0);
  } finally {
    duringReload.close();
    duringStop.close();
    await c.stop();
  }
});

test('SIGHUP while an old worker does seconds of synchronous work (CORRAL_TIMEOUT raised for it): it drains once the work is done, its request answered, and the reload completes', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_TIMEOUT: '30', CORRAL_STUCK_STACKS: 'false' } });
  try {
    const work = http(`${c.url}/work?ms=8000`, { timeoutMs: 30000 });
    await waitFor(async () => (await http(`${c.adminUrl}/api/admin/health`)).json<{ workers_not_beating?: number }>().workers_not_beating === 1, 10000, 'one worker not beating');
    c.kill('SIGHUP');
    const answer = await work;
    assert.equal(answer.status, 200, 'the request doing the work is answered, not cut by the reload');
    assert.equal(answer.json<{ generation: number }>().generation, 1);
    const done = await c.waitForLog((l) => l.event === 'reload.done', 20000, 'reload.done');
    assert.equal(done.generation, 2);
    assert.deepEqual(c.events('worker.kill'), [], 'no worker killed');
    assert.deepEqual(c.events('worker.timeout'), []);
    assert.deepEqual(c.events('worker.exit').map((l) => l.reason), ['reload to generation 2', 'reload to generation 2'], 'both old workers drained and exited as expected');
  } finally {
    await c.stop();
  }
});

test('SIGHUP with an old worker stuck for good (its loop blocked): the new generation serves, and the stuck one is killed at CORRAL_TIMEOUT, after which the reload completes', async () => {
  // The stuck worker is told to drain once a new one has settled (its boot and
  // CORRAL_RELOAD_SETTLE's 2 s after the HUP, itself 3 s or more after the spin began, as soon as
  // health is seen to say not_beating): the timeout must outlast all of that, or the kill finds the
  // worker not yet draining. At 6 s the timeout came first beside a suite; at 10 s a boot of 4 s
  // (a reload's boot on a loaded 2-core box takes that, daemon-stuck.test.ts) was already too
  // long. 15 s leaves such a boot about 9 s.
  const c = await startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_TIMEOUT: '15', CORRAL_STUCK_STACKS: 'false' } });
  try {
    const spin = http(`${c.url}/spin`, { timeoutMs: 40000 }).then(
      (r) => r.status,
      (err: Error) => err,
    );
    await waitFor(async () => (await http(`${c.adminUrl}/api/admin/health`)).json<{ workers_not_beating?: number }>().workers_not_beating === 1, 10000, 'one worker not beating');
    c.kill('SIGHUP');
    // The new generation answers while the old stuck one is waited for.
    await waitFor(async () => (await http(c.url)).json<{ generation: number }>().generation === 2 || undefined, 15000, 'generation 2 serving');
    const done = await c.waitForLog((l) => l.event === 'reload.done', 30000, 'reload.done');
    assert.equal(done.generation, 2);
    assert.ok((await spin) instanceof Error, 'the spinning request was cut');
    const timeouts = c.events('worker.timeout');
    assert.equal(timeouts.length, 1, JSON.stringify(timeouts));
    assert.equal(timeouts[0]?.draining, true, 'killed as a draining worker gone silent');
    assert.equal(timeouts[0]?.generation, 1);
    assert.deepEqual(c.events('worker.kill').filter((l) => l.reason === 'not beating'), [], 'not killed at once for not beating');
    assert.equal((await http(c.url)).json<{ generation: number }>().generation, 2);
  } finally {
    await c.stop();
  }
});