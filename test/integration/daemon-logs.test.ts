import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readLogLines, startCorral, waitFor, type LogLine } from '../helpers/corral.js';
import { http, startClientLoop } from '../helpers/http.js';
import { mountSmallDisk, smallDiskUnavailable } from '../helpers/small-disk.js';
import { listeningPortsOf } from '../helpers/tcp-peers.js';

test('8 workers under load share one log file: every line is whole JSON with role, worker, pid and generation', async () => {
  // Round-robin: every worker is dealt connections, so all 8 write into the file at once (with
  // shared accept the kernel may give a light load to a few of them only).
  const c = await startCorral({ app: 'basic.mjs', workers: 8, env: { CORRAL_ACCEPT: 'round-robin' } });
  const loop = startClientLoop(c.url, 40);
  try {
    await waitFor(() => c.events('access').length >= 3000, 30000, '3000 access lines');
    const result = await loop.stop();
    assert.equal(result.failed, 0);
    // Read what the running processes have written so far: a line still being written would show
    // as a torn last line, so the file must end on a newline.
    // The text judged is the very read that ended on one: the workers may still be appending
    // batched access lines, and a second read could end inside one of them.
    const text = await waitFor(() => {
      const read = readFileSync(c.logFile, 'utf8');
      return read.endsWith('\n') && read;
    }, 5000, 'a whole last line');
    const lines = text.split('\n').filter((l) => l !== '');
    assert.ok(text.endsWith('\n'));
    const workers = new Set<unknown>();
    for (const line of lines) {
      const parsed = JSON.parse(line) as Record<string, unknown>; // throws on a torn line
      assert.ok('role' in parsed && 'pid' in parsed && 'gen' in parsed && 'worker' in parsed);
      if (parsed.event === 'access') {
        workers.add(parsed.worker);
        for (const k of ['method', 'path', 'status', 'ms', 'bytes', 'remote', 'worker']) assert.ok(k in parsed, `access line has ${k}`);
        // JSON.parse keeps the last of two equal keys; the line must not carry one twice.
        assert.equal(line.split('"worker":').length, 2, `one worker field: ${line}`);
      }
    }
    assert.equal(workers.size, 8, 'all 8 workers wrote access lines');
  } finally {
    await loop.stop();
    await c.stop();
  }
});

test('USR1 sent to the workers and the keeper themselves (systemctl kill without --kill-who=main) reopens their log file and opens no inspector', async () => {
  // The bundled app (the default CORRAL_APP) runs a keeper.
  const c = await startCorral({ workers: 2 });
  try {
    const appPort = Number(new URL(c.url).port);
    const keeper = await c.waitForLog((l) => l.event === 'keeper.ready' && typeof l.worker_pid === 'number', 30_000, 'keeper.ready');
    await waitFor(() => c.events('worker.ready').length >= 2, 30_000, 'two workers ready');
    const children = [Number(keeper.worker_pid), ...c.events('worker.ready').map((l) => Number(l.worker_pid))];
    renameSync(c.logFile, `${c.logFile}.1`);
    for (const pid of children) process.kill(pid, 'SIGUSR1');
    // Node opens the V8 inspector on 127.0.0.1:9229 for a SIGUSR1 nobody listens to: a port any
    // local user may connect to and run code as corral's user.
    for (const pid of children) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual([...(await listeningPortsOf(pid))].filter((p) => p !== appPort), [], `pid ${pid} listens on no port of its own`);
    }
    // The workers write to the new file. The master, not signalled, writes to the moved one
    // until its check of the path (file-watch.ts) finds the new file there and it follows.
    await waitFor(async () => {
      await http(`${c.url}/api/players`, { headers: { connection: 'close' } });
      const access = readLogLines(c.logFile).filter((l) => l.event === 'access');
      return new Set(access.map((l) => l.worker)).size === 2;
    }, 10_000, 'both workers writing to the new file');
    // Again now that the workers have acted on their USR1 (they write to the new file): the check
    // 200 ms after the signal alone passed for an inspector a loaded box opened later than that.
    for (const pid of children) assert.deepEqual([...(await listeningPortsOf(pid))].filter((p) => p !== appPort), [], `pid ${pid} listens on no port of its own, seconds after its USR1`);
    // Its lines about the reopen (other lines, host.cpu_high on a busy machine, may come before:
    // the watch's line is said once the master's reopen is done).
    const reopenLines = readLogLines(c.logFile).filter((l) => l.role === 'master' && ['log.file_replaced', 'log.file_removed', 'logs.reopen'].includes(String(l.event)));
    assert.ok(reopenLines.length === 0 || reopenLines[0]?.event === 'log.file_replaced', `the master was not signalled, only followed the new file: ${JSON.stringify(reopenLines[0])}`);
    assert.ok(!reopenLines.some((l) => l.trigger === 'USR1'), 'no USR1 reached the master');
    for (const pid of children) process.kill(pid, 0); // all alive
    const exits = [...readLogLines(`${c.logFile}.1`), ...readLogLines(c.logFile)].filter((l) => l.event === 'worker.exit' || l.event === 'keeper.exit');
    assert.deepEqual(exits, [], 'no child exited');
  } finally {
    await c.stop();
  }
});

