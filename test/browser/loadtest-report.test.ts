// The loadtest report on a phone's screen (360 px), in headless Chromium (Debian's /usr/bin/chromium
// driven by playwright-core): the page keeps the screen's width, its wide tables and charts
// scrolling sideways in their own boxes, and the charts' labels stay big enough to read.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
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

describe('loadtest report on a 360 px screen', { skip }, () => {
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
