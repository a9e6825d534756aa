// Review findings (settings): values that hold a secret shown whole when they are refused, and a
// CORRAL_APP written with ~ or $HOME refused for the wrong reason.

import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { secretsOpenToOthers } from '../../src/config/env-file.js';
import { loadSettings } from '../../src/config/load.js';
import { shownRedisUrl } from '../../src/redis/url.js';
import { refusal, withDir } from '../fixtures/settings-dir.js';

const SECRET = 'hunter2-redis-pw';

test('REDIS_URL refused as no URL does not show the password written in its query (?password=)', () => {
  // The query form is documented (unix:///path?password=...); with a typo elsewhere in the URL
  // (a port past 65535, an unclosed [, no scheme) the whole text was shown, password and all:
  // in the refusal on stderr (the journal, under systemd), in `corral config --json`.
  for (const url of [`redis://10.0.0.5:99999/0?password=${SECRET}`, `10.0.0.5:6379?password=${SECRET}`, `redis://[::1/?password=${SECRET}`, `redis:/10.0.0.5?password=${SECRET}`]) {
    assert.ok(!shownRedisUrl(url).includes(SECRET), `${url} shown as ${shownRedisUrl(url)}`);
    const err = refusal(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', REDIS_URL: url } }));
    assert.ok(!err.message.includes(SECRET), err.message);
    assert.ok(!JSON.stringify(err.problems).includes(SECRET));
  }
});

test('a settings file every user may read is warned of when its REDIS_URL holds a password in the query of a URL that does not parse', () => {
  withDir((dir) => {
    const file = join(dir, '.env');
    writeFileSync(file, `REDIS_URL=redis://10.0.0.5:99999/0?password=${SECRET}\n`);
    chmodSync(file, 0o644);
    assert.match(secretsOpenToOthers(file, { REDIS_URL: `redis://10.0.0.5:99999/0?password=${SECRET}` }) ?? '(no warning)', /holds REDIS_URL/);
  });
});

test('SHEETS_API_URL refused for its query does not repeat the API key copied into it (?key=)', () => {
  // sheets-api-url.ts refuses a query because operators copy one (its comment: "a copied ?key=");
  // the refusal then printed the key, which SHEETS_API_KEY (a secret) never is.
  const key = 'AIzaSyA-abcdefghijklmnopqrstuvwxyz0123';
  const err = refusal(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEETS_API_URL: `https://sheets.googleapis.com/?key=${key}` } }));
  assert.match(err.message, /SHEETS_API_URL/);
  assert.ok(!err.message.includes(key), err.message);
});

test('CORRAL_APP=~/app.mjs or $HOME/app.mjs is refused saying nothing expands ~ or $HOME, not "npm install" a package named ~', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'app.mjs'), 'export default (req, res) => res.end("ok");\n');
    for (const app of ['~/app.mjs', '$HOME/app.mjs']) {
      const err = refusal(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', HOME: dir, CORRAL_APP: app }, cwd: dir }));
      const allowed = err.problems.find((p) => p.name === 'CORRAL_APP')?.allowed ?? '';
      assert.doesNotMatch(allowed, /npm install|Cannot find package/, allowed);
      assert.match(allowed, /nothing expands/, allowed);
      assert.ok(allowed.includes(join(dir, 'app.mjs')), `the path meant is offered: ${allowed}`);
    }
  });
});
