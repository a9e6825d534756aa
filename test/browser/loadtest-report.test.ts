// The loadtest report in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core).
// On a phone's screen (360 px): the page keeps the screen's width, its wide tables and charts
// scrolling sideways in their own boxes, and the charts' labels stay big enough to read. Of a day's
// run: the charts draw each stretch's extremes, and the hover readout says so.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { renderReport } from '../../src/loadtest/report-html.js';
import { fakeResult } from '../fixtures/loadtest-result.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`;

/** A report whose tables are as wide as a real run's: long routes, a failed step and its reasons. */
function wideReport(): string {
  const r = fakeResult({ seconds: 300, sampleEveryS: 5, routes: ['GET /api/sheets/scores/rows?limit=100', 'POST /api/sheets/scores/rows', 'GET /api/admin/export.csv'] });
  const failed = { ...r.segments[0]!, label: 'step 2/2', pass: false, reasons: ['p95 812 ms is over 500 ms', '3 timeouts (UND_ERR_HEADERS_TIMEOUT)', 'CPU 91 % (mean) is over 80 %'] };
  return renderReport({ ...r, segments: [...r.segments, failed] });
}

describe('loadtest report in Chromium', { skip }, () => {
  let browser: Browser;

  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
  });

  it('keeps the page to the screen width: wide tables and charts scroll in their own boxes', async () => {
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    try {
      await page.setContent(wideReport());
      const widths = await page.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        screen: window.innerWidth,
        // What sticks out of the screen, for the message.
        wider: [...document.querySelectorAll('body > *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth).map((e) => `${e.tagName.toLowerCase()}#${e.id}`),
        // The steps table is wider than the screen (the page grew to 629 px with it), but inside its box.
        steps: document.getElementById('segments')?.getBoundingClientRect().width ?? 0,
        stepsBox: document.getElementById('segments')?.parentElement?.clientWidth ?? 0,
      }));
      assert.ok(widths.page <= widths.screen, `page ${widths.page} px wide on a ${widths.screen} px screen: ${widths.wider.join(', ')}`);
      assert.ok(widths.steps > widths.stepsBox, `the steps table (${widths.steps} px) scrolls in its box (${widths.stepsBox} px)`);
    } finally {
      await page.close();
    }
  });

  it('of a day\'s run, reads out the stretch under the pointer: its extremes, as drawn', async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      // Opened from a file, as an operator opens it: its 27 MB (the whole result is embedded)
      // load in under 2 s, where page.setContent() hands them to the page through the DevTools
      // protocol in some 18 s, past its 30 s limit on a loaded machine.
      const dir = mkdtempSync(join(tmpdir(), 'corral-report-'));
      const file = join(dir, 'report.html');
      writeFileSync(file, renderReport(fakeResult({ seconds: 86_400, sampleEveryS: 1 })));
      try {
        await page.goto(pathToFileURL(file).href);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const points = await page.$$eval('svg.chart path.series', (paths) => paths.map((p) => (JSON.parse(p.getAttribute('data-values') ?? '[]') as unknown[]).length));
      assert.ok(points.length > 0 && points.every((n) => n <= 1760), `points per series: ${[...new Set(points)].join(', ')}`);
      await page.locator('#chart-latency').scrollIntoViewIfNeeded();
      const box = await page.locator('#chart-latency rect.hover').boundingBox();
      assert.ok(box);
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
      assert.match((await page.textContent('#tip')) ?? '', /^t ≈ [\d.]+ s \(of 99 points: the lowest and highest\)\np50: 12 ms\np95: 4\d ms\np99: 90 ms$/);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('draws chart labels at least 8 px tall (a chart scaled to the screen drew its 10 px ticks 5 px tall)', async () => {
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    try {
      await page.setContent(wideReport());
      const heights = await page.$$eval('svg.chart text.ytick, svg.chart text.xtick, svg.chart text.title', (texts) => texts.map((t) => t.getBoundingClientRect().height));
      assert.ok(heights.length > 0);
      assert.ok(Math.min(...heights) >= 8, `label heights: ${[...new Set(heights)].join(', ')} px`);
    } finally {
      await page.close();
    }
  });
});
