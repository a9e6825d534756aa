// The master's stdout or stderr that cannot be written (master/closed-output.ts): said once, with
// why as it is: a reader gone (EPIPE) or a full disk under `>> out.log` (ENOSPC), which read as
// "its reader went away" before.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const MODULE = pathToFileURL(fileURLToPath(new URL('../../src/master/closed-output.js', import.meta.url))).href;
// A logger that writes its lines to fd 3; stdout is what the test gives.
const SCRIPT = `
import { createWriteStream } from 'node:fs';
import { pino } from 'pino';
const { outlastClosedOutput } = await import(${JSON.stringify(MODULE)});
outlastClosedOutput(pino(createWriteStream('', { fd: 3 })));
process.stdout.write('an app line\\n');
setTimeout(() => process.exit(0), 200);
`;

function closedLine(stdout: number | 'pipe'): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { stdio: ['ignore', stdout, 'inherit', 'pipe'], timeout: 20_000, encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
  assert.equal(r.status, 0, String(r.stderr));
  const lines = (r.output[3] ?? '').toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 1, JSON.stringify(lines));
  return lines[0]!;
}

test('a full disk under the master\'s stdout is said as such, not as a reader gone', { skip: existsSync('/dev/full') ? false : 'needs /dev/full' }, () => {
  const full = openSync('/dev/full', 'w');
  try {
    const line = closedLine(full);
    assert.equal(line.event, 'master.output_closed');
    assert.match(String(line.msg), /cannot be written \(ENOSPC: the disk it writes to is full\): .* dropped from now on, until a restart; serving goes on/);
  } finally {
    closeSync(full);
  }
});
