// The resource limits an operator sets on corral's unit, under the container's real systemd:
// TasksMax= (the unit's pids.max) and MemoryMax= (its memory cgroup's limit), and what corral
// promises under them (README: task_limit.low, CORRAL_ERR_FORK, master.ready degraded, worker.exit's
// oom_kill, OOMPolicy= and the workers' oom_score_adj). Registered by systemd-limits.test.ts in its
// container, after its failed starts; each test starts corral with its limit and stops it after.
//
// Each first reads the limit back from the unit's own cgroup: systemd must have applied it
// (container.ts makes the controllers writable on a cgroup v1 host). A host where that cannot be
// done skips them, saying why.
//
// OOMPolicy=continue (the unit's) is not what the memory test shows: on cgroup v1 systemd 252
// learns of no OOM kill (it reads them from cgroup v2's memory.events), and a unit with
// OOMPolicy=stop was left running here too. What keeps the service up on this kind of host is
// that the kernel kills a worker, not the master.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { http } from '../helpers/http.js';
import type { Container } from './container.js';
import { journalLines, until, type Json } from './journal.js';

export interface UnitUnderTest {
  readonly c: Container;
  /** corral's HTTP address. */
  readonly base: string;
  show(prop: string): Promise<string>;
  /** The settings file's entries now, and what the install wrote (two workers, logs to the journal). */
  settings(): Record<string, string>;
  installed(): Record<string, string>;
  /** Writes the settings file with these entries alone. */
  setSettings(all: Record<string, string>): Promise<void>;
}

const UNIT_CGROUP = '/system.slice/corral.service';
const DROP_IN = '/etc/systemd/system/corral.service.d/test-resource-limit.conf';
const RUNTIME_DROP_INS = '/run/systemd/system.control/corral.service.d';

/** Why the limits cannot be shown here, or undefined. */
function limitsSkipReason(c: Container, controller: 'pids' | 'memory'): string | undefined {
  if (c.writableControllers.includes(controller)) return undefined;
  return `the container's systemd cannot apply the unit's limits: ${c.cgroupsUnavailable ?? `no cgroup v1 ${controller} hierarchy on this host`}`;
}

/**
 * The host kernel's log lines of its OOM kills (which process, and the table of candidates with
 * their oom_score_adj) after the line `after`, for a failure message: the container's journal does
 * not have them. The ring buffer of a long-running host is full, old lines leaving as new ones come:
 * the lines after the last one read before, all of them when it has left. Its last line now, when
 * `after` is not given.
 */
function kernelOomReport(after?: string): { last: string; report: string } {
  const r = spawnSync('dmesg', { encoding: 'utf8' });
  if (r.status !== 0) return { last: '', report: `(dmesg: ${r.error?.message ?? `exit ${r.status}`} ${r.stderr ?? ''})` };
  const all = r.stdout.split('\n').filter((l) => l !== '');
  const last = all.at(-1) ?? '';
  if (after === undefined) return { last, report: '' };
  const from = all.lastIndexOf(after) + 1;
  const report = all.slice(from).filter((l) => /oom-kill:|Killed process|oom_score_adj name|\[\s*\d+\]\s+\d+\s+\d+\s/.test(l)).join('\n');
  return { last, report: report === '' ? '(no OOM kill in dmesg)' : report };
}

/** Error lines say this much of themselves: the fields a test failure should show. */
function brief(l: Json | undefined): string {
  return l === undefined ? 'none' : JSON.stringify({ ...l, msg: String(l.msg).slice(0, 600) });
}

