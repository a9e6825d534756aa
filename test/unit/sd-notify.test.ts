import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readSystemdEnv } from '../../src/config/systemd-env.js';
import { createLogger } from '../../src/log/logger.js';
import { noopNotifier } from '../../src/master/notify.js';
import { addonPath, createNotifier, loadDatagramSend, monotonicUsec } from '../../src/master/sd-notify.js';
import { python3Available, startNotifyReceiver, type NotifyReceiver } from '../system/notify-receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-sdnotify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fileLogger(name: string) {
  const file = join(dir, name);
  const log = createLogger({ CORRAL_LOG_FILE: file, CORRAL_LOG_LEVEL: 'debug' }, { role: 'master' });
  return {
    logger: log.logger,
    /**
     * The parsed lines once `ready` holds for them (bounded poll: pino opens the file and writes
     * it asynchronously). Read as the destination writes them, never with log.flush(): that writes
     * the buffered lines around a write still in flight, which then lands after them (the logger's
     * drained() says so), and the failed READY=1's line came after a later failure's in CI.
     */
    async lines(ready: (lines: Array<Record<string, unknown>>) => boolean): Promise<Array<Record<string, unknown>>> {
      const deadline = Date.now() + 5000;
      for (;;) {
        let lines: Array<Record<string, unknown>> = [];
        try {
          const text = readFileSync(file, 'utf8');
          // Up to the last newline: a line being written may be read in part.
          lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        if (ready(lines) || Date.now() > deadline) return lines;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

test('without NOTIFY_SOCKET the notifier is the no-op one and needs no addon', () => {
  const n = createNotifier(readSystemdEnv({}), fileLogger('noop.log').logger, {
    send: () => assert.fail('nothing may be sent'),
  });
  assert.equal(n, noopNotifier);
  assert.equal(n.watchdogIntervalMs, undefined);
});

test('a missing addon is a clear CORRAL_ERR_NOTIFY, not a silent no-op', () => {
  assert.throws(() => loadDatagramSend(join(dir, 'nope.node')), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'CORRAL_ERR_NOTIFY');
    assert.match(err.message, /npm rebuild|npm ci/);
    return true;
  });
});

const skipReason = python3Available() ? false : 'python3 is needed to play the datagram receiver';

for (const kind of ['path', 'abstract'] as const) {
  describe(`over a real AF_UNIX datagram socket (${kind})`, { skip: skipReason }, () => {
    let receiver: NotifyReceiver;
    before(async () => {
      const address = kind === 'path' ? join(dir, `notify-${kind}.sock`) : `@corral-test/${process.pid}/${Date.now()}`;
      receiver = await startNotifyReceiver(address);
    });
    after(() => receiver.close());

    test('each call is one datagram, sent by this very process (NotifyAccess=main works)', async () => {
      const log = fileLogger(`ok-${kind}.log`);
      const env = readSystemdEnv({ NOTIFY_SOCKET: receiver.address, WATCHDOG_USEC: '4000000' });
      const n = createNotifier(env, log.logger);
      assert.equal(n.watchdogIntervalMs, 2000, 'pings at half the period, like sd_watchdog_enabled advises');
      const before = monotonicUsec();
      n.ready('2/2 workers ready\nsecond line');
      n.status('capacity ok');
      n.reloading('reloading: generation 2', 150_000);
      n.watchdog();
      n.stopping('stopping: draining 2 workers', 45_000.4);
      n.extendTimeout(100_000);
      const after = monotonicUsec();
      const got = await receiver.waitFor(6);
      assert.deepEqual(
        got.map((d) => d.pid),
        got.map(() => process.pid),
      );
      assert.equal(got[0]?.text, 'READY=1\nSTATUS=2/2 workers ready second line');
      assert.equal(got[1]?.text, 'STATUS=capacity ok');
      const reload = got[2]?.text.split('\n') ?? [];
      assert.equal(reload[0], 'RELOADING=1');
      const usec = BigInt((reload[1] ?? '').replace(/^MONOTONIC_USEC=/, ''));
      assert.ok(usec >= before && usec <= after, `MONOTONIC_USEC ${usec} within [${before}, ${after}]`);
      assert.equal(reload[2], 'EXTEND_TIMEOUT_USEC=150000000', 'systemd waits the reload out, whatever TimeoutStartSec the unit had');
      assert.equal(reload[3], 'STATUS=reloading: generation 2');
      assert.equal(got[3]?.text, 'WATCHDOG=1');
      assert.equal(got[4]?.text, 'STOPPING=1\nEXTEND_TIMEOUT_USEC=45001000\nSTATUS=stopping: draining 2 workers', 'whole milliseconds, rounded up');
      assert.equal(got[5]?.text, 'EXTEND_TIMEOUT_USEC=100000000', 'a reload\'s later step: the bound alone');
      n.close();
      n.status('after close');
      n.close();
      const sent = (await log.lines((ls) => ls.filter((l) => l.event === 'systemd.notify').length >= 6)).filter((l) => l.event === 'systemd.notify');
      assert.equal(sent.length, 6);
      assert.equal(receiver.received.length, 6, 'nothing is sent after close()');
    });

    test('a READY=1 whose send failed (EAGAIN: PID 1\'s queue full) goes with the next message; a newer state replaces a held one', async () => {
      // The addon's own sender, refusing as it does when the receiver's queue is full (MSG_DONTWAIT).
      const real = loadDatagramSend(addonPath());
      let full = false;
      const send = (address: string, payload: Buffer) => {
        if (full) throw Object.assign(new Error('sendto: Resource temporarily unavailable'), { code: 'EAGAIN', errno: 11, syscall: 'sendto' });
        real(address, payload);
      };
      const log = fileLogger(`held-${kind}.log`);
      const n = createNotifier(readSystemdEnv({ NOTIFY_SOCKET: receiver.address, WATCHDOG_USEC: '4000000' }), log.logger, { send });
      const start = receiver.received.length;
      full = true;
      n.ready('2/2 workers ready');
      n.watchdog();
      full = false;
      n.status('2/2 workers ready, capacity LOW');
      // Lost, systemd would have waited for READY=1 until TimeoutStartSec and killed the master.
      const got = await receiver.waitFor(start + 1);
      // Every datagram since the test began, in the messages below.
      const since = () => JSON.stringify(receiver.received.slice(start).map((d) => d.text));
      // The lost WATCHDOG=1 too: the next ping is half of WatchdogSec away, when systemd's deadline is up.
      assert.equal(got[start]?.text, 'READY=1\nWATCHDOG=1\nSTATUS=2/2 workers ready, capacity LOW', since());
      n.watchdog();
      assert.equal((await receiver.waitFor(start + 2))[start + 1]?.text, 'WATCHDOG=1', `delivered once, then no longer held: ${since()}`);

      // A reload's RELOADING=1 lost, then its end: READY=1 carries the held RELOADING=1 and its
      // MONOTONIC_USEC (not its bound, the reload being over). systemd's Type=notify-reload, in the
      // state it entered with its SIGHUP, ignores a READY=1 alone and fails the reload at its
      // timeout; both in one message end the reload there, and READY=1 wins under Type=notify.
      full = true;
      n.reloading('reloading: starting generation 2', 130_000);
      full = false;
      n.ready('2/2 workers ready, generation 2');
      const ended = (await receiver.waitFor(start + 3))[start + 2]?.text.split('\n') ?? [];
      assert.deepEqual(ended.map((f) => f.replace(/^MONOTONIC_USEC=\d+$/, 'MONOTONIC_USEC=<t>')), ['RELOADING=1', 'MONOTONIC_USEC=<t>', 'READY=1', 'STATUS=2/2 workers ready, generation 2'], since());
      // A held RELOADING=1 keeps its MONOTONIC_USEC (when the reload began); a later bound replaces its own.
      full = true;
      n.reloading('reloading: starting generation 3', 130_000);
      full = false;
      n.extendTimeout(20_000);
      const resent = (await receiver.waitFor(start + 4))[start + 3]?.text.split('\n') ?? [];
      assert.deepEqual(resent.map((f) => f.replace(/^MONOTONIC_USEC=\d+$/, 'MONOTONIC_USEC=<t>')), ['RELOADING=1', 'MONOTONIC_USEC=<t>', 'EXTEND_TIMEOUT_USEC=20000000'], since());
      n.close();
      const lines = await log.lines((ls) => ls.filter((l) => l.event === 'systemd.notify.recovered').length >= 3);
      const failed = lines.filter((l) => l.event === 'systemd.notify.failed');
      assert.equal(failed[0]?.errno, 'EAGAIN');
      assert.deepEqual(failed[0]?.held, ['READY=1']);
      assert.deepEqual(lines.find((l) => l.event === 'systemd.notify.recovered')?.resent, ['READY=1', 'WATCHDOG=1']);
    });

    test('WATCHDOG=1 is not sent when the watchdog belongs to another pid', async () => {
      const start = receiver.received.length;
      const n = createNotifier(readSystemdEnv({ NOTIFY_SOCKET: receiver.address, WATCHDOG_USEC: '4000000', WATCHDOG_PID: '1' }, process.pid), fileLogger(`wd-${kind}.log`).logger);
      assert.equal(n.watchdogIntervalMs, undefined);
      n.watchdog();
      n.status('marker');
      const got = await receiver.waitFor(start + 1);
      assert.deepEqual(got.slice(start).map((d) => d.text), ['STATUS=marker']);
    });
  });
}

test('a socket nobody listens on: calls never throw and the failure is logged once per error', async () => {
  const log = fileLogger('fail.log');
  const n = createNotifier(readSystemdEnv({ NOTIFY_SOCKET: join(dir, 'absent.sock'), WATCHDOG_USEC: '1000000' }), log.logger, {
    send: loadDatagramSend(addonPath()),
  });
  for (let i = 0; i < 5; i++) n.watchdog();
  n.ready('ready');
  n.close();
  const lines = await log.lines((ls) => ls.some((l) => l.event === 'systemd.notify.failed'));
  const failures = lines.filter((l) => l.event === 'systemd.notify.failed');
  assert.equal(failures.length, 1);
  assert.equal(failures[0]?.code, 'CORRAL_ERR_NOTIFY');
  assert.equal(failures[0]?.errno, 'ENOENT');
});

test('an address too long for sun_path is refused whole (ENAMETOOLONG), even when a multi-byte character straddles the limit', () => {
  const send = loadDatagramSend(addonPath());
  // 109 bytes: cut to fit the 108-byte buffer, the copy stops before the 2-byte character and
  // came out 107 bytes long, so it was sent to that shorter name, another socket's.
  for (const address of [`@${'x'.repeat(106)}é`, `/${'a'.repeat(106)}é/notify`, `/${'a'.repeat(120)}`]) {
    assert.throws(() => send(address, Buffer.from('READY=1')), (err: Error & { code?: string }) => err.code === 'ENAMETOOLONG', `${Buffer.byteLength(address)}-byte address`);
  }
});

/** What PID 1 does with a datagram (manager_dispatch_notify_fd): one with an embedded NUL byte is ignored whole. */
function acceptedBySystemd(payload: Buffer): boolean {
  return payload.subarray(0, payload.length - 1).indexOf(0) === -1;
}

test('a STATUS= text holding a NUL byte (an app error quoting a zero-filled file) does not make systemd drop the READY=1 with it', async () => {
  // A reload rolled back for "Unexpected token '\0', "\0\0..." is not valid JSON" (JSON.parse of a
  // file a power cut left zero-filled) puts that message in the status line until a reload
  // completes. systemd ignores a whole datagram with a NUL in it, READY=1 included: the reload's
  // end was never heard, the unit stayed "reloading", and every STATUS= after it was dropped too.
  let appError = '';
  try {
    JSON.parse('\u0000\u0000\u0000');
  } catch (err) {
    appError = (err as Error).message;
  }
  assert.ok(appError.includes('\u0000'), 'V8 quotes the NUL bytes in its message');
  const sent: Buffer[] = [];
  const n = createNotifier(readSystemdEnv({ NOTIFY_SOCKET: join(dir, 'nul.sock') }), createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'master' }).logger, { send: (_a, p) => void sent.push(p) });
  const status = `2/2 workers ready, generation 1; last reload rolled back (CORRAL_ERR_APP_LOAD), generation 1 serves: the new generation cannot boot (${appError})`;
  n.ready(status);
  n.status(status);
  n.close();
  assert.equal(sent.length, 2);
  for (const p of sent) assert.ok(acceptedBySystemd(p), `systemd would ignore ${JSON.stringify(p.toString())}`);
  assert.match(sent[0]?.toString() ?? '', /^READY=1\nSTATUS=2\/2 workers ready.*Unexpected token/);
});
