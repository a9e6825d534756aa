// A reload whose new workers never become ready takes CORRAL_BOOT_ATTEMPTS boots, each judged at
// the boot timeout, before it is rolled back: longer than the bound it starts with (the unit's
// TimeoutStartSec, two boots and the drain). The master renews that bound at each attempt, to
// systemd (EXTEND_TIMEOUT_USEC) and in GET /api/admin/reload, and `corral reload --wait` follows
// it to the rollback. The boot timeout's floor (a minute) is brought down to 4 s for the test
// (test/fixtures/boot-timeout-floor.mjs), for the master and the CLI alike.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CORRAL_BIN, REPO_ROOT, startCorral } from '../helpers/corral.js';
import { python3Available, startNotifyReceiver } from '../system/notify-receiver.js';

const run = promisify(execFile);
const FLOOR_MS = 4000;
const GRACEFUL_S = 1;
const SETTLE_S = 2;
const ATTEMPTS = 4;
/** The first bound: TimeoutStartSec for these settings (2 × the 4 s boot and 2 s settle time, + 1 s). */
const FIRST_BOUND_S = (2 * (FLOOR_MS + SETTLE_S * 1000)) / 1000 + GRACEFUL_S;
/** What an attempt has from its fork: the boot, its settle time, the drain, the master's margin (reload-bound.ts). */
const ATTEMPT_MS = FLOOR_MS + SETTLE_S * 1000 + GRACEFUL_S * 1000 + 10_000;

interface Reading {
  readonly at: number;
  readonly generation: number | null;
  readonly boundMs: number | null | undefined;
}

