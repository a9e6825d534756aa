// The /admin dashboard in headless Chromium: the cards' figures and their alarms (Requests, Sheets,
// CPU and RAM, Workers) and the Workers table. dashboard.test.ts has the token, the figures the API
// returns and the charts; dashboard_buttons.test.ts the header, the buttons, the token form, the
// charts' axes and a phone's width; dashboard-setup.ts what they share.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startAdminServer } from '../../src/master/admin/server.js';
import { startMonitoring, type Monitoring } from '../../src/master/admin/monitoring.js';
import type { HostMonitor, HostSample } from '../../src/master/host-monitor.js';
import { noneServed } from '../../src/master/child-exits.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';
import { logger, skip, TOKEN, withDashboard } from './dashboard-setup.js';

describe('/admin dashboard in Chromium: the cards and the Workers table', { skip }, () => {
  let monitoring: Monitoring;
  let browser: Browser;
  withDashboard((d) => ({ monitoring, browser } = d));

  it('when requests fail (Google down: 5xx answers, a range failing) the Requests and Sheets cards say so in red, and clear when it ends', async () => {
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1' });
    const outage = createFakeView(settings, [child(1, 4401, 'ready', { requestsServed: 100, errorsServed: 0 }), child(0, 4400, 'ready', { extra: { rangesFailing: 0 } }, 'keeper')]);
    // The page first: the rate read below is over the time since t0, and a browser slow to open a
    // page (the system test beside it) would spread it thinner.
    const page = await browser.newPage();
    // Its first history sample is taken now: the next ones are 5 and 10 s after it.
    const t0 = Date.now();
    const own = startMonitoring(outage, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    // The totals 5 s ago, for the stats' rates (recorded every second from now on).
    own.rates.observe({ requests: 100, errors: 0, refused: 0 }, t0 - 5000);
    const outageServer = await startAdminServer(outage, logger, { host: '127.0.0.1', port: 0, monitoring: own });
    try {
      // Five seconds in which every one of 50 requests was answered 503, the players range failing.
      outage.kids = [child(1, 4401, 'ready', { requestsServed: 150, errorsServed: 50 }), child(0, 4400, 'ready', { extra: { rangesFailing: 1 } }, 'keeper')];
      own.recordHistory(t0 + 5000);
      await page.goto(`http://127.0.0.1:${outageServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 1);
      // 50 in the 5 to 6 s before the page asked (more on a slow machine).
      assert.ok(Number(((await page.textContent('#errors-rate')) ?? '').trim()) > 5);
      assert.equal(await page.getAttribute('#errors', 'data-bad'), 'true');
      assert.equal(((await page.textContent('#sheets-failing')) ?? '').trim(), '1');
      assert.equal(await page.getAttribute('#sheets-failing', 'data-bad'), 'true');
      await page.waitForFunction(() => document.querySelectorAll('#chart-errors .uplot canvas').length === 1);

      // Google answers again: no more 5xx, no range failing.
      outage.kids = [child(1, 4401, 'ready', { requestsServed: 200, errorsServed: 50 }), child(0, 4400, 'ready', { extra: { rangesFailing: 0 } }, 'keeper')];
      own.recordHistory(t0 + 10_000);
      await page.waitForFunction(() => document.getElementById('errors')?.dataset.bad === 'false', undefined, { timeout: 12_000 });
      assert.equal(((await page.textContent('#errors-rate')) ?? '').trim(), '0.0');
      assert.equal(await page.getAttribute('#sheets-failing', 'data-bad'), 'false');
    } finally {
      await page.close();
      await outageServer.close();
      own.close();
    }
  });

  it('connections refused at FULL (503 server full, neither requests served nor 5xx answers) are shown per second in red, with their total, and charted', async () => {
    // 40 busy connections hold a cap of 40; 300 new ones were refused in the last 5 s, no request served.
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1', CORRAL_WORKER_CONNECTIONS: '40' });
    const full = createFakeView(settings, [child(1, 4801, 'ready', { activeConnections: 40, requestsServed: 500, errorsServed: 0, connectionsRefused: 0 })]);
    const page = await browser.newPage();
    const t0 = Date.now();
    // The rates' only record is the one of 5 s before t0: the 300 refusals are spread over the
    // time since it, at least 60/s, 40/s while the stats are read within 2.5 s of t0 (they are
    // next), and 20/s until 10 s after it (the page's own read). Recorded every second, the rate
    // fell to 0 once a record holding the 300 was 5 s old: a page slow to load read 0.
    const own = startMonitoring(full, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000, ratesIntervalMs: 60_000 });
    own.rates.observe({ requests: 500, errors: 0, refused: 0 }, t0 - 5000);
    const fullServer = await startAdminServer(full, logger, { host: '127.0.0.1', port: 0, monitoring: own });
    try {
      full.kids = [child(1, 4801, 'ready', { activeConnections: 40, requestsServed: 500, errorsServed: 0, connectionsRefused: 300 })];
      own.recordHistory(t0 + 5000);
      const stats = (await (await fetch(`http://127.0.0.1:${fullServer.port}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        capacity: { status: string };
        totals: { requests_per_second: number; errors_per_second: number; connections_refused_per_second: number; connections_refused: number; errors_served: number };
      };
      assert.equal(stats.capacity.status, 'FULL');
      assert.deepEqual([stats.totals.requests_per_second, stats.totals.errors_per_second, stats.totals.errors_served], [0, 0, 0], 'refusals are not counted twice');
      assert.ok(stats.totals.connections_refused_per_second > 40 && stats.totals.connections_refused_per_second <= 60, String(stats.totals.connections_refused_per_second));
      const charted = own.history.latest()?.refused_per_s ?? 0;
      assert.ok(charted > 55 && charted < 65, `history: ${charted}/s`);
      await page.goto(`http://127.0.0.1:${fullServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 1);
      assert.ok(Number(((await page.textContent('#refused-rate')) ?? '').trim()) > 20);
      assert.equal(((await page.textContent('#refused-total')) ?? '').trim(), '300');
      assert.equal(await page.getAttribute('#refused', 'data-bad'), 'true');
      assert.equal(((await page.textContent('#rps')) ?? '').trim(), '0.0');
      assert.equal(await page.getAttribute('#errors', 'data-bad'), 'false');
      await page.waitForFunction(() => document.querySelectorAll('#chart-refused .uplot canvas').length === 1);
      assert.equal(await page.$eval('#chart-refused .u-title', (el) => el.textContent), 'connections refused/s (server full)');
    } finally {
      await page.close();
      await fullServer.close();
      own.close();
    }
  });

  it('the Workers table says a ready worker marked for replacement is retiring, and why; a worker that answered nothing in the minute has no p99, not 0.0 ms', async () => {
    // Object.assign keeps the child's beating getter; a spread would freeze its last beat, and on a
    // loaded box the page loaded after three beats' time and read the worker as not beating.
    const retiring = Object.assign(child(1, 4701, 'ready', { requestsServed: 10 }), { retire: 'uncaught' as const });
    const view = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2' }), [retiring, child(2, 4702, 'ready', { requestsServed: 0 })]);
    view.beats.add(4701, [900, 10], view.now());
    const own = startMonitoring(view, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0, monitoring: own });
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${server.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 2);
      const rows = await page.$$eval('#workers-body tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      assert.equal(rows[0]?.[3], 'ready, retiring (uncaught)');
      assert.equal(rows[1]?.[3], 'ready');
      assert.match(rows[0]?.[11] ?? '', /^\d+(\.\d)? ms$/, 'the worker that answered has its p99');
      assert.equal(rows[1]?.[11], '–', 'none answered: no p99');
    } finally {
      await page.close();
      await server.close();
      own.close();
    }
  });

  it('the Requests card shows the requests served since the master started (as /metrics), exited workers\' included, and the live workers\' share', async () => {
    // Two workers replaced so far served 5000 between them; the one running now, 120.
    const replaced = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1' }), [child(1, 4601, 'ready', { requestsServed: 120 })]);
    replaced.exited = { requests: 5000, errors: 0, refused: 0, idleClosed: 0, sheets: noneServed().sheets };
    const replacedServer = await startAdminServer(replaced, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    try {
      const metrics = await (await fetch(`http://127.0.0.1:${replacedServer.port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      assert.match(metrics, /^corral_requests_total 5120$/m);
      await page.goto(`http://127.0.0.1:${replacedServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 1);
      assert.equal(((await page.textContent('#requests-total')) ?? '').trim(), '5,120');
      assert.equal(((await page.textContent('#requests-live')) ?? '').trim(), '120');
      assert.equal(await page.$eval('#requests-total', (el) => el.parentElement?.textContent ?? ''), '5,120 served since the master started, 120 by live workers');
    } finally {
      await page.close();
      await replacedServer.close();
    }
  });

  it('CPU and RAM figures the master could not measure for over three sampling intervals are greyed and say how old they are', async () => {
    const sampling = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1' }), [child(1, 4701, 'ready', {})]);
    const own = startMonitoring(sampling, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    own.host.close();
    // Host sampling failing since a minute ago (every 5 s): the last sample read is kept.
    let sample: HostSample = { at: Date.now() - 60_000, cpuPercent: 12.5, ramPercent: 41, ramUsedBytes: 4e9, ramTotalBytes: 1e10, cpuCount: 2 };
    const host: HostMonitor = { intervalMs: 5000, latest: () => sample, sample: async () => sample, close: () => {} };
    const samplingServer = await startAdminServer(sampling, logger, { host: '127.0.0.1', port: 0, monitoring: { ...own, host } });
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${samplingServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 1);
      assert.equal(((await page.textContent('#cpu')) ?? '').trim(), '12.5', 'the last figures stay, marked');
      for (const id of ['cpu', 'ram']) {
        assert.equal(await page.getAttribute(`#${id}-card`, 'data-stale'), 'true', id);
        assert.equal(await page.isHidden(`#${id}-stale`), false, id);
        assert.match(((await page.textContent(`#${id}-stale`)) ?? '').trim(), /^not measured for 6\d s: last figures read$/, id);
      }
      // Greyed by colour, which keeps 5.6:1 (the .45 opacity it had made 1.9:1 of the muted text).
      assert.equal(await page.$eval('#cpu', (el) => getComputedStyle(el.parentElement!).color), 'rgb(92, 99, 112)', 'greyed');
      assert.equal(await page.$eval('#cpu', (el) => getComputedStyle(el.parentElement!).opacity), '1');
      // Sampling works again: the marks go.
      sample = { ...sample, at: Date.now(), cpuPercent: 30 };
      await page.waitForFunction(() => document.getElementById('cpu-card')?.dataset.stale === undefined, undefined, { timeout: 12_000 });
      assert.equal(((await page.textContent('#cpu')) ?? '').trim(), '30.0');
      assert.equal(await page.isHidden('#cpu-stale'), true);
      assert.equal(await page.isHidden('#ram-stale'), true);
      assert.notEqual(await page.$eval('#cpu', (el) => getComputedStyle(el.parentElement!).color), 'rgb(92, 99, 112)');
    } finally {
      await page.close();
      await samplingServer.close();
      own.close();
    }
  });

  it('CPU and RAM under a cgroup CPU quota and memory limit say so, not the machine\'s cores and RAM', async () => {
    const limited = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1' }), [child(1, 4751, 'ready', {})]);
    const own = startMonitoring(limited, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    own.host.close();
    // A container with --cpus=2 -m 512m on a larger machine: the log says "CPU at 97.5% of the
    // cgroup's CPU quota" and "RAM at 88.9% of the cgroup's memory limit"; the cards said
    // "97.5% · 2 cores" and "88.9% · 455.0 MiB of 512.0 MiB", read as the machine's.
    const mib = 1048576;
    let sample: HostSample = { at: Date.now(), cpuPercent: 97.5, cpuFrom: 'cgroup', ramPercent: 88.9, ramUsedBytes: 455 * mib, ramTotalBytes: 512 * mib, ramFrom: 'cgroup', cpuCount: 2 };
    const host: HostMonitor = { intervalMs: 5000, latest: () => sample, sample: async () => sample, close: () => {} };
    const limitedServer = await startAdminServer(limited, logger, { host: '127.0.0.1', port: 0, monitoring: { ...own, host } });
    const page = await browser.newPage();
    const line = async (id: string) => ((await page.$eval(`#${id}-card .small`, (el) => el.textContent)) ?? '').replace(/\s+/g, ' ').trim();
    try {
      await page.goto(`http://127.0.0.1:${limitedServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 1);
      assert.equal(await line('cpu'), "of the cgroup's CPU quota: 2 CPUs");
      assert.equal(await line('ram'), "455.0 MiB of the cgroup's memory limit, 512.0 MiB");
      // The same host without them: the CPUs corral may run on, the machine's RAM.
      sample = { ...sample, at: Date.now(), cpuFrom: 'host', ramFrom: 'host', cpuCount: 1, ramUsedBytes: 4 * 1024 * mib, ramTotalBytes: 16 * 1024 * mib };
      await page.waitForFunction(() => !(document.querySelector('#cpu-card .small')?.textContent ?? '').includes('cgroup'), undefined, { timeout: 12_000 });
      assert.equal(await line('cpu'), '1 CPU');
      assert.equal(await line('ram'), '4.0 GiB of 16.0 GiB');
    } finally {
      await page.close();
      await limitedServer.close();
      own.close();
    }
  });

  it('a journal that cannot be written (disk full) is said in red in the Sheets card, with the events refused', async () => {
    const full = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1' }), [
      child(1, 4501, 'ready', {}),
      child(0, 4500, 'ready', { extra: { journalWritable: false, journalAppendsRefused: 31, journalBacklogRows: 2, journalOldestRowSeconds: 45 } }, 'keeper'),
    ]);
    const fullServer = await startAdminServer(full, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${fullServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 1);
      assert.equal(((await page.textContent('#sheets-journal')) ?? '').trim(), 'cannot write: events refused (31); 2 (oldest 45s)');
      assert.equal(await page.getAttribute('#sheets-journal', 'data-bad'), 'true');
      full.kids[1] = child(0, 4500, 'ready', { extra: { journalWritable: true, journalAppendsRefused: 31, journalBacklogRows: 0, journalOldestRowSeconds: 0 } }, 'keeper');
      await page.waitForFunction(() => document.getElementById('sheets-journal')?.dataset.bad === 'false', undefined, { timeout: 12_000 });
      assert.equal(((await page.textContent('#sheets-journal')) ?? '').trim(), '0');
    } finally {
      await page.close();
      await fullServer.close();
    }
  });

  it('reads waiting for the spent read quota are counted in red in the Sheets card, and clear once served', async () => {
    const spent = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1' }), [
      child(1, 4601, 'ready', {}),
      child(0, 4600, 'ready', { extra: { readTokensLeft: 0, writeTokensLeft: 60, readQueue: 12 } }, 'keeper'),
    ]);
    const spentServer = await startAdminServer(spent, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${spentServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 1);
      assert.equal(((await page.textContent('#sheets-quota')) ?? '').trim(), '0 / 60; 12 reads waiting');
      assert.equal(await page.getAttribute('#sheets-quota', 'data-bad'), 'true');
      // A new minute: the tokens are back and the queue served.
      spent.kids[1] = child(0, 4600, 'ready', { extra: { readTokensLeft: 288, writeTokensLeft: 60, readQueue: 0 } }, 'keeper');
      await page.waitForFunction(() => document.getElementById('sheets-quota')?.dataset.bad === 'false', undefined, { timeout: 12_000 });
      assert.equal(((await page.textContent('#sheets-quota')) ?? '').trim(), '288 / 60');
    } finally {
      await page.close();
      await spentServer.close();
    }
  });

  it('a keeper not beating (its loop blocked, the process stopped) has the Sheets card\'s figures greyed, said to be of its last beat and how old, until it beats again', async () => {
    const silent = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1' }), [
      child(1, 4651, 'ready', {}),
      { ...child(0, 4650, 'ready', { extra: { readTokensLeft: 57, writeTokensLeft: 35, journalBacklogRows: 3, maxStaleSeconds: 0 } }, 'keeper'), lastBeatAt: Date.now() - 8000 },
    ]);
    const silentServer = await startAdminServer(silent, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${silentServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 1);
      assert.match(((await page.textContent('#keeper-state')) ?? '').trim(), /^ready, not beating for \d+(\.\d)? s$/);
      assert.equal(((await page.textContent('#sheets-quota')) ?? '').trim(), '57 / 35', 'the last figures stay, marked');
      assert.equal(await page.getAttribute('#sheets-card', 'data-stale'), 'true');
      assert.equal(await page.isHidden('#sheets-beat-note'), false);
      assert.match(((await page.textContent('#sheets-beat-note')) ?? '').trim(), /^the keeper has not beaten for (8|9|1\d)\.\d s: its figures here are those of its last beat$/);
      // The card's own rows stay: the max staleness among them.
      assert.equal(((await page.textContent('#sheets-stale')) ?? '').trim(), '0s');
      assert.equal(await page.isHidden('#sheets-stale'), false);
      assert.equal(await page.$eval('#sheets-quota', (el) => getComputedStyle(el).color), 'rgb(92, 99, 112)', 'greyed');
      // It beats again: the marks go.
      silent.kids[1] = child(0, 4650, 'ready', { extra: { readTokensLeft: 60, writeTokensLeft: 60, journalBacklogRows: 0, maxStaleSeconds: 0 } }, 'keeper');
      await page.waitForFunction(() => document.getElementById('sheets-card')?.dataset.stale === undefined, undefined, { timeout: 12_000 });
      assert.equal(await page.isHidden('#sheets-beat-note'), true);
      assert.equal(await page.isHidden('#sheets-stale'), false);
      assert.equal(((await page.textContent('#sheets-quota')) ?? '').trim(), '60 / 60');
      assert.notEqual(await page.$eval('#sheets-quota', (el) => getComputedStyle(el).color), 'rgb(92, 99, 112)');
    } finally {
      await page.close();
      await silentServer.close();
    }
  });

  it('with REDIS_URL the Sheets card says whether the quota and cache are shared, in red while Redis is unreachable or refuses the keeper (saying which); without it, nothing', async () => {
    const hosts = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1' }), [
      child(1, 4601, 'ready', {}),
      child(0, 4600, 'ready', { extra: { redisConnected: true, sharedReads: 12 } }, 'keeper'),
    ]);
    const hostsServer = await startAdminServer(hosts, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${hostsServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 1);
      assert.equal(((await page.textContent('#sheets-redis')) ?? '').trim(), 'yes (12 ranges taken from it)');
      assert.equal(await page.isVisible('#sheets-redis-label'), true);
      assert.equal(await page.getAttribute('#sheets-redis', 'data-bad'), 'false');
      hosts.kids[1] = child(0, 4600, 'ready', { extra: { redisConnected: false, sharedReads: 12 } }, 'keeper');
      await page.waitForFunction(() => document.getElementById('sheets-redis')?.dataset.bad === 'true', undefined, { timeout: 12_000 });
      assert.match(((await page.textContent('#sheets-redis')) ?? '').trim(), /^no: Redis unreachable, this host reads Google/);
      // Answering, but refusing (memory full): said so, and where its fix is, not "unreachable".
      hosts.kids[1] = child(0, 4600, 'ready', { extra: { redisConnected: false, redisRefused: 'writes', sharedReads: 12 } }, 'keeper');
      await page.waitForFunction(() => document.getElementById('sheets-redis')?.textContent?.includes('refuses') === true, undefined, { timeout: 12_000 });
      assert.equal(((await page.textContent('#sheets-redis')) ?? '').trim(), 'no: Redis refuses writes (memory full?) (redis.misconfigured in the log), this host reads Google and spends its share of the quota alone');
      assert.equal(await page.getAttribute('#sheets-redis', 'data-bad'), 'true');
      hosts.kids[1] = child(0, 4600, 'ready', { extra: {} }, 'keeper');
      await page.waitForFunction(() => document.getElementById('sheets-redis')?.hidden === true, undefined, { timeout: 12_000 });
      assert.equal(await page.isVisible('#sheets-redis-label'), false);
    } finally {
      await page.close();
      await hostsServer.close();
    }
  });

  it('the Workers card keeps the workers\' exits by reason, in red those nobody asked for (killed as stuck, died, uncaught), after their replacements are ready; the keeper\'s too, beside its state', async () => {
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2' });
    const own = createFakeView(settings, [child(1, 5301, 'ready', {}), child(2, 5302, 'ready', {})]);
    const ownServer = await startAdminServer(own, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    const exits = async () => ((await page.textContent('#exits')) ?? '').trim();
    try {
      await page.goto(`http://127.0.0.1:${ownServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 2);
      assert.equal(await exits(), 'worker exits since the master started: none');
      assert.equal(await page.getAttribute('#exits-unasked', 'data-bad'), 'false');
      // A reload replaced both: asked for, not red.
      own.exits = { worker: { reload: 2 }, keeper: {} };
      await page.waitForFunction(() => (document.getElementById('exits')?.textContent ?? '').includes('reload'), undefined, { timeout: 12_000 });
      assert.equal(await exits(), 'worker exits since the master started: none unexpected; asked for: 2 reload');
      assert.equal(await page.getAttribute('#exits-unasked', 'data-bad'), 'false');
      // One killed as stuck, one crashed, one threw: the count is back to 2 / 2, the card still says it, in red.
      own.exits = { worker: { died: 1, reload: 2, uncaught: 1, timeout: 1 }, keeper: { died: 1 } };
      await page.waitForFunction(() => document.getElementById('exits-unasked')?.dataset.bad === 'true', undefined, { timeout: 12_000 });
      assert.equal(await exits(), 'worker exits since the master started: 1 killed as stuck (timeout), 1 died, 1 uncaught exception; asked for: 2 reload');
      assert.equal(((await page.textContent('#workers-ready')) ?? '').trim(), '2');
      assert.equal(await page.$eval('#exits-unasked', (el) => getComputedStyle(el).color), 'rgb(197, 48, 48)');
      // The keeper that died was restarted and is ready: its exit is said beside its state, in red.
      own.kids = [...own.kids, child(0, 5300, 'ready', {}, 'keeper')];
      await page.waitForFunction(() => (document.getElementById('keeper-state')?.textContent ?? '').startsWith('ready'), undefined, { timeout: 12_000 });
      assert.equal(((await page.textContent('#keeper-state')) ?? '').trim(), 'ready; exited unasked since the master started: 1 died');
      assert.equal(await page.$eval('#keeper-state', (el) => getComputedStyle(el).color), 'rgb(197, 48, 48)');
    } finally {
      await page.close();
      await ownServer.close();
    }
  });
});
