// Why a child died unasked, by its cgroup's counters (cgroup-events.ts, death-causes.ts): the OOM
// killer within corral's memory cgroup for a SIGKILL, the pids limit for an abort. Read from trees
// laid out as cgroup v1 and v2 lay them out, and said in the exit line and the boot error.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readMemoryCounters, readPidsCounters } from '../../src/master/cgroup-events.js';
import { accountExit } from '../../src/master/child-exits.js';
import { SILENT_BOOT_GUESS } from '../../src/master/child-killer.js';
import { CrashLedger } from '../../src/master/crash-ledger.js';
import { causeWords, DeathCauses, RISE_HOLD_MS } from '../../src/master/death-causes.js';
import { KeeperCrashLedger } from '../../src/master/keeper-crash-ledger.js';
import { newChildRecord, type ChildRecord } from '../../src/master/registry.js';
import { captureLogger } from '../fixtures/capture-logger.js';

function tree(): { proc: string; cgroupRoot: string; put(path: string, text: string): void; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'corral-death-causes-'));
  const proc = join(dir, 'proc');
  const cgroupRoot = join(dir, 'cgroup');
  mkdirSync(join(proc, 'self'), { recursive: true });
  return {
    proc,
    cgroupRoot,
    put(path, text) {
      const file = join(dir, path);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, text);
    },
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const V2_UNIT = '/system.slice/corral.service';

/** The counters of a test's tree, as DeathCauses reads them. */
const readersOf = (t: ReturnType<typeof tree>) => ({ memory: () => readMemoryCounters(t), pids: () => readPidsCounters(t) });

/** corral in the v2 cgroup of its unit, under a memory limit of 512 MiB, its counters at 0. */
function inV2Unit(t: ReturnType<typeof tree>): void {
  t.put('proc/self/cgroup', `0::${V2_UNIT}\n`);
  t.put(`cgroup${V2_UNIT}/memory.events`, events(0, 0));
  t.put(`cgroup${V2_UNIT}/memory.max`, '536870912\n');
}
const events = (oom: number, kills: number) => `low 0\nhigh 0\nmax 3\noom ${oom}\noom_kill ${kills}\noom_group_kill 0\n`;

test("cgroup v2: reads corral's oom_kill and each limit up the tree with how often it was reached", () => {
  const t = tree();
  try {
    t.put('proc/self/cgroup', `0::${V2_UNIT}\n`);
    t.put(`cgroup${V2_UNIT}/memory.events`, events(1, 2));
    t.put(`cgroup${V2_UNIT}/memory.max`, '536870912\n');
    t.put('cgroup/system.slice/memory.events', events(0, 2));
    t.put('cgroup/system.slice/memory.max', 'max\n');
    assert.deepEqual(readMemoryCounters(t), { version: 2, oomKills: 2, limits: [{ path: V2_UNIT, limitBytes: 536870912, reached: 1 }] });
    t.put(`cgroup${V2_UNIT}/pids.events`, 'max 0\n');
    t.put(`cgroup${V2_UNIT}/pids.max`, 'max\n');
    t.put('cgroup/system.slice/pids.events', 'max 4\n');
    t.put('cgroup/system.slice/pids.max', '300\n');
    assert.deepEqual(readPidsCounters(t), {
      levels: [
        { path: V2_UNIT, max: undefined, refused: 0 },
        { path: '/system.slice', max: 300, refused: 4 },
      ],
    });
  } finally {
    t.done();
  }
});