test('USR1 reopens the log file after logrotate moved it, losing no lines', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 2 });
  try {
    for (let i = 0; i < 20; i++) assert.equal((await http(`${c.url}/?before=${i}`)).status, 200);
    renameSync(c.logFile, `${c.logFile}.1`);
    // Until USR1, lines keep going to the moved file (same inode), as with logrotate's create mode.
    c.kill('SIGUSR1');
    await waitFor(() => readLogLines(c.logFile).some((l) => l.event === 'logs.reopen'), 5000, 'logs.reopen in the new file');
    assert.equal(readLogLines(c.logFile).find((l) => l.event === 'logs.reopen')?.trigger, 'USR1');
    // Workers reopen on the master's IPC message; give them a moment to receive it.
    await waitFor(async () => {
      await http(`${c.url}/?probe=1`, { headers: { connection: 'close' } });
      const access = readLogLines(c.logFile).filter((l) => l.event === 'access');
      return new Set(access.map((l) => l.worker)).size === 2;
    }, 10000, 'both workers writing to the new file');
    for (let i = 0; i < 20; i++) assert.equal((await http(`${c.url}/?after=${i}`)).status, 200);
    // Access lines are written in batches (at most ACCESS_FLUSH_MS late), each worker its own: a
    // later request's line can be on disk before an earlier one answered by the other worker.
    const accessLines = () => [...readLogLines(`${c.logFile}.1`), ...readLogLines(c.logFile)].filter((l) => l.event === 'access');
    const paths = Array.from({ length: 20 }, (_, i) => [`/?before=${i}`, `/?after=${i}`]).flat();
    await waitFor(() => {
      const logged = new Set(accessLines().map((l) => l.path));
      return paths.every((p) => logged.has(p));
    }, 5000, 'an access line for every request').catch(() => undefined); // the asserts below name what is missing
    const all = accessLines();
    for (let i = 0; i < 20; i++) {
      assert.equal(all.filter((l) => l.path === `/?before=${i}`).length, 1, `before=${i} logged once`);
      assert.equal(all.filter((l) => l.path === `/?after=${i}`).length, 1, `after=${i} logged once`);
    }
    assert.ok(readLogLines(c.logFile).some((l) => l.path === '/?after=19'), 'new lines land in the new file');
  } finally {
    await c.stop();
  }
});

/** The shipped logrotate policy's postrotate script, with the pidfile it reads moved to `pidFile`. */
function postrotateScript(pidFile: string): string {
  const policy = readFileSync(new URL('../../../config/logrotate/corral', import.meta.url), 'utf8');
  const script = /^\s*postrotate\n([\s\S]*?)^\s*endscript$/m.exec(policy)?.[1];
  assert.ok(script, 'a postrotate script in config/logrotate/corral');
  return script.replaceAll('/run/corral/corral.pid', pidFile);
}

