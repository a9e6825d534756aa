// The check that the code on disk loads the keeper (keeper-load-check.ts), with real processes: the
// keeper's entry of this build in its load-check mode, a copy of the install broken as an upgrade
// in place leaves it, and entries that hang or predate the check.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { checkKeeperLoads, loadErrorOf } from '../../src/master/keeper-load-check.js';
import { LOAD_CHECK_ENV } from '../../src/own-code-load.js';
import { copyInstall } from '../helpers/install-copy.js';

const KEEPER_ENTRY = fileURLToPath(new URL('../../src/sheets/keeper-entry.js', import.meta.url));
const CONFIG_LOAD = fileURLToPath(new URL('../../src/config/load.js', import.meta.url));
const ERRORS = fileURLToPath(new URL('../../src/errors.js', import.meta.url));
const ENV = { PATH: process.env.PATH ?? '' };

/** A directory of ES modules holding `entry.js` with `source`. */
function entryOf(source: string): { entry: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'corral-load-check-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  writeFileSync(join(dir, 'entry.js'), source);
  return { entry: join(dir, 'entry.js'), dir };
}

test("this build's keeper entry, started as a check, loads the keeper's modules, starts nothing and exits 0", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'corral-load-check-data-'));
  try {
    // With settings a keeper would start with: one started would take the data dir's lock there.
    const run = spawnSync(process.execPath, [KEEPER_ENTRY], { env: { ...ENV, CORRAL_DATA_DIR: dataDir, [LOAD_CHECK_ENV]: '1' }, encoding: 'utf8', timeout: 30_000 });
    assert.deepEqual([run.status, run.stderr], [0, '']);
    assert.deepEqual(readdirSync(dataDir), [], 'no keeper ran');
    const verdict = await checkKeeperLoads(KEEPER_ENTRY, { ...ENV, CORRAL_DATA_DIR: dataDir }).verdict;
    assert.deepEqual({ ...verdict, ms: 0 }, { loads: true, ms: 0 });
    assert.deepEqual(readdirSync(dataDir), []);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a build whose keeper module was left half written does not load: the syntax error, with its file and line', async () => {
  const install = copyInstall();
  try {
    const keeperJs = join(install, 'dist', 'src', 'sheets', 'keeper', 'keeper.js');
    appendFileSync(keeperJs, '\nexport const cut = ;\n');
    const verdict = await checkKeeperLoads(join(install, 'dist', 'src', 'sheets', 'keeper-entry.js'), ENV).verdict;
    assert.ok(!verdict.loads);
    assert.match(verdict.error, new RegExp(`^SyntaxError: Unexpected token ';' \\(${keeperJs.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+\\)$`), verdict.error);
    assert.match(verdict.stderr, /export const cut = ;/, "node's own report is kept for the log");
  } finally {
    rmSync(install, { recursive: true, force: true });
  }
});

test('a build whose packages are gone (npm ci halfway) does not load: the package not found, and by whom', async () => {
  const install = copyInstall();
  try {
    rmSync(join(install, 'node_modules'));
    const verdict = await checkKeeperLoads(join(install, 'dist', 'src', 'sheets', 'keeper-entry.js'), ENV).verdict;
    assert.ok(!verdict.loads);
    assert.match(verdict.error, /^Error \[ERR_MODULE_NOT_FOUND\]: Cannot find package '[^']+' imported from \//, verdict.error);
  } finally {
    rmSync(install, { recursive: true, force: true });
  }
});

test('a build without its keeper entry does not load: the file not found', async () => {
  const install = copyInstall();
  try {
    const entry = join(install, 'dist', 'src', 'sheets', 'keeper-entry.js');
    rmSync(entry);
    const verdict = await checkKeeperLoads(entry, ENV).verdict;
    assert.ok(!verdict.loads);
    assert.match(verdict.error, /Cannot find module/, verdict.error);
    assert.ok(verdict.error.includes(entry), verdict.error);
  } finally {
    rmSync(install, { recursive: true, force: true });
  }
});

test('an entry that does not load within the bound is killed and taken as not loading', async () => {
  const { entry, dir } = entryOf('setInterval(() => {}, 1000);\n');
  try {
    const startedAt = Date.now();
    const verdict = await checkKeeperLoads(entry, ENV, 300).verdict;
    assert.ok(!verdict.loads);
    assert.equal(verdict.error, 'it did not load within 0.3 s');
    assert.ok(Date.now() - startedAt < 5000, 'ended at its bound');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a check ended before its verdict (a stop) kills its process at once', async () => {
  const { entry, dir } = entryOf('setInterval(() => {}, 1000);\n');
  try {
    const check = checkKeeperLoads(entry, ENV);
    const startedAt = Date.now();
    check.cancel();
    check.cancel();
    const verdict = await check.verdict;
    assert.ok(!verdict.loads);
    assert.equal(verdict.error, 'the check was ended before its verdict');
    assert.ok(Date.now() - startedAt < 5000, 'not at its bound of 10 s');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a build from before the check, whose entry starts a keeper once loaded, stops at its settings: taken as loading, with nothing started', async () => {
  // What such a keeper does first, once its modules are loaded: read its settings from its
  // environment, and exit with the code of a refusal (EXIT.CONFIG) when they are invalid.
  const { entry, dir } = entryOf(
    `import { loadSettings } from ${JSON.stringify(CONFIG_LOAD)};\nimport { exitCodeFor } from ${JSON.stringify(ERRORS)};\n` +
      `try { loadSettings({ readFiles: false }); } catch (err) { process.exit(exitCodeFor(err)); }\n` +
      `process.stderr.write('a keeper would start here\\n');\nprocess.exit(1);\n`,
  );
  try {
    const verdict = await checkKeeperLoads(entry, { ...ENV, CORRAL_WORKERS: '2' }).verdict;
    assert.deepEqual({ ...verdict, ms: 0 }, { loads: true, ms: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the loader's error is read from node's report of it", () => {
  assert.equal(
    loadErrorOf("file:///opt/corral/dist/src/sheets/keeper/keeper.js:12\nconst x = ;\n          ^\n\nSyntaxError: Unexpected token ';'\n    at compileSourceTextModule (node:internal/modules/esm/utils:346:16)\n\nNode.js v20.20.2\n"),
    "SyntaxError: Unexpected token ';' (/opt/corral/dist/src/sheets/keeper/keeper.js:12)",
  );
  assert.equal(
    loadErrorOf(
      "node:internal/modules/esm/resolve:283\n    throw new ERR_MODULE_NOT_FOUND(\n          ^\n\nError [ERR_MODULE_NOT_FOUND]: Cannot find module '/opt/corral/dist/src/sheets/keeper/gone.js' imported from /opt/corral/dist/src/sheets/keeper/keeper.js\n    at finalizeResolution (node:internal/modules/esm/resolve:283:11)\n",
    ),
    "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/opt/corral/dist/src/sheets/keeper/gone.js' imported from /opt/corral/dist/src/sheets/keeper/keeper.js",
  );
  assert.equal(loadErrorOf('killed by something\n'), 'killed by something');
  assert.equal(loadErrorOf(''), undefined);
});
