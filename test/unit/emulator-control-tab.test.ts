// GET /__emulator/spreadsheets/ID/sheets/TAB, a tab's rows for scripts and benches: a path whose
// percent-encoding does not decode (`%E0%A4%A`, a cut-off UTF-8 sequence) threw URIError out of the
// handler, answered 500 with a stack on the emulator's stderr, as if the emulator had failed.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEFAULT_SPREADSHEET_ID, startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';

let emulator: Emulator;
before(async () => {
  emulator = await startEmulator();
});
after(() => emulator.close());

test('a tab path that does not decode is a 400 naming the path, not a 500', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    for (const path of [`/__emulator/spreadsheets/${DEFAULT_SPREADSHEET_ID}/sheets/%E0%A4%A`, '/__emulator/spreadsheets/%ZZ/sheets/Players']) {
      const res = await fetch(`${emulator.url}${path}`);
      assert.equal(res.status, 400, path);
      const body = (await res.json()) as { error: string };
      assert.match(body.error, /percent-encoding/);
      assert.ok(body.error.includes(path), body.error);
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
  const ok = await fetch(`${emulator.url}/__emulator/spreadsheets/${DEFAULT_SPREADSHEET_ID}/sheets/Players`);
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { values: string[][] }).values[0]?.[0], 'name');
});