test("logrotate's postrotate (no corral.service) signals the master its pidfile names, and nothing else: a stale pidfile's reused pid is left alone", async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1 });
  const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    renameSync(c.logFile, `${c.logFile}.1`);
    const rotated = spawnSync('sh', ['-c', postrotateScript(c.pidFile)], { encoding: 'utf8' });
    assert.equal(rotated.status, 0, rotated.stderr);
    await waitFor(() => readLogLines(c.logFile).some((l) => l.event === 'logs.reopen'), 5000, 'logs.reopen in the new file');

    // A master killed outright leaves its pidfile; the kernel gives its pid to another process.
    const stale = `${c.pidFile}.stale`;
    writeFileSync(stale, `${bystander.pid}\n`);
    const refused = spawnSync('sh', ['-c', postrotateScript(stale)], { encoding: 'utf8' });
    assert.equal(refused.status, 0);
    assert.match(refused.stderr, new RegExp(`names pid ${bystander.pid}, which is not a corral master; not signalled`));
    // The signal would have been delivered before the script returned: a process it ended is
    // gone or a zombie by now, whatever this process has heard of its exit yet.
    const state = readFileSync(`/proc/${bystander.pid}/stat`, 'utf8').split(') ')[1]?.[0];
    assert.equal(state === 'S' || state === 'R', true, `the process that took the pid is still running (state ${state})`);
  } finally {
    bystander.kill();
    await c.stop();
  }
});

test('a log file that cannot be written (disk full) costs lines, not service: said on stderr, resumed after the next rotation, stop still exits 0', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 2 });
  try {
    // /dev/full fails every write with ENOSPC, as a full filesystem does.
    renameSync(c.logFile, `${c.logFile}.1`);
    symlinkSync('/dev/full', c.logFile);
    c.kill('SIGUSR1');
    const failedIn = (role: string) => c.stderr().split('\n').some((l) => l.includes('"event":"log.write_failed"') && l.includes(`"role":"${role}"`));
    await waitFor(() => failedIn('master'), 5000, 'the master saying on stderr that the log cannot be written');
    // The workers' own lines (access lines, batched) fail too; each says so once, then serves on.
    await waitFor(async () => {
      assert.equal((await http(`${c.url}/?full=1`, { headers: { connection: 'close' } })).status, 200);
      return failedIn('worker');
    }, 10000, 'a worker saying on stderr that the log cannot be written');
    for (let i = 0; i < 10; i++) assert.equal((await http(`${c.url}/?during=${i}`)).status, 200);
    const failed = c.stderr().split('\n').filter((l) => l.includes('"event":"log.write_failed"')).map((l) => JSON.parse(l) as LogLine);
    assert.equal(failed[0]?.code, 'CORRAL_ERR_LOG_WRITE');
    assert.equal(new Set(failed.map((l) => l.pid)).size, failed.length, 'once per process');
    // (Not c.logs(): reading /dev/full never ends.)
    assert.equal(readLogLines(`${c.logFile}.1`).filter((l) => l.event === 'master.uncaught' || l.event === 'worker.uncaught').length, 0);

    // Space is back: the next rotation and USR1 give every process a writable file again.
    unlinkSync(c.logFile);
    c.kill('SIGUSR1');
    await c.waitForLog((l) => l.event === 'log.write_recovered' && l.role === 'master', 5000, 'the master writing again');
    await waitFor(async () => {
      await http(`${c.url}/?after=1`, { headers: { connection: 'close' } });
      return c.events('log.write_recovered').some((l) => l.role === 'worker');
    }, 10000, 'a worker writing again');

    // Full again, and stopped while full: the master's exit must not wait for the file.
    renameSync(c.logFile, `${c.logFile}.2`);
    symlinkSync('/dev/full', c.logFile);
    c.kill('SIGUSR1');
    const masterFailures = () => c.stderr().split('\n').filter((l) => l.includes('"event":"log.write_failed"') && l.includes('"role":"master"')).length;
    await waitFor(() => masterFailures() === 2, 5000, 'the master saying so again');
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 15000);
    const exit = await c.exited;
    clearTimeout(timer);
    assert.deepEqual(exit, { code: 0, signal: null }, 'graceful stop exits 0, not hung flushing the failed file');
  } finally {
    await c.stop();
  }
});

/** The JSON lines of a process's stderr read so far, up to its last newline. */
function completeStderrLines(text: string): LogLine[] {
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        throw new Error(`not JSON: ${l.slice(0, 300)}`);
      }
    });
}

const logDiskUnavailable = smallDiskUnavailable(join(tmpdir(), `corral-log-disk-probe-${process.pid}`));

