import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileWriteProblem } from '../../src/file-creatable.js';

test('a file under /proc or /sys cannot be created, whoever runs the check (root passes access() there)', () => {
  for (const [file, fs] of [
    ['/proc/corral.log', 'procfs'],
    ['/proc/no/such/dir/corral.log', 'procfs'],
    ['/sys/corral.log', 'sysfs'],
  ] as const) {
    assert.match(fileWriteProblem(file, 'CORRAL_LOG_FILE', 'corral.log') ?? '', new RegExp(`is on ${fs} .*, a kernel filesystem where no file can be created$`), file);
  }
  const dir = mkdtempSync(join(tmpdir(), 'corral-creatable-'));
  try {
    assert.equal(fileWriteProblem(join(dir, 'logs', 'corral.log'), 'CORRAL_LOG_FILE', 'corral.log'), undefined, 'an ordinary directory, created with the file');
    assert.match(fileWriteProblem(dir, 'CORRAL_LOG_FILE', 'corral.log') ?? '', /^it is a directory: name a file in it/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
