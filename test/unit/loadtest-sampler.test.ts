// The admin API sampler: finds CPU/RAM wherever /stats puts them, reads the seeds' capacity shape,
// and says plainly when the admin API cannot be used.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { journalNote } from '../../src/loadtest/journal-note.js';
import { AdminSampler, findPercent, sampleFrom } from '../../src/loadtest/sampler.js';
import { startAdminFixture, type AdminFixture } from '../fixtures/loadtest-target.js';

const CPU_KEY = /^(host_?)?cpu(_?(percent|pct|load|usage|used))?$/i;

describe('reading figures', () => {
  it('takes the capacity shape of the seeds', () => {
    const s = sampleFrom(1500, { success: true, capacity: { current_connections: 12, max_connections: 400, percent_used: 3, available_slots: 388, status: 'LOW', can_accept_new: true } }, { host: { cpu_percent: 35.5, ram_percent: 22 } });
    assert.deepEqual(s, { t: 1500, cpu: 35.5, ram: 22, hostT: 1500, hostDated: false, connections: 12, maxConnections: 400, status: 'LOW' });
  });

  it("reads the server's write journal (rows not yet in the sheet, the oldest's age) when the stats have it, and says so after the run once rows wait 30 s or more", () => {
    const stats = (rows: number, oldest: number) => ({ host: { cpu_percent: 30, ram_percent: 20 }, sheets: { journal_backlog: rows, journal_oldest_seconds: oldest } });
    const s = sampleFrom(1000, {}, stats(50, 473));
    assert.deepEqual([s.journalBacklog, s.journalOldestS], [50, 473]);
    assert.equal('journalBacklog' in sampleFrom(1000, {}, { host: { cpu_percent: 30 } }), false, 'absent when the stats have no journal');
    assert.equal(journalNote([]), undefined);
    assert.equal(journalNote([sampleFrom(1000, {}, stats(12, 1))]), undefined, 'a batch on its way');
    assert.equal(journalNote([sampleFrom(1000, {}, stats(50, 473)), sampleFrom(2000, {}, stats(0, 0))]), undefined, 'sent by the end');
    const note = journalNote([sampleFrom(1000, {}, stats(0, 0)), sampleFrom(2000, {}, stats(50, 31)), sampleFrom(3000, { status: 'LOW' }, { host: { cpu_percent: 30 } })]);
    assert.match(note ?? '', /^at the end of the run the server's write journal held 50 rows not yet in the Google Sheet, the oldest 31 s old: writes answered 201 are safe in the journal but Google is not taking them/);
  });

  it('dates CPU and RAM by when the master measured them, not when they were fetched', () => {
    const now = Date.parse('2026-11-22T12:00:10.000Z');
    const s = sampleFrom(3000, {}, { host: { cpu_percent: 37, ram_percent: 20, sampled_at: '2026-11-22T12:00:06.000Z' } }, now);
    assert.equal(s.t, 3000);
    assert.equal(s.hostT, -1000, 'measured 4 s before the fetch: before the run began');
    assert.equal(s.hostDated, true);
  });

  it('finds CPU in the shapes a stats endpoint may use, preferring the host over workers', () => {
    assert.equal(findPercent({ system: { cpu: 40 } }, ['system.cpu'], CPU_KEY), 40);
    assert.equal(findPercent({ master: { host: { cpuPercent: 12 } }, workers: [{ cpuPercent: 99 }] }, [], CPU_KEY), 12);
    assert.equal(findPercent({ workers: { w1: { cpu_percent: 90 } }, cpu_percent: 30 }, [], CPU_KEY), 30);
    assert.equal(findPercent({ cpu: 'busy' }, ['cpu'], CPU_KEY), null);
    assert.equal(findPercent({ cpu_percent: 250 }, [], CPU_KEY), null, 'not a percentage');
    assert.equal(findPercent(undefined, ['cpu'], CPU_KEY), null);
  });

  it('never dates a measurement after the answer that brought it (a master whose clock runs ahead)', () => {
    const now = Date.parse('2026-11-22T12:00:10.000Z');
    const ahead = sampleFrom(3000, {}, { host: { cpu_percent: 37, ram_percent: 20, sampled_at: '2026-11-22T12:01:00.000Z' } }, now, 3040);
    assert.equal(ahead.hostT, 3040);
    const during = sampleFrom(3000, {}, { host: { cpu_percent: 37, ram_percent: 20, sampled_at: '2026-11-22T12:00:10.015Z' } }, now, 3040);
    assert.equal(during.hostT, 3015, 'measured while the fetch was on its way');
  });

  it('tolerates missing fields', () => {
    assert.deepEqual(sampleFrom(0, undefined, {}), { t: 0, cpu: null, ram: null, hostT: 0, hostDated: false, connections: null, maxConnections: null, status: null });
  });
});

describe('sampling a live admin API', () => {
  let admin: AdminFixture;
  let cpu = 10;
  before(async () => {
    admin = await startAdminFixture({ token: 'tok', stats: () => ({ host: { cpu_percent: (cpu += 10), ram_percent: 30 } }) });
  });
  after(async () => {
    await admin.close();
  });

  it('probes, then samples until closed', async () => {
    const s = new AdminSampler(new URL(admin.url), 'tok');
    try {
      const probe = await s.probe(0);
      assert.equal(probe.ok, true);
      assert.equal(probe.sample?.connections, 3);
      s.start(() => 42, 20);
      const deadline = Date.now() + 5000;
      while (s.samples.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(s.samples.length >= 3);
      assert.ok(s.samples.every((x) => x.t === 42 && x.ram === 30 && x.cpu !== null));
    } finally {
      await s.close();
    }
    const n = s.samples.length;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(s.samples.length, n, 'no sample after close()');
  });

  it('dates every fetch of one host measurement to the same moment, however long each fetch took', async () => {
    // The master re-serves one measurement for seconds; fetches answered 0, 40 and 80 ms late must
    // not date it to three moments (it would be counted three times, and its span misread).
    const sampledAt = new Date(Date.now() - 300).toISOString();
    let calls = 0;
    const server = createServer((req, res) => {
      const delay = req.url === '/api/admin/stats' ? 40 * (calls++ % 3) : 0;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.url === '/api/admin/stats' ? { host: { cpu_percent: 20, ram_percent: 30, sampled_at: sampledAt } } : { capacity: { current_connections: 1 } }));
      }, delay);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const s = new AdminSampler(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), 'tok');
    const t0 = performance.now();
    try {
      s.start(() => performance.now() - t0, 20);
      const deadline = Date.now() + 5000;
      while (s.samples.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await s.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
    assert.ok(s.samples.length >= 4);
    assert.deepEqual(new Set(s.samples.map((x) => x.hostT)).size, 1, JSON.stringify(s.samples.map((x) => [x.t, x.hostT])));
  });

  it('dates a measurement the master took while a fetch was on its way once, not once per fetch', async () => {
    // The master measures while the first fetch waits for its answer: that fetch and the next ones
    // return the same measurement, which must get one date (else it counts twice, ms apart).
    let sampledAt: string | undefined;
    const server = createServer((req, res) => {
      const answer = (): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.url === '/api/admin/stats' ? { host: { cpu_percent: 20, ram_percent: 30, sampled_at: sampledAt } } : { capacity: { current_connections: 1 } }));
      };
      if (sampledAt !== undefined || req.url !== '/api/admin/stats') return answer();
      setTimeout(() => {
        sampledAt = new Date().toISOString();
        setTimeout(answer, 30);
      }, 30);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const s = new AdminSampler(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), 'tok');
    const t0 = performance.now();
    try {
      s.start(() => performance.now() - t0, 20);
      const deadline = Date.now() + 5000;
      while (s.samples.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await s.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
    assert.ok(s.samples.length >= 3);
    assert.equal(new Set(s.samples.map((x) => x.hostT)).size, 1, JSON.stringify(s.samples.map((x) => [x.t, x.hostT])));
    const first = s.samples[0];
    assert.ok(first && first.hostT >= first.t + 25, `dated when measured, after the fetch was sent: ${JSON.stringify(first)}`);
  });

  it('keeps no empty sample for a fetch the admin API refused mid-run, and records why', async () => {
    // A master that starts refusing (a reload that rotated CORRAL_ADMIN_TOKEN, a proxy in front
    // answering 503): those fetches measured nothing and must not pass for measurements.
    let status = 200;
    const server = createServer((req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status !== 200 ? { error: 'x' } : req.url === '/api/admin/stats' ? { host: { cpu_percent: 20, ram_percent: 30 } } : { capacity: { current_connections: 1 } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const s = new AdminSampler(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), 'tok');
    let now = 0;
    const waitFor = async (what: () => boolean): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    try {
      s.start(() => now, 20);
      await waitFor(() => s.samples.length >= 2);
      now = 1000;
      status = 401;
      await waitFor(() => s.failures.length >= 2);
      now = 2000;
      status = 503;
      await waitFor(() => s.failures.filter((f) => f.t === 2000).length >= 2);
    } finally {
      await s.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
    // A fetch begun before a switch may be answered after it (t is when it began; its two requests
    // may even straddle the switch): only the fetches begun after each switch are certain.
    assert.ok(s.samples.filter((x) => x.cpu === 20 && x.ram === 30).length >= 2, JSON.stringify(s.samples));
    assert.ok(s.samples.every((x) => x.t === 0), `no sample from a fetch refused both ways: ${JSON.stringify(s.samples)}`);
    const failures = new Set(s.failures.map((f) => `${f.t} ${f.problem}`));
    for (const sure of ['1000 HTTP 401: token refused', '2000 HTTP 503']) assert.ok(failures.has(sure), sure);
    const possible = new Set(['0 HTTP 401: token refused', '1000 HTTP 401: token refused', '1000 HTTP 503', '2000 HTTP 503']);
    assert.deepEqual([...failures].filter((f) => !possible.has(f)), []);
  });

  it('reports a refused token', async () => {
    const s = new AdminSampler(new URL(admin.url), 'wrong');
    const probe = await s.probe(0);
    await s.close();
    assert.equal(probe.ok, false);
    assert.match(probe.problem ?? '', /refused the token \(HTTP 401\); check --admin-token/);
    assert.equal(probe.tokenRefused, true, 'an argument to fix, not an outage');
  });

  it('reports a missing token as missing, not as refused', async () => {
    const s = new AdminSampler(new URL(admin.url), undefined);
    const probe = await s.probe(0);
    await s.close();
    assert.equal(probe.ok, false);
    assert.equal(probe.problem, 'the admin API needs a token (HTTP 401); pass --admin-token or set CORRAL_ADMIN_TOKEN');
  });

  it('says an admin API whose master has no token set (403 admin_token_unset) needs one set there, whatever token was passed', async () => {
    // The master answers so until CORRAL_ADMIN_TOKEN is set on it: "refused the token; check
    // --admin-token" sent the operator to a token nothing could match, and without one "pass
    // --admin-token" to that same message.
    const server = createServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"success":false,"error":"admin_token_unset","message":"set CORRAL_ADMIN_TOKEN to use the admin API"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      for (const token of ['a-token-0123456789', undefined]) {
        const s = new AdminSampler(url, token);
        const probe = await s.probe(0);
        await s.close();
        assert.equal(probe.ok, false);
        assert.equal(probe.problem, "the target's master has no admin token set (HTTP 403 admin_token_unset), so its admin API answers no one: set CORRAL_ADMIN_TOKEN in its settings and reload it (corral reload), then pass the same token with --admin-token");
        assert.equal(probe.tokenRefused, true, 'a setting to fix, not an outage');
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reports an admin API that accepts connections but never answers as not answering', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const server = createNetServer((c) => sockets.add(c));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const s = new AdminSampler(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), 'tok');
    try {
      const probe = await s.probe(0);
      assert.equal(probe.ok, false);
      assert.match(probe.problem ?? '', /^the admin API at http:\/\/127\.0\.0\.1:\d+ accepted the connection but did not answer within 2 s; check --admin: /);
    } finally {
      await s.close();
      for (const c of sockets) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('reports an admin API that is not there', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const s = new AdminSampler(new URL(`http://127.0.0.1:${port}`), 'tok');
    const probe = await s.probe(0);
    await s.close();
    assert.equal(probe.ok, false);
    assert.match(probe.problem ?? '', /not reachable \(ECONNREFUSED\); check --admin: it is the master's admin listener \(the target's CORRAL_ADMIN_BIND, 127\.0\.0\.1:9090 by default\), not the app's port$/);
    assert.equal(probe.tokenRefused, undefined);
  });

  it("says an --admin URL that answers 404 (the app's port) is not corral's admin API, and what --admin should be", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not_found"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const s = new AdminSampler(new URL(origin), 'tok');
    try {
      const probe = await s.probe(0);
      assert.equal(probe.ok, false);
      assert.equal(probe.notAdmin, true, 'refused before the load, as a refused token is');
      assert.equal(probe.problem, `${origin}/api/admin/capacity answered HTTP 404 and ${origin}/api/admin/stats answered HTTP 404, so it does not look like corral's admin API; check --admin: it is the master's admin listener (the target's CORRAL_ADMIN_BIND, 127.0.0.1:9090 by default), not the app's port`);
    } finally {
      await s.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  describe('a fetch that does not answer', () => {
    /** An admin API that accepts connections and answers after `delayMs`, or never (undefined). */
    async function slowAdmin(delayMs?: number): Promise<{ url: URL; close(): Promise<void> }> {
      const server = createServer((req, res) => {
        if (delayMs === undefined) return;
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(req.url === '/api/admin/stats' ? { host: { cpu_percent: 20, ram_percent: 30 } } : { capacity: { current_connections: 1 } }));
        }, delayMs);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return {
        url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
        close: async () => {
          server.closeAllConnections();
          await new Promise<void>((r) => server.close(() => r()));
        },
      };
    }
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

    it('records a fetch still unanswered when the run ends, and each tick it held up, as failures', async () => {
      // Before, the end of the run dropped it without a word, and the last step, with no figure
      // and no failure, was told its length was to blame ("no host measurement ... covers this step").
      const admin = await slowAdmin();
      const s = new AdminSampler(admin.url, 'tok');
      let now = 0;
      try {
        s.start(() => now, 100);
        for (now = 100; now <= 400; now += 100) await sleep(130);
        now = 450;
      } finally {
        await s.close();
        await admin.close();
      }
      assert.deepEqual(s.samples, []);
      assert.equal(s.failures[0]?.t, 0, JSON.stringify(s.failures));
      assert.ok(s.failures.length >= 3, `the fetch sent at 0 and the ticks it held up: ${JSON.stringify(s.failures)}`);
      assert.ok(s.failures.every((f) => f.problem === 'no answer before the run ended'), JSON.stringify(s.failures));
    });

    it('takes a fetch sent just before the run ended, or answered late, as no failure', async () => {
      const silent = await slowAdmin();
      const s = new AdminSampler(silent.url, 'tok');
      try {
        s.start(() => 0, 1000);
      } finally {
        // In flight for less than an interval: it had not had its chance.
        await s.close();
        await silent.close();
      }
      assert.deepEqual(s.failures, []);
      // Answered after 250 ms, holding up two ticks of 100 ms: the figure came, late.
      const slow = await slowAdmin(250);
      const t = new AdminSampler(slow.url, 'tok');
      try {
        t.start(() => performance.now(), 100);
        const deadline = Date.now() + 5000;
        while (t.samples.length < 2 && Date.now() < deadline) await sleep(20);
      } finally {
        await t.close();
        await slow.close();
      }
      assert.ok(t.samples.length >= 2);
      assert.deepEqual(t.failures, []);
    });

    it('records the ticks a fetch held up with its own failure when it times out', async () => {
      const admin = await slowAdmin();
      const s = new AdminSampler(admin.url, 'tok');
      let now = 0;
      try {
        s.start(() => now, 500);
        const deadline = Date.now() + 5000;
        while (s.failures.length === 0 && Date.now() < deadline) {
          await sleep(50);
          now += 50;
        }
      } finally {
        await s.close();
        await admin.close();
      }
      const first = s.failures.filter((f) => f.problem === 'no answer within 2 s');
      assert.equal(first[0]?.t, 0, JSON.stringify(s.failures));
      assert.ok(first.length >= 4, `the fetch sent at 0 and the 3 or 4 ticks of 500 ms it held up: ${JSON.stringify(s.failures)}`);
    });
  });

  it('names the full URLs tried when --admin has a path (http://h:p/api/admin), and a page that is not JSON is no admin API either', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/spa/api/admin/capacity' || req.url === '/spa/api/admin/stats') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const withPath = new AdminSampler(new URL(`${origin}/api/admin`), 'tok');
    const spa = new AdminSampler(new URL(`${origin}/spa`), 'tok');
    try {
      const probe = await withPath.probe(0);
      assert.equal(probe.notAdmin, true);
      assert.match(probe.problem ?? '', new RegExp(`^${origin.replace(/\./g, '\\.')}/api/admin/api/admin/capacity answered HTTP 404 and ${origin.replace(/\./g, '\\.')}/api/admin/api/admin/stats answered HTTP 404, so it does not look like corral's admin API; --admin takes the admin listener's address without a path, ${origin.replace(/\./g, '\\.')}, as /api/admin was put before /api/admin/; check --admin`));
      const page = await spa.probe(0);
      assert.equal(page.notAdmin, true);
      assert.match(page.problem ?? '', /\/spa\/api\/admin\/capacity answered HTTP 200 \(not JSON\) and .*\/spa\/api\/admin\/stats answered HTTP 200 \(not JSON\), so it does not look like corral's admin API/);
    } finally {
      await withPath.close();
      await spa.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
