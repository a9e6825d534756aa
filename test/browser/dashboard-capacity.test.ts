// The /admin dashboard's Connections card in headless Chromium (dashboard-setup.ts has what the
// browser tests share): what makes the capacity status besides the busy share, as
// master/capacity.ts decides it and the README's "Capacity status and sizing" says.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startAdminServer } from '../../src/master/admin/server.js';
import type { Monitoring } from '../../src/master/admin/monitoring.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';
import { logger, skip, TOKEN, withDashboard } from './dashboard-setup.js';

describe('/admin dashboard in Chromium: the capacity status', { skip }, () => {
  let monitoring: Monitoring;
  let browser: Browser;
  withDashboard((d) => ({ monitoring, browser } = d));

  it('says why the status is WARNING or FULL at a low busy share: idle connections closed to admit new clients, connections refused', async () => {
    // 10 slots, all held by idle keep-alive connections; 2 busy at the peak of the interval.
    const settings = testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '2', CORRAL_MAX_CONNECTIONS: '10' });
    const held = (pid: number, over: Record<string, number>) => child(pid - 6100, pid, 'ready', { activeConnections: 5, idleConnections: 5, peakBusyConnections: 1, ...over });
    const own = createFakeView(settings, [held(6101, { idleClosedInInterval: 2 }), held(6102, {})]);
    const ownServer = await startAdminServer(own, logger, { host: '127.0.0.1', port: 0, monitoring });
    const page = await browser.newPage();
    const text = async (sel: string) => ((await page.textContent(sel)) ?? '').trim();
    try {
      const capacity = async () => ((await (await fetch(`http://127.0.0.1:${ownServer.port}/api/admin/capacity`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { capacity: { status: string; percent_used: number } }).capacity;
      const before = await capacity();
      assert.deepEqual([before.status, before.percent_used], ['WARNING', 20]);
      await page.goto(`http://127.0.0.1:${ownServer.port}/admin#token=${TOKEN}`);
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'WARNING');
      assert.equal(await text('#percent-used'), '20.0');
      // The card said "WARNING" beside "20.0% used · 8 slots free", and nothing of why.
      assert.equal(await page.isVisible('#capacity-why'), true);
      assert.equal(await text('#capacity-why'), 'over the last heartbeat interval: 2 idle connections closed to admit new clients: every slot was held');
      assert.match(await text('.levels'), /WARNING 80–100%, or idle connections closed to admit new clients/);
      const warnColour = await page.$eval('#capacity-why', (el) => getComputedStyle(el).color);

      // A refusal: FULL at any busy share, said in red.
      own.kids = [held(6101, { connectionsRefusedInInterval: 1 }), held(6102, {})];
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'FULL', undefined, { timeout: 12_000 });
      assert.equal(await text('#capacity-why'), 'over the last heartbeat interval: 1 connection refused (503 server full)');
      assert.match(await text('.levels'), /FULL: every slot busy, or a connection refused/);
      assert.notEqual(await page.$eval('#capacity-why', (el) => getComputedStyle(el).color), warnColour, 'a refusal is red, not the warning colour');

      // The interval after: nothing to say.
      own.kids = [held(6101, {}), held(6102, {})];
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'LOW', undefined, { timeout: 12_000 });
      assert.equal(await page.isHidden('#capacity-why'), true);
    } finally {
      await page.close();
      await ownServer.close();
    }
  });
});
