import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkPidfile, removePidfile, stampFile, writePidfile } from '../../src/master/pidfile.js';
import { looksLikeMaster, procStamp, sameProcess } from '../../src/master/proc-identity.js';

test('a process start stamp names this process, and not one started later with the same pid', () => {
  const mine = procStamp(process.pid);
  assert.ok(mine, '/proc is readable');
  assert.ok(sameProcess(mine, procStamp(process.pid)!));
  assert.ok(!sameProcess(mine, { ...mine, startTicks: mine.startTicks + 1 }));
  assert.ok(!sameProcess(mine, { ...mine, bootId: 'another-boot' }) || mine.bootId === null);
  assert.ok(sameProcess(mine, { ...mine, bootId: null }), 'an unknown boot id does not decide');
});

test('a command name with spaces and parentheses does not shift the stat fields', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  // The binary itself carries the odd name, so the kernel's comm (field 2 of stat) is "a b) c".
  const odd = join(dir, 'a b) c');
  copyFileSync('/bin/sleep', odd);
  chmodSync(odd, 0o755);
  const child = spawn(odd, ['30'], { stdio: 'ignore' });
  try {
    await once(child, 'spawn');
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    assert.ok(stat.includes('(a b) c)'), stat);
    // Split naively on spaces, field 22 would be two fields off.
    const reference = Number(/^\d+ \(.*\) (.*)$/s.exec(stat)![1]!.split(' ')[19]);
    assert.notEqual(Number(stat.split(' ')[21]), reference, 'the name does shift a naive split');
    assert.equal(procStamp(child.pid!)?.startTicks, reference);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('only `… corral start` looks like a master (for pidfiles without a stamp)', () => {
  assert.ok(looksLikeMaster(['/usr/bin/node', '/opt/corral/bin/corral', 'start']));
  assert.ok(!looksLikeMaster(['/usr/bin/node', '/opt/corral/dist/src/worker/entry.js']));
  assert.ok(!looksLikeMaster(['tail', '-f', '/var/log/corral.log']));
  assert.ok(!looksLikeMaster(['sleep', '300']));
});

test('writePidfile records the pid alone plus a stamp; this process then reads as running, and removal takes both', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  const file = join(dir, 'run', 'corral.pid');
  try {
    assert.equal(checkPidfile(file), undefined);
    assert.equal(writePidfile(file), undefined);
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`, 'kill "$(cat corral.pid)" keeps working');
    assert.equal(JSON.parse(readFileSync(stampFile(file), 'utf8')).pid, process.pid);
    assert.deepEqual(checkPidfile(file), { status: 'running', pid: process.pid });
    removePidfile(file);
    assert.equal(checkPidfile(file), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stamp that does not match the live pid makes the pidfile stale, and writePidfile replaces it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  const file = join(dir, 'corral.pid');
  try {
    // The pid of a master killed with SIGKILL, now this process's (as pid 1 in a container can be).
    writeFileSync(file, `${process.pid}\n`);
    writeFileSync(stampFile(file), JSON.stringify({ pid: process.pid, start_ticks: 1, boot_id: null }));
    assert.equal(checkPidfile(file)?.status, 'reused');
    assert.match(writePidfile(file) ?? '', /replaced the stale pidfile .*the pid was reused/);
    assert.equal(checkPidfile(file)?.status, 'running');
    // A dead pid: replaced, as before.
    writeFileSync(file, '999999999\n');
    assert.match(writePidfile(file) ?? '', /999999999 is not running/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