test(
  'a reload whose new workers hang at boot: each attempt renews the bound (EXTEND_TIMEOUT_USEC, the admin API), and reload --wait follows it past the first bound to the rollback',
  { skip: python3Available() ? false : 'python3 is needed to play systemd\'s notify socket', timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-reload-bound-'));
    const receiver = await startNotifyReceiver(join(dir, 'notify.sock'));
    const timings = join(dir, 'timings.json');
    writeFileSync(timings, JSON.stringify({ bootMs: 0 }));
    // CORRAL_TIMEOUT at the floor: every bound is what it is at 2 s (the boot timeout is the larger
    // of the two), and a booting worker whose beats a loaded machine delays past 2 s is not killed
    // as silent (CORRAL_ERR_WORKER_TIMEOUT) where the test watches boots that never end.
    const hook = { NODE_OPTIONS: `--import=${join(REPO_ROOT, 'test', 'fixtures', 'boot-timeout-floor.mjs')}`, FIXTURE_BOOT_TIMEOUT_FLOOR_MS: String(FLOOR_MS) };
    const c = await startCorral({
      app: 'slow-boot.mjs',
      workers: 1,
      env: { ...hook, FIXTURE_TIMINGS: timings, NOTIFY_SOCKET: receiver.address, CORRAL_TIMEOUT: String(FLOOR_MS / 1000), CORRAL_GRACEFUL_TIMEOUT: String(GRACEFUL_S), CORRAL_RELOAD_SETTLE: String(SETTLE_S), CORRAL_BOOT_ATTEMPTS: String(ATTEMPTS) },
    });
    const readings: Reading[] = [];
    let polling = true;
    try {
      await receiver.waitFor(1, 10_000);
      assert.ok(receiver.received.some((d) => d.text.split('\n').includes('READY=1')), 'READY=1 at the start');
      const before = receiver.received.length;
      // The next boots never end: createApp waits ten minutes.
      writeFileSync(timings, JSON.stringify({ bootMs: 600_000 }));
      const poll = (async () => {
        while (polling) {
          try {
            const body = (await (await fetch(`${c.adminUrl}/api/admin/reload`)).json()) as { in_progress_generation: number | null; in_progress_bound_ms?: number | null };
            readings.push({ at: Date.now(), generation: body.in_progress_generation, boundMs: body.in_progress_bound_ms });
          } catch {
            // The master's answer is what is read: a failed question is asked again.
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      const startedAt = Date.now();
      const waited = await run(process.execPath, [CORRAL_BIN, 'reload', '--wait'], { cwd: c.dir, env: { PATH: process.env.PATH ?? '', CORRAL_PIDFILE: c.pidFile, ...hook }, timeout: 100_000 }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
      );
      const tookMs = Date.now() - startedAt;
      polling = false;
      await poll;

      // The wait: its first bound, then the rollback it followed to, with the master's reason.
      assert.equal(waited.stdout, `reload requested (SIGHUP to master pid ${c.pid}); waiting for it to end (up to ${FIRST_BOUND_S} s, extended while it makes progress)\n`);
      assert.equal(waited.stderr, 'corral reload: last reload rolled back (CORRAL_ERR_APP_LOAD), generation 1 serves; the log\'s reload.failed line says why\n');
      assert.match(String(c.events('reload.failed')[0]?.msg), /the new generation cannot boot \(not ready after 4 s/);
      assert.equal(waited.code, 1);
      assert.ok(tookMs > FIRST_BOUND_S * 1000, `the rollback came ${tookMs} ms after the HUP, within the first bound: nothing here needed renewing`);
      const boots = c.events('worker.boot').filter((l) => l.generation === 2);
      assert.equal(boots.length, ATTEMPTS, 'every attempt was made');

      // systemd's side: RELOADING=1 with the first bound, then EXTEND_TIMEOUT_USEC= alone as the
      // attempts begin (each later than the last), then READY=1 once rolled back.
      const sent = receiver.received.slice(before).map((d) => d.text.split('\n'));
      const reloading = sent.find((f) => f.includes('RELOADING=1'));
      assert.ok(reloading?.includes(`EXTEND_TIMEOUT_USEC=${FIRST_BOUND_S * 1_000_000}`), JSON.stringify(reloading));
      const extensions = sent.filter((f) => f.length === 1 && f[0]!.startsWith('EXTEND_TIMEOUT_USEC=')).map((f) => Number(f[0]!.split('=')[1]) / 1000);
      assert.ok(extensions.length >= ATTEMPTS, `one at each of the ${ATTEMPTS} attempts at least: ${JSON.stringify(extensions)}`);
      // Each one: an attempt from its fork, or from the end of the backoff before it (under 2 s at these counts).
      assert.ok(extensions.every((ms) => ms >= ATTEMPT_MS && ms <= ATTEMPT_MS + 2000), JSON.stringify(extensions));
      const readyAt = sent.findIndex((f) => f.includes('READY=1'));
      const extendedAt = sent.flatMap((f, i) => (f.length === 1 && f[0]!.startsWith('EXTEND_TIMEOUT_USEC=') ? [i] : []));
      assert.ok(readyAt > (extendedAt.at(-1) ?? Infinity), 'READY=1 ends the reload, after the last extension');

      // The admin API's side, which the wait read: a bound while in progress, never run out, its
      // end moving later with each attempt.
      const during = readings.filter((r) => r.generation === 2);
      assert.ok(during.length > 10, `${during.length} answers during the reload`);
      assert.ok(during.every((r) => typeof r.boundMs === 'number' && r.boundMs > 0), JSON.stringify(during.filter((r) => !(typeof r.boundMs === 'number' && r.boundMs > 0)).slice(0, 3)));
      const ends = during.map((r) => r.at + (r.boundMs as number));
      const firstEnd = Math.min(...ends.slice(0, 3));
      assert.ok(Math.max(...ends) - firstEnd > 2 * FLOOR_MS, `the bound's end moved by ${Math.max(...ends) - firstEnd} ms over the attempts`);
      assert.ok(readings.some((r) => r.generation === null && r.boundMs === null), 'none once it ended');
    } finally {
      polling = false;
      await c.stop();
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
