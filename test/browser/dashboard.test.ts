// The /admin dashboard in headless Chromium, its first part (dashboard-cards.test.ts has the cards
// and the Workers table, dashboard_buttons.test.ts the header, the buttons, the token form, the
// charts' axes and a phone's width; dashboard-setup.ts what they share): the token, the figures the
// API returns and the charts, a screenshot saved to test-artifacts/dashboard.png, and what the page
// says when the admin API, the token or the workers fail.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Browser, Request } from 'playwright-core';
import { startAdminServer } from '../../src/master/admin/server.js';
import type { Monitoring } from '../../src/master/admin/monitoring.js';
import { child, createFakeView, testSettings, type FakeView } from '../fixtures/fake-admin-view.js';
import { ARTIFACTS, CONTRASTS, logger, skip, TOKEN, withDashboard } from './dashboard-setup.js';

describe('/admin dashboard in Chromium', { skip }, () => {
  let view: FakeView;
  let monitoring: Monitoring;
  let browser: Browser;
  let base: string;
  withDashboard((d) => ({ view, monitoring, browser, base } = d));

  it('asks for the token when none is stored', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${base}/admin`);
      await page.waitForSelector('#token-form:not([hidden])');
      // Nothing tried yet: no refusal to speak of.
      assert.equal(((await page.textContent('#token-error')) ?? '').trim(), '');
      assert.equal(((await page.textContent('#updated')) ?? '').trim(), 'never');
      // Each wrong try is worded by the page (not the API's "send Authorization: Bearer …"), with its time.
      for (let i = 0; i < 2; i++) {
        await page.evaluate(() => { document.getElementById('token-error')!.textContent = ''; });
        await page.fill('#token-input', `not-the-token-${i}`);
        await page.click('#token-form button');
        await page.waitForFunction(() => (document.getElementById('token-error')?.textContent ?? '').length > 0);
        assert.match((await page.textContent('#token-error')) ?? '', /^this token was refused: it is not this corral's CORRAL_ADMIN_TOKEN \(at \d\d:\d\d:\d\d\)$/);
        assert.equal(await page.isVisible('#token-input'), true);
      }
    } finally {
      await page.close();
    }
  });

  it('a #token= with a stray % does not stop the page: the token is taken as typed and refused as wrong', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${base}/admin#token=100%-not-the-token`);
      await page.waitForSelector('#token-form:not([hidden])');
      await page.waitForFunction(() => (document.getElementById('token-error')?.textContent ?? '').length > 0);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('shows the figures the API returns, draws the charts and saves a screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    try {
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 3, undefined, { timeout: 10_000 });
      assert.equal(new URL(page.url()).hash, '', 'the token is removed from the address bar');

      const stats = (await (await fetch(`${base}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        capacity: { status: string; current_connections: number; idle_connections: number; max_connections: number; percent_used: number; available_slots: number };
        workers: { pid: number; state: string }[];
        workers_ready: number;
        workers_expected: number;
      };
      const text = async (sel: string) => ((await page.textContent(sel)) ?? '').trim();
      assert.equal(stats.capacity.status, 'WARNING');
      assert.equal(await text('#status'), stats.capacity.status);
      assert.equal(await page.getAttribute('#status', 'data-status'), 'WARNING');
      assert.deepEqual([stats.capacity.current_connections, stats.capacity.idle_connections], [280, 30]);
      assert.equal(await text('#connections-used'), '250', 'busy: open and not idle');
      assert.equal(await text('#connections-open'), '280');
      assert.equal(await text('#connections-idle'), '30');
      assert.equal(await text('#connections-max'), String(stats.capacity.max_connections));
      assert.equal(await text('#percent-used'), stats.capacity.percent_used.toFixed(1));
      assert.equal(await text('#available-slots'), String(stats.capacity.available_slots));
      assert.equal(await text('#workers-ready'), String(stats.workers_ready));
      assert.equal(await text('#workers-expected'), String(stats.workers_expected));
      assert.equal(await text('#sheets-hit-ratio'), '95.0%');
      const rows = await page.$$eval('#workers-body tr', (trs) => trs.map((tr) => [tr.getAttribute('data-pid'), tr.getAttribute('data-state')]));
      assert.deepEqual(rows, stats.workers.map((w) => [String(w.pid), w.state]));
      const firstRow = await page.$$eval('#workers-body tr:first-child td', (tds) => tds.map((td) => td.textContent));
      assert.equal(firstRow[6], '70.0 MiB');

      // Seven uPlot charts, each with a canvas.
      await page.waitForFunction(() => document.querySelectorAll('.chart .uplot canvas').length === 7);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
      assert.ok(existsSync(join(ARTIFACTS, 'dashboard.png')));
      assert.deepEqual(errors, [], 'no script or CSP errors');

      // It refreshes: change the figures and wait for the page to follow (every 5 s).
      view.kids[1] = child(2, 4102, 'ready', { activeConnections: 180, requestsServed: 5000, latencyP99Ms: 8 });
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'FULL', undefined, { timeout: 12_000 });
      assert.equal(await text('#connections-used'), '300');
    } finally {
      await page.close();
    }
  });

  it('when the admin API stops answering, the page says so and greys out the last figures instead of showing them as live', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForSelector('#main:not([hidden])');
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length > 0);
      const live = ((await page.textContent('#status')) ?? '').trim();
      assert.match(live, /^(LOW|HEALTHY|WARNING|FULL)$/);
      assert.equal(await page.getAttribute('#main', 'data-stale'), null);

      // The master is gone: every API call is refused at the TCP level.
      await page.route('**/api/admin/**', (route) => route.abort('connectionrefused'));
      await page.waitForSelector('#main[data-stale="true"]', { timeout: 12_000 });
      assert.equal(((await page.textContent('#status')) ?? '').trim(), 'UNREACHABLE');
      assert.equal(await page.getAttribute('#status', 'data-status'), 'UNREACHABLE');
      assert.match((await page.textContent('#updated')) ?? '', /^failed: the admin API cannot be reached .*; figures shown are from \d\d:\d\d:\d\d$/);

      // Greyed, yet readable: no opacity, and every text of the cards, the table and the header's
      // figures at 4.5:1 or more against what it is drawn on (at .45 opacity it was 1.9:1).
      const contrasts = (await page.evaluate(CONTRASTS)) as { text: string; ratio: number; opacity: number }[];
      assert.ok(contrasts.length > 20, `${contrasts.length} texts measured`);
      for (const c of contrasts) {
        assert.equal(c.opacity, 1, `"${c.text}" is drawn at opacity ${c.opacity}`);
        assert.ok(c.ratio >= 4.5, `"${c.text}": ${c.ratio.toFixed(2)}:1`);
      }
      // Said, not only greyed: a banner over the figures, and the header's figures marked as the last known.
      assert.equal(await page.isVisible('#stale-note'), true);
      assert.match(((await page.textContent('#stale-note')) ?? '').trim(), /^not live: corral did not answer; the figures below are from \d\d:\d\d:\d\d$/);
      assert.equal(await page.getAttribute('header', 'data-stale'), 'true');
      assert.match((await page.innerText('#meta')).trim(), /^last known: generation 1 · master pid \d+ · up /);
      assert.equal(await page.$eval('#master-pid', (el) => getComputedStyle(el).color), 'rgb(92, 99, 112)');

      // It comes back: the next refresh clears the mark and shows the live status again.
      await page.unroute('**/api/admin/**');
      await page.waitForSelector('#main:not([data-stale])', { timeout: 12_000 });
      assert.equal(((await page.textContent('#status')) ?? '').trim(), live);
      assert.equal(await page.getAttribute('header', 'data-stale'), null);
      assert.equal(await page.isHidden('#stale-note'), true);
      assert.match((await page.innerText('#meta')).trim(), /^generation 1 · /);
    } finally {
      await page.close();
    }
  });

  it('when the token stops being accepted, the token form comes back and the header no longer shows the last figures', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForSelector('#main:not([hidden])');
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length > 0);
      assert.match(((await page.textContent('#status')) ?? '').trim(), /^(LOW|HEALTHY|WARNING|FULL)$/);
      assert.notEqual(((await page.textContent('#master-pid')) ?? '').trim(), '–');

      // corral restarted with another CORRAL_ADMIN_TOKEN: the one the page holds is refused.
      await page.route('**/api/admin/**', (route) =>
        route.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ success: false, error: 'unauthorized', message: 'send Authorization: Bearer $CORRAL_ADMIN_TOKEN' }) }),
      );
      await page.waitForSelector('#token-form:not([hidden])', { timeout: 12_000 });
      assert.equal(await page.isHidden('#main'), true);
      assert.equal(((await page.textContent('#status')) ?? '').trim(), '…');
      assert.equal(await page.getAttribute('#status', 'data-status'), '');
      for (const sel of ['#generation', '#master-pid', '#master-uptime']) assert.equal(((await page.textContent(sel)) ?? '').trim(), '–', sel);
      assert.equal(((await page.textContent('#updated')) ?? '').trim(), 'token refused');
    } finally {
      await page.close();
    }
  });

  it('with no worker ready the badge says UNAVAILABLE, as the capacity status does (not LOW at 0 %), and the backoff holding the next fork is shown', async () => {
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2', CORRAL_WORKER_CONNECTIONS: '100' });
    const down = createFakeView(settings, [child(1, 4201, 'booting', undefined), child(2, 4202, 'booting', undefined)], 2);
    const downServer = await startAdminServer(down, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    try {
      const stats = (await (await fetch(`http://127.0.0.1:${downServer.port}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        capacity: { status: string };
        workers_ready: number;
      };
      assert.equal(stats.workers_ready, 0);
      assert.equal(stats.capacity.status, 'UNAVAILABLE');
      await page.goto(`http://127.0.0.1:${downServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 2);
      assert.equal(((await page.textContent('#status')) ?? '').trim(), 'UNAVAILABLE');
      assert.equal(await page.getAttribute('#status', 'data-status'), 'UNAVAILABLE');
      assert.equal(((await page.textContent('#workers-ready')) ?? '').trim(), '0');
      assert.equal(await page.isHidden('#respawn'), true, 'no backoff, no respawn line');
      // The crash-loop backoff holds the next fork: the card says why none serve, and for how long.
      down.waiting = { inMs: 12_300, crashLoop: 6, bootFailures: 0 };
      await page.waitForFunction(() => !(document.getElementById('respawn')?.hidden ?? true), undefined, { timeout: 15_000 });
      assert.equal(((await page.textContent('#respawn')) ?? '').trim(), 'respawning in 13 s (crash loop 6)');
      down.waiting = { inMs: 2_000, crashLoop: 0, bootFailures: 3 };
      await page.waitForFunction(() => (document.getElementById('respawn')?.textContent ?? '').includes('failed boots'), undefined, { timeout: 15_000 });
      assert.equal(((await page.textContent('#respawn')) ?? '').trim(), 'respawning in 2 s (3 failed boots in a row)');
      down.waiting = undefined;
      await page.waitForFunction(() => document.getElementById('respawn')?.hidden === true, undefined, { timeout: 15_000 });
    } finally {
      await page.close();
      await downServer.close();
    }
  });

  it('a worker that stopped beating (a blocked loop) is marked in its row and in the Workers card, and a keeper not running is said', async () => {
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2', CORRAL_TIMEOUT: '30' });
    // The page first: the beats' ages below run from the view's making, and a browser slow to
    // open a page (the system test beside it) would age them past what is checked.
    const page = await browser.newPage();
    const beating = child(1, 4301, 'ready', { activeConnections: 3 });
    const stuck = child(2, 4302, 'ready', { activeConnections: 5, eventLoopLagMs: 0.3 });
    const stuckBeatAt = Date.now() - 7000;
    const incident = createFakeView(settings, [beating, { ...stuck, lastBeatAt: stuckBeatAt }]);
    const incidentServer = await startAdminServer(incident, logger, { host: '127.0.0.1', port: 0, monitoring });
    try {
      await page.goto(`http://127.0.0.1:${incidentServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 2);
      const rows = await page.$$eval('#workers-body tr', (trs) => trs.map((tr) => [tr.getAttribute('data-pid'), tr.getAttribute('data-late'), tr.children[3]?.textContent, tr.children[4]?.textContent]));
      assert.deepEqual(rows.map((r) => r.slice(0, 3)), [
        ['4301', null, 'ready'],
        ['4302', 'true', 'ready, not beating'],
      ]);
      // The beat's age as the stats had it when the page read them (the page took a moment to load).
      assert.match(rows[0]?.[3] ?? '', /^[0-2]\.\d s ago$/);
      // The silent one's: at least the 7 s it was made with, at most its age now (a page slow to
      // load beside the system test took over 3 s, and a fixed 7-9 s said 10.4 s was wrong).
      const silentFor = (text: string, shape: RegExp) => {
        const age = Number(shape.exec(text)?.[1]);
        assert.ok(age >= 7 && age <= (Date.now() - stuckBeatAt) / 1000 + 0.1, `${text}: not between 7 s and the beat's age now`);
      };
      silentFor(rows[1]?.[3] ?? '', /^(\d+\.\d) s ago$/);
      assert.equal(await page.isHidden('#silent'), false);
      silentFor(((await page.textContent('#silent')) ?? '').trim(), /^1 not beating \(blocked\?\) for (\d+\.\d) s; figures are from the last beat$/);
      assert.equal(((await page.textContent('#workers-ready')) ?? '').trim(), '1', 'the worker not beating is not counted ready');
      assert.equal(((await page.textContent('#keeper-state')) ?? '').trim(), 'not running');
      assert.equal(await page.getAttribute('#keeper-state', 'data-late'), 'true');

      // It beats again (or its replacement does), and the keeper is back: the marks go.
      incident.kids[1] = child(2, 4302, 'ready', { activeConnections: 5 });
      incident.kids.push(child(0, 4300, 'ready', {}, 'keeper'));
      await page.waitForFunction(() => document.getElementById('silent')?.hidden === true, undefined, { timeout: 12_000 });
      assert.equal(await page.$$eval('#workers-body tr[data-late]', (trs) => trs.length), 0);
      assert.equal(((await page.textContent('#keeper-state')) ?? '').trim(), 'ready');
      assert.equal(await page.getAttribute('#keeper-state', 'data-late'), 'false');
    } finally {
      await page.close();
      await incidentServer.close();
    }
  });

  it('the Workers card says a silent worker\'s beat age to a tenth of a second, a whole one included (8.0 s, not 8 s)', async () => {
    const page = await browser.newPage();
    try {
      await page.route('**/api/admin/stats', async (route) => {
        const real = (await (await route.fetch()).json()) as { workers: Record<string, unknown>[] };
        real.workers[0] = { ...real.workers[0], heartbeat_late: true, last_beat_s_ago: 8 };
        await route.fulfill({ contentType: 'application/json', body: JSON.stringify(real) });
      });
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.getElementById('silent')?.hidden === false);
      assert.equal(((await page.textContent('#silent')) ?? '').trim(), '1 not beating (blocked?) for 8.0 s; figures are from the last beat');
    } finally {
      // A refresh's handler still fetching when the page closes reads a disposed response;
      // its rejection, after the test, failed the whole file. Handlers are dropped first.
      await page.unrouteAll({ behavior: 'ignoreErrors' });
      await page.close();
    }
  });

  it('keeps one refresh in flight at a time when the master answers slowly, buttons clicked meanwhile included', async () => {
    const page = await browser.newPage();
    let inFlight = 0;
    let most = 0;
    let answered = 0;
    try {
      // Every stats answer takes 2.5 s: a busy master. In flight is counted as the page sees it,
      // from its asking to its answer or its giving up (a page starved past its 4 s limit gives
      // up, and may ask again while the route still waits).
      const isStats = (r: Request) => r.url().includes('/api/admin/stats');
      page.on('request', (r) => {
        if (!isStats(r)) return;
        inFlight++;
        most = Math.max(most, inFlight);
      });
      const ended = (r: Request) => {
        if (!isStats(r)) return;
        inFlight--;
        answered++;
      };
      page.on('requestfinished', ended);
      page.on('requestfailed', ended);
      await page.route('**/api/admin/stats', async (route) => {
        await new Promise((resolve) => setTimeout(resolve, 2500));
        await route.continue().catch(() => {});
      });
      await page.goto(`${base}/admin#token=${TOKEN}`);
      await page.waitForSelector('#main:not([hidden])');
      await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length > 0, undefined, { timeout: 10_000 });
      // Each button asks for a refresh a second after its answer, while the slow one is on its way.
      for (const id of ['#btn-add', '#btn-remove', '#btn-add', '#btn-remove']) {
        await page.click(id);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
      // Every refresh those clicks asked for, and the polling after them: four answers, each 2.5 s
      // late and then 5 s apart (REFRESH_MS), about 18 s on an idle machine. The bound is only
      // for a page that stopped refreshing, well past that on a loaded one (a run of the whole
      // suite on a slow host missed 20 s).
      const seen = answered;
      const deadline = Date.now() + 60_000;
      while (answered < seen + 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(answered >= seen + 4, 'it kept refreshing');
      assert.equal(most, 1, `at most one stats request in flight; ${most} were`);
    } finally {
      await page.close();
    }
  });
});
