// corral under a real systemd, in a container of its own (installed-unit.ts): the tests that each
// start corral themselves from a stopped unit and leave it stopped, with what they changed put back
// (a short TimeoutStopSec or TimeoutStartSec, starts that fail with status 78, then the resource
// limits of resource-limits.ts). Apart from systemd.test.ts so that both containers run at the same
// time: in one container the suite took three minutes, the longest file of its phase by far.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { http } from '../helpers/http.js';
import type { Container } from './container.js';
import { INSTALL, installedUnit, SUITE_OPTIONS } from './installed-unit.js';
import { until } from './journal.js';
import { registerResourceLimitTests } from './resource-limits.js';

describe('corral under a real systemd: resource limits and failed starts (debootstrap + systemd-nspawn)', SUITE_OPTIONS, () => {
  let c: Container;
  let base: string;
  const unit = installedUnit((u) => ({ c, base } = u));
  const { show, writeSettings, stopDuringSlowRequest, settings, setSettings } = unit;

  test("a stop outlasts a TimeoutStopSec shorter than the graceful timeout corral runs with: the master extends it (EXTEND_TIMEOUT_USEC)", async (t) => {
    for (const n of unit.notes) t.diagnostic(n);
    // As when CORRAL_GRACEFUL_TIMEOUT was raised in the settings file after the unit was generated:
    // the unit allows 3 s, the master's drain allows 10 s, and a request takes 6 s.
    const dropIn = '/etc/systemd/system/corral.service.d/test-short-stop.conf';
    c.writeFile(dropIn, '[Service]\nTimeoutStopSec=3\n');
    await c.sh('systemctl daemon-reload');
    try {
      const start = await c.exec(['systemctl', 'start', 'corral'], { timeoutMs: 60_000 });
      assert.equal(start.code, 0, start.stderr);
      assert.equal(await show('TimeoutStopUSec'), '3s');
      await stopDuringSlowRequest(6000);
    } finally {
      await c.sh(`rm -f ${dropIn} && systemctl daemon-reload && systemctl reset-failed corral || true`);
    }
  });

  test('systemctl reload to an app whose workers never become ready outlasts TimeoutStartSec and the first bound: the master renews it at each boot attempt, and the reload fails rolled back, not timed out', async () => {
    // The boot timeout's floor (a minute) brought to 3 s for the master and `corral reload --wait`
    // alike (test/fixtures/boot-timeout-floor.mjs), and CORRAL_TIMEOUT (which raises it) to 2 s:
    // four boots of 3 s and their backoff take about 14 s, past the bound the master starts the
    // reload with (two boots, no settle time, a graceful timeout of 1 s: 7 s) and the unit's
    // TimeoutStartSec, lowered to 5 s.
    const hook = '/etc/systemd/system/corral.service.d/test-boot-floor.conf';
    const shortStart = '/etc/systemd/system/corral.service.d/test-short-start.conf';
    c.writeFile(hook, `[Service]\nEnvironment=NODE_OPTIONS=--import=${INSTALL}/test/fixtures/boot-timeout-floor.mjs FIXTURE_BOOT_TIMEOUT_FLOOR_MS=3000\n`);
    await c.sh('systemctl daemon-reload');
    const good = settings();
    try {
      const start = await c.exec(['systemctl', 'start', 'corral'], { timeoutMs: 60_000 });
      assert.equal(start.code, 0, start.stderr);
      c.writeFile(shortStart, '[Service]\nTimeoutStartSec=5\n');
      await c.sh('systemctl daemon-reload');
      assert.equal(await show('TimeoutStartUSec'), '5s');
      const generation = (await http(`${base}/`)).json().generation;
      await writeSettings({ CORRAL_APP: `${INSTALL}/test/fixtures/apps/never-ready.mjs`, CORRAL_BOOT_ATTEMPTS: '4', CORRAL_TIMEOUT: '2', CORRAL_RELOAD_SETTLE: '0', CORRAL_GRACEFUL_TIMEOUT: '1' });
      const since = (await c.sh('date +%s')).trim();
      const began = Date.now();
      const reload = await c.exec(['systemctl', 'reload', 'corral'], { timeoutMs: 120_000 });
      const tookMs = Date.now() - began;
      assert.notEqual(reload.code, 0, `systemctl reload fails: ${reload.stdout}${reload.stderr}`);
      assert.ok(tookMs > 7_000, `systemctl reload returned ${tookMs} ms after it began: within the first bound, nothing was renewed`);
      const journal = await until('the rollback said by reload --wait in the journal', 10_000, async () => {
        const text = await c.sh(`journalctl -u corral --since @${since} --no-pager -o cat || true`);
        return /^corral reload: last reload rolled back \(CORRAL_ERR_\w+\), generation \d+ serves/m.test(text) ? text : undefined;
      });
      assert.doesNotMatch(journal, /Reload operation timed out/, 'systemd did not time the reload out');
      assert.equal(await show('ActiveState'), 'active');
      assert.equal(await show('SubState'), 'running');
      assert.equal((await http(`${base}/`)).json().generation, generation, 'the old generation serves on');
    } finally {
      // The file as it was, without the settings this test added (writeSettings merges).
      await setSettings(good);
      await c.sh(`rm -f ${hook} ${shortStart} && systemctl daemon-reload && systemctl stop corral && systemctl reset-failed corral || true`);
    }
  });

  /**
   * `systemctl start` with these settings fails, and the unit ends `failed` with status 78, not
   * restarted, with `said` in the journal's last `lines` lines; the settings are put back after.
   */
  const startFailsWith78 = async (o: { extra: Record<string, string>; startTimeoutMs: number; failedWithinMs: number; lines: number; said: RegExp; then?: () => Promise<void> }) => {
    const good = settings();
    await writeSettings(o.extra);
    try {
      const restarts = Number(await show('NRestarts'));
      const start = await c.exec(['systemctl', 'start', 'corral'], { timeoutMs: o.startTimeoutMs });
      assert.notEqual(start.code, 0, 'systemctl start reports the failure');
      await until('the unit to be failed', o.failedWithinMs, async () => ((await show('ActiveState')) === 'failed' ? true : undefined));
      await o.then?.();
      assert.equal(await show('ExecMainStatus'), '78');
      assert.equal(Number(await show('NRestarts')), restarts, 'not restarted');
      assert.match(await c.sh(`journalctl -u corral --no-pager -o cat -n ${o.lines}`), o.said);
    } finally {
      await writeSettings(good);
      await c.sh('systemctl reset-failed corral');
    }
  };

  test('systemctl start with a broken settings file fails with status 78, says why, and is not restarted', async () => {
    // Restart=on-failure alone would put it in auto-restart ("activating") every 2 s instead.
    await startFailsWith78({
      extra: { CORRAL_WORKERS: 'zero' },
      startTimeoutMs: 60_000,
      failedWithinMs: 20_000,
      lines: 20,
      said: /\[CORRAL_ERR_CONFIG_INVALID\][\s\S]*CORRAL_WORKERS="zero"/,
      then: async () => assert.equal(await show('Result'), 'exit-code'),
    });
  });

  test('systemctl start with an app that imports a module not there fails with status 78 once its boots are spent, says why, and is not restarted every few seconds', async () => {
    // Exit 3 was restarted by Restart=on-failure every 7 s or so, for good: never "failed".
    await startFailsWith78({
      extra: { CORRAL_APP: `${INSTALL}/test/fixtures/apps/missing-module.mjs`, CORRAL_BOOT_ATTEMPTS: '2' },
      startTimeoutMs: 90_000,
      failedWithinMs: 60_000,
      lines: 40,
      said: /CORRAL_ERR_BOOT_EXHAUSTED.*no worker could boot after 2 attempts: .*not-deployed\.mjs.*every attempt fails alike/,
    });
  });

  registerResourceLimitTests(() => unit);
});
