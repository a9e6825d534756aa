// A boot error names where in the app's files it comes from: the module with a syntax error
// (often one the app imports), the frame a module's evaluation or createApp() threw at.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { AppContext } from '../../src/contract.js';
import { CorralError } from '../../src/errors.js';
import { appFrame, relativeImports, syntaxErrorHead } from '../../src/worker/app-error-location.js';
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

test('createApp() that throws: the frame in the app; a CommonJS syntax error, in the app or a module it requires: that file and line', async () => {
  const app = file('create-throws.mjs', "export function createApp() {\n  throw new Error('DATABASE_URL is unset');\n}\n");
  const err = await failureOf(app);
  assert.equal(err.message, `createApp() of ${app} threw: DATABASE_URL is unset (at ${app}:2:9)`);

  const cjs = file('broken.cjs', 'module.exports = {\n  createApp: () => ,\n};\n');
  assert.equal((await failureOf(cjs)).message, `cannot import app module ${cjs}: Unexpected token ',' (at ${cjs}:2: createApp: () => ,)`);
  // The required file, not the line that requires it.
  file('broken-lib.cjs', 'exports.x = 1;\nexports.y = ;\n');
  const requiring = file('requires-broken.cjs', "require('./broken-lib.cjs');\nexports.createApp = () => (req, res) => res.end();\n");
  assert.equal((await failureOf(requiring)).message, `cannot import app module ${requiring}: Unexpected token ';' (at ${join(dir, 'broken-lib.cjs')}:2: exports.y = ;)`);
});

test('a module imported lazily by createApp(), and paths with spaces and parentheses: found by parsing, and nothing of the app runs twice', async () => {
  const sub = join(dir, 'sp (x)');
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, 'lazy.mjs'), 'export const routes = [\n  { path: "/a" },,\n  ];;\nexport default = 1;\n');
  const ran = join(dir, 'ran.log');
  const app = file(
    'lazy-app.mjs',
    `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(ran)}, 'top level ran\\n');\nexport async function createApp() {\n  await import('./sp (x)/lazy.mjs');\n  return (req, res) => res.end();\n}\n`,
  );
  const err = await failureOf(app);
  assert.match(err.message, new RegExp(`^createApp\\(\\) of .*lazy-app\\.mjs threw: .* \\(at ${join(sub, 'lazy.mjs').replace(/[.()]/g, '\\$&')}:4: export default = 1;\\)$`));
  assert.equal(readFileSync(ran, 'utf8'), 'top level ran\n', 'the app was imported once, by the loader alone');
});

test('the walk checks JavaScript files only (a JSON module is no syntax error), and counts the files it checked, not those it found', async () => {
  file('data.json', '{"a": 1}\n');
  // 105 imports found at once, the 6th broken: it stopped at 100 found, having checked one. (Not
  // further down the list: each file checked is a `node --check`, and 30 of them on a loaded
  // machine ran past the walk's 10 s.)
  const many = Array.from({ length: 105 }, (_, i) => file(`many-${i}.mjs`, `export const v${i} = ${i};\n`));
  writeFileSync(many[5] ?? '', 'export const v5 = ;\n');
  const app = file('imports-many.mjs', `import data from './data.json' with { type: 'json' };\n${many.map((_, i) => `import './many-${i}.mjs';`).join('\n')}\nexport function createApp() { return (req, res) => res.end(data); }\n`);
  assert.match((await failureOf(app)).message, new RegExp(`\\(at ${join(dir, 'many-5.mjs').replace(/[.]/g, '\\.')}:1: export const v5 = ;\\)$`));
});

test('the relative imports a module names: static, re-exported, bare, and import() of a literal', () => {
  const source = "import a from './a.mjs';\nimport { b } from \"../b.js\";\nexport * from './c.mjs';\nimport './d.mjs';\nconst e = await import('./e.mjs');\nimport pkg from 'pkg';\nimport('./f' + x);\n";
  assert.deepEqual(relativeImports(source).sort(), ['../b.js', './a.mjs', './c.mjs', './d.mjs', './e.mjs']);
  assert.deepEqual(relativeImports("import{a}from'./min.js';export{b}from\"./re.js\""), ['./min.js', './re.js'], 'minified');
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
  assert.equal(appFrame('Error: x\n    at Object.<anonymous> (/srv/sp (x)/app.cjs:2:3)'), '/srv/sp (x)/app.cjs:2:3');
  // The app's own call site before a library's frame, a library's when there is no other.
  assert.equal(appFrame('Error: x\n    at f (/srv/app/node_modules/lib/index.js:9:9)\n    at g (/srv/app/server.js:4:2)'), '/srv/app/server.js:4:2');
  assert.equal(appFrame('Error: x\n    at f (/srv/app/node_modules/lib/index.js:9:9)'), '/srv/app/node_modules/lib/index.js:9:9');
  assert.equal(syntaxErrorHead('/srv/sp (x)/lib.cjs:2\nexports.y = ;\n'), '/srv/sp (x)/lib.cjs:2: exports.y = ;');
  assert.equal(syntaxErrorHead('file:///srv/app/lib.mjs:2\nconst x = ;\n          ^\n\nSyntaxError: Unexpected token'), '/srv/app/lib.mjs:2: const x = ;');
  assert.equal(syntaxErrorHead('SyntaxError: Unexpected token\n    at x'), undefined);
});
