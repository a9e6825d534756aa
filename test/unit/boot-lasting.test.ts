// Which boot failures no new attempt gets past until the files or settings change (worker/boot-lasting.ts,
// app-loader.ts): those end a master's start with exit 78, which its systemd unit does not restart.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AppContext } from '../../src/contract.js';
import { appFailureLasts, loadApp } from '../../src/worker/app-loader.js';
import { importFailureLasts, listenFailureLasts } from '../../src/worker/boot-lasting.js';

const app = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/apps/${name}`, import.meta.url));
const errno = (code: string) => Object.assign(new Error(code), { code });

test('an import that fails on the files as written lasts; an error the module throws while it runs does not', () => {
  assert.equal(importFailureLasts(new SyntaxError('Unexpected token')), true);
  for (const code of ['ERR_MODULE_NOT_FOUND', 'ERR_UNKNOWN_FILE_EXTENSION', 'ERR_UNSUPPORTED_DIR_IMPORT', 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'MODULE_NOT_FOUND']) {
    assert.equal(importFailureLasts(errno(code)), true, code);
  }
  assert.equal(importFailureLasts(new Error('database unreachable')), false);
  assert.equal(importFailureLasts(errno('ECONNREFUSED')), false);
});

test('a listen refused for a port below 1024 lasts; a port in use or an address not up yet does not', () => {
  assert.equal(listenFailureLasts(errno('EACCES')), true);
  assert.equal(listenFailureLasts(errno('EADDRINUSE')), false);
  assert.equal(listenFailureLasts(errno('EADDRNOTAVAIL')), false);
});

test('loadApp marks what lasts: a module not there, a module that exports no listener; not a createApp() or a top-level throw', async () => {
  const ctx = {} as AppContext;
  const failure = async (name: string) => {
    try {
      await loadApp(app(name), ctx);
    } catch (err) {
      return err;
    }
    assert.fail(`${name} loaded`);
  };
  assert.equal(appFailureLasts(await failure('missing-module.mjs')), true);
  assert.equal(appFailureLasts(await failure('not-an-app.mjs')), true);
  assert.equal(appFailureLasts(await failure('broken-import.mjs')), false, 'a throw at import: its own code, which may depend on anything');
  assert.equal(appFailureLasts(await failure('fails-after-loading.mjs')), false, 'createApp() rejecting: a database not up yet');
});
