// The /admin dashboard in headless Chromium: what the header says (STOPPING, a reload, DEGRADED),
// the buttons and their messages, the token form, the charts' axes and sizes, a phone's width, and
// what a screen reader is told. dashboard.test.ts has the token, the figures the API returns and the
// charts; dashboard-cards.test.ts the cards and the Workers table; dashboard-setup.ts what they share.
// Named with `_`, not `-`, so that it sorts after dashboard.test.ts: node --test starts its files in
// the order of their names (whatever order it is given them), three at a time in npm test's browser
// group. Named dashboard-buttons, it started first beside dashboard-capacity and dashboard-cards,
// and dashboard.test.ts (73 s) began only once one of the halves had ended: 118-123 s for the
// browser files, as before the split. After it, dashboard.test.ts starts when dashboard-capacity
// ends (14 s) and this file when dashboard-live does.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startAdminServer } from '../../src/master/admin/server.js';
import { startMonitoring, type Monitoring } from '../../src/master/admin/monitoring.js';
import { child, createFakeView, testSettings, type FakeView } from '../fixtures/fake-admin-view.js';
import { logger, skip, TOKEN, withDashboard } from './dashboard-setup.js';

describe('/admin dashboard in Chromium: header, buttons, token form, charts and layout', { skip }, () => {
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
      // A refresh's handler still fetching when the page closes reads a disposed response;
      // its rejection, after the test, failed the whole file. Handlers are dropped first.
      await page.unrouteAll({ behavior: 'ignoreErrors' });
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
