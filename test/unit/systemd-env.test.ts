import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readSystemdEnv, withoutSystemdNotifyEnv } from '../../src/config/systemd-env.js';

test('outside systemd nothing is set', () => {
  assert.deepEqual(readSystemdEnv({}, 100), { notifySocket: undefined, watchdogUsec: undefined, invocationId: undefined, journalStream: undefined });
});

test('reads the notify socket, path or abstract, and rejects anything else', () => {
  assert.equal(readSystemdEnv({ NOTIFY_SOCKET: '/run/systemd/notify' }, 1).notifySocket, '/run/systemd/notify');
  assert.equal(readSystemdEnv({ NOTIFY_SOCKET: '@/org/test/notify' }, 1).notifySocket, '@/org/test/notify');
  assert.equal(readSystemdEnv({ NOTIFY_SOCKET: 'relative/path' }, 1).notifySocket, undefined);
  assert.equal(readSystemdEnv({ NOTIFY_SOCKET: '@' }, 1).notifySocket, undefined);
  assert.equal(readSystemdEnv({ NOTIFY_SOCKET: '' }, 1).notifySocket, undefined);
});

test('the watchdog applies only to the process WATCHDOG_PID names (or any when unset)', () => {
  assert.equal(readSystemdEnv({ WATCHDOG_USEC: '30000000' }, 42).watchdogUsec, 30_000_000);
  assert.equal(readSystemdEnv({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42).watchdogUsec, 30_000_000);
  assert.equal(readSystemdEnv({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '43' }, 42).watchdogUsec, undefined);
  assert.equal(readSystemdEnv({ WATCHDOG_USEC: 'soon' }, 42).watchdogUsec, undefined);
  assert.equal(readSystemdEnv({ WATCHDOG_USEC: '0' }, 42).watchdogUsec, undefined);
});

test('invocation id and journal stream', () => {
  const e = readSystemdEnv({ INVOCATION_ID: '0123456789abcdef0123456789abcdef', JOURNAL_STREAM: '8:12345' }, 1);
  assert.equal(e.invocationId, '0123456789abcdef0123456789abcdef');
  assert.deepEqual(e.journalStream, { dev: 8n, ino: 12345n });
  assert.equal(readSystemdEnv({ JOURNAL_STREAM: '8:' }, 1).journalStream, undefined);
  assert.equal(readSystemdEnv({ JOURNAL_STREAM: 'journal' }, 1).journalStream, undefined);
  assert.equal(readSystemdEnv({ INVOCATION_ID: 'not-an-id' }, 1).invocationId, undefined);
});

test('children get an environment without the notify variables', () => {
  const env = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '1', WATCHDOG_PID: '2', CORRAL_WORKERS: '3' };
  assert.deepEqual(withoutSystemdNotifyEnv(env), { CORRAL_WORKERS: '3' });
  assert.equal(env.NOTIFY_SOCKET, '/run/systemd/notify', 'the input is not modified');
});