test('a log disk that fills while corral runs: said once per process however long it lasts, and, once room is back, writing resumes by itself with no line or signal needed', { skip: logDiskUnavailable }, async () => {
  // The test's directory (its log file, its pidfile) on a small filesystem; the data dir elsewhere.
  const disk = mountSmallDisk(mkdtempSync(join(tmpdir(), 'corral-log-disk-')), 512);
  const dataDir = mkdtempSync(join(tmpdir(), 'corral-log-disk-data-'));
  const c = await startCorral({ app: 'basic.mjs', workers: 2, cwd: disk.dir, env: { CORRAL_DATA_DIR: dataDir } });
  try {
    // Access lines written before the disk fills (their batch goes out within a second): each
    // worker's access buffer is empty from then on.
    for (let i = 0; i < 20; i++) assert.equal((await http(`${c.url}/?before=${i}`, { headers: { connection: 'close' } })).status, 200);
    await new Promise((r) => setTimeout(r, 1500));
    disk.fill();
    // The workers' own lines fail (request.error, on their main destination), and the master's (a
    // worker killed: its exit and its replacement's boot).
    for (let i = 0; i < 20; i++) assert.equal((await http(`${c.url}/throw`, { headers: { connection: 'close' } })).status, 500);
    const victim = Number(c.events('worker.ready').at(-1)?.worker_pid);
    process.kill(victim, 'SIGKILL');
    // Whole lines only: the stderr read so far may end in part of one.
    const failedLines = () => completeStderrLines(c.stderr()).filter((l) => l.event === 'log.write_failed');
    await waitFor(() => failedLines().some((l) => l.role === 'master') && failedLines().some((l) => l.role === 'worker'), 15_000, 'the master and a worker saying on stderr that the log cannot be written');
    // Seconds of a full disk: the access lines' periodic flush writes 0 bytes when it holds none,
    // which a full disk takes; each read as a recovery, and the next line's failure (the recovery
    // line's own) was said again, once a second in every worker.
    await new Promise((r) => setTimeout(r, 4000));
    const failed = failedLines();
    assert.equal(new Set(failed.map((l) => l.pid)).size, failed.length, `once per process: ${failed.map((l) => `${String(l.role)} ${String(l.pid)}`).join(', ')}`);
    // A write the full disk cut short leaves part of a line, its rest written once there is room
    // (README: Logs): the file is read line by line, such parts skipped.
    const written = () =>
      readFileSync(c.logFile, 'utf8')
        .split('\n')
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as LogLine];
          } catch {
            return [];
          }
        });
    assert.deepEqual(written().filter((l) => l.event === 'log.write_recovered'), []);

    // Room again, and nothing logged, nothing signalled: the master writes what it held.
    disk.free();
    await waitFor(() => written().some((l) => l.event === 'log.write_recovered' && l.role === 'master'), 10_000, 'the master writing its held lines by itself');
    // Its lines of the full disk's time are in the file, not lost (the buffer held them).
    assert.ok(
      written().some((l) => l.event === 'worker.exit' && Number(l.worker_pid) === victim),
      // What the master wrote, for the next reader of a failure here (it failed once, on a loaded box).
      `the killed worker's exit line (pid ${victim}), written once room was back; the master's lines in the file: ${JSON.stringify(written().filter((l) => l.role === 'master').map((l) => [l.event, l.worker_pid ?? l.pid]).slice(-30))}; the master's stderr: ${c.stderr().slice(-1500)}`,
    );
  } finally {
    await c.stop();
    disk.unmount();
    rmSync(disk.dir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('USR1 when the new log file cannot be opened: every process says so and keeps writing to the rotated file; the next USR1 that can open it moves them', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 2 });
  try {
    renameSync(c.logFile, `${c.logFile}.1`);
    // A directory where the file should be: open() fails (EISDIR), as an unwritable directory would.
    mkdirSync(c.logFile);
    c.kill('SIGUSR1');
    const rotated = () => readLogLines(`${c.logFile}.1`);
    await waitFor(() => rotated().some((l) => l.event === 'log.reopen_failed' && l.role === 'master'), 5000, 'log.reopen_failed from the master in the rotated file');
    const workersSaid = () => new Set(rotated().filter((l) => l.event === 'log.reopen_failed' && l.role === 'worker').map((l) => l.worker));
    await waitFor(() => workersSaid().size === 2, 10_000, 'log.reopen_failed from both workers').catch((err: Error) => {
      // What each process said, in the file and on stderr, for the next reader of a failure here.
      throw new Error(`${err.message}; in the rotated file from workers ${JSON.stringify([...workersSaid()])}; stderr: ${c.stderr().slice(-2000)}`);
    });
    assert.equal(rotated().filter((l) => l.event === 'log.reopen_failed' && l.role === 'worker').length, 2, 'once per worker');
    // stderr reaches this test through a pipe of its own, not in step with the file.
    await waitFor(() => /"event":"log.reopen_failed"/.test(c.stderr()), 5000, 'log.reopen_failed said on stderr too');
    for (let i = 0; i < 5; i++) assert.equal((await http(`${c.url}/?during=${i}`)).status, 200);

    rmdirSync(c.logFile);
    c.kill('SIGUSR1');
    await waitFor(() => readLogLines(c.logFile).some((l) => l.event === 'logs.reopen'), 5000, 'logs.reopen in the new file');
    await waitFor(async () => {
      await http(`${c.url}/?after=1`, { headers: { connection: 'close' } });
      return new Set(readLogLines(c.logFile).filter((l) => l.event === 'access').map((l) => l.worker)).size === 2;
    }, 10000, 'both workers writing to the new file');
    // The reopen that worked is no write failure (sonic-boom closes the old fd twice: EBADF).
    assert.doesNotMatch(c.stderr(), /log.write_failed/);
    assert.deepEqual(readLogLines(c.logFile).filter((l) => l.event === 'log.write_recovered' || l.event === 'master.uncaught' || l.event === 'worker.uncaught'), []);
    const exit = await c.stop(15000);
    assert.deepEqual(exit, { code: 0, signal: null });
  } finally {
    await c.stop();
  }
});

