// `npm test` (test/run.mjs) runs dist/test/'s directories in phases. A directory it names that
// holds no compiled test file (a build that emitted none there, a directory renamed) ran nothing
// and its phase was left out without a word: with every one empty, `npm test` exited 0 having
// run no test at all. Here run.mjs runs on a copy of dist/test/ holding one passing unit file.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/corral.js';

test('a phase directory with no test file fails the run, naming it; the phases that have files still run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-run-phases-'));
  try {
    mkdirSync(join(dir, 'test'));
    for (const f of ['run.mjs', 'failure-summary-reporter.mjs']) copyFileSync(join(REPO_ROOT, 'test', f), join(dir, 'test', f));
    mkdirSync(join(dir, 'dist', 'test', 'unit'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'test', 'unit', 'one.test.js'), "import { test } from 'node:test';\ntest('one', () => {});\n");
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, [join(dir, 'test', 'run.mjs')], { cwd: dir, encoding: 'utf8', env, timeout: 60_000 });
    assert.match(r.stdout, /# phase unit: passed/, r.stdout + r.stderr);
    assert.equal(r.status, 1, `exit ${r.status}\n${r.stdout}${r.stderr}`);
    for (const d of ['integration', 'browser', 'system', 'latency', 'bench']) assert.match(r.stdout, new RegExp(`no test file in dist/test/${d}/`), r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
