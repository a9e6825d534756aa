import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, copyFileSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findMaster } from '../../src/cli/master-process.js';
import { loadSettings } from '../../src/config/load.js';
import { EXIT, exitCodeFor, type CorralError } from '../../src/errors.js';
import { checkPidfile, isAlive, readMasterRecord, removePidfile, stampFile, updateMasterRecord, writePidfile } from '../../src/master/pidfile.js';
import { stopWait } from '../../src/cli/commands/stop.js';
import { CORRAL_BIN } from '../helpers/corral.js';
import { bootIdSeenBy, looksLikeMaster, procReaders, procStamp, readBootId, sameProcess, type ProcReaders } from '../../src/master/proc-identity.js';

test('a process that exited but was not reaped yet (a zombie) is not alive: `corral stop` returns when the master is gone', async () => {
  // sh starts a child, then becomes sleep, which never reaps it. The child outlives the exec (a
  // child that exited at once could be reaped by sh itself before it exec'd, leaving no zombie).
  const parent = spawn('sh', ['-c', 'sleep 0.5 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const [chunk] = (await once(parent.stdout!, 'data')) as [Buffer];
    const zombie = Number(chunk.toString().trim());
    // Wait for the child to have exited: its state turns to Z.
    for (let i = 0; i < 250 && !readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(readFileSync(`/proc/${zombie}/stat`, 'utf8'), /\) Z /, 'the child is a zombie');
    assert.equal(isAlive(zombie), false);
    assert.equal(isAlive(parent.pid!), true, 'a running process is alive');
  } finally {
    parent.kill('SIGKILL');
    await once(parent, 'exit');
  }
});

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

test("the master records its graceful timeout, env file and admin address in the stamp, a reload's replaces it whole, and only the pid it names is read", () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  const file = join(dir, 'corral.pid');
  try {
    assert.equal(readMasterRecord(file, process.pid), undefined, 'no stamp, no record');
    writePidfile(file, procReaders, { gracefulTimeoutS: 25, envFile: '/etc/corral/corral.env' });
    assert.deepEqual(readMasterRecord(file, process.pid), { gracefulTimeoutS: 25, envFile: '/etc/corral/corral.env' });
    updateMasterRecord(file, { gracefulTimeoutS: 25, envFile: null });
    assert.deepEqual(readMasterRecord(file, process.pid), { gracefulTimeoutS: 25, envFile: null }, 'null: the master read no env file');
    // Its working directory, which its relative paths are resolved against; a relative one is not read.
    updateMasterRecord(file, { gracefulTimeoutS: 25, envFile: null, cwd: '/srv/corral' });
    assert.deepEqual(readMasterRecord(file, process.pid), { gracefulTimeoutS: 25, envFile: null, cwd: '/srv/corral' });
    updateMasterRecord(file, { gracefulTimeoutS: 25, envFile: null, cwd: 'srv' });
    assert.deepEqual(readMasterRecord(file, process.pid), { gracefulTimeoutS: 25, envFile: null });
    // Where its admin API listens (null: it did not start); anything but an http:// base is not read.
    updateMasterRecord(file, { gracefulTimeoutS: 25, adminUrl: 'http://127.0.0.1:41234' });
    assert.deepEqual(readMasterRecord(file, process.pid), { gracefulTimeoutS: 25, adminUrl: 'http://127.0.0.1:41234' });
    updateMasterRecord(file, { gracefulTimeoutS: 25, adminUrl: null });
    assert.deepEqual(readMasterRecord(file, process.pid), { gracefulTimeoutS: 25, adminUrl: null }, 'null: its admin API did not start');
    updateMasterRecord(file, { gracefulTimeoutS: 25, adminUrl: 'http://127.0.0.1:41234/api' });
    assert.deepEqual(readMasterRecord(file, process.pid), { gracefulTimeoutS: 25 });
    // A relative path is no file the command can judge from elsewhere: not read.
    updateMasterRecord(file, { gracefulTimeoutS: 25, envFile: 'corral.env' });
    assert.deepEqual(readMasterRecord(file, process.pid), { gracefulTimeoutS: 25 });
    assert.equal(readMasterRecord(file, process.pid + 1), undefined, "another pid's record is not this master's");
    updateMasterRecord(file, { gracefulTimeoutS: 0 });
    assert.deepEqual(readMasterRecord(file, process.pid), { gracefulTimeoutS: 0 });
    assert.deepEqual(checkPidfile(file), { status: 'running', pid: process.pid }, 'the rewritten stamp still identifies the master');
    assert.deepEqual(readdirSync(dir).sort(), ['corral.pid', 'corral.pid.start'], 'no temp file left');
    // A pidfile that names another process now (a newer master's) is not written over.
    writeFileSync(file, '999999999\n');
    updateMasterRecord(file, { gracefulTimeoutS: 7 });
    assert.deepEqual(readMasterRecord(file, process.pid), { gracefulTimeoutS: 0 });
    // An older corral's stamp, without the record: nothing is read from it.
    writeFileSync(file, `${process.pid}\n`);
    writeFileSync(stampFile(file), JSON.stringify({ pid: process.pid, start_ticks: procStamp(process.pid)!.startTicks, boot_id: null }));
    assert.equal(readMasterRecord(file, process.pid), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop waits by the recorded graceful timeout, else by the larger of the settings and the default, and says which', () => {
  assert.deepEqual(stopWait(25, 1), { seconds: 35, why: "the master's own CORRAL_GRACEFUL_TIMEOUT=25 s + 10 s" });
  assert.equal(stopWait(0, 60).seconds, 10, 'the recorded one wins over the file either way');
  assert.equal(stopWait(undefined, 1).seconds, 40);
  assert.equal(stopWait(undefined, 90).seconds, 100);
  assert.match(stopWait(undefined, 1).why, /recorded no graceful timeout; waited by the larger of the settings' CORRAL_GRACEFUL_TIMEOUT=1 s and the default 30 s/);
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

test('a pidfile without a start stamp naming a live process that runs corral under another name: start refuses, saying what to do; nothing is signalled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  const file = join(dir, 'corral.pid');
  // A master started through a launcher renamed corral-api (`node …/corral-api start`): its command
  // line is not `corral start`, and an older corral wrote no stamp.
  const launcher = join(dir, 'corral-api');
  writeFileSync(launcher, 'setInterval(() => {}, 1000);\n');
  const master = spawn(process.execPath, [launcher, 'start'], { stdio: 'ignore' });
  try {
    await once(master, 'spawn');
    const pid = master.pid!;
    writeFileSync(file, `${pid}\n`);
    const state = checkPidfile(file);
    assert.equal(state?.status, 'unverified');
    assert.throws(
      () => writePidfile(file),
      (err: CorralError) => {
        assert.equal(err.code, 'CORRAL_ERR_ALREADY_RUNNING');
        assert.match(err.message, /may be a corral master/);
        assert.match(err.message, new RegExp(`${launcher} start`), 'shows its command line');
        assert.match(err.message, /Nothing was started/);
        assert.match(err.message, new RegExp(`remove it \\(rm ${file}\\) and start again`));
        return true;
      },
    );
    assert.equal(readFileSync(file, 'utf8'), `${pid}\n`, 'the pidfile still names it');
    assert.equal(existsSync(stampFile(file)), false, 'no stamp written over it');
    // A stamp left by an earlier master, for another pid, proves nothing about this one either.
    writeFileSync(stampFile(file), JSON.stringify({ pid: pid + 1, start_ticks: 1, boot_id: null }));
    assert.equal(checkPidfile(file)?.status, 'unverified');
    assert.throws(() => writePidfile(file), /may be a corral master/);
    // reload/stop/status signal nothing and say how to go on, without calling it "not running"
    // (start just refused it as running).
    const settings = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: file } }).settings;
    assert.throws(() => findMaster(settings), (err: CorralError) => {
      assert.equal(err.code, 'CORRAL_ERR_MASTER_UNVERIFIED');
      assert.match(err.message, /Whether corral runs is unknown; nothing was signalled/);
      assert.match(err.message, new RegExp(`remove it \\(rm ${file}\\)`));
      return true;
    });
    assert.equal(master.exitCode, null);
    assert.equal(master.signalCode, null, 'still running, not signalled');
    // The operator removes the pidfile: start goes ahead.
    rmSync(file);
    assert.equal(writePidfile(file), undefined);
    assert.equal(checkPidfile(file)?.status, 'running');
  } finally {
    master.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pidfile without a start stamp naming this very process is stale, and replaced', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  const file = join(dir, 'corral.pid');
  try {
    writeFileSync(file, `${process.pid}\n`);
    assert.equal(checkPidfile(file)?.status, 'unverified', 'the test runner is not `corral start`');
    assert.match(writePidfile(file) ?? '', /replaced the stale pidfile .*this process's own pid/);
    assert.equal(checkPidfile(file)?.status, 'running');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// systemd's ProtectProc=invisible (or hidepid): another user's /proc/<pid> cannot be read, this
// process's own can, and the boot id stays readable.
const invisible: ProcReaders = {
  stamp: (pid) => (pid === process.pid ? procStamp(pid) : undefined),
  argv: (pid) => (pid === process.pid ? procReaders.argv(pid) : undefined),
  bootId: readBootId,
};

/**
 * A pidfile naming a live `sleep` (not a master: nothing it is sent may matter), with the start
 * stamp of that process as a master writes it. `bootId` overrides the stamp's boot id.
 */
async function pidfileOfSleeper(bootId?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  const file = join(dir, 'corral.pid');
  const holder = spawn('sleep', ['300'], { stdio: 'ignore' });
  await once(holder, 'spawn');
  const pid = holder.pid!;
  const settings = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: file } }).settings;
  const real = procStamp(pid)!;
  // As a master writes them (and whatever the umask: findMaster refuses files others may write).
  writeFileSync(file, `${pid}\n`, { mode: 0o644 });
  writeFileSync(stampFile(file), JSON.stringify({ pid, start_ticks: real.startTicks, boot_id: bootId ?? real.bootId }), { mode: 0o644 });
  const cleanup = () => {
    holder.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, file, holder, pid, real, settings, cleanup };
}

test('a pidfile from an earlier boot is stale even where the live process holding its pid cannot be looked at', async () => {
  const thisBoot = readBootId();
  assert.ok(thisBoot, '/proc/sys/kernel/random/boot_id is readable');
  // Its stamp from the same boot: the pid is alive and nothing can be checked, so it is the master.
  const { file, holder, pid, real, settings, cleanup } = await pidfileOfSleeper(thisBoot);
  try {
    assert.deepEqual(checkPidfile(file, invisible), { status: 'running', pid });
    assert.equal(findMaster(settings, invisible), pid);
    assert.throws(() => writePidfile(file, invisible), (err: CorralError) => err.code === 'CORRAL_ERR_ALREADY_RUNNING');
    // Written by a master of an earlier boot (a pidfile on a persistent path): whatever holds the pid
    // now is not that master. Its start ticks may well match by chance after a reboot.
    writeFileSync(stampFile(file), JSON.stringify({ pid, start_ticks: real.startTicks, boot_id: 'an-earlier-boot' }));
    const state = checkPidfile(file, invisible);
    assert.ok(state?.status === 'reused', `reused, not ${state?.status}`);
    assert.match(state.why, new RegExp(`from an earlier boot .*records boot id an-earlier-boot, this boot is ${thisBoot}\\), so pid ${pid} is not the master`));
    // status, stop, reload: not running (exit 3), nothing signalled.
    assert.throws(() => findMaster(settings, invisible), (err: CorralError) => {
      assert.equal(err.code, 'CORRAL_ERR_NOT_RUNNING');
      assert.match(err.message, /no corral master running \(stale pidfile .*from an earlier boot.*\); nothing was signalled/);
      return true;
    });
    // With the boot id hidden too (systemd's ProcSubset=pid) nothing can be checked: taken for the master.
    assert.equal(checkPidfile(file, { ...invisible, bootId: () => null })?.status, 'running');
    // start replaces it, and says why.
    assert.match(writePidfile(file, invisible) ?? '', /replaced the stale pidfile .*from an earlier boot/);
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
    assert.equal(checkPidfile(file, invisible)?.status, 'running');
    assert.equal(holder.exitCode, null);
    assert.equal(holder.signalCode, null, 'the process holding the old pid was not signalled');
  } finally {
    cleanup();
  }
});

test('a master that reads another boot id than this command, through its own /proc (a systemd-nspawn container, the unit\'s ProtectProc=), is running; a process of another boot is not', async () => {
  const thisBoot = readBootId();
  assert.ok(thisBoot);
  // The real reader: a process with this command's mounts reads the same id through its own root.
  const { file, pid, real, settings, cleanup } = await pidfileOfSleeper('the-host-boot');
  try {
    assert.equal(bootIdSeenBy(pid), thisBoot);
    assert.equal(bootIdSeenBy(process.pid), thisBoot);
    // As in the container: this command reads the container's id, the master (the unit's /proc)
    // the host's, which its stamp recorded.
    const nspawn: ProcReaders = {
      stamp: (p) => (p === pid ? { ...real, bootId: 'the-host-boot' } : procStamp(p)),
      argv: procReaders.argv,
      bootId: () => 'the-container-boot',
      bootIdOf: (p) => (p === pid ? 'the-host-boot' : null),
    };
    assert.deepEqual(checkPidfile(file, nspawn), { status: 'running', pid });
    assert.equal(findMaster(settings, nspawn), pid);
    // The pid held by a process that reads another id than the recorded one, or that cannot be
    // looked at: the stamp is from an earlier boot, as before.
    for (const bootIdOf of [() => 'the-container-boot', () => null]) {
      const state = checkPidfile(file, { ...nspawn, bootIdOf });
      assert.equal(state?.status, 'reused');
      assert.match((state as { why: string }).why, /from an earlier boot/);
    }
  } finally {
    cleanup();
  }
});

test('a pidfile that names no process (empty, text, a directory) is stale: not running, and start replaces it; one that cannot be read is not "no pidfile"', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  const file = join(dir, 'corral.pid');
  const settings = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: file } }).settings;
  try {
    for (const [content, why] of [
      ['', /the pidfile .* is empty, so it names no master/],
      ['garbage\n', /the pidfile .* holds no pid \("garbage"\)/],
      ['12abc\n', /holds no pid \("12abc"\)/],
    ] as const) {
      writeFileSync(file, content);
      assert.equal(checkPidfile(file)?.status, 'no-pid', JSON.stringify(content));
      assert.throws(() => findMaster(settings), (err: CorralError) => err.code === 'CORRAL_ERR_NOT_RUNNING' && why.test(err.message));
      assert.match(writePidfile(file) ?? '', /replaced the pidfile .*, which named no process/);
      assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
      removePidfile(file);
    }
    mkdirSync(file);
    assert.equal(checkPidfile(file)?.status, 'no-pid');
    assert.throws(() => findMaster(settings), (err: CorralError) => err.code === 'CORRAL_ERR_NOT_RUNNING' && /the pidfile .* is a directory, not a file/.test(err.message));
    rmSync(file, { recursive: true });
    // A symlink loop stands for any file this user may not read (root reads through chmod 000).
    symlinkSync(file, file);
    assert.equal(checkPidfile(file)?.status, 'unreadable');
    assert.throws(
      () => findMaster(settings),
      (err: CorralError) => {
        assert.equal(err.code, 'CORRAL_ERR_PIDFILE_UNREADABLE');
        assert.match(err.message, /cannot read the pidfile .* \(CORRAL_PIDFILE\): ELOOP.*Whether corral runs is unknown; nothing was signalled\. Run this as the user corral runs as/);
        return true;
      },
    );
    assert.throws(
      () => writePidfile(file),
      (err: CorralError) => err.code === 'CORRAL_ERR_PIDFILE' && /cannot read it to tell whether a master runs: ELOOP.*Nothing was started/.test(err.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start cannot write its pidfile (a directory there, a file where its directory should be): a CORRAL_ERR_PIDFILE naming CORRAL_PIDFILE and the fix, exit 78', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  try {
    mkdirSync(join(dir, 'corral.pid'));
    assert.throws(
      () => writePidfile(join(dir, 'corral.pid')),
      (err: CorralError) => {
        assert.equal(err.code, 'CORRAL_ERR_PIDFILE');
        assert.equal(exitCodeFor(err), EXIT.CONFIG);
        assert.match(err.message, /the pidfile .*corral\.pid \(CORRAL_PIDFILE\): cannot write it: EISDIR.*CORRAL_PIDFILE names a directory: name a file, e\.g\. CORRAL_PIDFILE=.*corral\.pid\/corral\.pid/);
        return true;
      },
    );
    writeFileSync(join(dir, 'run'), '');
    assert.throws(
      () => writePidfile(join(dir, 'run', 'corral.pid')),
      (err: CorralError) => err.code === 'CORRAL_ERR_PIDFILE' && /cannot write it: (ENOTDIR|EEXIST).*point CORRAL_PIDFILE at a file in a writable directory/.test(err.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pidfile owned by a user other than root and the process it names is not trusted: stop, reload and status signal nothing', async () => {
  // A valid pidfile and start stamp for that process: whoever may write the pidfile can write both.
  const { dir, file, holder, pid, real, settings, cleanup } = await pidfileOfSleeper();
  try {
    const fileOwner = lstatSync(file).uid;
    const stranger = fileOwner === 0 ? 4242 : fileOwner + 1;
    // The process runs as the pidfile's owner (the master writes its own pidfile): trusted.
    assert.equal(findMaster(settings, { ...procReaders, owner: () => fileOwner }), pid);
    // The process cannot be looked at: nothing to compare, the kernel judges the signal.
    assert.equal(findMaster(settings, { ...procReaders, owner: () => undefined }), pid);
    // It runs as someone else: the pidfile's owner could have named any of that user's processes.
    if (fileOwner !== 0) {
      assert.throws(
        () => findMaster(settings, { ...procReaders, owner: () => stranger }),
        (err: CorralError) => {
          assert.equal(err.code, 'CORRAL_ERR_PIDFILE_UNTRUSTED');
          assert.match(err.message, new RegExp(`the pidfile .*corral\\.pid belongs to uid ${fileOwner}, but pid ${pid} it names runs as uid ${stranger}: .*nothing was signalled`));
          return true;
        },
      );
    }
    if (process.getuid?.() !== 0) return; // chown below needs root; the case above covered the rule
    // As root, for real: the service account (here nobody, 65534) owns the pidfile and names a
    // process of root's. `corral stop` run by root must not send it SIGTERM.
    chownSync(file, 65534, 65534);
    chownSync(stampFile(file), 65534, 65534);
    const stop = spawnSync(process.execPath, [CORRAL_BIN, 'stop', '--no-wait'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: file }, encoding: 'utf8' });
    assert.equal(stop.status, 1, stop.stderr);
    assert.match(stop.stderr, /CORRAL_ERR_PIDFILE_UNTRUSTED/);
    const status = spawnSync(process.execPath, [CORRAL_BIN, 'status'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: file }, encoding: 'utf8' });
    assert.equal(status.status, EXIT.STATUS_UNKNOWN, status.stderr);
    // A symlink the service account made, to a pidfile root wrote (sshd's, say): the link's owner counts.
    chownSync(file, 0, 0);
    chownSync(stampFile(file), 0, 0);
    const link = join(dir, 'link.pid');
    symlinkSync(file, link);
    lchownSync(link, 65534, 65534);
    writeFileSync(stampFile(link), JSON.stringify({ pid, start_ticks: real.startTicks, boot_id: real.bootId }));
    const viaLink = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: link } }).settings;
    assert.throws(() => findMaster(viaLink), (err: CorralError) => err.code === 'CORRAL_ERR_PIDFILE_UNTRUSTED' && /the pidfile \S*link\.pid, a symlink, belongs to uid 65534, but pid/.test(err.message));
    assert.equal(findMaster(settings), pid, 'root-owned, naming a process of root: trusted');
    assert.equal(holder.exitCode, null);
    assert.equal(holder.signalCode, null, 'the process the pidfile named was not signalled');
  } finally {
    cleanup();
  }
});

