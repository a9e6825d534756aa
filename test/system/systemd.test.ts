// corral under a real systemd: a minimal Debian booted with systemd-nspawn, corral installed in it
// the way README.md (Operations) says (installed-unit.ts), then driven with systemctl like an
// operator would, each test from where the one before left the service. Skips (with the reason)
// when not root or when debootstrap / systemd-nspawn are missing; .ci/run installs them. The tests
// that start corral themselves from a stopped unit are in systemd-limits.test.ts, in a container
// of their own booted at the same time.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { http, startClientLoop } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import type { Container } from './container.js';
import { ENV_FILE, INSTALL, installedUnit, SUITE_OPTIONS, UNIT, WATCHDOG_SEC } from './installed-unit.js';
import { journalLines, parseJsonLines, until, type Json } from './journal.js';

const LOG_DIR = '/var/log/corral';
const LOG_FILE = `${LOG_DIR}/corral.log`;

/** journald's own lines about messages of the unit it dropped (rate limiting), for failure messages. */
async function journalSuppressed(c: Container): Promise<string> {
  return (await c.sh(`journalctl --no-pager -o cat | grep -i 'suppressed' | tail -n 3 || true`)).trim() || 'no suppressed messages';
}

describe('corral under a real systemd (debootstrap + systemd-nspawn)', SUITE_OPTIONS, () => {
  let c: Container;
  let base: string;
  const { show, writeSettings, stopDuringSlowRequest, settings, notes } = installedUnit((u) => ({ c, base } = u));

  test('systemd-analyze verify accepts the unit generated inside the container', async (t) => {
    for (const n of notes) t.diagnostic(n);
    const unit = c.readFile(UNIT);
    assert.match(unit, new RegExp(`^ExecStart=/usr/bin/node ${INSTALL}/bin/corral start$`, 'm'));
    assert.match(unit, /^Environment=CORRAL_ENV_FILE=\/etc\/corral\/corral\.env$/m);
    const r = await c.exec(['systemd-analyze', 'verify', UNIT]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /corral\.service/, `verify complained about the unit:\n${r.stderr}`);
  });

  test('systemctl start returns only once the workers listen: a request right after succeeds', async () => {
    await c.sh('systemctl start corral');
    const r = await http(`${base}/`);
    assert.equal(r.status, 200);
    assert.equal(r.json().generation, 1);
    assert.match(await show('StatusText'), /^2\/2 workers ready, generation 1/);
    assert.equal(await show('ActiveState'), 'active');
    assert.equal(await show('MainPID'), (await c.sh('cat /run/corral/corral.pid')).trim(), 'the master is the main pid');
  });

  test('systemctl status shows the STATUS line', async () => {
    const out = await c.sh('systemctl status corral --no-pager --lines=0');
    assert.match(out, /Status: "2\/2 workers ready, generation 1, capacity \w+ \(\d+\/\d+ busy, \d+ idle\)"/);
  });

  test('corral status, run by root beside the service as the README says, finds the master the unit started through its pidfile', async () => {
    // The container has a boot id of its own (nspawn mounts it over /proc/sys/kernel/random/boot_id);
    // the service, whose unit sets ProtectProc= and ProtectKernelTunables=, reads the host's: the
    // pidfile's stamp records that one, and `corral status` took the master for one of an earlier boot.
    const r = await c.exec(['sh', '-c', `cd / && CORRAL_ENV_FILE=${ENV_FILE} /usr/bin/node ${INSTALL}/bin/corral status`]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    // The admin API answers health without a token: the worker count comes from there.
    assert.match(r.stdout, new RegExp(`^corral is running: master pid ${await show('MainPID')}, 2/2 workers ready \\(ok\\)`));
  });

  test("an OOM kill is the master's to handle (OOMPolicy=continue), and the workers, then the keeper, not the master, are the kernel's first choices under the unit's hardening", async () => {
    assert.equal(await show('OOMPolicy'), 'continue');
    const master = (await show('MainPID')).trim();
    const adj = async (pid: string) => Number((await c.sh(`cat /proc/${pid}/oom_score_adj`)).trim());
    const children = (await c.sh(`pgrep -P ${master}`)).trim().split(/\s+/);
    const masterAdj = await adj(master);
    const childAdj = await Promise.all(children.map(adj));
    // Two workers raised by 200 (from the master's, which the unit leaves at 0), the keeper by 100.
    assert.deepEqual(childAdj.sort((a, b) => a - b), [masterAdj + 100, masterAdj + 200, masterAdj + 200], `children ${children.join(', ')}`);
  });

  test('the master feeds the watchdog while its workers are healthy', async () => {
    const first = Number(await show('WatchdogTimestampMonotonic'));
    assert.equal(await show('WatchdogUSec'), `${WATCHDOG_SEC}s`);
    await until('a newer WATCHDOG=1', WATCHDOG_SEC * 2000, async () => (Number(await show('WatchdogTimestampMonotonic')) > first ? true : undefined));
  });

  test('systemctl reload during a client loop: zero failed requests, and the edited settings file is read', async () => {
    await writeSettings({ CORRAL_WORKERS: '3' });
    const loop = startClientLoop(`${base}/`, 8);
    try {
      // The loop's counts come only when it stops; probe progress with our own requests.
      let served = 0;
      const peek = async () => {
        const r = await http(`${base}/`);
        if (r.status === 200) served++;
        return served;
      };
      const counted = async (n: number) => until(`${n} answers`, 20_000, async () => ((await peek()) >= n ? true : undefined));
      await counted(5);
      const reload = await c.exec(['systemctl', 'reload', 'corral'], { timeoutMs: 60_000 });
      assert.equal(reload.code, 0, reload.stderr);
      // `systemctl reload` waits for READY=1 after RELOADING=1: the new generation is serving now.
      assert.match(await show('StatusText'), /^3\/3 workers ready, generation 2/);
      await counted(served + 5);
      const result = await loop.stop();
      assert.equal(result.failed, 0, `failed requests: ${result.failures.join('; ')}`);
      assert.ok(result.ok > 0);
      assert.equal((await http(`${base}/`)).json().generation, 2);
    } finally {
      await loop.stop();
    }
  });

  test('systemctl reload with a broken settings file fails at the unit\'s check, signals nothing, and the old generation keeps serving; a HUP sent anyway is refused by the master', async () => {
    const good = settings();
    await writeSettings({ CORRAL_WORKERS: 'zero' });
    try {
      const since = (await c.sh('date +%s')).trim();
      const mainPid = await show('MainPID');
      // The unit's first ExecReload= (corral config --check) refuses the edit: the reload job fails.
      const reload = await c.exec(['systemctl', 'reload', 'corral'], { timeoutMs: 30_000 });
      assert.notEqual(reload.code, 0, `systemctl reload fails: ${reload.stdout}${reload.stderr}`);
      assert.equal(await show('ActiveState'), 'active');
      assert.equal(await show('MainPID'), mainPid, 'the same master');
      assert.equal((await http(`${base}/`)).json().generation, 2);
      const said = await until('the check\'s refusal in the journal', 10_000, async () => {
        const text = await c.sh(`journalctl -u corral --since @${since} --no-pager -o cat || true`);
        return /CORRAL_ERR_CONFIG_INVALID[\s\S]*CORRAL_WORKERS="zero"/.test(text) ? text : undefined;
      });
      assert.match(said, /CORRAL_WORKERS/);
      // Each line of the refusal at err: `journalctl -p err` says why, not systemd's "Reload failed" alone.
      const errors = await c.sh(`journalctl -u corral --since @${since} -p err --no-pager -o cat || true`);
      assert.match(errors, /CORRAL_ERR_CONFIG_INVALID[\s\S]*CORRAL_WORKERS="zero"/, errors);
      assert.deepEqual((await journalLines(c, since)).filter((l) => l.event === 'reload.start' || l.event === 'reload.failed'), [], 'the master was not signalled');

      // Sent HUP another way (kill), the master makes the same check: it refuses, and says why.
      await c.sh(`kill -HUP ${mainPid}`);
      const failed = await until('reload.failed in the journal', 10_000, async () => (await journalLines(c, since)).find((l) => l.event === 'reload.failed')).catch(
        async (err: unknown) =>
          assert.fail(
            `${(err as Error).message}; ${await c.sh('systemctl show -p StatusText -p MainPID corral')}; the journal, but for access lines:\n${await c.sh(`journalctl -o short-precise --no-pager | grep -v '"event":"access"' | tail -n 40 || true`)}\n(journald: ${await journalSuppressed(c)})`,
          ),
      );
      assert.match(JSON.stringify(failed), /CORRAL_WORKERS/);
      assert.equal((await http(`${base}/`)).json().generation, 2);
      // The READY=1 that ended it said so, and the STATUS= lines sent every few seconds since keep saying it.
      assert.match(await show('StatusText'), /^3\/3 workers ready, generation 2, .*; last reload refused \(CORRAL_ERR_CONFIG_INVALID\), generation 2 serves: invalid settings: CORRAL_WORKERS="zero"/);
    } finally {
      await writeSettings(good);
    }
  });

  test('systemctl reload to an app that cannot load fails once the reload is rolled back; the old generation keeps serving, and systemctl status says so until a reload completes', async () => {
    const good = settings();
    // Settings the unit's check accepts (the file exists); the new workers fail to import it.
    await writeSettings({ CORRAL_APP: `${INSTALL}/test/fixtures/apps/broken-import.mjs` });
    try {
      const since = (await c.sh('date +%s')).trim();
      const reload = await c.exec(['systemctl', 'reload', 'corral'], { timeoutMs: 90_000 });
      // The master's READY=1 alone would end the job as a success (systemd has no notification
      // for a failed reload): the unit's last ExecReload=, `corral reload --wait`, fails it.
      assert.notEqual(reload.code, 0, `systemctl reload fails: ${reload.stdout}${reload.stderr}`);
      assert.match(reload.stderr, /Job for corral\.service failed/);
      await until('the failure said by reload --wait in the journal', 10_000, async () => {
        const text = await c.sh(`journalctl -u corral --since @${since} --no-pager -o cat || true`);
        return /^corral reload: last reload rolled back \(CORRAL_ERR_APP_LOAD\), generation 2 serves/m.test(text) ? text : undefined;
      });
      assert.equal(await show('ActiveState'), 'active');
      assert.equal((await http(`${base}/`)).json().generation, 2);
      const rolledBack = /^3\/3 workers ready, generation 2, .*; last reload rolled back \(CORRAL_ERR_APP_LOAD\), generation 2 serves: the new generation cannot boot \(.*broken-import\.mjs/;
      assert.match(await show('StatusText'), rolledBack);
      // Still said once the master has re-sent its status line, not only by the READY=1: it sends
      // one every 5 s (status-report.ts), so one period and a margin is what this waits for.
      await new Promise((r) => setTimeout(r, 6000));
      assert.match(await show('StatusText'), rolledBack);
      assert.equal((await c.exec(['systemctl', 'status', 'corral', '--no-pager', '--lines=0'])).stdout.includes('last reload rolled back (CORRAL_ERR_APP_LOAD)'), true);
    } finally {
      await writeSettings(good);
    }
    const fixed = await c.exec(['systemctl', 'reload', 'corral'], { timeoutMs: 90_000 });
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(await show('StatusText'), /^3\/3 workers ready, generation 4, capacity \w+ \([^)]*\)$/, 'a reload that completes clears it');
  });

  test('a reload --wait that fails before its HUP (nothing answers where the master recorded its admin API) fails systemctl reload within 30 s, not after TimeoutStartSec, and the unit is not left reloading', async () => {
    // The address the master recorded beside its pidfile, pointed at a port nothing listens on:
    // reload --wait cannot learn where reloads stand, and signals nothing.
    const stamp = '/run/corral/corral.pid.start';
    const writeStamp = (text: string) => c.sh(`echo ${Buffer.from(text).toString('base64')} | base64 -d > ${stamp}`);
    const recorded = await c.sh(`cat ${stamp}`);
    const nobody = await freePort();
    await writeStamp(`${JSON.stringify({ ...(JSON.parse(recorded) as Record<string, unknown>), admin_url: `http://127.0.0.1:${nobody}` })}\n`);
    try {
      const generation = (await http(`${base}/`)).json().generation;
      // Bounded inside the container: a job left waiting for a READY=1 that no reload will send
      // would hold systemctl for TimeoutStartSec (150 s); 124 is timeout's exit code for that.
      const reload = await c.exec(['timeout', '30', 'systemctl', 'reload', 'corral'], { timeoutMs: 60_000 });
      assert.notEqual(reload.code, 124, 'systemctl reload was still waiting after 30 s');
      assert.notEqual(reload.code, 0, `systemctl reload fails: ${reload.stdout}${reload.stderr}`);
      assert.equal(await show('ActiveState'), 'active');
      assert.equal(await show('SubState'), 'running', 'not left reloading');
      assert.equal((await http(`${base}/`)).json().generation, generation, 'the master was not signalled');
    } finally {
      await writeStamp(recorded);
    }
  });

  test('kill -9 of the master: systemd restarts corral, no old worker survives', async () => {
    const oldMain = await show('MainPID');
    const oldWorkers = (await c.sh(`ps -o pid= --ppid ${oldMain}`)).trim().split(/\s+/).filter(Boolean);
    assert.ok(oldWorkers.length >= 3, `workers of ${oldMain}: ${oldWorkers.join(',')}`);
    await c.sh(`kill -9 ${oldMain}`);
    const newMain = await until('a new MainPID serving', 30_000, async () => {
      const pid = await show('MainPID');
      if (pid === '0' || pid === oldMain || (await show('ActiveState')) !== 'active') return undefined;
      return (await http(`${base}/`)).status === 200 ? pid : undefined;
    });
    assert.notEqual(newMain, oldMain);
    assert.ok(Number(await show('NRestarts')) >= 1);
    const alive = await c.exec(['ps', '-o', 'pid=', '-p', oldWorkers.join(',')]);
    assert.equal(alive.stdout.trim(), '', 'old workers were killed with their master (KillMode=mixed)');
  });

  test('a master that stops feeding the watchdog is restarted by systemd', async () => {
    const oldMain = await show('MainPID');
    const restarts = Number(await show('NRestarts'));
    // A frozen master loop (SIGSTOP) sends no WATCHDOG=1; after WatchdogSec systemd aborts it.
    await c.sh(`kill -STOP ${oldMain}`);
    await until('the watchdog restart', (WATCHDOG_SEC + 20) * 1000, async () => {
      const pid = await show('MainPID');
      return pid !== '0' && pid !== oldMain && (await show('ActiveState')) === 'active' ? pid : undefined;
    });
    assert.equal(Number(await show('NRestarts')), restarts + 1);
    const journal = await c.sh('journalctl -u corral --no-pager -o cat');
    assert.match(journal, /Watchdog timeout/i);
    await until('serving after the watchdog restart', 20_000, async () => ((await http(`${base}/`)).status === 200 ? true : undefined));
  });

  test('journalctl -u corral has the lifecycle events (CORRAL_LOG_FILE unset: JSON lines to the journal)', async () => {
    // A restart adds the graceful shutdown of the running master to the journal.
    await c.sh('systemctl restart corral');
    const wanted = ['master.ready', 'worker.ready', 'reload.start', 'reload.done', 'shutdown.start'];
    let events = new Set<unknown>();
    const lines = await until(`${wanted.join(', ')} in the journal`, 10_000, async () => {
      const now = await journalLines(c);
      events = new Set(now.map((l) => l.event));
      return wanted.every((e) => events.has(e)) ? now : undefined;
    }).catch(async (err: unknown) => assert.fail(`${(err as Error).message}; the journal has ${[...events].join(', ')} (journald: ${await journalSuppressed(c)})`));
    assert.ok(lines.every((l) => typeof l.pid === 'number' && typeof l.role === 'string'));
    // Each line carries the priority of its level: the refused reload is an error, access lines are
    // debug, so `-p info` is the daemon's life without its traffic.
    const atMost = async (priority: string) => parseJsonLines(await c.sh(`journalctl -u corral -p ${priority} --no-pager -o cat | grep '^{' || true`)).lines;
    const errors = await atMost('err');
    assert.ok(errors.some((l) => l.event === 'reload.failed'), 'reload.failed is in journalctl -p err');
    assert.ok(errors.every((l) => l.level === 'error' || l.level === 'fatal'));
    const info = await atMost('info');
    assert.ok(info.some((l) => l.event === 'master.ready'));
    assert.ok(!info.some((l) => l.event === 'access'), 'access lines are debug: not in journalctl -p info');
    assert.ok(lines.some((l) => l.event === 'access'), 'access lines are in the journal');
    // A line a worker writes to stderr outside its logger is relayed by the master as a warning.
    const marker = `stderr-probe-${Date.now()}`;
    assert.equal((await http(`${base}/stderr?text=${marker}`)).status, 200);
    await until('the relayed stderr line at priority warning', 10_000, async () =>
      (await c.sh(`journalctl -u corral -p warning..warning --no-pager -o cat | grep -c '^${marker}$' || true`)).trim() === '1' ? true : undefined,
    );
    // Installed as package.json "files" lists, the master finds its dashboard files.
    assert.ok(!events.has('admin.dashboard_missing'), 'admin.dashboard_missing in the journal: the installed layout lacks the dashboard files');
  });

  test('the JSON log file: whole lines that tail -F follows, and logrotate + USR1 moves to a new file without losing a line', async () => {
    await writeSettings({ CORRAL_LOG_FILE: LOG_FILE });
    await c.sh('systemctl restart corral');
    assert.equal((await http(`${base}/`)).status, 200);
    const tail = c.spawn(['tail', '-n', '+1', '-F', LOG_FILE]);
    let tailed = '';
    tail.stdout!.setEncoding('utf8').on('data', (d: string) => (tailed += d));
    const tailExit = new Promise((r) => tail.once('exit', r));
    try {
      const agent = new Agent({ connections: 4 });
      const total = 400;
      let next = 0;
      const failures: string[] = [];
      const client = async () => {
        for (let n = next++; n < total; n = next++) {
          try {
            const r = await http(`${base}/seq/${n}`, { dispatcher: agent });
            if (r.status !== 200) failures.push(`${n}: ${r.status}`);
          } catch (err) {
            failures.push(`${n}: ${(err as Error).message}`);
          }
        }
      };
      // Rotate while the requests (and their access-log lines) are flowing.
      const clients = Promise.all([client(), client(), client(), client()]);
      await until('a first batch of requests', 20_000, async () => (next > 100 ? true : undefined));
      const rotate = await c.exec(['logrotate', '--force', '--verbose', '/etc/logrotate.d/corral'], { timeoutMs: 30_000 });
      assert.equal(rotate.code, 0, rotate.stderr + rotate.stdout);
      await clients;
      await agent.close();
      assert.deepEqual(failures, []);

      const files = (await c.sh(`ls -1 ${LOG_DIR}`)).trim().split('\n');
      assert.deepEqual(files.sort(), ['corral.log', 'corral.log.1'], 'moved aside and recreated, not copied and truncated');
      assert.equal((await c.sh(`stat -c '%U:%G %a' ${LOG_FILE}`)).trim(), 'corral:corral 640');

      const seqOf = (l: Json) => (l.event === 'access' && typeof l.path === 'string' ? /^\/seq\/(\d+)$/.exec(l.path)?.[1] : undefined);
      const { rotated, current } = await until('every request logged in one of the two files', 20_000, async () => {
        const rotated = parseJsonLines(c.readFile(`${LOG_FILE}.1`));
        const current = parseJsonLines(c.readFile(LOG_FILE));
        const seen = [...rotated.lines, ...current.lines].map(seqOf).filter((s) => s !== undefined);
        return seen.length >= total ? { rotated, current } : undefined;
      });
      assert.deepEqual([...rotated.bad, ...current.bad], [], 'every line of both files is whole JSON');
      const seen = [...rotated.lines, ...current.lines].map(seqOf).filter((s): s is string => s !== undefined);
      assert.equal(seen.length, total, 'no access line lost or duplicated');
      assert.equal(new Set(seen).size, total);
      assert.ok(current.lines.some((l) => l.event === 'logs.reopen'), 'the master reopened the log file (USR1 from postrotate)');
      // The 400 may all have finished before the workers got the master's reopen; requests sent
      // once it has are logged in the new file.
      let probe = 0;
      await until('a request after the reopen logged in the new file', 20_000, async () => {
        await http(`${base}/after-rotation/${probe++}`);
        return parseJsonLines(c.readFile(LOG_FILE)).lines.some((l) => typeof l.path === 'string' && l.path.startsWith('/after-rotation/')) ? true : undefined;
      });

      await until('tail -F to catch up with the new file', 10_000, async () => (parseJsonLines(tailed).lines.some((l) => l.event === 'logs.reopen') ? true : undefined));
      const followed = parseJsonLines(tailed.split('\n').filter((l) => !l.startsWith('tail: ')).join('\n'));
      assert.deepEqual(followed.bad, [], 'tail -F shows only whole JSON lines');
      assert.ok(followed.lines.length > total / 2);
    } finally {
      tail.kill('SIGTERM');
      await tailExit;
    }
  });

  test("systemctl stop during a reload ends the unit inactive with success: the reload's command, killed by the stop, does not fail it", async () => {
    const agent = new Agent({ connections: 1 });
    try {
      // A request in flight holds an old worker, so the reload lasts until it ends (its drain).
      const res = await request(`${base}/slow?ms=8000`, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 30_000 });
      assert.equal(res.statusCode, 200);
      const reloadStarts = () => c.readFile(LOG_FILE).split('"event":"reload.start"').length - 1;
      const before = reloadStarts();
      const reloading = c.exec(['systemctl', 'reload', 'corral'], { timeoutMs: 60_000 });
      // The reload's command has signalled the master: the stop comes while it waits.
      await until('the reload to have begun', 20_000, async () => (reloadStarts() > before ? true : undefined));
      assert.equal(await show('ActiveState'), 'reloading');
      const stop = await c.exec(['systemctl', 'stop', 'corral'], { timeoutMs: 60_000 });
      assert.equal(stop.code, 0, stop.stderr);
      await reloading;
      await res.body.dump();
      // `corral reload --wait` got the stop's SIGTERM too: died of it, systemd left the unit
      // failed (Result=signal) after an orderly stop.
      assert.equal(await show('ActiveState'), 'inactive');
      assert.equal(await show('Result'), 'success');
    } finally {
      await agent.close();
      await c.sh('systemctl reset-failed corral || true');
      const start = await c.exec(['systemctl', 'start', 'corral'], { timeoutMs: 60_000 });
      assert.equal(start.code, 0, start.stderr);
    }
  });

  test('systemctl stop lets an in-flight slow request finish, then corral exits 0', async () => {
    await stopDuringSlowRequest(3000);
    const { lines } = parseJsonLines(c.readFile(LOG_FILE));
    const events = lines.map((l) => l.event);
    assert.ok(events.includes('shutdown.start'));
    assert.equal(lines.find((l) => l.event === 'master.exit')?.exit_code, 0);
  });
});

