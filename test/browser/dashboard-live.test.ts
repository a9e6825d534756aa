// The /admin dashboard of a REAL master (bundled app, offline sheet), in headless Chromium: the
// page shows the master's and workers' real pids and figures, and its Reload button starts a
// real reload (a new generation of workers), which the page then shows.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { startCorral } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'live-dashboard-token-0123456789';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`;

interface Stats {
  master: { pid: number; generation: number };
  capacity: { status: string; max_connections: number };
  workers: { pid: number; generation: number }[];
}

test('the dashboard of a running corral shows its real workers, and its Reload button reloads them', { skip }, async () => {
  const c = await startCorral({ workers: 2, env: { CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' } });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    // Some real traffic for the figures.
    for (let i = 0; i < 20; i++) assert.equal((await http(`${c.url}/api/players`)).status, 200);
    const stats = (await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<Stats>();
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${c.adminUrl}/admin#token=${TOKEN}`);
    await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 2, undefined, { timeout: 15_000 });
    const text = async (sel: string) => ((await page.textContent(sel)) ?? '').trim();
    assert.equal(await text('#master-pid'), String(c.pid));
    assert.equal(await text('#master-pid'), String(stats.master.pid));
    assert.equal(Number((await text('#connections-max')).replace(/\D/g, '')), stats.capacity.max_connections);
    assert.equal(await text('#status'), stats.capacity.status);
    const pids = await page.$$eval('#workers-body tr', (trs) => trs.map((tr) => Number(tr.getAttribute('data-pid'))));
    assert.deepEqual(pids.sort(), stats.workers.map((w) => w.pid).sort());
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-live.png'), fullPage: true });

    // The button asks "Reload all workers?" first; an operator says yes.
    page.once('dialog', (d) => void d.accept());
    await page.click('#btn-reload');
    await c.waitForLog((l) => l.event === 'reload.done', 30_000, 'reload.done after the dashboard button');
    await page.waitForFunction(() => document.getElementById('generation')?.textContent?.trim() === '2', undefined, { timeout: 15_000 });
    const after = (await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<Stats>();
    assert.ok(after.workers.every((w) => w.generation === 2));
    // The message under the buttons follows: the reload it announced is done, not "booting" forever.
    await page.waitForFunction(() => (document.getElementById('action-result')?.textContent ?? '').startsWith('reload done'), undefined, { timeout: 15_000 });
    assert.match(await text('#action-result'), /^reload done: generation 2 serves, no older worker left \(asked at \d\d:\d\d:\d\d, seen done at \d\d:\d\d:\d\d\)$/);
    assert.equal(await text('#exits'), 'worker exits since the master started: none unexpected; asked for: 2 reload');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await c.stop();
  }
});

test('a real master: a worker killed stays in the Workers card once replaced, and during a stop the page says STOPPING with its buttons disabled', { skip }, async () => {
  // A graceful timeout long enough for the request held below to keep its worker draining.
  const c = await startCorral({ workers: 2, app: 'basic.mjs', env: { CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0', CORRAL_GRACEFUL_TIMEOUT: '30' } });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const stats = (await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<Stats>();
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const text = async (sel: string) => ((await page.textContent(sel)) ?? '').trim();
    await page.goto(`${c.adminUrl}/admin#token=${TOKEN}`);
    await page.waitForFunction(() => document.querySelectorAll('#workers-body tr').length === 2, undefined, { timeout: 15_000 });
    assert.equal(await text('#exits'), 'worker exits since the master started: none');

    // kill -9 of a worker: replaced within a second, and the card keeps it, in red.
    const victim = stats.workers[0]!.pid;
    process.kill(victim, 'SIGKILL');
    await page.waitForFunction(() => document.getElementById('exits-unasked')?.dataset.bad === 'true', undefined, { timeout: 15_000 });
    assert.equal(await text('#exits'), 'worker exits since the master started: 1 died');
    await page.waitForFunction((pid) => document.getElementById('workers-ready')?.textContent === '2' && !document.querySelector(`#workers-body tr[data-pid="${pid}"]`), victim, { timeout: 15_000 });
    assert.equal(await text('#exits'), 'worker exits since the master started: 1 died', 'still said once the count is back to 2 / 2');

    // A request in flight keeps a worker draining once the stop begins.
    const held = http(`${c.url}/sleep?ms=12000`, { timeoutMs: 30_000 });
    held.catch(() => {}); // awaited below; not an unhandled rejection if a check before fails
    await c.waitForLog((l) => l.event === 'fixture.sleeping', 10_000, 'the slow request in flight');
    c.kill('SIGTERM');
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'STOPPING', undefined, { timeout: 15_000 });
    const during = (await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<Stats & { master: { stopping?: boolean } }>();
    assert.equal(during.master.stopping, true);
    assert.match(await text('#stopping-note'), /^corral is stopping: /);
    for (const id of ['#btn-reload', '#btn-add', '#btn-remove']) assert.equal(await page.isDisabled(id), true, id);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-live-stopping.png'), fullPage: true });
    assert.deepEqual(errors, []);
    assert.equal((await held).status, 200, 'the request in flight is answered: a stop, not an outage');
  } finally {
    await browser.close();
    await c.stop();
  }
});
