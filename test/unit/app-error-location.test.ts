// A boot error names where in the app's files it comes from: the module with a syntax error
// (often one the app imports), the frame a module's evaluation or createApp() threw at.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { AppContext } from '../../src/contract.js';
import { CorralError } from '../../src/errors.js';
import { appFrame, syntaxErrorHead } from '../../src/worker/app-error-location.js';
import { loadApp } from '../../src/worker/app-loader.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-app-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
/** The boot error loadApp throws for `app`. */
async function failureOf(app: string): Promise<CorralError> {
  try {
    await loadApp(app, {} as AppContext);
  } catch (err) {
    assert.ok(err instanceof CorralError, String(err));
    return err;
  }
  assert.fail(`${app} loaded`);
}

test('a syntax error in a module the app imports: the file, its line and the code there', async () => {
  file('lib.mjs', 'const a = 1;\nconst x = ;\n');
  const app = file('imports-broken.mjs', "import './lib.mjs';\nexport function createApp() { return (req, res) => res.end(); }\n");
  const err = await failureOf(app);
  assert.equal(err.code, 'CORRAL_ERR_APP_LOAD');
  assert.equal(err.message, `cannot import app module ${app}: Unexpected token ';' (at ${join(dir, 'lib.mjs')}:2: const x = ;)`);
  // The stack is the app's error under the loader's line, not the loader's frames alone.
  assert.match(err.stack ?? '', /\nCaused by: SyntaxError: Unexpected token ';'/);
});

test('a module that throws while it is evaluated: the frame it threw at', async () => {
  file('lib-throws.mjs', 'const a = 1;\nundefinedThing.call();\n');
  const app = file('imports-throwing.mjs', "import './lib-throws.mjs';\nexport function createApp() { return (req, res) => res.end(); }\n");
  const err = await failureOf(app);
  assert.equal(err.message, `cannot import app module ${app}: undefinedThing is not defined (at ${join(dir, 'lib-throws.mjs')}:2:1)`);
});

test('createApp() that throws: the frame in the app, and a CommonJS syntax error: its file and line', async () => {
  const app = file('create-throws.mjs', "export function createApp() {\n  throw new Error('DATABASE_URL is unset');\n}\n");
  const err = await failureOf(app);
  assert.equal(err.message, `createApp() of ${app} threw: DATABASE_URL is unset (at ${app}:2:9)`);

  const cjs = file('broken.cjs', 'module.exports = {\n  createApp: () => ,\n};\n');
  assert.match((await failureOf(cjs)).message, new RegExp(`^cannot import app module ${cjs.replace(/[.]/g, '\\.')}: Unexpected token ',' \\(at ${cjs.replace(/[.]/g, '\\.')}:2: createApp: \\(\\) => ,\\)$`));
});

test('a module that cannot be found says so as before, with no place to add', async () => {
  const err = await failureOf(join(dir, 'missing.mjs'));
  assert.match(err.message, /^cannot import app module .*missing\.mjs: Cannot find module '.*missing\.mjs' imported from .*app-loader\.js$/);
});

test('the frames and the report heads are read as Node writes them', () => {
  const stack = [
    'Error: boom',
    '    at loadApp (file:///opt/corral/dist/src/worker/app-loader.js:40:15)'.replace('/opt/corral/dist/src/', new URL('../../src/', import.meta.url).pathname),
    '    at node:internal/modules/esm/module_job:325:25',
    '    at Object.<anonymous> (/srv/app/server.js:12:9)',
  ].join('\n');
  assert.equal(appFrame(stack), '/srv/app/server.js:12:9', 'corral\'s own frames and Node\'s are skipped');
  assert.equal(appFrame('Error: x\n    at file:///srv/app/a%20b.mjs:3:1'), '/srv/app/a b.mjs:3:1');
  assert.equal(appFrame('Error: x\n    at node:internal/x:1:1'), undefined);
  assert.equal(syntaxErrorHead('file:///srv/app/lib.mjs:2\nconst x = ;\n          ^\n\nSyntaxError: Unexpected token'), '/srv/app/lib.mjs:2: const x = ;');
  assert.equal(syntaxErrorHead('SyntaxError: Unexpected token\n    at x'), undefined);
});
