import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { adminUrlAllowed, fdLimitSource, masterCpus, measuredFromAdmin, recommend, recommendCommand, warningAt, type SizingInput } from '../../src/cli/commands/recommend.js';
import { computeCapacity, maxConnectionsOf } from '../../src/master/capacity.js';
import { loadSettings } from '../../src/config/load.js';
import { CorralError } from '../../src/errors.js';
import type { OpenFilesLimit } from '../../src/fd-limit.js';
import { usageError } from '../helpers/usage-error.js';
import { isLoopbackAddress } from '../../src/loopback.js';
import { removePidfile, writePidfile } from '../../src/master/pidfile.js';

const MiB = 1048576;
const base: SizingInput = {
  cpus: 4,
  ramTotalBytes: 4096 * MiB,
  ramBudgetPercent: 50,
  workerRssBytes: 100 * MiB,
  keeperRssBytes: 60 * MiB,
  masterRssBytes: 50 * MiB,
  connectionBytes: 32 * 1024,
  fdLimit: 1024,
  measuredFrom: 'test',
};

describe('corral recommend sizing', () => {
  it('names the fewest busy connections the capacity status reads WARNING at, for caps 80 % of which is no whole number', () => {
    const status = (busy: number, max: number) => computeCapacity({ activeConnections: [busy], workers: 1, workerConnections: max, maxConnections: 0, serving: true }).status;
    for (const max of [10, 21, 192, 39_872, 5]) {
      const at = warningAt(max);
      assert.equal(status(at, max), 'WARNING', `${at} of ${max}`);
      assert.equal(status(at - 1, max), 'HEALTHY', `${at - 1} of ${max}`);
    }
    const s = recommend(base);
    assert.match(s.reasons.at(-1)!, new RegExp(`turns WARNING at 80% \\(${warningAt(s.maxConnections).toLocaleString('en-US')} busy\\)`));
  });

  it('uses one worker per core when RAM allows, and the fd limit bounds connections', () => {
    const s = recommend(base);
    assert.equal(s.workers, 4);
    assert.equal(s.workerConnections, 1024 - 64);
    assert.equal(s.maxConnections, 4 * 960);
    assert.ok(s.reasons.some((r) => r.includes('CORRAL_WORKERS=4')));
  });

  it('never recommends more workers than corral runs (512), on a host of more cores than that', () => {
    const s = recommend({ ...base, cpus: 768, ramTotalBytes: 4 * 1024 * 1024 * MiB, fdLimit: 1_000_000 });
    assert.equal(s.workers, 512);
    assert.ok(s.reasons.some((r) => r.includes('so CORRAL_WORKERS=512 (the most corral runs: more hosts beyond that).')), s.reasons.join('\n'));
  });

  it('lets RAM bound the workers and the connections on a small host', () => {
    // 1 GiB, 50 % = 512 MiB; minus 110 MiB fixed = 402 MiB -> 2 workers of 150 MiB fit (8 CPUs).
    const s = recommend({ ...base, cpus: 8, ramTotalBytes: 1024 * MiB, workerRssBytes: 150 * MiB, fdLimit: 1_000_000 });
    assert.equal(s.workers, 2);
    // 402 - 300 = 102 MiB left / 2 workers / 32 KiB = 1632 connections each.
    assert.equal(s.workerConnections, 1632);
    assert.equal(s.maxConnections, 3264);
  });

  it('says when the RAM budget cannot hold even the smallest corral, and what budget would', () => {
    // 256 MiB at 50 % = 128 MiB; master 50 + keeper 60 + one worker 100 = 210 MiB = 83 % of it.
    const s = recommend({ ...base, ramTotalBytes: 256 * MiB });
    assert.equal(s.workers, 1);
    assert.ok(s.reasons.some((r) => r.includes('RAM allows no worker: the budget (128 MiB) does not cover master + keeper + one worker (210 MiB), so CORRAL_WORKERS=1, the minimum, is over budget; give corral --ram-budget 83 or more, or a host with more RAM.')), s.reasons.join('\n'));
    assert.ok(!s.reasons.some((r) => /RAM would allow/.test(r)), 'no claim that RAM allows a worker');
    const tiny = recommend({ ...base, ramTotalBytes: 128 * MiB });
    assert.ok(tiny.reasons.some((r) => r.includes('this host has less RAM than that: use one with more.')), tiny.reasons.join('\n'));
  });

  it('never recommends fewer than one worker or connection', () => {
    const s = recommend({ ...base, ramTotalBytes: 64 * MiB });
    assert.equal(s.workers, 1);
    assert.equal(s.workerConnections, 1);
  });
});

