// Which boot failures no new attempt gets past until the files or settings change (worker/boot-lasting.ts,
// app-loader.ts): those end a master's start with exit 78, which its systemd unit does not restart.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AppContext } from '../../src/contract.js';
import { appFailureLasts, loadApp } from '../../src/worker/app-loader.js';
import { factoryFailureLasts, importFailureLasts, listenFailureLasts } from '../../src/worker/boot-lasting.js';

const app = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/apps/${name}`, import.meta.url));
const errno = (code: string) => Object.assign(new Error(code), { code });
const dir = mkdtempSync(join(tmpdir(), 'corral-lasting-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** An app module written for the test. */
const written = (name: string, source: string) => {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
};

test('an import that fails on the files as written lasts; an error the module throws while it runs does not', () => {
  // As Node throws them: a module that does not parse has only its own frames; JSON.parse of a
  // page run by the app's code has the app's.
  const parse = Object.assign(new SyntaxError('Unexpected number'), { stack: 'SyntaxError: Unexpected number\n    at compileSourceTextModule (node:internal/modules/esm/utils:346:16)\n    at ModuleLoader.moduleStrategy (node:internal/modules/esm/translators:146:18)' });
  assert.equal(importFailureLasts(parse), true);
  const running = Object.assign(new SyntaxError('Unexpected token'), { stack: 'SyntaxError: Unexpected token\n    at JSON.parse (<anonymous>)\n    at file:///srv/app/server.mjs:3:18\n    at ModuleJob.run (node:internal/modules/esm/module_job:325:25)' });
  assert.equal(importFailureLasts(running), false);
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

test('loadApp marks what lasts: a module not there, one that does not parse, one that exports no listener; not what the code throws or returns as it runs', async () => {
  const ctx = {} as AppContext;
  const failure = async (path: string) => {
    try {
      await loadApp(path, ctx);
    } catch (err) {
      return err;
    }
    assert.fail(`${path} loaded`);
  };
  assert.equal(appFailureLasts(await failure(app('missing-module.mjs'))), true);
  assert.equal(appFailureLasts(await failure(app('not-an-app.mjs'))), true, 'exports neither createApp nor a default listener');
  assert.equal(appFailureLasts(await failure(written('unparsable.mjs', 'export function createApp( { return 1 }\n'))), true, 'a syntax error in its files');
  assert.equal(appFailureLasts(await failure(app('broken-import.mjs'))), false, 'a throw at import: its own code, which may depend on anything');
  assert.equal(appFailureLasts(await failure(app('fails-after-loading.mjs'))), false, 'createApp() rejecting: a database not up yet');
  // A CommonJS file the app requires that does not parse: the stack has the require()'s frame.
  written('routes.cjs', 'module.exports = {;\n');
  assert.equal(appFailureLasts(await failure(written('requires-unparsable.cjs', "require('./routes.cjs');\nexports.createApp = () => () => {};\n"))), true, 'a syntax error in a file it requires');
  // A .json file it requires or imports that does not parse (a trailing comma): Node's JSON loader
  // throws it, with the require()'s frame in the app's files.
  written('settings.json', '{ "port": 1, }\n');
  assert.equal(appFailureLasts(await failure(written('requires-json.cjs', "require('./settings.json');\nexports.createApp = () => () => {};\n"))), true, 'a .json file it requires');
  assert.equal(appFailureLasts(await failure(written('imports-json.mjs', "import s from './settings.json' with { type: 'json' };\nexport const createApp = () => () => s;\n"))), true, 'a .json file it imports');
  // A SyntaxError its running code throws: a config service's error page read as JSON.
  const json = written('config-page.mjs', "const config = JSON.parse('<html>502</html>');\nexport function createApp() { return () => config; }\n");
  assert.equal(appFailureLasts(await failure(json)), false, 'a SyntaxError thrown by its code as it runs');
  // A createApp() that swallowed its database's error and resolved nothing.
  const swallowed = written('swallowed.mjs', 'export async function createApp() { try { throw new Error("db down"); } catch { return undefined; } }\n');
  assert.equal(appFailureLasts(await failure(swallowed)), false, 'what createApp() returns may depend on its run');
});

test("a SyntaxError createApp()'s running code throws with no frame of the app's (a promise chain parsing a config service's error page) may pass next time; a module it loads that does not parse lasts", () => {
  // As Node 20 throws them in a worker: `return fetch(url).then((r) => r.json())` from a createApp
  // that is not async, on a proxy's HTML page. Its frames are undici's and corral's: taken as a
  // module that does not parse, the master exited 78, which systemd does not restart.
  const own = fileURLToPath(new URL('../../src/worker/app-loader.js', import.meta.url));
  const page = Object.assign(new SyntaxError('Unexpected token \'<\', "<html>502 "... is not valid JSON'), {
    stack: `SyntaxError: Unexpected token '<', "<html>502 "... is not valid JSON\n    at JSON.parse (<anonymous>)\n    at parseJSONFromBytes (node:internal/deps/undici/undici:5880:19)\n    at successSteps (node:internal/deps/undici/undici:5861:27)\n    at fullyReadBody (node:internal/deps/undici/undici:4753:9)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n    at async consumeBody (node:internal/deps/undici/undici:5870:7)\n    at async loadApp (file://${own}:94:24)`,
  });
  assert.equal(factoryFailureLasts(page), false);
  // Run by a module being required (its top frame JSON.parse, the loader's frames under it).
  const setting = Object.assign(new SyntaxError('Unexpected token b'), { stack: 'SyntaxError: Unexpected token b\n    at JSON.parse (<anonymous>)\n    at Module._compile (node:internal/modules/cjs/loader:1358:14)\n    at Module.require (node:internal/modules/cjs/loader:1231:19)' });
  assert.equal(factoryFailureLasts(setting), false);
  // An ES module that does not parse (thrown by the loader, no file:line head), a CommonJS one
  // (with it), a JSON file required: each lasts, as do modules not there.
  const esm = Object.assign(new SyntaxError("Unexpected token ';'"), { stack: "SyntaxError: Unexpected token ';'\n    at compileSourceTextModule (node:internal/modules/esm/utils:346:16)\n    at ModuleLoader.moduleStrategy (node:internal/modules/esm/translators:146:18)" });
  assert.equal(factoryFailureLasts(esm), true);
  const cjs = Object.assign(new SyntaxError('Unexpected token }'), { stack: '/srv/app/routes.cjs:1\nmodule.exports = { x: };\n                      ^\n\nSyntaxError: Unexpected token }\n    at internalCompileFunction (node:internal/vm:76:18)' });
  assert.equal(factoryFailureLasts(cjs), true);
  const json = Object.assign(new SyntaxError('Unexpected token'), { stack: 'SyntaxError: /srv/app/config.json: Unexpected token\n    at parse (<anonymous>)\n    at Module._extensions..json (node:internal/modules/cjs/loader:1436:39)\n    at Module.load (node:internal/modules/cjs/loader:1207:32)' });
  assert.equal(factoryFailureLasts(json), true);
  assert.equal(factoryFailureLasts(errno('ERR_MODULE_NOT_FOUND')), true);
  assert.equal(factoryFailureLasts(errno('ECONNREFUSED')), false);
});