/** Why a directory cannot be made immutable here (chattr +i: no new file in it, for root too), or undefined. */
function immutableUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for chattr +i (a directory root cannot write in)';
  const dir = mkdtempSync(join(tmpdir(), 'corral-immutable-probe-'));
  try {
    const r = spawnSync('chattr', ['+i', dir]);
    if (r.status !== 0) return `chattr +i is not available here: ${String(r.stderr ?? r.error?.message).trim()}`;
    spawnSync('chattr', ['-i', dir]);
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a log file moved away whose directory cannot take a new one (mv, chmod 0555, USR1): log.file_removed says it could not be created again, not that it was reopened", { skip: immutableUnavailable() }, async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1 });
  let locked = false;
  try {
    const rotated = () => readLogLines(`${c.logFile}.1`);
    renameSync(c.logFile, `${c.logFile}.1`);
    // What `chmod 0555` on the directory does to a user other than root: no new file in it.
    assert.equal(spawnSync('chattr', ['+i', c.dir]).status, 0);
    locked = true;
    c.kill('SIGUSR1');
    await waitFor(() => rotated().some((l) => l.event === 'log.reopen_failed' && l.role === 'master'), 5000, 'log.reopen_failed from the master in the rotated file');
    // The file watch then finds no file at the path (two checks, 2 s apart) and asks a reopen again.
    const removed = await waitFor(() => rotated().find((l) => l.event === 'log.file_removed'), 15_000, 'log.file_removed in the rotated file');
    assert.equal(removed.reopened, false);
    assert.doesNotMatch(String(removed.msg), /created again and reopened/);
    assert.match(String(removed.msg), /could not be created again \(log\.reopen_failed says why\), so every process keeps writing to the file it had open/);
    assert.equal(existsSync(c.logFile), false, 'no file at CORRAL_LOG_FILE');
    // Writing goes on, to the rotated file.
    assert.equal((await http(`${c.url}/?after=1`, { headers: { connection: 'close' } })).status, 200);
    await waitFor(() => rotated().some((l) => l.event === 'access' && l.path === '/?after=1'), 5000, 'the access line in the rotated file');
  } finally {
    if (locked) spawnSync('chattr', ['-i', c.dir]);
    await c.stop();
  }
});

test('a new log file is created 0640 under umask 022: its lines (client addresses, events) are not for every local user', async () => {
  // A shell's usual umask, which left the file 0644 outside systemd.
  const previous = process.umask(0o022);
  const c = await startCorral({ app: 'basic.mjs', workers: 1 });
  process.umask(previous);
  try {
    assert.equal((await http(`${c.url}/?mode=1`)).status, 200);
    await c.waitForLog((l) => l.event === 'access' && l.path === '/?mode=1', 5000, 'the access line');
    assert.equal((statSync(c.logFile).mode & 0o777).toString(8), '640');
  } finally {
    await c.stop();
  }
});