describe('corral recommend asking the admin API', () => {
  /** An admin API stand-in answering every request with `status` and `body`. */
  async function withAdmin(status: number, body: unknown, fn: (url: string) => Promise<void>): Promise<void> {
    const server = createServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.close();
    }
  }

  it('a corral that refuses (no or another token) is said to refuse, with the fix, not to be absent', async () => {
    await withAdmin(403, { error: 'admin_token_unset' }, async (url) => {
      const a = await measuredFromAdmin(url, undefined);
      assert.ok('why' in a);
      assert.equal(a.why, `the corral at ${url} refused to show its stats (HTTP 403): it has no CORRAL_ADMIN_TOKEN, so its admin API shows nothing: set one in its settings file, reload it, and run this with the same file`);
    });
    await withAdmin(401, { error: 'unauthorized' }, async (url) => {
      const none = await measuredFromAdmin(url, undefined);
      assert.ok('why' in none && /refused to show its stats \(HTTP 401\): run this with its settings file \(CORRAL_ADMIN_TOKEN\)$/.test(none.why), JSON.stringify(none));
      const other = await measuredFromAdmin(url, 'not-the-running-one');
      assert.ok('why' in other && /HTTP 401\): CORRAL_ADMIN_TOKEN here is not the running corral's/.test(other.why), JSON.stringify(other));
    });
  });

  it('measures the largest ready worker; nothing listening is "no running corral"', async () => {
    const MiB = 1048576;
    const stats = { master: { rss_bytes: 70 * MiB }, keeper: { rss_bytes: 60 * MiB }, workers: [{ state: 'ready', rss_bytes: 90 * MiB }, { state: 'ready', rss_bytes: 95 * MiB }, { state: 'booting', rss_bytes: 200 * MiB }] };
    let gone = '';
    await withAdmin(200, stats, async (url) => {
      gone = url;
      const a = await measuredFromAdmin(url, 'token');
      assert.ok('measured' in a);
      assert.deepEqual([a.measured.workerRssBytes, a.measured.masterRssBytes, a.measured.keeperRssBytes], [95 * MiB, 70 * MiB, 60 * MiB]);
    });
    const absent = await measuredFromAdmin(gone, undefined);
    assert.ok('why' in absent && absent.why.startsWith(`no running corral answered at ${gone}`), JSON.stringify(absent));
  });
});

/** `corral recommend --json` run in this process with `env` set (then restored): its answer, which it exits 0 with. */
async function recommendJsonWith(env: Readonly<Record<string, string>>): Promise<string> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let out = '';
  const write = process.stdout.write;
  // The command writes its answer as a string; the test runner's own reports (bytes) go on.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== 'string') return write.call(process.stdout, chunk, ...rest);
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    assert.equal(await recommendCommand.run(['--json']), 0);
  } finally {
    process.stdout.write = write;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return out;
}

describe("corral recommend asks the running master's admin API where it listens", () => {
  it('asks the address the master recorded beside its pidfile, not the settings\' CORRAL_ADMIN_BIND (given to npm start alone)', async () => {
    // The master's admin API, on an address only its own environment named (CORRAL_ADMIN_BIND=...
    // npm start); the settings this command reads name another, where nothing listens.
    const admin = createServer((req, res) => {
      res.writeHead(req.headers.authorization === 'Bearer recommend-test-token-0001' ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ master: { rss_bytes: 70 * MiB }, keeper: { rss_bytes: 60 * MiB }, workers: [{ state: 'ready', rss_bytes: 123 * MiB }] }));
    });
    admin.listen(0, '127.0.0.1');
    await once(admin, 'listening');
    const recorded = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const settingsPort = (closed.address() as AddressInfo).port;
    closed.close();
    const dir = mkdtempSync(join(tmpdir(), 'corral-recommend-'));
    const pidfile = join(dir, 'corral.pid');
    // This process stands for the master: its pidfile and start stamp, with the admin address.
    writePidfile(pidfile, undefined, { gracefulTimeoutS: 30, adminUrl: recorded });
    let out: string;
    try {
      out = await recommendJsonWith({ CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: pidfile, CORRAL_ADMIN_BIND: `127.0.0.1:${settingsPort}`, CORRAL_ADMIN_TOKEN: 'recommend-test-token-0001' });
    } finally {
      removePidfile(pidfile);
      rmSync(dir, { recursive: true, force: true });
      admin.close();
    }
    const json = JSON.parse(out) as { machine: { measured: boolean; fd_limit_from: string }; reasons: string[] };
    assert.match(json.machine.fd_limit_from, new RegExp(`^the running corral master \\(pid ${process.pid},`));
    assert.equal(json.machine.measured, true, json.reasons.join('\n'));
    assert.ok(json.reasons.some((r) => r.includes(`measured on the running corral at ${recorded}`)), json.reasons.join('\n'));
  });
});

