// What an app module may export (worker/app-loader.ts): createApp(ctx), or a default export that is
// itself a request listener, as written by hand, compiled from TypeScript, ESM or CommonJS.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { AppContext } from '../../src/contract.js';
import { appFailureLasts, loadApp } from '../../src/worker/app-loader.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-app-loader-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const written = (name: string, source: string) => {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
};
const ctx = { workerId: 7 } as AppContext;

/** What the listener loaded from `path` answers, or undefined when it answers nothing. */
async function answerOf(path: string): Promise<string | undefined> {
  const listener = await loadApp(path, ctx);
  let body: string | undefined;
  listener({} as IncomingMessage, { end: (b: string) => void (body = b) } as unknown as ServerResponse);
  return body;
}

test('a default export compiled from TypeScript to CommonJS (exports.default, __esModule) is served as written', async () => {
  const esModule = '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n';
  // `const app = express(); export default app;`
  assert.equal(await answerOf(written('ts-listener.js', `${esModule}const app = (req, res) => res.end('ts listener');\nexports.default = app;\n`)), 'ts listener');
  // `export default function createApp(ctx) {...}`
  assert.equal(await answerOf(written('ts-factory.js', `${esModule}exports.default = createApp;\nfunction createApp(ctx) { return (req, res) => res.end('ts factory ' + ctx.workerId); }\n`)), 'ts factory 7');
  // `export default { createApp }`
  assert.equal(await answerOf(written('ts-object.js', `${esModule}exports.default = { createApp: (ctx) => (req, res) => res.end('ts object') };\n`)), 'ts object');
});

test('a default export that is createApp itself is called with ctx, not served as a listener that answers nothing', async () => {
  assert.equal(await answerOf(written('esm-default-factory.mjs', "export default function createApp(ctx) { return (req, res) => res.end('esm ' + ctx.workerId); }\n")), 'esm 7');
  assert.equal(await answerOf(written('cjs-default-factory.cjs', "module.exports = function createApp(ctx) { return (req, res) => res.end('cjs ' + ctx.workerId); };\n")), 'cjs 7');
  // A listener of any other name is a listener (an Express app's is `app`).
  assert.equal(await answerOf(written('esm-default-listener.mjs', "export default function app(req, res) { res.end('listener'); }\n")), 'listener');
});

/** The error loading `path` fails with (the test fails if it loads). */
async function failure(path: string): Promise<Error> {
  try {
    await loadApp(path, ctx);
  } catch (err) {
    return err as Error;
  }
  assert.fail(`${path} loaded`);
}

test('a module that serves nothing says what it exports, or what its createApp() returned', async () => {
  const none = await failure(written('exports-config.mjs', 'export const port = 3000;\n'));
  assert.match(none.message, /must export createApp\(ctx\) returning a request listener.*: it exports only port$/);
  assert.equal(appFailureLasts(none), true);
  const server = await failure(written('returns-server.mjs', "import { createServer } from 'node:http';\nexport function createApp() { return createServer(() => {}); }\n"));
  assert.match(server.message, /its createApp\(\) returned a server, not its request listener/);
  assert.equal(appFailureLasts(server), false);
  const nothing = await failure(written('returns-nothing.mjs', 'export async function createApp() { const app = () => {}; }\n'));
  assert.match(nothing.message, /its createApp\(\) returned undefined$/);
});

test("a module or file createApp() imports that is not there or does not parse fails every boot alike, as the app's own import does", async () => {
  written('lazy-broken.mjs', 'const x = ;\n');
  for (const [name, source] of [
    ['lazy-package.mjs', "export async function createApp() { const { default: express } = await import('corral-test-not-installed'); return express(); }\n"],
    ['lazy-file.mjs', "export async function createApp() { await import('./lazy-broken.mjs'); return (req, res) => res.end(); }\n"],
    ['lazy-require.cjs', "exports.createApp = () => require('corral-test-not-installed')();\n"],
  ] as const) {
    const err = await failure(written(name, source));
    assert.match(err.message, /^createApp\(\) of .* threw: /, name);
    assert.equal(appFailureLasts(err), true, name);
  }
  // What its own code throws at start (a database not up yet, a config service's error page) may pass next time.
  const down = await failure(written('db-down.mjs', "export async function createApp() { throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }); }\n"));
  assert.equal(appFailureLasts(down), false);
  const page = await failure(written('config-page.mjs', "export async function createApp() { JSON.parse('<html>'); }\n"));
  assert.equal(appFailureLasts(page), false);
});

test('a default export taking one parameter, createApp(ctx) not named so, is refused at boot rather than served as a listener that answers nothing', async () => {
  for (const [name, source] of [
    ['esm-anonymous-factory.mjs', 'export default async (ctx) => (req, res) => res.end(String(ctx.workerId));\n'],
    ['cjs-anonymous-factory.cjs', 'module.exports = async (ctx) => (req, res) => res.end(String(ctx.workerId));\n'],
    ['ts-factory-other-name.js', '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nconst factory = async (ctx) => (req, res) => res.end("x");\nexports.default = factory;\n'],
  ] as const) {
    let err: Error | undefined;
    try {
      await loadApp(written(name, source), ctx);
    } catch (e) {
      err = e as Error;
    }
    assert.ok(err, `${name}: served as a request listener`);
    assert.match(err.message, /takes one parameter.*createApp/, name);
    assert.equal(appFailureLasts(err), true, name);
  }
  // Listeners as frameworks make them: (req, res), (req, res, next).
  assert.equal(await answerOf(written('two-params.mjs', "export default async function handler(req, res) { res.end('two'); }\n")), 'two');
  assert.equal(await answerOf(written('three-params.cjs', "module.exports = function app(req, res, next) { res.end('three'); };\n")), 'three');
});