/** The processes among `pids` that still hold `file` open after it was removed. */
function holdingRemoved(pids: readonly number[], file: string): number[] {
  return pids.filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === `${file} (deleted)`;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
}

test('a log file removed while corral writes it (rm to free a disk) is created again within seconds without a USR1: every process writes the new one and none holds the removed one', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 2 });
  try {
    const pids = [c.pid, ...c.logs().filter((l) => l.event === 'worker.ready' || l.event === 'keeper.ready').map((l) => Number(l.worker_pid)).filter((pid) => pid > 0)];
    assert.equal(pids.length, 4, 'the master, two workers and the keeper');
    for (let i = 0; i < 5; i++) assert.equal((await http(`${c.url}/?before=${i}`)).status, 200);
    unlinkSync(c.logFile);
    // Every process kept writing to the removed file until a USR1: tail -F and grep saw nothing,
    // and its blocks were never freed.
    const removed = await waitFor(() => c.events('log.file_removed')[0], 15_000, 'log.file_removed in a new file');
    assert.equal(removed.level, 'warn');
    assert.equal(removed.code, 'CORRAL_ERR_LOG_WRITE');
    assert.equal(removed.reopened, true, 'said once the reopen worked');
    assert.match(String(removed.msg), /created again and reopened by every process/);
    await waitFor(async () => {
      await http(`${c.url}/?after=1`, { headers: { connection: 'close' } });
      return new Set(c.events('access').map((l) => l.worker)).size === 2;
    }, 10_000, 'both workers writing to the new file');
    await waitFor(() => holdingRemoved(pids, c.logFile).length === 0 || undefined, 5000, 'no process holding the removed file').catch(() => undefined);
    assert.deepEqual(holdingRemoved(pids, c.logFile), [], 'processes still writing to the removed file');
    assert.equal(c.events('log.file_removed').length, 1, 'said once');
    // The reopen is said as the file watch's, not as a USR1 nobody sent.
    const reopen = await waitFor(() => c.events('logs.reopen')[0], 5000, 'logs.reopen');
    assert.equal(reopen.trigger, 'file_watch');
    assert.doesNotMatch(String(reopen.msg), /USR1/);
    const exit = await c.stop(15000);
    assert.deepEqual(exit, { code: 0, signal: null });
  } finally {
    await c.stop();
  }
});

test("the master's stdout and stderr closed by their reader (corral start | head): an app's console.log and console.error cost that output, not the service", async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1 });
  try {
    // The reader goes away: the master's next write to either stream fails with EPIPE.
    c.proc.stdout?.destroy();
    c.proc.stderr?.destroy();
    for (const query of ['', '?to=stderr', '', '?to=stderr']) assert.equal((await http(`${c.url}/print${query}`)).status, 200);
    // Before, the console.log's EPIPE ended the master at once with 0 (no stop, no master.exit,
    // the pidfile left: systemd's Restart=on-failure does not restart a clean exit), and the
    // console.error's was an uncaught exception that stopped the site and exited 70.
    await waitFor(() => c.events('master.output_closed').length === 2 || undefined, 10_000, 'master.output_closed for stdout and stderr');
    const closed = c.events('master.output_closed');
    assert.deepEqual(closed.map((l) => l.stream).sort(), ['stderr', 'stdout'], 'each said once');
    assert.ok(closed.every((l) => l.level === 'warn' && l.code === 'CORRAL_ERR_LOG_WRITE'));
    for (let i = 0; i < 3; i++) assert.equal((await http(`${c.url}/print?to=stderr`)).status, 200);
    assert.equal((await http(`${c.url}/`)).status, 200, 'still serving');
    assert.deepEqual(c.events('master.uncaught'), []);
    assert.deepEqual(c.events('worker.exit'), [], 'the worker was not stopped');
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 15000);
    const exit = await c.exited;
    clearTimeout(timer);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(c.events('master.exit').length, 1, 'the master stopped through its own lifecycle');
  } finally {
    await c.stop();
  }
});