describe('corral recommend with no master found through CORRAL_PIDFILE', () => {
  it("sends CORRAL_ADMIN_TOKEN to nothing at CORRAL_ADMIN_BIND (any local user may listen there while corral is down), and says to give --admin-url", async () => {
    // Whatever held that port got the token of whoever ran this (root, through sudo): the admin
    // API, and the whole sheet, players' codes included, through GET /api/export.
    const authorizations: string[] = [];
    const squatter = createServer((req, res) => {
      if (req.headers.authorization !== undefined) authorizations.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ master: { rss_bytes: 70 * MiB }, keeper: { rss_bytes: 60 * MiB }, workers: [{ state: 'ready', rss_bytes: 123 * MiB }] }));
    });
    squatter.listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const url = `http://127.0.0.1:${(squatter.address() as AddressInfo).port}`;
    const dir = mkdtempSync(join(tmpdir(), 'corral-recommend-'));
    let out: string;
    try {
      out = await recommendJsonWith({ CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: join(dir, 'corral.pid'), CORRAL_ADMIN_BIND: url.slice('http://'.length), CORRAL_ADMIN_TOKEN: 'recommend-test-token-0002' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      squatter.close();
    }
    assert.deepEqual(authorizations, []);
    const json = JSON.parse(out) as { machine: { measured: boolean }; reasons: string[] };
    assert.equal(json.machine.measured, false);
    assert.ok(
      json.reasons.some((r) => r.includes(`no corral master was found through CORRAL_PIDFILE, so CORRAL_ADMIN_TOKEN is not sent to ${url} (CORRAL_ADMIN_BIND), where any local user may listen while corral is down: give --admin-url ${url} to ask the corral there`)),
      json.reasons.join('\n'),
    );
  });
});

describe('corral recommend --admin-url beyond this host (it is sent CORRAL_ADMIN_TOKEN)', () => {
  it('is refused (exit 64) without --allow-remote, as loadtest --admin is, before anything is sent', async () => {
    await assert.rejects(
      recommendCommand.run(['--admin-url', 'http://192.0.2.2:19555']),
      usageError(/^--admin-url 192\.0\.2\.2:19555 is not a loopback address; pass --allow-remote if you own that server and mean to send it the admin token$/),
    );
    await assert.rejects(recommendCommand.run(['--admin-url', 'http://[2001:db8::1]:9090']), usageError(/^--admin-url \[2001:db8::1\]:9090 is not a loopback address;/));
    await assert.rejects(adminUrlAllowed('http://corral-test.invalid:9090', false), usageError(/^--admin-url host corral-test\.invalid could not be resolved .*, so it is not known to be loopback; pass --allow-remote/));
  });

  it('allows loopback (a name pinned to the addresses checked), and anything with --allow-remote', async () => {
    assert.equal(await adminUrlAllowed('http://127.0.0.1:9090', false), undefined);
    assert.equal(await adminUrlAllowed('http://[::1]:9090', false), undefined);
    const pinned = await adminUrlAllowed('http://localhost:9090', false);
    assert.ok(pinned && pinned.length > 0 && pinned.every((a) => isLoopbackAddress(a.address)), JSON.stringify(pinned));
    assert.equal(await adminUrlAllowed('http://192.0.2.2:19555', true), undefined);
  });

  it('connects a checked name to the addresses it was checked against, not to a second lookup', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ workers: [{ state: 'ready', rss_bytes: 90 * MiB }] }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      // .invalid never resolves (RFC 6761): only the pinned address can have answered.
      const url = `http://corral-pinned.invalid:${(server.address() as AddressInfo).port}`;
      const a = await measuredFromAdmin(url, 'token', [{ address: '127.0.0.1', family: 4 }]);
      assert.ok('measured' in a, JSON.stringify(a));
      assert.equal(a.measured.workerRssBytes, 90 * MiB);
    } finally {
      server.close();
    }
  });
});

