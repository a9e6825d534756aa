import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeStripsTypes } from '../../src/config/app-module.js';
import { loadSettings } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

function appRefusal(app: string, cwd: string): string | undefined {
  try {
    loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_APP: app }, cwd });
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.find((p) => p.name === 'CORRAL_APP')?.allowed;
  }
}

test('CORRAL_APP naming a package the workers cannot import is refused at load (exit 78), not found by every worker until the master exits 3', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-app-package-'));
  try {
    // A misspelt name: start ran the master and the keeper, and each worker failed "Cannot find
    // package", CORRAL_BOOT_ATTEMPTS times, before boot.exhausted (exit 3); a reload booted a
    // generation only to see it fail.
    assert.equal(
      appRefusal('corral-players-ap', dir),
      "a package the workers can import, or a path beginning with ./ or / for a file: corral-players-ap cannot be resolved (Cannot find package 'corral-players-ap'); install it where corral is installed (npm install in corral's directory), or correct its name",
    );
    // A name ending in .js with no such file here is a package name too, judged as one.
    assert.match(appRefusal('chart.js', dir) ?? '', /^a package the workers can import.*chart\.js cannot be resolved \(Cannot find package 'chart\.js'\)/);
    // A subpath the package does not export.
    assert.match(appRefusal('dotenv/nope', dir) ?? '', /dotenv\/nope cannot be resolved \(Package subpath '\.\/nope' is not defined by "exports"/);
    // Installed packages, node: builtins and files are not refused; nothing of a package is run.
    for (const ok of ['pino', 'undici', 'node:http']) assert.equal(appRefusal(ok, dir), undefined, ok);
    writeFileSync(join(dir, 'app.mjs'), 'throw new Error("not to be run by a settings check");\n');
    assert.equal(appRefusal('./app.mjs', dir), undefined);
    // stop and status, which do not need it, do not judge it: a stop is never refused over it.
    assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_APP: 'corral-players-ap' }, cwd: dir, judgeOnly: ['CORRAL_PIDFILE'] }).settings.CORRAL_APP, 'corral-players-ap');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CORRAL_APP naming a TypeScript file is refused unless the workers get a loader (NODE_OPTIONS): node 20 imports no .ts, and every boot failed until exit 78', { skip: nodeStripsTypes(process.versions.node, undefined) && 'this node imports .ts itself' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-app-ts-'));
  try {
    writeFileSync(join(dir, 'app.ts'), 'export function createApp() { return () => undefined; }\n');
    assert.match(appRefusal('./app.ts', dir) ?? '', /^a JavaScript module \(\.mjs, \.js or \.cjs\): .*app\.ts .* is TypeScript, which node \S+ does not import without a loader; compile it \(tsc\) and point CORRAL_APP at the \.js it writes, or give the workers a loader \(NODE_OPTIONS="--import tsx"/);
    // With a loader in NODE_OPTIONS, from the environment or the settings file, it is the loader's business.
    const loaded = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_APP: './app.ts', NODE_OPTIONS: '--import tsx' }, cwd: dir });
    assert.equal(loaded.settings.CORRAL_APP, './app.ts');
    writeFileSync(join(dir, '.env'), 'CORRAL_APP=./app.ts\nNODE_OPTIONS=--require ts-node/register\n');
    assert.equal(loadSettings({ env: {}, cwd: dir }).settings.CORRAL_APP, './app.ts');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CORRAL_APP naming a .ts file passes where node imports TypeScript itself (22.18 and 23.6 on, within engines): refused there, a working app failed start with exit 78', async () => {
  const { appModuleProblem } = await import('../../src/config/app-module.js');
  const dir = mkdtempSync(join(tmpdir(), 'corral-app-ts-strip-'));
  try {
    for (const name of ['app.ts', 'app.mts', 'app.tsx']) writeFileSync(join(dir, name), 'export function createApp() { return () => undefined; }\n');
    for (const version of ['22.18.0', '23.6.0', '24.11.1']) {
      assert.equal(appModuleProblem('./app.ts', dir, undefined, version), undefined, version);
      assert.equal(appModuleProblem('./app.mts', dir, '', version), undefined, version);
      // Type stripping takes no .tsx, and can be turned off.
      assert.match(appModuleProblem('./app.tsx', dir, undefined, version) ?? '', new RegExp(`is TypeScript, which node ${version.replaceAll('.', '\\.')} does not import without a loader`));
      assert.match(appModuleProblem('./app.ts', dir, '--no-experimental-strip-types', version) ?? '', /does not import without a loader/);
    }
    for (const version of ['20.18.1', '22.17.1', '23.5.0']) assert.match(appModuleProblem('./app.ts', dir, undefined, version) ?? '', /is TypeScript, which node/, version);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