test('a pidfile or start stamp that others may write is not trusted, whoever owns it: stop, reload and status signal nothing', async () => {
  // A root-owned pidfile left 0666 by an older corral under a umask of 000: any local user could
  // write the pid of a process of root's there, with a matching stamp, and the owner check passed.
  const { file, holder, pid, settings, cleanup } = await pidfileOfSleeper();
  try {
    const owner = lstatSync(file).uid;
    const proc = { ...procReaders, owner: () => owner };
    assert.equal(findMaster(settings, proc), pid, 'both 0644: trusted');
    for (const [path, mode, words] of [
      [file, 0o666, `the pidfile ${file} is writable by every user (mode 0666)`],
      [file, 0o664, `the pidfile ${file} is writable by its group (mode 0664)`],
      [stampFile(file), 0o646, `its start stamp ${stampFile(file)} is writable by every user (mode 0646)`],
    ] as const) {
      chmodSync(path, mode);
      assert.throws(
        () => findMaster(settings, proc),
        (err: CorralError) => {
          assert.equal(err.code, 'CORRAL_ERR_PIDFILE_UNTRUSTED');
          assert.ok(err.message.startsWith(`${words}: users other than its owner could have named any process there`), err.message);
          assert.match(err.message, new RegExp(`nothing was signalled.*kill -HUP\\|-TERM ${pid}.*chmod go-w ${file} ${stampFile(file)}`));
          return true;
        },
      );
      chmodSync(path, 0o644);
    }
    assert.equal(findMaster(settings, proc), pid, 'made writable by their owner alone: trusted again');
    if (process.getuid?.() === 0) {
      // As root, for real: the stamp alone a stranger's (nobody's), the pidfile root's.
      chownSync(stampFile(file), 65534, 65534);
      assert.throws(() => findMaster(settings), (err: CorralError) => err.code === 'CORRAL_ERR_PIDFILE_UNTRUSTED' && err.message.startsWith(`its start stamp ${stampFile(file)} belongs to uid 65534, but pid ${pid} it names runs as uid 0`));
      const status = spawnSync(process.execPath, [CORRAL_BIN, 'status'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: file }, encoding: 'utf8' });
      assert.equal(status.status, EXIT.STATUS_UNKNOWN, status.stderr);
      chownSync(stampFile(file), 0, 0);
      chmodSync(file, 0o666);
      const stop = spawnSync(process.execPath, [CORRAL_BIN, 'stop', '--no-wait'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: file }, encoding: 'utf8' });
      assert.equal(stop.status, 1, stop.stderr);
      assert.match(stop.stderr, /CORRAL_ERR_PIDFILE_UNTRUSTED.*writable by every user \(mode 0666\)/);
    }
    assert.equal(holder.exitCode, null);
    assert.equal(holder.signalCode, null, 'the process the pidfile named was not signalled');
  } finally {
    cleanup();
  }
});

