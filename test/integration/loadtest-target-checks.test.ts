// `corral loadtest` refusing, before any load, a target whose answers would make its verdict lie:
// a server that is not corral's app (a catch-all answering 200 to every path), one already full or
// without its Sheets backend. The real CLI against small servers of the test's own.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LoadtestResult } from '../../src/loadtest/result.js';
import { startAdminFixture, startTargetFixture } from '../fixtures/loadtest-target.js';
import { refusingPort } from '../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'corral');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function loadtest(args: string[], cwd: string): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, 'loadtest', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`loadtest did not end within 30 s\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Server {
  readonly url: string;
  /** Requests received, by "METHOD /path". */
  readonly counts: Map<string, number>;
  close(): Promise<void>;
}

async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    const route = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`;
    counts.set(route, (counts.get(route) ?? 0) + 1);
    req.resume();
    req.on('end', () => handle(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('corral loadtest checks what the target is before the load', () => {
  let dir: string;
  let usersFile: string;
  const open: Server[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-loadtest-checks-'));
    usersFile = join(dir, 'players.csv');
    writeFileSync(usersFile, 'name,code\nAlice Martin,P001\n');
  });
  after(async () => {
    await Promise.all(open.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a server that answers 200 text/html to every path (no login token), exit 64, with no load sent', async () => {
    const html = '<!doctype html><html><body><div id="root"></div></body></html>';
    const spa = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
    open.push(spa);
    const run = await loadtest(['--target', spa.url, '--users', '3', '--duration', '1s', '--think-time', '50ms', '--users-file', usersFile, '--out', join(dir, 'spa')], dir);
    assert.equal(run.code, 64, `${run.stdout}\n${run.stderr}`);
    assert.match(
      run.stderr,
      new RegExp(`^corral loadtest: \\[CORRAL_ERR_LOADTEST_TARGET\\] target ${spa.url.replace(/\./g, '\\.')}/ answered POST /api/login with HTTP 200, text/html; charset=utf-8, ${html.length} bytes and no token: it does not look like corral's bundled app`, 'm'),
    );
    assert.equal(run.stdout, '', 'no verdict');
    assert.deepEqual([...spa.counts.entries()].sort(), [['GET /api/players', 1], ['POST /api/login', 1]], 'the checks before the load only');
  });

  it('names the path it asked for when a --target with a path gets 404 (--target URL/api asked /api/api/players), and how to give the root', async () => {
    const t = await startTargetFixture({ players: [{ name: 'Alice Martin', code: 'P001' }] });
    open.push({ url: t.url, counts: t.counts, close: () => t.close() });
    const run = await loadtest(['--target', `${t.url}/api`, '--users', '1', '--duration', '1s', '--users-file', usersFile, '--out', join(dir, 'prefixed')], dir);
    assert.equal(run.code, 64, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, new RegExp(`answered 404 for GET /api/api/players: it does not look like corral's bundled app; the path of --target, /api, is put before every route \\(a proxy's prefix\\): if the app answers at the root, give --target ${t.url.replace(/\./g, '\\.')}$`, 'm'));
    assert.deepEqual([...t.counts.entries()], [['GET /api/api/players', 1]], 'no load sent');
  });

  it('says on stderr, before the load, that the target answered 503 already (not only in the result)', async () => {
    const down = await serve((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unavailable' })));
    open.push(down);
    const run = await loadtest(['--target', down.url, '--users', '1', '--duration', '500ms', '--users-file', usersFile, '--out', join(dir, 'down')], dir);
    assert.equal(run.code, 2, `${run.stdout}\n${run.stderr}`);
    const note = /^note: the target answered GET \/api\/players with 503 unavailable before the load: it was unavailable already/m;
    assert.match(run.stderr, note);
    assert.ok(run.stderr.search(note) < run.stderr.indexOf('loadtest: '), 'said before the load starts');
    const result = JSON.parse(readFileSync(join(dir, 'down', 'result.json'), 'utf8')) as LoadtestResult;
    assert.equal(result.notes.filter((n) => n.startsWith('the target answered GET /api/players with 503')).length, 1, 'in the result once');
  });

  it('claims nothing from a run of logins alone (--users 5 --duration 2s --think-time 10s: no user got to act), exit 2', async () => {
    const t = await startTargetFixture({ players: [{ name: 'Alice Martin', code: 'P001' }] });
    open.push({ url: t.url, counts: t.counts, close: () => t.close() });
    // Few users, each waiting its think time after its login: the logins must be answered within
    // the p95 bound to leave nothing judged (slow logins fail a step, as they should), and twenty
    // at once on a loaded 2-core box took 844 ms. The think time (10 s ± 50 %) outlasts the run,
    // and the run lasts long enough for the logins to finish: with 400 ms, none had on a loaded
    // box, and a run where no request finished says so instead.
    const run = await loadtest(['--target', t.url, '--users', '5', '--duration', '2s', '--think-time', '10s', '--users-file', usersFile, '--out', join(dir, 'logins-only')], dir);
    assert.equal(run.code, 2, `${run.stdout}\n${run.stderr}`);
    // Logins slower than the bound fail the step, judged as any request is (CI's busiest minute:
    // five took a p95 of 574 ms): then the verdict is "no" with that p95, never "yes".
    const slowLogins = /^verdict: supports 5 concurrent users: no \(p95 (\d+) ms, 0 errors/m.exec(run.stdout);
    if (slowLogins) {
      assert.ok(Number(slowLogins[1]) >= 500, run.stdout);
      return;
    }
    assert.match(run.stdout, /^verdict: supports 5 concurrent users: not shown \(not enough requests to judge; /m);
    assert.match(run.stdout, /^ {2}not enough requests to judge constant: no request other than logins \(\d+ logins?\), which prove nothing of the load where a pass needs at least 10 \(10, and one per user\)/m);
    assert.match(run.stdout, /^constant +5 users {2}too few /m);
  });

  it('refuses a target already full before the load (503 server_full), exit 69, rather than blaming the users for its 503s', async () => {
    const full = await serve((_req, res) => res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify({ error: 'server_full', message: 'server full (40/40)' })));
    open.push(full);
    const run = await loadtest(['--target', full.url, '--users', '10', '--duration', '1s', '--users-file', usersFile, '--out', join(dir, 'full')], dir);
    assert.equal(run.code, 69, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, new RegExp(`^corral loadtest: \\[CORRAL_ERR_LOADTEST_TARGET\\] target ${full.url.replace(/\./g, '\\.')} answered GET /api/players with 503 server_full: server full \\(40/40\\) before the load: every connection slot is already held by other clients`, 'm'));
    assert.deepEqual([...full.counts.entries()], [['GET /api/players', 1]], 'no load sent');
  });

  it('refuses a target whose Sheets backend is down before the load (503 sheets_unavailable), exit 69', async () => {
    const sheets = await serve((req, res) => {
      if (req.url === '/api/players') return res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '30' }).end(JSON.stringify({ error: 'sheets_unavailable' }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 't' }));
    });
    open.push(sheets);
    const run = await loadtest(['--target', sheets.url, '--users', '10', '--duration', '1s', '--users-file', usersFile, '--out', join(dir, 'sheets')], dir);
    assert.equal(run.code, 69, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /answered GET \/api\/players with 503 sheets_unavailable before the load: its Google Sheets backend cannot be read/);
    assert.deepEqual([...sheets.counts.entries()], [['GET /api/players', 1]], 'no load sent');
  });

  it('says before the load, and in the verdict and result, that the admin API read the server FULL and over the CPU limit already', async () => {
    const t = await startTargetFixture({ players: [{ name: 'Alice Martin', code: 'P001' }] });
    open.push({ url: t.url, counts: t.counts, close: () => t.close() });
    const a = await startAdminFixture({
      token: 'admintok',
      capacity: () => ({ success: true, capacity: { current_connections: 40, max_connections: 40, percent_used: 100, available_slots: 0, status: 'FULL', can_accept_new: false } }),
      stats: () => ({ host: { cpu_percent: 99, ram_percent: 20 } }),
    });
    open.push({ url: a.url, counts: new Map(), close: () => a.close() });
    const out = join(dir, 'over-before');
    const run = await loadtest(['--target', t.url, '--users', '2', '--duration', '1s', '--think-time', '20ms', '--mix', 'read=1', '--admin', a.url, '--admin-token', 'admintok', '--users-file', usersFile, '--out', out], dir);
    assert.equal(run.code, 2, `${run.stdout}\n${run.stderr}`);
    const said = 'before the load the server was already over the limit (capacity FULL (40/40 connections), host CPU 99 % ≥ 80 %)';
    assert.ok(run.stderr.indexOf(`note: ${said}`) >= 0 && run.stderr.indexOf(`note: ${said}`) < run.stderr.indexOf('loadtest: http'), run.stderr);
    assert.match(run.stdout, /^ {2}the server was already over the limit before the load \(capacity FULL \(40\/40 connections\), host CPU 99 % ≥ 80 %\): this failure may be its state then, not the users sent$/m);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as LoadtestResult;
    assert.equal(result.server.beforeLoad?.status, 'FULL');
    assert.equal(result.server.beforeLoad?.cpu, 99);
  });

  it('refuses the seeds profile at --time-scale 0.01 before sending a request, exit 64, naming the --time-scale its plateau needs for a verdict', async () => {
    const t = await startTargetFixture({ players: [{ name: 'Alice Martin', code: 'P001' }] });
    open.push({ url: t.url, counts: t.counts, close: () => t.close() });
    const out = join(dir, 'seeds-too-short');
    const run = await loadtest(['--target', t.url, '--profile', join(ROOT, 'test', 'fixtures', 'profiles', 'seeds-003.json'), '--time-scale', '0.01', '--users-file', usersFile, '--out', out], dir);
    assert.equal(run.code, 64, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /^corral loadtest: \[CORRAL_ERR_LOADTEST_INPUT\] --time-scale 0\.01 makes the plateau 18s long: its 300 users, .* are expected to send about 247 requests other than logins, where a verdict needs 300 .*: use --time-scale 0\.014 or more/m);
    assert.equal(t.counts.size, 0, 'not a request sent');
    assert.equal(existsSync(out), false, 'nothing written');
  });

  it('refuses an --admin that cannot be reached before the load (a mistyped port), exit 69 as an unreachable target, rather than judging without CPU and RAM', async () => {
    const t = await startTargetFixture({ players: [{ name: 'Alice Martin', code: 'P001' }] });
    open.push({ url: t.url, counts: t.counts, close: () => t.close() });
    const port = await refusingPort();
    const out = join(dir, 'admin-unreachable');
    const run = await loadtest(['--target', t.url, '--users', '2', '--duration', '1s', '--think-time', '20ms', '--mix', 'read=1', '--admin', `http://127.0.0.1:${port}`, '--admin-token', 'admintok', '--users-file', usersFile, '--out', out], dir);
    assert.equal(run.code, 69, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, new RegExp(`^corral loadtest: \\[CORRAL_ERR_LOADTEST_TARGET\\] --admin http://127\\.0\\.0\\.1:${port}/: the admin API at http://127\\.0\\.0\\.1:${port} is not reachable \\(ECONNREFUSED\\); check --admin: it is the master's admin listener .*; or leave out --admin to run without the CPU and RAM criteria$`, 'm'));
    assert.doesNotMatch(run.stderr, /^loadtest: /m, 'the load never started');
    assert.equal(run.stdout, '', 'no verdict');
    assert.equal(existsSync(out), false, 'nothing written');
  });

  it("refuses an --admin that is not the admin API (the app's port, a path too many) before the load, exit 64, naming the URLs tried", async () => {
    const t = await startTargetFixture({ players: [{ name: 'Alice Martin', code: 'P001' }] });
    open.push({ url: t.url, counts: t.counts, close: () => t.close() });
    const run = await loadtest(['--target', t.url, '--users', '2', '--duration', '1s', '--think-time', '20ms', '--mix', 'read=1', '--admin', `${t.url}/api/admin`, '--admin-token', 'admintok', '--users-file', usersFile, '--out', join(dir, 'admin-typo')], dir);
    assert.equal(run.code, 64, `${run.stdout}\n${run.stderr}`);
    const at = t.url.replace(/\./g, '\\.');
    assert.match(run.stderr, new RegExp(`^corral loadtest: \\[CORRAL_ERR_LOADTEST_INPUT\\] --admin ${at}/api/admin: ${at}/api/admin/api/admin/capacity answered HTTP 404 and ${at}/api/admin/api/admin/stats answered HTTP 404, so it does not look like corral's admin API; --admin takes the admin listener's address without a path, ${at}, as /api/admin was put before /api/admin/; check --admin`, 'm'));
    assert.equal(run.stdout, '', 'no verdict');
    assert.equal(t.counts.get('GET /api/players'), 1, 'the checks before the load only');
    assert.equal(t.counts.get('POST /api/login'), 1);
  });
});
