// The process and thread limit corral runs under (pids.max, RLIMIT_NPROC), read from /proc and
// the cgroup filesystem, and the master's warning when it is below what corral's processes take.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { taskLimitMessage, taskLimitShortfall, warnTaskLimit } from '../../src/master/task-limit-check.js';
import { parseNprocLimit, pidsCgroupDir, readTaskLimit, tasksNeeded, TASKS_PER_PROCESS } from '../../src/task-limit.js';
import { captureLogger } from '../fixtures/capture-logger.js';

test("finds the pids controller's directory of a cgroup v2 or v1 hierarchy, and the soft RLIMIT_NPROC", () => {
  assert.equal(pidsCgroupDir('0::/system.slice/corral.service\n'), '/sys/fs/cgroup/system.slice/corral.service');
  assert.equal(pidsCgroupDir('9:name=systemd:/\n8:pids:/docker/abc\n0::/\n'), '/sys/fs/cgroup/pids/docker/abc');
  assert.equal(pidsCgroupDir(''), undefined);
  const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax processes             4096                 8192                 processes\n';
  assert.equal(parseNprocLimit(limits), 4096);
  assert.equal(parseNprocLimit(limits.replace('4096', 'unlimited')), undefined);
});

test("takes the smallest pids.max of the cgroup and its parents (a slice's, a pod's), and a non-root user's RLIMIT_NPROC", () => {
  const tree = mkdtempSync(join(tmpdir(), 'corral-task-limit-'));
  try {
    const proc = join(tree, 'proc');
    const cgroup = join(tree, 'cgroup');
    mkdirSync(join(proc, 'self'), { recursive: true });
    mkdirSync(join(cgroup, 'kubepods', 'pod1', 'corral'), { recursive: true });
    writeFileSync(join(proc, 'self', 'cgroup'), '0::/kubepods/pod1/corral\n');
    writeFileSync(join(proc, 'self', 'limits'), 'Limit                     Soft Limit           Hard Limit           Units\nMax processes             150                  150                  processes\n');
    writeFileSync(join(cgroup, 'kubepods', 'pod1', 'corral', 'pids.max'), 'max\n');
    writeFileSync(join(cgroup, 'kubepods', 'pod1', 'pids.max'), '300\n');
    writeFileSync(join(cgroup, 'kubepods', 'pod1', 'pids.current'), '42\n');
    writeFileSync(join(cgroup, 'kubepods', 'pids.max'), '5000\n');
    // The pod's 300, not the leaf's "max" nor the 5000 above it; root is not held to the 150.
    assert.deepEqual(readTaskLimit({ isRoot: true, proc, cgroupRoot: cgroup }), { max: 300, source: 'pids.max', current: 42, cgroup: '/kubepods/pod1' });
    assert.deepEqual(readTaskLimit({ isRoot: false, proc, cgroupRoot: cgroup }), { max: 150, source: 'RLIMIT_NPROC', current: undefined });
    writeFileSync(join(cgroup, 'kubepods', 'pod1', 'pids.max'), 'max\n');
    writeFileSync(join(cgroup, 'kubepods', 'pids.max'), 'max\n');
    assert.equal(readTaskLimit({ isRoot: true, proc, cgroupRoot: cgroup }), undefined, 'no limit anywhere');
    // A v1 pids hierarchy: the path is the hierarchy's, as systemd names its units' cgroups.
    mkdirSync(join(cgroup, 'pids', 'system.slice', 'corral.service'), { recursive: true });
    writeFileSync(join(proc, 'self', 'cgroup'), '9:name=systemd:/system.slice/corral.service\n8:pids:/system.slice/corral.service\n0::/system.slice/corral.service\n');
    writeFileSync(join(cgroup, 'pids', 'system.slice', 'corral.service', 'pids.max'), '60\n');
    writeFileSync(join(cgroup, 'pids', 'system.slice', 'pids.max'), '500\n');
    assert.deepEqual(readTaskLimit({ isRoot: true, proc, cgroupRoot: cgroup }), { max: 60, source: 'pids.max', current: undefined, cgroup: '/system.slice/corral.service' });
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
});

test('offers no worker count when not even one worker fits: only the raise of the limit', async () => {
  const s = { CORRAL_WORKERS: 2, CORRAL_EXPORT_THREADS: 1 };
  // One worker with a reload: (2 + 3) x 12 + 2 = 62 tasks, over 60.
  const short = taskLimitShortfall(s, { max: 60, source: 'pids.max', current: 40, cgroup: '/system.slice/corral.service' });
  assert.equal(short?.fittingWorkers, undefined);
  const log = await captureLogger('worker');
  try {
    warnTaskLimit(log.logger, s, { max: 60, source: 'pids.max', current: 40, cgroup: '/system.slice/corral.service' });
    const line = log.lines().find((l) => l.event === 'task_limit.low');
    assert.deepEqual(line?.fix, { limit: 88 });
    assert.match(String(line?.msg), /Fix: raise TasksMax= of corral\.service: systemctl set-property corral\.service TasksMax=88 .*\(not even 1 worker fits under 60, reloads included: only the limit's raise helps\)$/);
    assert.doesNotMatch(String(line?.msg), /lower CORRAL_WORKERS/);
  } finally {
    log.close();
  }
});

test('says a limit below what corral may need, with what to set: the limit, or the workers it leaves room for', async () => {
  // 16 workers with 1 export thread: (32 + 3) x 12 + 32 = 452 tasks: the master, the keeper, and
  // during a reload both generations and the reload's command (the unit's ExecReload=).
  assert.equal(tasksNeeded(16, 1), (2 * 16 + 3) * TASKS_PER_PROCESS + 32);
  const s = { CORRAL_WORKERS: 16, CORRAL_EXPORT_THREADS: 1 };
  assert.equal(taskLimitShortfall(s, { max: 1000, source: 'pids.max', current: 40 }), undefined);
  assert.equal(taskLimitShortfall(s, undefined), undefined);
  const short = taskLimitShortfall(s, { max: 300, source: 'pids.max', current: 40 });
  assert.equal(short?.need, 452);
  // (300 - 36) / 26 workers: 10.
  assert.equal(short?.fittingWorkers, 10);
  assert.ok(short?.fittingWorkers !== undefined && tasksNeeded(short.fittingWorkers, 1) <= 300 && tasksNeeded(short.fittingWorkers + 1, 1) > 300);
  const log = await captureLogger('worker');
  try {
    warnTaskLimit(log.logger, s, { max: 300, source: 'pids.max', current: 40 });
    const line = log.lines().find((l) => l.event === 'task_limit.low');
    assert.equal(line?.code, 'CORRAL_ERR_TASK_LIMIT');
    assert.equal(line?.level, 'warn');
    assert.deepEqual(line?.fix, { CORRAL_WORKERS: 10, limit: 452 });
    assert.match(String(line?.msg), /^the process and thread limit, the cgroup's pids\.max 300 \(systemd's TasksMax=, a container's --pids-limit\), is below the 452 tasks corral may need: 16 workers.*with the reload's own command \(corral reload --wait, the unit's ExecReload=, in corral's cgroup\).*Fix: TasksMax=452 in corral's unit.*or lower CORRAL_WORKERS to 10$/);
  } finally {
    log.close();
  }
  assert.match(taskLimitMessage({ limit: { max: 100, source: 'RLIMIT_NPROC', current: undefined }, need: 440, setTo: 440, fittingWorkers: 2 }, s), /RLIMIT_NPROC 100 \(ulimit -u\).*ulimit -u 440/);
});

test("names the setting of the cgroup whose pids.max binds: the unit's TasksMax= with systemctl set-property, a slice's, or a container's", async () => {
  const s = { CORRAL_WORKERS: 2, CORRAL_EXPORT_THREADS: 1 };
  const at = (cgroup: string) => taskLimitMessage({ limit: { max: 60, source: 'pids.max', current: 47, cgroup }, need: 88, setTo: 88, fittingWorkers: 1 }, s);
  assert.match(at('/system.slice/corral.service'), /the cgroup's pids\.max 60 \(\/system\.slice\/corral\.service\).*Fix: raise TasksMax= of corral\.service: systemctl set-property corral\.service TasksMax=88 \(or TasksMax= in the unit file: systemctl edit corral\), or lower CORRAL_WORKERS to 1$/);
  // A slice's limit holds corral whatever its own unit says: raising the unit's would not do.
  assert.match(at('/system.slice'), /Fix: raise TasksMax= of system\.slice: systemctl set-property system\.slice TasksMax=88/);
  assert.match(at('/docker/abc'), /Fix: raise the container's pids limit \(docker run --pids-limit 88/);
  const log = await captureLogger('worker');
  try {
    warnTaskLimit(log.logger, s, { max: 60, source: 'pids.max', current: 47, cgroup: '/system.slice/corral.service' });
    assert.equal(log.lines().find((l) => l.event === 'task_limit.low')?.task_limit_cgroup, '/system.slice/corral.service');
  } finally {
    log.close();
  }
});

test("a slice's limit counts its other units' tasks too: corral's room is what they leave, and the limit to set is its need beside them", async () => {
  const tree = mkdtempSync(join(tmpdir(), 'corral-task-limit-slice-'));
  try {
    const proc = join(tree, 'proc');
    const cgroup = join(tree, 'cgroup');
    mkdirSync(join(proc, 'self'), { recursive: true });
    mkdirSync(join(cgroup, 'system.slice', 'corral.service'), { recursive: true });
    writeFileSync(join(proc, 'self', 'cgroup'), '0::/system.slice/corral.service\n');
    writeFileSync(join(cgroup, 'system.slice', 'corral.service', 'pids.max'), 'max\n');
    writeFileSync(join(cgroup, 'system.slice', 'corral.service', 'pids.current'), '12\n');
    writeFileSync(join(cgroup, 'system.slice', 'pids.max'), '500\n');
    // 312 tasks in the slice: corral's 12 and 300 of other units.
    writeFileSync(join(cgroup, 'system.slice', 'pids.current'), '312\n');
    const limit = readTaskLimit({ isRoot: true, proc, cgroupRoot: cgroup });
    assert.deepEqual(limit, { max: 500, source: 'pids.max', current: 312, cgroup: '/system.slice', others: 300 });
    // 16 workers need 452: under the slice's 500 alone, but not in the 200 the others leave.
    const s = { CORRAL_WORKERS: 16, CORRAL_EXPORT_THREADS: 1 };
    const short = taskLimitShortfall(s, limit);
    assert.ok(short, 'short of room beside the slice\'s other units');
    assert.equal(short.setTo, 752);
    // (200 - 36) / 26 workers: 6.
    assert.equal(short.fittingWorkers, 6);
    const log = await captureLogger('worker');
    try {
      warnTaskLimit(log.logger, s, limit);
      const line = log.lines().find((l) => l.event === 'task_limit.low');
      assert.deepEqual(line?.fix, { CORRAL_WORKERS: 6, limit: 752 });
      assert.equal(line?.tasks_others, 300);
      assert.match(String(line?.msg), /is below the 452 tasks corral may need beside the 300 tasks of other processes in \/system\.slice counted against it now: .*Fix: raise TasksMax= of system\.slice: systemctl set-property system\.slice TasksMax=752/);
    } finally {
      log.close();
    }
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
});