export function registerResourceLimitTests(u: () => UnitUnderTest): void {
  /**
   * Starts corral under `limit` (a drop-in's [Service] lines) with the installed settings and
   * `extra`, runs `body`, then stops it and puts the unit and settings back.
   */
  const underLimit = async (t: TestContext, controller: 'pids' | 'memory', limit: string | undefined, extra: Record<string, string>, body: (since: string) => Promise<void>) => {
    const { c } = u();
    const skip = limitsSkipReason(c, controller);
    if (skip) return t.skip(skip);
    const before = u().settings();
    if (limit !== undefined) c.writeFile(DROP_IN, `[Service]\n${limit}\n`);
    // Stopped first: a corral a test before left running would make `systemctl start` a no-op,
    // under the old limits, with no task_limit.low of this start's master to find.
    await c.sh('systemctl stop corral; systemctl daemon-reload && { systemctl reset-failed corral || true; }');
    await u().setSettings({ ...u().installed(), ...extra });
    try {
      const since = (await c.sh('date +%s')).trim();
      await body(since);
    } finally {
      await u().setSettings(before);
      // The drop-in, and what `systemctl set-property --runtime` wrote.
      await c.sh(`rm -rf ${DROP_IN} ${RUNTIME_DROP_INS} && systemctl daemon-reload && systemctl stop corral; systemctl reset-failed corral || true`);
    }
  };
  const cgroupFile = async (controller: string, file: string) => (await u().c.sh(`cat /sys/fs/cgroup/${controller}${UNIT_CGROUP}/${file}`)).trim();
  /**
   * The lines of these events the test's master wrote: the journal's times are those journald read
   * them at, so a line of the master stopped just before `since` may come after it.
   */
  const events = async (since: string, master: string, ...names: string[]) =>
    (await journalLines(u().c, since)).filter((l) => String(l.pid) === master && names.includes(String(l.event)));

  test('TasksMax= is corral.service\'s own pids.max: task_limit.low says so at start, and a reload refused at it is rolled back with the limit named, the old generation serving', async (t) => {
    // Two workers at rest are about 47 tasks (12 a node process); a reload's two more do not fit in 60.
    await underLimit(t, 'pids', 'TasksMax=60', { CORRAL_BOOT_ATTEMPTS: '2', CORRAL_TIMEOUT: '5' }, async (since) => {
      const { c, show } = u();
      const start = await c.exec(['systemctl', 'start', 'corral'], { timeoutMs: 60_000 });
      assert.equal(start.code, 0, start.stderr);
      // systemd applied it to the unit's own cgroup: corral runs in it.
      assert.equal(await cgroupFile('pids', 'pids.max'), '60');
      const mainPid = await show('MainPID');
      assert.match(await c.sh(`cat /proc/${mainPid}/cgroup`), new RegExp(`^\\d+:pids:${UNIT_CGROUP}$`, 'm'));
      const low = await until('task_limit.low in the journal', 10_000, async () => (await events(since, mainPid, 'task_limit.low'))[0]);
      assert.equal(low.code, 'CORRAL_ERR_TASK_LIMIT');
      assert.equal(low.task_limit, 60);
      assert.equal(low.source, 'pids.max');
      // Two generations of two workers, the keeper, the master and the reload's command.
      assert.equal(low.tasks_need, 88, brief(low));
      // One worker needs 62 with a reload: no CORRAL_WORKERS fits, only the raise is offered.
      assert.deepEqual(low.fix, { limit: 88 });
      assert.match(String(low.msg), /not even 1 worker fits under 60, reloads included: only the limit's raise helps/);
      assert.equal(low.task_limit_cgroup, UNIT_CGROUP);
      assert.match(String(low.msg), /the cgroup's pids\.max 60 \(\/system\.slice\/corral\.service\).*Fix: raise TasksMax= of corral\.service: systemctl set-property corral\.service TasksMax=88 /);
      assert.equal((await http(`${u().base}/`)).json().generation, 1);

      const reload = await c.exec(['systemctl', 'reload', 'corral'], { timeoutMs: 90_000 });
      assert.notEqual(reload.code, 0, `systemctl reload fails: ${reload.stdout}${reload.stderr}`);
      const failed = await until('reload.failed in the journal', 10_000, async () => (await events(since, mainPid, 'reload.failed'))[0]);
      // The new generation's boots, each saying the limit: a fork refused (CORRAL_ERR_FORK), a
      // worker that aborted when a thread was (CORRAL_ERR_WORKER_DIED), or one that hung as it
      // booted and was killed silent at CORRAL_TIMEOUT (CORRAL_ERR_WORKER_TIMEOUT).
      const boots = (await events(since, mainPid, 'worker.boot_failed')).filter((l) => l.generation === 2);
      assert.ok(boots.length > 0);
      for (const l of boots) {
        assert.equal(l.task_limit_reached, true, `a boot refused at the limit says so: ${brief(l)}`);
        assert.equal(l.task_limit, 60);
        assert.equal(l.task_limit_cgroup, UNIT_CGROUP);
        assert.match(String(l.msg), /the process and thread limit(?: was reached)?: the cgroup's pids\.max 60 \(\/system\.slice\/corral\.service\).*Raise TasksMax= of corral\.service: systemctl set-property corral\.service TasksMax=\d+/);
      }
      assert.equal(failed.generation, 2, brief(failed));
      // The reload's failure repeats the last boot's error, whichever way the limit ended it.
      assert.equal((failed.boot_error as Json).task_limit_reached, true, brief(failed));
      assert.match(String(failed.msg), /the process and thread limit(?: was reached)?: the cgroup's pids\.max 60 \(\/system\.slice\/corral\.service\)/);
      assert.equal(await show('ActiveState'), 'active');
      assert.equal(await show('MainPID'), mainPid, 'the same master');
      assert.equal((await http(`${u().base}/`)).json().generation, 1, 'the old generation serves');

      // The fix task_limit.low gave, applied as the README says: the next reload fits, every
      // boot of it. Short of the reload's own command (corral reload --wait, in the unit's
      // cgroup), the limit it advised refused a new worker's thread.
      const fixed = (low.fix as { limit: number }).limit;
      await c.sh(`systemctl set-property --runtime corral TasksMax=${fixed}`);
      assert.equal(await cgroupFile('pids', 'pids.max'), String(fixed));
      const refused = async () => Number(/^max (\d+)$/m.exec(await cgroupFile('pids', 'pids.events'))?.[1]);
      const refusedBefore = await refused();
      const again = await c.exec(['systemctl', 'reload', 'corral'], { timeoutMs: 90_000 });
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await http(`${u().base}/`)).json().generation, 3);
      assert.equal(await refused(), refusedBefore, `no fork or thread refused under TasksMax=${fixed} (pids.events)`);
      assert.deepEqual((await events(since, mainPid, 'worker.boot_failed')).filter((l) => l.generation === 3).map(brief), []);
    });
  });

  test('a start whose workers only partly fit TasksMax= is ready degraded: systemctl start returns with the workers that fit serving, master.ready and the status line say how many', async (t) => {
    // The master (11 tasks), the keeper and one worker (12 each) fit in 40; a second worker does not.
    await underLimit(t, 'pids', 'TasksMax=40', { CORRAL_BOOT_ATTEMPTS: '3', CORRAL_TIMEOUT: '5' }, async (since) => {
      const { c, show } = u();
      // Waiting for both workers, READY=1 never came: systemd killed the serving master at
      // TimeoutStartSec (minutes). Bounded inside the container, well short of that.
      const start = await c.exec(['timeout', '60', 'systemctl', 'start', 'corral'], { timeoutMs: 90_000 });
      assert.equal(start.code, 0, `systemctl start: ${start.code} ${start.stderr}`);
      assert.equal(await cgroupFile('pids', 'pids.max'), '40');
      assert.equal(await show('ActiveState'), 'active');
      const mainPid = await show('MainPID');
      const ready = await until('master.ready in the journal', 10_000, async () => (await events(since, mainPid, 'master.ready'))[0]);
      assert.equal(ready.degraded, true, brief(ready));
      assert.equal(ready.expected, 2);
      assert.equal(ready.workers, 1);
      assert.equal(ready.level, 'warn');
      assert.match(await show('StatusText'), /^1\/2 workers ready, generation 1/);
      assert.equal((await http(`${u().base}/`)).status, 200);
      // Each boot that did not fit says the limit (aborted, fork refused, or hung and killed
      // silent), and so does master.ready's last boot error.
      const boots = await events(since, mainPid, 'worker.boot_failed');
      assert.ok(boots.length >= 3, boots.map(brief).join('\n'));
      for (const l of boots) assert.deepEqual([l.task_limit_reached, l.task_limit, l.task_limit_cgroup], [true, 40, UNIT_CGROUP], brief(l));
      assert.deepEqual([(ready.boot_error as Json).task_limit_reached, (ready.boot_error as Json).task_limit], [true, 40], brief(ready));
    });
  });

  test("a reload whose second generation crosses MemoryMax= costs workers, not the master: the kernel takes a worker (the master raises their oom_score_adj at the fork), said as an OOM kill at the unit's limit", async (t) => {
    await underLimit(t, 'memory', undefined, { CORRAL_BOOT_ATTEMPTS: '2' }, async (since) => {
      const { c, show } = u();
      const start = await c.exec(['systemctl', 'start', 'corral'], { timeoutMs: 60_000 });
      assert.equal(start.code, 0, start.stderr);
      // Room for a few MiB more than the first generation: the second one's workers (about 15
      // MiB of their own each) cross it. At rest the master is the largest process (about 70 MiB
      // against a worker's 58): by size alone the kernel picked it, and the whole service went.
      // Counted without the page cache of files, which the kernel reclaims at the limit rather
      // than kill: with much of it charged, a limit over the whole usage let the new generation fit.
      const stat = Object.fromEntries((await cgroupFile('memory', 'memory.stat')).split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]));
      const held = Number(await cgroupFile('memory', 'memory.usage_in_bytes')) - (stat.total_active_file ?? 0) - (stat.total_inactive_file ?? 0);
      const limit = held + 24 * 2 ** 20;
      await c.sh(`systemctl set-property --runtime corral MemoryMax=${limit}`);
      assert.equal(Number(await cgroupFile('memory', 'memory.limit_in_bytes')), limit, 'systemd applied MemoryMax= to the unit\'s own memory cgroup');
      const mainPid = await show('MainPID');
      const restarts = await show('NRestarts');
      const kernelLog = kernelOomReport().last;
      // It ends either way: the old generation killed and the new one serving, or the new one's
      // boots killed and the reload rolled back.
      await c.exec(['systemctl', 'reload', 'corral'], { timeoutMs: 90_000 });
      assert.equal(await show('MainPID'), mainPid, `the master was not the one killed; the kernel's OOM kills:\n${kernelOomReport(kernelLog).report}`);
      assert.equal(await show('NRestarts'), restarts);
      const killed = await until('an OOM kill said in the journal', 10_000, async () => {
        const l = await events(since, mainPid, 'worker.exit', 'worker.boot_failed');
        return l.some((e) => e.oom_kill === true) ? l.filter((e) => e.oom_kill === true) : undefined;
      });
      for (const l of killed) {
        assert.equal(l.signal, 'SIGKILL');
        assert.equal(l.memory_limit_bytes, limit, brief(l));
        assert.equal(l.memory_limit_cgroup, UNIT_CGROUP);
        // cgroup v1 counts page cache reclaimed at the limit too: the limit is the likely one.
        assert.equal(l.memory_limit_certain, false);
        assert.match(String(l.msg), /killed by the kernel's OOM killer .*most likely at the cgroup's memory limit, [\d.]+ MiB \(\/system\.slice\/corral\.service\).*Raise MemoryMax= of corral\.service: systemctl set-property corral\.service MemoryMax=/);
      }
      assert.equal(await show('ActiveState'), 'active');
      await until('every worker serving again', 30_000, async () => ((await show('StatusText')).startsWith('2/2 workers ready') ? true : undefined));
      assert.equal((await http(`${u().base}/`)).status, 200);
    });
  });
}