test('the pidfile, its stamp and a directory made for them are writable by their owner alone, whatever the umask', () => {
  // The commands trust a pidfile by its owner: one left writable by everyone (a umask of 000 at
  // start) let any local user write a pid and a matching stamp, and root's `corral stop` then
  // killed that process (the audit: a `sleep` of root's, stopped through a 0666 pidfile).
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  const previous = process.umask(0o000);
  try {
    const file = join(dir, 'run', 'sub', 'corral.pid');
    writePidfile(file);
    const modeOf = (path: string) => lstatSync(path).mode & 0o777;
    assert.equal(modeOf(file), 0o644);
    assert.equal(modeOf(stampFile(file)), 0o644);
    assert.equal(modeOf(join(dir, 'run')), 0o755);
    assert.equal(modeOf(join(dir, 'run', 'sub')), 0o755);
    updateMasterRecord(file, { gracefulTimeoutS: 7 });
    assert.equal(modeOf(stampFile(file)), 0o644, 'the stamp rewritten by a reload too');
    assert.equal(readMasterRecord(file, process.pid)?.gracefulTimeoutS, 7);

    // Files already there with a wider mode (written under that umask by an older corral) lose
    // group and other write; a stricter mode is kept.
    removePidfile(file);
    writeFileSync(file, '');
    chmodSync(file, 0o666);
    writeFileSync(stampFile(file), '');
    chmodSync(stampFile(file), 0o600);
    writePidfile(file);
    assert.equal(modeOf(file), 0o644);
    assert.equal(modeOf(stampFile(file)), 0o600);
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
    removePidfile(file);
  } finally {
    process.umask(previous);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the pidfile, its stamp and the stamp written at a reload never write through a symlink planted at their path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  try {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep\n');
    chmodSync(victim, 0o666);
    const file = join(dir, 'corral.pid');
    writePidfile(file);
    // The reload's temporary stamp, its name predictable: a link there is removed, not followed.
    symlinkSync(victim, `${stampFile(file)}.${process.pid}.tmp`);
    updateMasterRecord(file, { gracefulTimeoutS: 9 });
    assert.equal(readMasterRecord(file, process.pid)?.gracefulTimeoutS, 9);
    removePidfile(file);
    // A link at the pidfile's own path: refused (ELOOP), the file it points at untouched.
    symlinkSync(victim, file);
    assert.throws(() => writePidfile(file), (err: CorralError) => err.code === 'CORRAL_ERR_PIDFILE');
    assert.equal(readFileSync(victim, 'utf8'), 'keep\n');
    assert.equal(lstatSync(victim).mode & 0o777, 0o666, "the target's mode untouched");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('removing the pidfile never throws: a stamp or pidfile that cannot be removed is returned for the log, and the pidfile still goes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pid-'));
  const file = join(dir, 'corral.pid');
  try {
    writePidfile(file);
    // A stamp that cannot be removed: a directory stands for one in a directory made read-only or
    // root's since the start (EACCES, EROFS), which root itself could not set up here. The master's
    // way out threw on it, and the master stayed up, its children stopped, until SIGKILL.
    rmSync(stampFile(file));
    mkdirSync(stampFile(file));
    writeFileSync(join(stampFile(file), 'x'), '');
    let failed: Error | undefined;
    assert.doesNotThrow(() => {
      failed = removePidfile(file);
    });
    assert.ok(failed, 'the failure is returned, for the log');
    assert.match(failed.message, /corral\.pid\.start/);
    assert.equal(existsSync(file), false, 'the pidfile itself is removed');
    assert.equal(removePidfile(file), undefined, 'nothing to remove: nothing failed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
