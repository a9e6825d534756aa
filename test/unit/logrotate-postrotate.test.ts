// config/logrotate/corral's postrotate, without corral.service: a pidfile left by a master killed
// outright names a pid that no process holds now. The script must say so in its own one line;
// the shell used to add "cannot open /proc/<pid>/cmdline: No such file", as the redirection
// failed before the `2>/dev/null` written after it applied (logrotate mails or logs that output).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const policy = readFileSync(fileURLToPath(new URL('../../../config/logrotate/corral', import.meta.url)), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'corral-postrotate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function postrotateScript(pidFile: string): string {
  const script = /^\s*postrotate\n([\s\S]*?)^\s*endscript$/m.exec(policy)?.[1];
  assert.ok(script, 'a postrotate script in config/logrotate/corral');
  // No corral.service here: the pidfile branch runs (systemctl may be missing or not booted).
  return script.replaceAll('/run/corral/corral.pid', pidFile).replace('systemctl --quiet is-active corral.service', 'false');
}

test('a pidfile naming a pid no process holds: one line of the script, no shell error about /proc', () => {
  // A pid that was just in use and is now free: that of a process that has exited and been reaped.
  const gone = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim();
  assert.match(gone, /^\d+$/);
  const pidFile = join(dir, 'corral.pid');
  writeFileSync(pidFile, `${gone}\n`);
  for (const shell of ['sh', 'dash', 'bash']) {
    const r = spawnSync(shell, ['-c', postrotateScript(pidFile)], { encoding: 'utf8' });
    if (r.error) continue; // that shell is not installed
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stderr.trim().split('\n'), [`corral logrotate: ${pidFile} names pid ${gone}, which is not a corral master; not signalled`], shell);
  }
});
