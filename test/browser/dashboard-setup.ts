// What the /admin dashboard's browser tests share: a master's admin server over a fake view of
// three workers and a keeper (WARNING: 250 of 300 connections busy), with a minute of history
// so the charts have lines, and a headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core). The tests are split over several files (dashboard.test.ts, dashboard-cards,
// dashboard_buttons, dashboard-capacity), each starting its own, so that they run side by side:
// they mostly wait on the page's 5 s refresh.

import { after, before } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { createLogger } from '../../src/log/logger.js';
import { startAdminServer, type AdminServer } from '../../src/master/admin/server.js';
import { startMonitoring, type Monitoring } from '../../src/master/admin/monitoring.js';
import { child, createFakeView, testSettings, type FakeView } from '../fixtures/fake-admin-view.js';

export const CHROMIUM = '/usr/bin/chromium';
export const TOKEN = 'dashboard-token-0123456789';
export const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
export const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`;

// In the page: each visible text of the cards, the workers table and the header's figures, with
// its contrast (WCAG 2) against the first opaque background behind it, and the opacity it is drawn at.
export const CONTRASTS = `(() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const opacity = (el) => { let o = 1; for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
  const els = [...document.querySelectorAll('.card h2, .card .big, .card .small, .card dt, .card dd, #workers th, #workers td, section > h2, #meta b')]
    .filter((el) => el.offsetParent !== null && el.textContent.trim() !== '');
  return els.map((el) => {
    const a = lum(rgb(getComputedStyle(el).color).slice(0, 3));
    const b = lum(bg(el));
    return { text: el.textContent.trim().slice(0, 40), ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05), opacity: opacity(el) };
  });
})()`;

export interface Dashboard {
  /** The fake master the admin server reads: tests change its figures and watch the page follow. */
  readonly view: FakeView;
  readonly monitoring: Monitoring;
  readonly server: AdminServer;
  readonly browser: Browser;
  /** http://127.0.0.1:<admin port> */
  readonly base: string;
  close(): Promise<void>;
}

export const logger = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'master' }).logger;

export async function startDashboard(): Promise<Dashboard> {
  const view = createFakeView(testSettings({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_WORKERS: '3', CORRAL_WORKER_CONNECTIONS: '100' }), [
    // 150 open, 30 of them idle: 250 busy of 300 (WARNING), where the 280 open would say more.
    child(1, 4101, 'ready', { activeConnections: 150, idleConnections: 30, requestsServed: 1000, latencyP99Ms: 12.5, eventLoopLagMs: 1.2, rssBytes: 70 * 1048576 }),
    child(2, 4102, 'ready', { activeConnections: 130, requestsServed: 900, latencyP99Ms: 8, eventLoopLagMs: 0.8, rssBytes: 66 * 1048576 }),
    child(3, 4103, 'booting', undefined),
    child(0, 4100, 'ready', { extra: { cacheHits: 950, cacheMisses: 50, upstreamReads: 4, maxStaleSeconds: 0, journalBacklogRows: 1 } }, 'keeper'),
  ]);
  const monitoring = startMonitoring(view, logger, { historyIntervalMs: 60_000, alertIntervalMs: 60_000 });
  // A few minutes of history so the charts have lines to draw.
  const t0 = Date.now() - 12 * 5000;
  const served = [1000, 900];
  for (let i = 0; i <= 12; i++) {
    served[0] = (served[0] ?? 0) + 250 + i * 20;
    served[1] = (served[1] ?? 0) + 200;
    view.kids[0] = child(1, 4101, 'ready', { activeConnections: 150, idleConnections: 30, requestsServed: served[0], latencyP99Ms: 5 + i, eventLoopLagMs: 1.2, rssBytes: 70 * 1048576 });
    view.kids[1] = child(2, 4102, 'ready', { activeConnections: 130, requestsServed: served[1], latencyP99Ms: 8, eventLoopLagMs: 0.8, rssBytes: 66 * 1048576 });
    monitoring.history.record(view, { at: t0, cpuPercent: 20 + i * 3, ramPercent: 41, ramUsedBytes: 4e9, ramTotalBytes: 1e10, cpuCount: 2 }, t0 + i * 5000);
  }
  await monitoring.host.sample();
  const server = await startAdminServer(view, logger, { host: '127.0.0.1', port: 0, monitoring });
  let browser: Awaited<ReturnType<typeof chromium.launch>>;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (err) {
    // No browser: what was started is closed, or it held the test file open until the runner's
    // per-file timeout (the suite's after() closes only a dashboard it was handed).
    await server.close();
    monitoring.close();
    throw err;
  }
  return {
    view,
    monitoring,
    server,
    browser,
    base: `http://127.0.0.1:${server.port}`,
    async close() {
      await browser.close();
      await server.close();
      monitoring.close();
    },
  };
}

/** Starts the dashboard before the suite's tests (handing it to `use`) and closes it after them. */
export function withDashboard(use: (d: Dashboard) => void): void {
  let dashboard: Dashboard | undefined;
  before(async () => {
    dashboard = await startDashboard();
    use(dashboard);
  });
  after(() => dashboard?.close());
}
