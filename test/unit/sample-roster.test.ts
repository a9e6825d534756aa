import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SAMPLE_SHEET_DIR } from '../../src/sheets/sample-sheet.js';
import { sampleRosterExposure } from '../../src/sheets/offline/sample-roster.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-sample-roster-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the sample's login codes served beyond loopback are said, with the three ways out; on loopback or edited, nothing", async () => {
  const sheet = join(dir, 'sheet');
  cpSync(SAMPLE_SHEET_DIR, sheet, { recursive: true });
  const said = await sampleRosterExposure(sheet, { host: '0.0.0.0', port: 8080 });
  assert.match(said ?? '', /sample's Players tab.*0\.0\.0\.0:8080 \(CORRAL_BIND\).*SHEET_ID.*Players\.csv.*CORRAL_BIND=127\.0\.0\.1:8080/);
  assert.match((await sampleRosterExposure(sheet, { host: '::', port: 80 })) ?? '', /\[::\]:80/);
  for (const host of ['127.0.0.1', '::1', 'localhost']) assert.equal(await sampleRosterExposure(sheet, { host, port: 8080 }), undefined, host);
  writeFileSync(join(sheet, 'Players.csv'), 'name,code\nZoé,7f3a9c\n');
  assert.equal(await sampleRosterExposure(sheet, { host: '0.0.0.0', port: 8080 }), undefined, 'a roster of its own');
  rmSync(join(sheet, 'Players.csv'));
  assert.equal(await sampleRosterExposure(sheet, { host: '0.0.0.0', port: 8080 }), undefined, 'no Players tab');
});