describe("corral recommend's open-files limit", () => {
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: '/run/corral-test/corral.pid' } });
  const limits: Record<string, OpenFilesLimit | undefined> = { self: { soft: 20000, hard: 20000 }, '4242': { soft: 256, hard: 256 } };
  const read = (pid: number | 'self') => limits[String(pid)];

  it("is the running master's, which its workers inherit, and says so", () => {
    const src = fdLimitSource(settings, () => 4242, read);
    assert.equal(src.limit, 256);
    assert.match(src.from, /^the running corral master \(pid 4242, read from \/proc\/4242\/limits\)$/);
    const s = recommend({ ...base, fdLimit: src.limit, fdLimitFrom: src.from });
    assert.equal(s.workerConnections, 256 - 64);
    assert.ok(s.reasons.some((r) => r.includes('RLIMIT_NOFILE 256 minus 64 reserved, the limit of the running corral master (pid 4242')), s.reasons.join('\n'));
  });

  it("is this shell's when no master runs, said as such with why", () => {
    const src = fdLimitSource(
      settings,
      () => {
        throw new CorralError('CORRAL_ERR_NOT_RUNNING', 'corral is not running (no pidfile at /run/corral-test/corral.pid)');
      },
      read,
    );
    assert.equal(src.limit, 20000);
    assert.equal(src.from, 'this shell, as no corral master was found: corral is not running (no pidfile at /run/corral-test/corral.pid)');
  });

  it("is this shell's, said as such, when the master's limits cannot be read (another user's)", () => {
    const src = fdLimitSource(settings, () => 777, read);
    assert.equal(src.limit, 20000);
    assert.match(src.from, /^this shell, as the running corral master's \/proc\/777\/limits cannot be read/);
  });
});

describe('corral recommend output', () => {
  /** What a run writes on stdout. */
  async function printed(argv: string[]): Promise<string> {
    let out = '';
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    }) as typeof process.stdout.write;
    try {
      assert.equal(await recommendCommand.run(argv), 0);
    } finally {
      process.stdout.write = write;
    }
    return out;
  }

  it('gives the capacity as a figure, not as a CORRAL_MAX_CONNECTIONS to copy: set to workers x worker connections, it held the cap there when a worker was added', async () => {
    // The trap: the cap stays put with a worker more (TTIN, the dashboard's +1), the step FULL calls for.
    assert.equal(maxConnectionsOf(3, 100, 2 * 100), 200);
    assert.equal(maxConnectionsOf(3, 100, 0), 300);
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    const argv = ['--admin-url', `http://127.0.0.1:${port}`];
    const text = await printed(argv);
    assert.match(text, /^CORRAL_WORKERS=\d+$/m);
    assert.match(text, /^CORRAL_WORKER_CONNECTIONS=\d+$/m);
    assert.doesNotMatch(text, /^CORRAL_MAX_CONNECTIONS=/m);
    assert.match(text, /^# capacity: \d+ x \d+ = \d+ connections \(leave CORRAL_MAX_CONNECTIONS unset: it grows with the workers\)$/m);
    const json = JSON.parse(await printed(['--json', ...argv])) as { recommended: Record<string, number>; capacity: number };
    assert.deepEqual(Object.keys(json.recommended), ['CORRAL_WORKERS', 'CORRAL_WORKER_CONNECTIONS']);
    assert.equal(json.capacity, (json.recommended.CORRAL_WORKERS ?? 0) * (json.recommended.CORRAL_WORKER_CONNECTIONS ?? 0));
  });
});

describe('recommend: the CPUs counted', () => {
  it("counts the running master's CPUs (its affinity), not the shell's, and this shell's without one", async () => {
    // A process pinned to one CPU (CPUAffinity=0 in its unit, taskset) stands for the master.
    const pinned = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await once(pinned, 'spawn');
      execFileSync('taskset', ['-p', '-c', '0', String(pinned.pid)], { stdio: 'ignore' });
      assert.equal(masterCpus(pinned.pid), 1);
      assert.equal(masterCpus(undefined), availableParallelism());
      assert.equal(masterCpus(2 ** 22 + 1), availableParallelism(), 'a pid that is gone: this shell\'s');
    } finally {
      pinned.kill('SIGKILL');
    }
  });
});
