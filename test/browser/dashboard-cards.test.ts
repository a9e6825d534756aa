// The /admin dashboard in headless Chromium, its second part (dashboard.test.ts has the first;
// dashboard-setup.ts what they share): the cards' figures and their alarms, a phone's width, the
// buttons and their messages, the charts' axes, and what a screen reader is told.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startAdminServer } from '../../src/master/admin/server.js';
import { startMonitoring, type Monitoring } from '../../src/master/admin/monitoring.js';
import type { HostMonitor, HostSample } from '../../src/master/host-monitor.js';
import { noneServed } from '../../src/master/child-exits.js';
import { child, createFakeView, testSettings, type FakeView } from '../fixtures/fake-admin-view.js';
import { logger, skip, TOKEN, withDashboard } from './dashboard-setup.js';

describe('/admin dashboard in Chromium: cards, layout and buttons', { skip }, () => {
  let view: FakeView;
  let monitoring: Monitoring;
  let browser: Browser;
  let base: string;
  withDashboard((d) => ({ view, monitoring, browser, base } = d));

  it('fits a phone\'s width (360 px): the page does not scroll sideways, the workers table scrolls on its own, the charts fit, also after turning it', async () => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 740 } });
    try {
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('.chart .uplot canvas').length === 7, undefined, { timeout: 10_000 });
      // Wide first, then a phone held upright: the charts were drawn for the wide window.
      for (const width of [360, 320]) {
        await page.setViewportSize({ width, height: 740 });
        await page.waitForFunction((w) => [...document.querySelectorAll('.chart .uplot')].every((u) => u.getBoundingClientRect().right <= w), width, { timeout: 5000 });
        const m = await page.evaluate(() => ({
          page: document.documentElement.scrollWidth,
          view: window.innerWidth,
          cards: Math.max(...[...document.querySelectorAll('.card')].map((el) => el.getBoundingClientRect().right)),
          tableWrap: document.querySelector('.table-wrap')?.getBoundingClientRect().right ?? Infinity,
          table: document.getElementById('workers')?.scrollWidth ?? 0,
        }));
        assert.ok(m.page <= m.view, `${width} px: the page is ${m.page} px wide`);
        assert.ok(m.cards <= m.view, `${width} px: a card ends at ${m.cards} px`);
        assert.ok(m.tableWrap <= m.view, `${width} px: the table's box ends at ${m.tableWrap} px`);
        assert.ok(m.table > width, 'the table itself is wider than the screen: it scrolls in its box');
      }
    } finally {
      await page.close();
    }
  });

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

  it('shows every string the API sends as text: markup in states, messages and refusals is never run or parsed', async () => {
    const page = await browser.newPage();
    const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    page.on('dialog', (d) => void d.accept());
    try {
      await page.route('**/api/admin/stats', async (route) => {
        const real = (await (await route.fetch()).json()) as { workers: Record<string, unknown>[]; keeper: Record<string, unknown> | null };
        for (const w of real.workers) w.state = evil;
        if (real.keeper) real.keeper.state = evil;
        await route.fulfill({ contentType: 'application/json', body: JSON.stringify(real) });
      });
      await page.route('**/api/admin/reload', (route) => route.fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ success: false, error: 'reload_refused', message: evil }) }));
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length > 0);
      await page.click('#btn-reload');
      await page.waitForFunction(() => (document.getElementById('action-result')?.textContent ?? '').startsWith('<img'));
      assert.equal(((await page.textContent('#action-result')) ?? '').trim().replace(/ \(at \d\d:\d\d:\d\d\)$/, ''), evil);
      assert.equal(((await page.textContent('#keeper-state')) ?? '').trim(), evil);
      assert.equal(await page.$$eval('#workers-body tr td:nth-child(4)', (tds) => tds.every((td) => td.textContent === (td.closest('tr')?.dataset.state ?? ''))), true);
      assert.equal(await page.evaluate(() => document.querySelectorAll('main img, main script, header img').length), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    } finally {
      await page.close();
    }
  });

  it('a worker change the master does not answer within 4 s is said to maybe still happen, and the buttons wait for it, and for the master to answer again', async () => {
    const page = await browser.newPage();
    let posts = 0;
    try {
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForSelector('#main:not([hidden])');
      // A busy master: the change arrives, and no answer comes until the page has stopped waiting.
      let answerChange!: () => void;
      const changeAnswered = new Promise<void>((resolve) => (answerChange = resolve));
      await page.route('**/api/admin/workers', async (route) => {
        posts++;
        await changeAnswered;
        await route.abort('timedout').catch(() => {});
      });
      await page.click('#btn-add');
      assert.equal(await page.isDisabled('#btn-add'), true, 'disabled while the change is on its way');
      assert.equal(await page.isDisabled('#btn-remove'), true);
      assert.equal(await page.isDisabled('#btn-reload'), true);
      // The master answers no refresh either until it is released below.
      let release!: () => void;
      const answering = new Promise<void>((resolve) => (release = resolve));
      await page.route('**/api/admin/stats', async (route) => {
        await answering;
        await route.continue().catch(() => {});
      });
      await page.click('#btn-add', { force: true, timeout: 500 }).catch(() => {});
      await page.waitForFunction(() => (document.getElementById('action-result')?.textContent ?? '').startsWith('no answer'), undefined, { timeout: 8000 });
      assert.match(
        ((await page.textContent('#action-result')) ?? '').trim(),
        /^no answer within 4 s: the master may still carry it out; the buttons come back once it answers again, and this says whether it did \(at \d\d:\d\d:\d\d\)$/,
      );
      // It may still add the worker: no second click is offered until it answers again, the
      // change's own late answer included.
      answerChange();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      for (const id of ['#btn-add', '#btn-remove', '#btn-reload']) assert.equal(await page.isDisabled(id), true, `${id} still disabled`);
      release();
      await page.waitForFunction(() => !(document.getElementById('btn-add') as HTMLButtonElement).disabled, undefined, { timeout: 12_000 });
      assert.equal(posts, 1, 'one change sent for the clicks while it was on its way');
      // The change never reached the master (the page gave up on it): said once it answers again.
      assert.match(
        ((await page.textContent('#action-result')) ?? '').trim(),
        /^the change was not carried out: \d+ workers? expected as before; ask again if you still want it \(asked at \d\d:\d\d:\d\d, the master answered at \d\d:\d\d:\d\d\)$/,
      );
    } finally {
      await page.close();
    }
  });

  it('the Reload button shows what became of the reload: the generation started, or why it was refused', async () => {
    const page = await browser.newPage();
    page.on('dialog', (d) => void d.accept());
    try {
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForSelector('#main:not([hidden])');
      await page.click('#btn-reload');
      await page.waitForFunction(() => (document.getElementById('action-result')?.textContent ?? '').startsWith('reload started'));
      assert.match((await page.textContent('#action-result')) ?? '', new RegExp(`^reload started: generation ${view.gen} is booting`));
      view.nextReload = 'refused';
      await page.click('#btn-reload');
      await page.waitForFunction(() => (document.getElementById('action-result')?.textContent ?? '').startsWith('reload refused'));
      assert.match((await page.textContent('#action-result')) ?? '', /fix the settings and reload again: invalid settings:\s+CORRAL_WORKERS="abc"/);
    } finally {
      view.nextReload = 'started';
      await page.close();
    }
  });

  it('the requests/s chart labels its y axis in full from 10,000 req/s up: compact ticks (10k, 1.5M) in an axis as wide as its widest label', async () => {
    // Its 50 px gutter cut "10,000" and "20,000" to "0,000" each.
    const busy = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '1' }), [child(1, 4901, 'ready', { requestsServed: 0 })]);
    const own = startMonitoring(busy, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
    const t0 = Date.now() - 10 * 5000;
    let served = 0;
    for (let i = 0; i <= 10; i++) {
      // 20,000 req/s, then 1.5 million in the last samples.
      served += (i < 8 ? 20_000 : 1_500_000) * 5;
      busy.kids = [child(1, 4901, 'ready', { requestsServed: served })];
      own.history.record(busy, undefined, t0 + i * 5000);
    }
    const busyServer = await startAdminServer(busy, logger, { host: '127.0.0.1', port: 0, monitoring: own });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    try {
      await page.goto(`http://127.0.0.1:${busyServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#chart-rps .uplot canvas').length === 1, undefined, { timeout: 10_000 });
      // uPlot draws the labels on its canvas: read them, and the room left for them, from the plot.
      // `plots` is a top-level const of dashboard.js: reachable by name from the page's global scope only.
      const axis = (await page.evaluate(`(() => {
        const u = plots.get('chart-rps');
        const y = u.axes[1];
        u.ctx.font = y.font[0];
        const labels = y._values.filter((v) => v !== null).map(String);
        return { labels, room: y._size - y.ticks.size - y.gap, widths: labels.map((v) => u.ctx.measureText(v).width / devicePixelRatio) };
      })()`)) as { labels: string[]; room: number; widths: number[] };
      assert.ok(axis.labels.length >= 2, JSON.stringify(axis));
      for (const label of axis.labels) assert.match(label, /^\d+(\.\d{1,2})?[kMG]?$/, `a compact label: ${label}`);
      assert.ok(axis.labels.some((l) => l.endsWith('M')), `ticks up to 1.5M: ${axis.labels.join(' ')}`);
      for (const [i, w] of axis.widths.entries()) assert.ok(w <= axis.room, `"${axis.labels[i]}" is ${w} px wide in a ${axis.room} px gutter`);
      const compact = await page.evaluate(() => [950, 1000, 1250, 10_000, 20_000, 1_500_000, 2e9, 0.5, 0].map((n) => (globalThis as unknown as { compactNumber: (n: number) => string }).compactNumber(n)));
      assert.deepEqual(compact, ['950', '1k', '1.25k', '10k', '20k', '1.5M', '2G', '0.5', '0']);
    } finally {
      await page.close();
      await busyServer.close();
      own.close();
    }
  });

  it('charts resized while the token form showed are as wide as their boxes once the right token is given', async () => {
    // The resize read 0 from the hidden boxes and left the charts 120 px wide.
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('.chart .uplot canvas').length === 7, undefined, { timeout: 10_000 });
      // corral restarted with another token: the page's is refused, the form shows.
      await page.route('**/api/admin/**', (route) =>
        route.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ success: false, error: 'unauthorized', message: 'send Authorization: Bearer $CORRAL_ADMIN_TOKEN' }) }),
      );
      await page.waitForSelector('#token-form:not([hidden])', { timeout: 12_000 });
      await page.setViewportSize({ width: 900, height: 900 });
      await page.unroute('**/api/admin/**');
      await page.fill('#token-input', TOKEN);
      await page.click('#token-form button');
      await page.waitForSelector('#main:not([hidden])');
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length > 0);
      const widths = await page.$$eval('.chart', (els) => els.map((el) => ({ id: el.id, box: el.clientWidth - 16, chart: (el.querySelector('.uplot') as HTMLElement | null)?.getBoundingClientRect().width ?? 0 })));
      assert.equal(widths.length, 7);
      for (const w of widths) assert.ok(Math.abs(w.chart - w.box) <= 1, `${w.id}: chart ${w.chart} px in a ${w.box} px box`);
    } finally {
      await page.close();
    }
  });

  it('a token with a character an HTTP header cannot carry (a pasted curly quote) is refused with which character and where, not taken as corral unreachable', async () => {
    const page = await browser.newPage();
    const apiCalls: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/admin/')) apiCalls.push(r.url());
    });
    page.on('dialog', (d) => void d.accept());
    const shown = async (sel: string) => ((await page.textContent(sel)) ?? '').trim();
    try {
      // From #token=: `dashboard’s-token`, the quote U+2019 at character 10.
      await page.goto(`${base}/admin#token=${encodeURIComponent('dashboard\u2019s-token')}`);
      await page.waitForSelector('#token-form:not([hidden])');
      assert.match(await shown('#token-error'), /^this token cannot be sent: character 10, "\u2019" \(U\+2019\), is not allowed in an HTTP header/);
      assert.notEqual(await shown('#status'), 'UNREACHABLE');
      assert.equal(new URL(page.url()).hash, '', 'the token is removed from the address bar all the same');
      assert.equal(await page.evaluate(() => sessionStorage.getItem('corral-admin-token')), null);
      // Typed in the form.
      await page.fill('#token-input', `${TOKEN}\u201d`);
      await page.click('#token-form button');
      await page.waitForFunction((n) => (document.getElementById('token-error')?.textContent ?? '').includes(`character ${n},`), TOKEN.length + 1);
      assert.match(await shown('#token-error'), /"\u201d" \(U\+201D\)/);
      assert.equal(await page.isHidden('#main'), true);
      assert.deepEqual(apiCalls, [], 'nothing sent with it');
      // The right one works.
      await page.fill('#token-input', TOKEN);
      await page.click('#token-form button');
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length > 0);
      // One stored by other means, then a button: said as such, and the form comes back; no polling as unreachable.
      await page.evaluate(() => sessionStorage.setItem('corral-admin-token', 'tok\u2019en'));
      await page.click('#btn-add');
      await page.waitForFunction(() => (document.getElementById('action-result')?.textContent ?? '').startsWith('this token cannot be sent'));
      assert.match(await shown('#action-result'), /character 4, "\u2019" \(U\+2019\)/);
      await page.waitForSelector('#token-form:not([hidden])', { timeout: 12_000 });
      assert.notEqual(await shown('#status'), 'UNREACHABLE');
      assert.equal(await page.getAttribute('#main', 'data-stale'), null);
    } finally {
      await page.close();
    }
  });

  it('a token of spaces alone is not sent (it was, as no token: a 401 and a blank form); the form asks for the token', async () => {
    const page = await browser.newPage();
    let asked = 0;
    try {
      await page.goto(`${base}/admin`);
      await page.waitForSelector('#token-form:not([hidden])');
      await page.route('**/api/admin/stats', async (route) => {
        asked++;
        await route.continue();
      });
      await page.fill('#token-input', '   ');
      await page.press('#token-input', 'Enter');
      await page.waitForFunction(() => (document.getElementById('token-error')?.textContent ?? '') !== '', undefined, { timeout: 5000 });
      assert.equal(((await page.textContent('#token-error')) ?? '').trim(), 'type the token: CORRAL_ADMIN_TOKEN of this corral');
      assert.equal(asked, 0, 'nothing sent');
    } finally {
      await page.close();
    }
  });

  it('at a phone\'s width (360 px) a long refusal without spaces (a path) wraps: the page does not scroll sideways', async () => {
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    page.on('dialog', (d) => void d.accept());
    const message = `reload refused: CORRAL_DATA_DIR=/var/lib/${'corral_data_dir/'.repeat(40)}x is not writable`;
    // The reload note above the cards too: a rollback names the app's path.
    const rolledBack = `last reload rolled back (CORRAL_ERR_APP_LOAD), generation 1 serves: the new generation cannot boot (Cannot find module /srv/${'releases/'.repeat(20)}app.mjs)`;
    const standing = view.reloadStanding;
    view.reloadStanding = { inProgress: undefined, boundMs: undefined, queued: false, last: { seq: 1, outcome: 'rolled_back', generation: 1, code: 'CORRAL_ERR_APP_LOAD', message: rolledBack, at: Date.now(), restartNeeded: [] }, ended: { completed: 0, refused: 0, rolled_back: 1, incomplete: 0 } };
    try {
      await page.route('**/api/admin/reload', (route) => route.fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ success: false, error: 'reload_refused', message }) }));
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length > 0);
      await page.click('#btn-reload');
      await page.waitForFunction(() => (document.getElementById('action-result')?.textContent ?? '').startsWith('reload refused'));
      const m = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, view: window.innerWidth, result: document.getElementById('action-result')!.getBoundingClientRect().right }));
      assert.ok(m.page <= m.view, `the page is ${m.page} px wide at ${m.view} px`);
      assert.ok(m.result <= m.view, `the message ends at ${m.result} px`);
      assert.equal(((await page.textContent('#action-result')) ?? '').trim().replace(/ \(at \d\d:\d\d:\d\d\)$/, ''), message, 'shown whole');
      assert.equal(((await page.textContent('#reload-note')) ?? '').trim(), rolledBack);
      const note = await page.evaluate(() => document.getElementById('reload-note')!.getBoundingClientRect().right);
      assert.ok(note <= m.view, `the reload note ends at ${note} px`);
    } finally {
      view.reloadStanding = standing;
      await page.close();
    }
  });
  it('the message under the buttons carries its time, says when the change it announced is done, and is marked past once the state moved on or a minute went by', async () => {
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2' });
    const own = createFakeView(settings, [child(1, 5101, 'ready', {}), child(2, 5102, 'ready', {})]);
    const ownServer = await startAdminServer(own, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    page.on('dialog', (d) => void d.accept());
    const note = async () => ((await page.textContent('#action-result')) ?? '').trim();
    const noteStarts = (prefix: string) => page.waitForFunction((p) => (document.getElementById('action-result')?.textContent ?? '').startsWith(p), prefix, { timeout: 15_000 });
    const TIME = '\\d\\d:\\d\\d:\\d\\d';
    try {
      // The page's clock, to move it a minute on without waiting for one; it runs as the real one meanwhile.
      await page.clock.install();
      await page.goto(`http://127.0.0.1:${ownServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 2);

      // A reload: generation 2 boots while generation 1 serves.
      await page.click('#btn-reload');
      await noteStarts('reload started');
      assert.match(await note(), new RegExp(`^reload started: generation 2 is booting; .* \\(at ${TIME}\\)$`));
      assert.equal(await page.getAttribute('#action-result', 'data-past'), null);
      // Its workers are ready and the old ones gone: a refresh shows it done.
      own.kids = [Object.assign(child(3, 5103, 'ready', {}), { generation: 2 }), Object.assign(child(4, 5104, 'ready', {}), { generation: 2 })];
      await noteStarts('reload done');
      assert.match(await note(), new RegExp(`^reload done: generation 2 serves, no older worker left \\(asked at ${TIME}, seen done at ${TIME}\\)$`));
      // Done is no news a minute on: the message goes.
      await page.clock.fastForward(65_000);
      await page.waitForFunction(() => document.getElementById('action-result')?.textContent === '', undefined, { timeout: 15_000 });

      // Another reload, then two HUPs by other hands: generation 5 serves, and the message about 3 is past.
      await page.click('#btn-reload');
      await noteStarts('reload started: generation 3');
      own.gen += 2;
      await page.waitForSelector('#action-result[data-past="true"]', { timeout: 15_000 });
      assert.match(await note(), new RegExp(`^earlier, at ${TIME}: reload started: generation 3 is booting; `));
      assert.equal(((await page.textContent('#generation')) ?? '').trim(), '5');

      // +1 worker that never becomes ready: a minute on, the message is marked past rather than left as news.
      await page.click('#btn-add');
      await noteStarts('workers → 3');
      assert.match(await note(), new RegExp(`^workers → 3 \\(at ${TIME}\\)$`));
      assert.equal(await page.getAttribute('#action-result', 'data-past'), null);
      await page.clock.fastForward(65_000);
      await page.waitForSelector('#action-result[data-past="true"]', { timeout: 15_000 });
      assert.match(await note(), new RegExp(`^earlier, at ${TIME}: workers → 3$`));

      // -1 worker, carried out: said done.
      await page.click('#btn-remove');
      await noteStarts('2 workers ready, as asked');
      assert.match(await note(), new RegExp(`^2 workers ready, as asked \\(asked at ${TIME}, seen done at ${TIME}\\)$`));
    } finally {
      await page.close();
      await ownServer.close();
    }
  });

  it('during a stop the badge says STOPPING, a note says corral is stopping, and the buttons the master would refuse are disabled', async () => {
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2' });
    const own = createFakeView(settings, [child(1, 5201, 'draining', { activeConnections: 3 }), child(2, 5202, 'draining', { activeConnections: 1 })]);
    own.shuttingDown = true;
    const ownServer = await startAdminServer(own, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    try {
      const stats = (await (await fetch(`http://127.0.0.1:${ownServer.port}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        master: { stopping: boolean };
        capacity: { status: string };
      };
      assert.deepEqual([stats.master.stopping, stats.capacity.status], [true, 'UNAVAILABLE']);
      await page.goto(`http://127.0.0.1:${ownServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 2);
      assert.equal(((await page.textContent('#status')) ?? '').trim(), 'STOPPING');
      assert.equal(await page.getAttribute('#status', 'data-status'), 'STOPPING');
      assert.equal(await page.isVisible('#stopping-note'), true);
      assert.match(((await page.textContent('#stopping-note')) ?? '').trim(), /^corral is stopping: /);
      for (const id of ['#btn-reload', '#btn-add', '#btn-remove']) assert.equal(await page.isDisabled(id), true, id);
      // The capacity bar still says what capacity says.
      assert.equal(await page.getAttribute('#capacity-bar', 'data-status'), 'UNAVAILABLE');

      // A master serving again on that address (a new one started): the buttons come back.
      own.shuttingDown = false;
      own.kids = [child(1, 5203, 'ready', {}), child(2, 5204, 'ready', {})];
      await page.waitForFunction(() => document.getElementById('status')?.textContent !== 'STOPPING', undefined, { timeout: 12_000 });
      assert.equal(await page.isHidden('#stopping-note'), true);
      for (const id of ['#btn-reload', '#btn-add', '#btn-remove']) assert.equal(await page.isDisabled(id), false, id);
    } finally {
      await page.close();
      await ownServer.close();
    }
  });

  it('a reload in progress, and one that did not apply whoever asked for it (a HUP, systemctl reload), are said above the cards until a reload completes', async () => {
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2' });
    const own = createFakeView(settings, [child(1, 5301, 'ready', {}), child(2, 5302, 'ready', {})]);
    const message = 'last reload rolled back (CORRAL_ERR_APP_LOAD), generation 1 serves: the new generation cannot boot (Cannot find module /srv/app.mjs)';
    own.reloadStanding = { inProgress: undefined, boundMs: undefined, queued: false, last: { seq: 1, outcome: 'rolled_back', generation: 1, code: 'CORRAL_ERR_APP_LOAD', message, at: Date.now(), restartNeeded: [] }, ended: { completed: 0, refused: 0, rolled_back: 1, incomplete: 0 } };
    const ownServer = await startAdminServer(own, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    const note = async () => ({ visible: await page.isVisible('#reload-note'), text: ((await page.textContent('#reload-note')) ?? '').trim(), kind: await page.getAttribute('#reload-note', 'class') });
    try {
      await page.goto(`http://127.0.0.1:${ownServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 2);
      assert.deepEqual(await note(), { visible: true, text: message, kind: 'banner reload-failed' });
      // The next reload boots: said as in progress, then gone once it completed.
      own.reloadStanding = { ...own.reloadStanding, inProgress: 3, queued: true };
      await page.waitForFunction(() => document.getElementById('reload-note')?.textContent?.startsWith('reload to generation 3'), undefined, { timeout: 12_000 });
      assert.deepEqual(await note(), { visible: true, text: 'reload to generation 3 in progress, another queued behind it', kind: 'banner reloading' });
      own.reloadStanding = { inProgress: undefined, boundMs: undefined, queued: false, last: { seq: 3, outcome: 'completed', generation: 4, code: undefined, message: 'last reload completed, generation 4 serves', restartNeeded: [], at: Date.now() }, ended: { completed: 2, refused: 0, rolled_back: 1, incomplete: 0 } };
      await page.waitForFunction(() => document.getElementById('reload-note')?.hidden === true, undefined, { timeout: 12_000 });
      assert.equal((await note()).visible, false);
    } finally {
      await page.close();
      await ownServer.close();
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

  it('the header says DEGRADED beside the capacity status while health would (a worker not beating, the keeper gone), and nothing once it is ok', async () => {
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2' });
    const stuck = { ...child(2, 5402, 'ready', {}), lastBeatAt: Date.now() - 60_000 };
    const own = createFakeView(settings, [child(1, 5401, 'ready', {}), stuck, child(0, 5400, 'ready', {}, 'keeper')]);
    const ownServer = await startAdminServer(own, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    const health = async () => ((await page.textContent('#health')) ?? '').trim();
    try {
      await page.goto(`http://127.0.0.1:${ownServer.port}/admin#token=${TOKEN}`);
      await page.waitForSelector('#health:not([hidden])');
      assert.equal(await health(), 'DEGRADED: 1 worker not beating');
      assert.equal(((await page.textContent('#status')) ?? '').trim(), 'LOW', 'the capacity status beside it, as before');
      // The keeper stuck too, then everything back.
      own.kids = [child(1, 5401, 'ready', {}), stuck, { ...child(0, 5400, 'ready', {}, 'keeper'), lastBeatAt: Date.now() - 60_000 }];
      await page.waitForFunction(() => (document.getElementById('health')?.textContent ?? '').includes('keeper'), undefined, { timeout: 12_000 });
      assert.equal(await health(), 'DEGRADED: 1 worker not beating, keeper not beating');
      own.kids = [child(1, 5401, 'ready', {}), child(2, 5402, 'ready', {}), child(0, 5400, 'ready', {}, 'keeper')];
      await page.waitForSelector('#health[hidden]', { state: 'attached', timeout: 12_000 });
    } finally {
      await page.close();
      await ownServer.close();
    }
  });

  it('a button pressed from the keyboard keeps the focus once its change is answered (disabled while it is sent, it gave the focus to the page)', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForSelector('#main:not([hidden])');
      await page.focus('#btn-add');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => (document.getElementById('action-result')?.textContent ?? '').startsWith('workers →'), undefined, { timeout: 8000 });
      await page.waitForFunction(() => !(document.getElementById('btn-add') as HTMLButtonElement).disabled, undefined, { timeout: 8000 });
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'btn-add');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'btn-remove', 'the next button, as before the change');
    } finally {
      await page.close();
    }
  });

  it('the charts\' time axis labels the time of day alone (03:27 or 03:27:15), each label clear of the next and of the chart\'s edges, wide or on a phone', async () => {
    // Labelled with the date on each tick, they ran into each other in the first minutes and the leftmost was cut.
    for (const width of [1280, 375]) {
      const page = await browser.newPage({ viewport: { width, height: 1100 } });
      try {
        await page.goto(`${base}/admin#token=${TOKEN}`);
        await page.waitForFunction(() => document.querySelectorAll('.chart .uplot canvas').length === 7, undefined, { timeout: 10_000 });
        // `plots` is a top-level const of charts.js: reachable by name from the page's global scope only.
        const axes = (await page.evaluate(`(() => [...plots.entries()].map(([id, u]) => {
          const x = u.axes[0];
          u.ctx.font = x.font[0];
          const dpr = devicePixelRatio;
          const ticks = x._splits.map((v, i) => ({ label: x._values[i], at: u.valToPos(v, 'x', true) / dpr }))
            .filter((t) => t.label !== null && t.label !== '')
            .map((t) => ({ ...t, width: u.ctx.measureText(String(t.label)).width / dpr }));
          // The widest a label of this axis can be, and the room beside the plot for half of it.
          const widest = u.ctx.measureText('00:00:00').width / dpr;
          return { id, ticks, canvas: u.ctx.canvas.width / dpr, widest, left: u.bbox.left / dpr, right: (u.ctx.canvas.width - u.bbox.left - u.bbox.width) / dpr };
        }))()`)) as { id: string; canvas: number; widest: number; left: number; right: number; ticks: { label: string; at: number; width: number }[] }[];
        assert.equal(axes.length, 7);
        for (const a of axes) {
          assert.ok(a.ticks.length >= 2, `${width} px, ${a.id}: ${JSON.stringify(a.ticks)}`);
          // Whenever the page is looked at, a tick may fall on either edge of the plot: its label fits there too.
          assert.ok(a.left >= a.widest / 2 && a.right >= a.widest / 2, `${width} px, ${a.id}: ${a.left} px left and ${a.right} px right of the plot for a ${a.widest} px label`);
          for (const t of a.ticks) {
            assert.match(t.label, /^\d\d:\d\d(:\d\d)?$/, `${width} px, ${a.id}: ${t.label}`);
            assert.ok(t.at - t.width / 2 >= 0 && t.at + t.width / 2 <= a.canvas, `${width} px, ${a.id}: "${t.label}" at ${t.at} runs off a ${a.canvas} px chart`);
          }
          for (let i = 1; i < a.ticks.length; i++) {
            const [l, r] = [a.ticks[i - 1]!, a.ticks[i]!];
            assert.ok(l.at + l.width / 2 + 4 <= r.at - r.width / 2, `${width} px, ${a.id}: "${l.label}" runs into "${r.label}"`);
          }
        }
      } finally {
        await page.close();
      }
    }
  });

  it('on a corral with no CORRAL_ADMIN_TOKEN the page says to set one, and asks for no token it would refuse', async () => {
    const unset = createFakeView(testSettings({ CORRAL_WORKERS: '1' }), [child(1, 5401, 'ready', {})]);
    const unsetServer = await startAdminServer(unset, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    try {
      for (const hash of ['', `#token=${TOKEN}`]) {
        await page.goto(`http://127.0.0.1:${unsetServer.port}/admin${hash}`);
        await page.waitForFunction(() => (document.getElementById('token-error')?.textContent ?? '').length > 0);
        assert.equal(((await page.textContent('#token-error')) ?? '').trim(), 'this corral has no CORRAL_ADMIN_TOKEN: set it in its settings and reload it (corral reload)');
        for (const sel of ['#token-input', '#token-submit', '#token-label', '#main']) assert.equal(await page.isHidden(sel), true, `${hash || 'no token'}: ${sel} hidden`);
        assert.equal(((await page.textContent('#updated')) ?? '').trim(), 'no admin token configured');
      }
    } finally {
      await page.close();
      await unsetServer.close();
    }
  });

  it('is labelled for a screen reader: the badge and the message under the buttons are live regions, each chart is an image named after its figure, and no two headings are the same', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('.chart .uplot canvas').length === 7, undefined, { timeout: 10_000 });
      for (const sel of ['#status', '#action-result']) {
        assert.equal(await page.getAttribute(sel, 'role'), 'status', sel);
        assert.equal(await page.getAttribute(sel, 'aria-live'), 'polite', sel);
      }
      const charts = await page.$$eval('.chart', (els) => els.map((el) => ({ role: el.getAttribute('role'), label: el.getAttribute('aria-label') ?? '', title: el.querySelector('.u-title')?.textContent ?? '' })));
      assert.equal(charts.length, 7);
      for (const c of charts) {
        assert.equal(c.role, 'img', c.title);
        assert.match(c.label, /^chart: .+ over the last minutes$/, c.title);
      }
      assert.equal(new Set(charts.map((c) => c.label)).size, 7, 'each chart its own name');
      const headings = await page.$$eval('h1, h2', (hs) => hs.map((h) => (h.textContent ?? '').trim()));
      assert.equal(new Set(headings).size, headings.length, headings.join(' | '));
      assert.ok(headings.includes('Workers') && headings.includes('Worker processes'), headings.join(' | '));
    } finally {
      await page.close();
    }
  });
});
