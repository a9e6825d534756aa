import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fatalStderrLine } from '../../src/master/fatal-stderr.js';

const FATAL = { code: 'CORRAL_ERR_BOOT_EXHAUSTED', message: 'no worker could boot after 5 attempts: boom' };

test('the fatal reason is said on stderr with the log file named, and not said twice when the log is on stdout', () => {
  assert.equal(fatalStderrLine(FATAL, '/var/log/corral.log', 'info', false), 'corral start: [CORRAL_ERR_BOOT_EXHAUSTED] no worker could boot after 5 attempts: boom; the full log is in /var/log/corral.log\n');
  assert.equal(fatalStderrLine(FATAL, '/var/log/corral.log', 'fatal', true), '<2>corral start: [CORRAL_ERR_BOOT_EXHAUSTED] no worker could boot after 5 attempts: boom; the full log is in /var/log/corral.log\n');
  assert.equal(fatalStderrLine(FATAL, undefined, 'warn', false), undefined);
});

test('a level that leaves the fatal line out of the log (silent) has it said on stderr always, naming no file that holds nothing of it', () => {
  // A failed start said nothing at all on stdout, and with a log file pointed at an empty file.
  for (const file of [undefined, '/var/log/corral.log']) {
    const line = fatalStderrLine(FATAL, file, 'silent', false);
    assert.equal(line, 'corral start: [CORRAL_ERR_BOOT_EXHAUSTED] no worker could boot after 5 attempts: boom; CORRAL_LOG_LEVEL=silent leaves this line out of the log\n');
  }
});