test('cgroup v1: memory.oom_control and memory.failcnt of the memory hierarchy, pids.events of the pids one; none readable is undefined', () => {
  const t = tree();
  try {
    assert.equal(readMemoryCounters(t), undefined);
    assert.equal(readPidsCounters(t), undefined);
    t.put('proc/self/cgroup', '8:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n');
    t.put('cgroup/memory/docker/abc/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    t.put('cgroup/memory/docker/abc/memory.limit_in_bytes', '268435456\n');
    t.put('cgroup/memory/docker/abc/memory.failcnt', '17\n');
    t.put('cgroup/memory/docker/memory.limit_in_bytes', '9223372036854771712\n');
    t.put('cgroup/memory/docker/memory.failcnt', '0\n');
    assert.deepEqual(readMemoryCounters(t), { version: 1, oomKills: 1, limits: [{ path: '/docker/abc', limitBytes: 268435456, reached: 17 }] });
    t.put('cgroup/pids/docker/abc/pids.events', 'max 2\n');
    t.put('cgroup/pids/docker/abc/pids.max', '200\n');
    t.put('cgroup/pids/pids.events', 'max 0\n');
    assert.deepEqual(readPidsCounters(t)?.levels, [
      { path: '/docker/abc', max: 200, refused: 2 },
      { path: '/', max: undefined, refused: 0 },
    ]);
  } finally {
    t.done();
  }
});

test("a SIGKILL is an OOM kill only when corral's oom_kill rose since the last reading; each kill is put to one death, for a while", () => {
  const t = tree();
  let now = 1000;
  try {
    inV2Unit(t);
    const causes = new DeathCauses(() => now, readersOf(t));
    assert.equal(causes.exited('SIGKILL', null, true), undefined, 'a kill -9: the counter did not move');
    // One OOM that killed two workers: both exits, reaped over two ticks, are OOM kills.
    t.put(`cgroup${V2_UNIT}/memory.events`, events(1, 2));
    const first = causes.exited('SIGKILL', null, true);
    assert.deepEqual(first, { kind: 'oom', limit: { path: V2_UNIT, limitBytes: 536870912, reached: 1 }, certain: true });
    now += 250;
    assert.deepEqual(causes.exited('SIGKILL', null, true), first);
    assert.equal(causes.exited('SIGKILL', null, true), undefined, 'a third SIGKILL: no kill left to put to it');
    // A kill seen and not put to a death is not held past RISE_HOLD_MS.
    t.put(`cgroup${V2_UNIT}/memory.events`, events(2, 4));
    assert.equal(causes.exited('SIGKILL', null, true)?.kind, 'oom');
    now += RISE_HOLD_MS + 1;
    assert.equal(causes.exited('SIGKILL', null, true), undefined);
    // Killed by the OOM killer with no limit of corral's reached: the machine's OOM.
    t.put(`cgroup${V2_UNIT}/memory.events`, events(2, 5));
    assert.deepEqual(causes.exited('SIGKILL', null, true), { kind: 'oom', limit: undefined, certain: true });
    // An abort is no OOM kill.
    t.put(`cgroup${V2_UNIT}/memory.events`, events(3, 6));
    assert.equal(causes.exited('SIGABRT', null, true), undefined);
  } finally {
    t.done();
  }
});

test("an abort is the task limit only when a pids.events max count rose; the limit is the lowest pids.max of the tree (v1 counts at the forking task's cgroup)", () => {
  const t = tree();
  const now = 1000;
  try {
    t.put('proc/self/cgroup', '8:pids:/corral\n0::/\n');
    t.put('cgroup/pids/corral/pids.events', 'max 0\n');
    t.put('cgroup/pids/corral/pids.max', 'max\n');
    t.put('cgroup/pids/pids.events', 'max 0\n');
    t.put('cgroup/pids/pids.max', '200\n');
    const causes = new DeathCauses(() => now, readersOf(t));
    assert.equal(causes.exited('SIGABRT', null, true), undefined, 'V8 out of heap: no fork refused');
    t.put('cgroup/pids/corral/pids.events', 'max 3\n');
    assert.deepEqual(causes.exited('SIGABRT', null, true, 232), { kind: 'task_limit', level: { path: '/', max: 200, refused: 0 }, need: 232 });
    // The other workers of the same generation, aborting in the same seconds.
    assert.equal(causes.exited('SIGABRT', null, true)?.kind, 'task_limit');
    assert.equal(causes.exited(null, 0, true), undefined, 'a clean exit is not judged');
    assert.equal(causes.exited('SIGTERM', null, true), undefined, "a SIGTERM is someone's");
    assert.equal(causes.exited(null, 1, true)?.kind, 'task_limit', 'an exit 1 of a thread refused (a worker pool that could not start)');
    assert.equal(causes.exited(null, null, true)?.kind, 'task_limit', 'a fork refused: no process, code and signal null');
    assert.equal(causes.exited('SIGKILL', null, true), undefined, 'a SIGKILL is judged by the memory counters only');
  } finally {
    t.done();
  }
});

test("a child the master killed silent while booting is the task limit when pids.events max rose since its fork: node may hang, not abort, when a thread is refused", () => {
  const t = tree();
  let now = 1000;
  try {
    t.put('proc/self/cgroup', '8:pids:/system.slice/corral.service\n0::/system.slice/corral.service\n');
    t.put('cgroup/pids/system.slice/corral.service/pids.events', 'max 1\n');
    t.put('cgroup/pids/system.slice/corral.service/pids.max', '40\n');
    const causes = new DeathCauses(() => now, readersOf(t));
    causes.forked(7);
    t.put('cgroup/pids/system.slice/corral.service/pids.events', 'max 3\n');
    causes.forked(8);
    // Killed at CORRAL_TIMEOUT, long past the hold of a rise seen at another exit.
    now += 30_000;
    const hung = causes.exited('SIGKILL', null, false, 88, { id: 7, hungAtBoot: true });
    assert.deepEqual(hung, { kind: 'task_limit', level: { path: '/system.slice/corral.service', max: 40, refused: 3 }, need: 88, hungAtBoot: true });
    assert.match(causeWords(hung!), /^most likely the process and thread limit: .*refused a fork or a thread since it was forked .*node hangs as it boots, or aborts, when it cannot create a thread \(else the app blocks the event loop at import or in createApp\)\. Raise TasksMax= of corral\.service/);
    assert.equal(causes.exited('SIGKILL', null, false, 88, { id: 8, hungAtBoot: true }), undefined, 'the refusals came before its fork: a silent app, as far as the counters tell');
    causes.forked(9);
    t.put('cgroup/pids/system.slice/corral.service/pids.events', 'max 4\n');
    assert.equal(causes.exited('SIGKILL', null, false, 88, { id: 9, hungAtBoot: false }), undefined, 'killed for another reason (stuck once ready, a drain past its deadline)');
  } finally {
    t.done();
  }
});

test('whether the cgroup refused a fork or a thread since a child was forked: the counters read once for all children, the baseline of the exits unmoved', () => {
  const t = tree();
  try {
    t.put('proc/self/cgroup', '0::/system.slice/corral.service\n');
    t.put('cgroup/system.slice/corral.service/pids.events', 'max 1\n');
    t.put('cgroup/system.slice/corral.service/pids.max', '40\n');
    const causes = new DeathCauses(() => 1000, readersOf(t));
    causes.forked(7);
    const before = causes.taskRefusals();
    assert.equal(before(7), false, 'the refusal before its fork is not its own');
    assert.equal(before(8), false, 'a child not forked by this master');
    t.put('cgroup/system.slice/corral.service/pids.events', 'max 2\n');
    causes.forked(9);
    assert.equal(before(7), false, 'a reading answers as of when it was taken');
    const after = causes.taskRefusals();
    assert.deepEqual([after(7), after(9)], [true, false], 'a refusal since the fork of 7, none since that of 9');
    // Asked again, the answer stands: asking moved no baseline.
    assert.equal(causes.taskRefusals()(7), true);
    assert.equal(causes.exited('SIGKILL', null, false, 88, { id: 7, hungAtBoot: true })?.kind, 'task_limit');
    assert.equal(causes.taskRefusals()(7), false, 'forgotten at its exit');
  } finally {
    t.done();
  }
});

test("a booting worker killed silent under the pids limit says the limit in its boot error, in place of the guess at why it was silent", async () => {
  const log = await captureLogger('worker');
  try {
    const crashes = new CrashLedger();
    const silent = () => worker({ readyAt: undefined, state: 'killing', bootError: { code: 'CORRAL_ERR_WORKER_TIMEOUT', message: `silent for 5 s while booting${SILENT_BOOT_GUESS}` } });
    const accounts = { crashes, keeperCrashes: new KeeperCrashLedger(), log: log.logger };
    accountExit({ record: silent(), code: null, signal: 'SIGKILL' }, NOW, { ...accounts, cause: { kind: 'task_limit', level: { path: V2_UNIT, max: 40, refused: 3 }, need: 88, hungAtBoot: true } });
    const line = log.lines().find((l) => l.event === 'worker.boot_failed');
    assert.equal(line?.code, 'CORRAL_ERR_WORKER_TIMEOUT');
    assert.deepEqual([line?.task_limit_reached, line?.task_limit, line?.task_limit_cgroup], [true, 40, V2_UNIT]);
    const err = crashes.lastBootError;
    assert.equal(err?.task_limit_reached, true);
    assert.match(String(err?.message), /^silent for 5 s while booting: most likely the process and thread limit: the cgroup's pids\.max 40 \(\/system\.slice\/corral\.service\) refused a fork or a thread since it was forked .*TasksMax=88/);
    assert.doesNotMatch(String(err?.message), /the app blocks the event loop at import or in createApp\? or node could not/, 'the guess gives way to the limit counted, the app kept as the other cause');
    accountExit({ record: silent(), code: null, signal: 'SIGKILL' }, NOW, accounts);
    assert.equal(crashes.lastBootError?.message, `silent for 5 s while booting${SILENT_BOOT_GUESS}`, 'no limit counted: the guess stays');
  } finally {
    log.close();
  }
});

test('says the limit reached and the setting to raise: the unit of a systemd cgroup, else the container', () => {
  const oom = causeWords({ kind: 'oom', limit: { path: V2_UNIT, limitBytes: 512 * 2 ** 20, reached: 1 }, certain: true });
  assert.match(oom, /^killed by the kernel's OOM killer: the cgroup's memory limit, 512 MiB \(\/system\.slice\/corral\.service\), was reached \(its oom_kill count rose\)\. Raise MemoryMax= of corral\.service: systemctl set-property corral\.service MemoryMax=768M/);
  assert.match(causeWords({ kind: 'oom', limit: { path: '/docker/abc', limitBytes: 2 * 2 ** 30, reached: 1 }, certain: true }), /2 GiB .*Raise the container's memory limit \(docker run --memory 3G,/);
  assert.match(causeWords({ kind: 'oom', limit: undefined, certain: true }), /no cgroup memory limit of corral's reached: the machine ran out of memory/);
  // cgroup v1: the limit named as the likely one, with how to tell.
  assert.match(causeWords({ kind: 'oom', limit: { path: '/corral', limitBytes: 320 * 2 ** 20, reached: 0, peakAtLimit: true }, certain: false }), /^killed by the kernel's OOM killer \(the oom_kill count of corral's cgroup rose\), most likely at the cgroup's memory limit, 320 MiB \(\/corral\), .*constraint=CONSTRAINT_MEMCG for the limit, CONSTRAINT_NONE for the machine\)\. Raise /);
  const tasks = causeWords({ kind: 'task_limit', level: { path: V2_UNIT, max: 200, refused: 1 }, need: 232 });
  assert.match(tasks, /^the process and thread limit was reached: the cgroup's pids\.max 200 \(\/system\.slice\/corral\.service\) refused a fork or a thread .*Raise TasksMax= of corral\.service: systemctl set-property corral\.service TasksMax=232/);
});

const NOW = 2_000_000;
function worker(over: Partial<ChildRecord> = {}): ChildRecord {
  const forked = newChildRecord({ id: 4, slot: 4, role: 'worker', generation: 1, handle: { pid: 900, send: () => true, kill() {} }, startedAt: NOW - 3000, forkBatch: 1, beatIntervalMs: 1000 });
  return { ...forked, state: 'ready', readyAt: NOW - 2000, lastBeatAt: NOW, ...over };
}

test('the exit line of an OOM-killed worker says the limit for certain, with its fields; its event and code are the same', async () => {
  const log = await captureLogger('worker');
  try {
    const accounts = { crashes: new CrashLedger(), keeperCrashes: new KeeperCrashLedger(), log: log.logger };
    accountExit({ record: worker(), code: null, signal: 'SIGKILL' }, NOW, { ...accounts, cause: { kind: 'oom', limit: { path: V2_UNIT, limitBytes: 512 * 2 ** 20, reached: 1 }, certain: true } });
    accountExit({ record: worker({ id: 5 }), code: null, signal: 'SIGKILL' }, NOW, accounts);
    const [oom, plain] = log.lines().filter((l) => l.event === 'worker.exit');
    assert.equal(oom?.code, 'CORRAL_ERR_WORKER_DIED');
    assert.deepEqual([oom?.oom_kill, oom?.memory_limit_bytes, oom?.memory_limit_cgroup], [true, 512 * 2 ** 20, V2_UNIT]);
    assert.match(String(oom?.msg), /^worker 4 \(pid 900\) died unexpectedly \(code null, signal SIGKILL\): killed by the kernel's OOM killer: the cgroup's memory limit, 512 MiB .*MemoryMax=.*; replacing$/);
    assert.doesNotMatch(String(oom?.msg), /commonly sent/);
    assert.equal(plain?.oom_kill, undefined);
    assert.match(String(plain?.msg), /SIGKILL is commonly sent by the kernel's OOM killer \(see dmesg\) or an operator/, 'no counter rose: the hedge');
  } finally {
    log.close();
  }
});

test("a booting worker's abort under the pids limit says so in its boot error, which reload.failed and boot.exhausted repeat", async () => {
  const log = await captureLogger('worker');
  try {
    const crashes = new CrashLedger();
    accountExit({ record: worker({ readyAt: undefined }), code: null, signal: 'SIGABRT' }, NOW, {
      crashes,
      keeperCrashes: new KeeperCrashLedger(),
      log: log.logger,
      cause: { kind: 'task_limit', level: { path: '/', max: 200, refused: 3 }, need: 232 },
    });
    const line = log.lines().find((l) => l.event === 'worker.boot_failed');
    assert.equal(line?.code, 'CORRAL_ERR_WORKER_DIED');
    assert.equal(line?.task_limit_reached, true);
    assert.equal(line?.task_limit, 200);
    const err = crashes.lastBootError;
    assert.equal(err?.code, 'CORRAL_ERR_WORKER_DIED');
    assert.equal(err?.task_limit_reached, true);
    assert.match(String(err?.message), /^worker was killed by signal SIGABRT before it was ready: the process and thread limit was reached: the cgroup's pids\.max 200 .*--pids-limit 232/);
    assert.doesNotMatch(String(err?.message), /commonly sent/);
  } finally {
    log.close();
  }
});

test('cgroup v1 with a memory+swap limit: the failcnts stay at 0 at an OOM kill (Linux 6.18), and the peak standing at the limit names it', () => {
  const t = tree();
  try {
    t.put('proc/self/cgroup', '4:memory:/corral\n0::/\n');
    const limit = 320 * 2 ** 20;
    t.put('cgroup/memory/corral/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n');
    t.put('cgroup/memory/corral/memory.limit_in_bytes', `${limit}\n`);
    t.put('cgroup/memory/corral/memory.failcnt', '0\n');
    t.put('cgroup/memory/corral/memory.memsw.failcnt', '0\n');
    t.put('cgroup/memory/corral/memory.max_usage_in_bytes', `${100 * 2 ** 20}\n`);
    const causes = new DeathCauses(() => 0, readersOf(t));
    t.put('cgroup/memory/corral/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    t.put('cgroup/memory/corral/memory.max_usage_in_bytes', `${limit}\n`);
    assert.deepEqual(causes.exited('SIGKILL', null, true), { kind: 'oom', limit: { path: '/corral', limitBytes: limit, reached: 0, peakAtLimit: true }, certain: false });
  } finally {
    t.done();
  }
});

test('the counters are read at every exit: a rise at an exit the master asked for (a draining worker OOM-killed) is not put to a death hours later', () => {
  const t = tree();
  let now = 1000;
  try {
    inV2Unit(t);
    t.put(`cgroup${V2_UNIT}/pids.events`, 'max 0\n');
    t.put(`cgroup${V2_UNIT}/pids.max`, '200\n');
    const causes = new DeathCauses(() => now, readersOf(t));
    // A draining worker OOM-killed during a reload, and a fork refused: exits the master asked for.
    t.put(`cgroup${V2_UNIT}/memory.events`, events(1, 1));
    t.put(`cgroup${V2_UNIT}/pids.events`, 'max 1\n');
    assert.equal(causes.exited('SIGKILL', null, false), undefined, 'asked for: no cause said');
    now += 3 * 3600_000;
    assert.equal(causes.exited('SIGKILL', null, true), undefined, 'a kill -9 hours later is no OOM kill');
    assert.equal(causes.exited('SIGABRT', null, true), undefined, 'an abort hours later is not the task limit');
  } finally {
    t.done();
  }
});

test('cgroup v2: a limit set since the last reading (systemctl set-property MemoryMax=) is named when reached', () => {
  const t = tree();
  try {
    t.put('proc/self/cgroup', `0::${V2_UNIT}\n`);
    t.put(`cgroup${V2_UNIT}/memory.events`, events(0, 0));
    t.put(`cgroup${V2_UNIT}/memory.max`, 'max\n');
    const causes = new DeathCauses(() => 0, readersOf(t));
    t.put(`cgroup${V2_UNIT}/memory.max`, '268435456\n');
    t.put(`cgroup${V2_UNIT}/memory.events`, events(1, 1));
    assert.deepEqual(causes.exited('SIGKILL', null, true), { kind: 'oom', limit: { path: V2_UNIT, limitBytes: 268435456, reached: 1 }, certain: true });
  } finally {
    t.done();
  }
});

test('the TasksMax= advised is never below the limit in force', () => {
  assert.match(causeWords({ kind: 'task_limit', level: { path: V2_UNIT, max: 4915, refused: 1 }, need: 232 }), /TasksMax=7373/);
  assert.match(causeWords({ kind: 'task_limit', level: { path: V2_UNIT, max: 100, refused: 1 }, need: 232 }), /TasksMax=232/);
});
