// A command's refusal on a stderr that is the journal (a command the unit runs: `corral start`,
// ExecReload='s `corral reload --wait`) carries the err priority on each of its lines, so that
// `journalctl -u corral -p err` says why the start or the reload was refused; elsewhere, none.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { onStderr } from '../../src/log/journal.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const corral = join(root, 'bin', 'corral');
const dir = mkdtempSync(join(tmpdir(), 'corral-journal-priority-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `corral start` with invalid settings, its stderr a file that JOURNAL_STREAM names (or not). */
function refusedStart(name: string, journal: boolean): { status: number | null; stderr: string } {
  const settings = join(dir, `${name}.env`);
  writeFileSync(settings, 'CORRAL_WORKERS=zero\nCORRAL_TIMEOUT=-1\n');
  const out = join(dir, `${name}.err`);
  const fd = openSync(out, 'w');
  try {
    const st = fstatSync(fd, { bigint: true });
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', CORRAL_ENV_FILE: settings, ...(journal ? { JOURNAL_STREAM: `${st.dev}:${st.ino}` } : {}) };
    const r = spawnSync(process.execPath, [corral, 'start'], { cwd: dir, stdio: ['ignore', 'ignore', fd], env, timeout: 60_000 });
    return { status: r.status, stderr: readFileSync(out, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

test('corral start refusing its settings under systemd: every line of the refusal at err priority, one per invalid setting', () => {
  const { status, stderr } = refusedStart('journal', true);
  assert.equal(status, 78, stderr);
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 3, stderr);
  assert.match(lines[0]!, /^<3>corral start: \[CORRAL_ERR_CONFIG_INVALID\] invalid settings:/);
  for (const l of lines) assert.match(l, /^<3>/, `a line journald would count as info: ${JSON.stringify(l)}`);
  assert.ok(lines.some((l) => l.includes('CORRAL_WORKERS="zero"')));
  assert.ok(lines.some((l) => l.includes('CORRAL_TIMEOUT="-1"')));
});

test('corral start refusing its settings on a terminal or a file: no prefix', () => {
  const { status, stderr } = refusedStart('plain', false);
  assert.equal(status, 78, stderr);
  assert.match(stderr, /^corral start: \[CORRAL_ERR_CONFIG_INVALID\] invalid settings:/);
  assert.doesNotMatch(stderr, /^<\d>/m);
});

test('onStderr prefixes each line, not the empty one after the last newline', () => {
  assert.equal(onStderr('a\n  b\n', '<3>', true), '<3>a\n<3>  b\n');
  assert.equal(onStderr('a\n\nb', '<4>', true), '<4>a\n\n<4>b');
  assert.equal(onStderr('a\nb\n', '<3>', false), 'a\nb\n');
});
