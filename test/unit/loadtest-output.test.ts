// Where `corral loadtest` writes result.json and report.html: refused before the load when it
// cannot be written, created only when the load starts, and a failed write at the end named as such.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, fstatSync, fsyncSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LoadtestError, LOADTEST_EXIT } from '../../src/loadtest/exit.js';
import { loadtestRefusal } from '../helpers/loadtest-refusal.js';
import { syncDirectory } from '../../src/loadtest/durable-file.js';
import { checkOutput, createOutputDir, OutputFailed, outputFiles, OutputNotSynced, writeOutput, writeResult } from '../../src/loadtest/output.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: fsync failed`), { code });
}

/**
 * fsync as the disk does it, except for directories, where `fail` decides: what each directory
 * fsync saw in the directory, and the descriptors it was given.
 */
function directorySyncs(dir: string, fail?: string): { fsync: (fd: number) => void; seen: string[][]; fds: number[] } {
  const seen: string[][] = [];
  const fds: number[] = [];
  const fsync = (fd: number): void => {
    if (!fstatSync(fd).isDirectory()) return fsyncSync(fd);
    fds.push(fd);
    seen.push(readdirSync(dir).sort().map((name) => (name.startsWith('.') ? name : `${name}: ${readFileSync(join(dir, name), 'utf8')}`)));
    if (fail !== undefined) throw errno(fail);
    fsyncSync(fd);
  };
  return { fsync, seen, fds };
}

/**
 * fsync as the disk does it, recording which directories were flushed (by inode: named once the
 * test knows them), in order; a directory flush fails with `fail` when given.
 */
function flushedDirectories(fail?: string): { fsync: (fd: number) => void; named: (...dirs: string[]) => string[] } {
  const inodes: number[] = [];
  const fsync = (fd: number): void => {
    if (!fstatSync(fd).isDirectory()) return fsyncSync(fd);
    inodes.push(fstatSync(fd).ino);
    if (fail !== undefined) throw errno(fail);
    fsyncSync(fd);
  };
  const named = (...dirs: string[]): string[] => {
    const names = new Map(dirs.map((d) => [statSync(d).ino, d]));
    return inodes.map((ino) => names.get(ino) ?? `another directory (inode ${ino})`);
  };
  return { fsync, named };
}

function refused(dir: string, pattern: RegExp): void {
  assert.throws(() => checkOutput(outputFiles(dir)), loadtestRefusal(pattern));
}

describe('loadtest output directory', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'corral-loadtest-output-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('accepts a new directory under a writable one, and creates nothing while checking', () => {
    const dir = join(root, 'new', 'deeper');
    checkOutput(outputFiles(dir));
    assert.equal(existsSync(join(root, 'new')), false);
    createOutputDir(outputFiles(dir));
    assert.equal(existsSync(dir), true);
    checkOutput(outputFiles(dir));
  });

  it('names the result files an earlier run left there, which this one replaces', () => {
    const dir = join(root, 'rerun');
    assert.deepEqual(checkOutput(outputFiles(dir)), [], 'nothing there yet');
    mkdirSync(dir);
    assert.deepEqual(checkOutput(outputFiles(dir)), []);
    writeFileSync(join(dir, 'result.json'), '{}');
    assert.deepEqual(checkOutput(outputFiles(dir)), [join(dir, 'result.json')]);
    writeFileSync(join(dir, 'report.html'), '<html>');
    assert.deepEqual(checkOutput(outputFiles(dir)), [join(dir, 'result.json'), join(dir, 'report.html')]);
  });

  it('refuses --out naming a file, or under a file', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    refused(file, /^--out: cannot write the result to .*a-file: .*a-file is not a directory; pass --out with a directory you can write to$/);
    refused(join(file, 'sub'), /ENOTDIR/);
  });

  it('refuses a directory whose result.json or report.html is not a file', () => {
    for (const name of ['result.json', 'report.html']) {
      const dir = join(root, `taken-${name}`);
      mkdirSync(join(dir, name), { recursive: true });
      refused(dir, new RegExp(`${name.replace('.', '\\.')} exists and is not a file`));
    }
  });

  it('refuses a directory this user cannot write to', { skip: process.getuid?.() === 0 ? 'root may write anywhere' : false }, () => {
    const dir = join(root, 'read-only');
    mkdirSync(dir);
    chmodSync(dir, 0o555);
    try {
      refused(dir, /read-only is not writable \(EACCES/);
      refused(join(dir, 'sub'), /read-only is not writable \(EACCES/);
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  it('a write that fails after the run is an output error with exit 1, not a crash', () => {
    const dir = join(root, 'late');
    mkdirSync(join(dir, 'result.json'), { recursive: true });
    assert.throws(() => writeOutput(outputFiles(dir), '{}\n', '<html>'), (err: unknown) => {
      assert.ok(err instanceof LoadtestError, String(err));
      assert.equal(err.code, 'CORRAL_ERR_LOADTEST_OUTPUT');
      assert.equal(err.exitCode, LOADTEST_EXIT.FAILURE);
      assert.match(err.message, /could not write the result to .*late after the run: EISDIR.*the verdict above stands/);
      return true;
    });
    assert.deepEqual(readdirSync(dir), ['result.json'], 'no temporary file left behind');
    const ok = join(root, 'written');
    writeOutput(outputFiles(ok), '{}\n', '<html>');
    assert.equal(readFileSync(join(ok, 'result.json'), 'utf8'), '{}\n');
    assert.equal(readFileSync(join(ok, 'report.html'), 'utf8'), '<html>');
  });

  it('replaces earlier result files only once both new ones are written whole, and says what a failed write left', () => {
    const dir = join(root, 'earlier');
    mkdirSync(dir);
    writeFileSync(join(dir, 'result.json'), '{"earlier":true}\n');
    writeFileSync(join(dir, 'report.html'), '<p>earlier</p>\n');
    // report.html's temporary name taken (as by a directory): its write fails after result.json's
    // new text was written in full, which must still not replace the earlier result.json.
    const blocked = join(dir, `.report.html.${process.pid}.tmp`);
    mkdirSync(blocked);
    assert.throws(() => writeOutput(outputFiles(dir), '{"new":true}\n', '<p>new</p>\n'), (err: unknown) => {
      assert.ok(err instanceof LoadtestError, String(err));
      assert.equal(err.code, 'CORRAL_ERR_LOADTEST_OUTPUT');
      assert.equal(err.exitCode, LOADTEST_EXIT.FAILURE);
      assert.match(err.message, /could not write the result to .*earlier after the run: EEXIST.*; the verdict above stands; result\.json and report\.html are the earlier ones, left as they were$/);
      return true;
    });
    assert.equal(readFileSync(join(dir, 'result.json'), 'utf8'), '{"earlier":true}\n');
    assert.equal(readFileSync(join(dir, 'report.html'), 'utf8'), '<p>earlier</p>\n');
    assert.deepEqual(readdirSync(dir).sort(), [`.report.html.${process.pid}.tmp`, 'report.html', 'result.json'], "result.json's temporary file removed");
    rmSync(blocked, { recursive: true });
    writeOutput(outputFiles(dir), '{"new":true}\n', '<p>new</p>\n');
    assert.equal(readFileSync(join(dir, 'result.json'), 'utf8'), '{"new":true}\n');
    assert.equal(readFileSync(join(dir, 'report.html'), 'utf8'), '<p>new</p>\n');
    assert.deepEqual(readdirSync(dir).sort(), ['report.html', 'result.json']);
  });

  it('writes result.json when the report cannot be rendered, and says the report failed: an output error, exit 1', () => {
    // As a run of hours did: the report's charts overflowed the stack, and the result was lost with it.
    const overflow = (): string => {
      throw new RangeError('Maximum call stack size exceeded');
    };
    const dir = join(root, 'no-report');
    mkdirSync(dir);
    assert.throws(() => writeResult(outputFiles(dir), '{"new":true}\n', overflow), (err: unknown) => {
      assert.ok(err instanceof OutputFailed && !(err instanceof OutputNotSynced), String(err));
      assert.equal(err.code, 'CORRAL_ERR_LOADTEST_OUTPUT');
      assert.equal(err.exitCode, LOADTEST_EXIT.FAILURE);
      assert.equal(err.message, `could not render report.html after the run: Maximum call stack size exceeded; the verdict above stands; result.json is this run's, in place in ${dir}; report.html was not written`);
      assert.deepEqual(err.written, [join(dir, 'result.json')]);
      return true;
    });
    assert.deepEqual(readdirSync(dir), ['result.json']);
    assert.equal(readFileSync(join(dir, 'result.json'), 'utf8'), '{"new":true}\n');
    // A re-run into the same --out: the earlier report would pass for this run's, beside its result.
    writeFileSync(join(dir, 'report.html'), '<p>earlier</p>\n');
    assert.throws(() => writeResult(outputFiles(dir), '{"again":true}\n', overflow), /; report\.html was not written \(the earlier one was removed: it described another run\)$/);
    assert.deepEqual(readdirSync(dir), ['result.json']);
    assert.equal(readFileSync(join(dir, 'result.json'), 'utf8'), '{"again":true}\n');
    writeResult(outputFiles(dir), '{}\n', () => '<html>');
    assert.deepEqual(readdirSync(dir).sort(), ['report.html', 'result.json']);
  });

  it('removes the temporary files of writers that are gone (kill -9 while writing), and keeps those of live ones', () => {
    const dir = join(root, 'leftovers');
    mkdirSync(dir);
    // A process that has ended: its pid now names no process (ESRCH).
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    assert.ok(gone !== undefined && gone > 0);
    // Live writers: the process that started this test, and init (another user's for a non-root
    // user, whose kill(pid, 0) fails with EPERM: alive all the same).
    const live = [process.ppid, 1];
    const leftovers = [`.result.json.${gone}.tmp`, `.report.html.${gone}.tmp`];
    const kept = [...live.map((pid) => `.result.json.${pid}.tmp`), `.report.html.${live[0]}.tmp`];
    // Not of the naming scheme: another file's temporary, a pid 0 (kill would take it as the whole group), no pid.
    const others = [`.notes.txt.${gone}.tmp`, '.result.json.0.tmp', '.report.html.tmp', 'keep.txt'];
    for (const name of [...leftovers, ...kept, ...others]) writeFileSync(join(dir, name), 'half a resul');
    writeOutput(outputFiles(dir), '{}\n', '<html>');
    assert.deepEqual(readdirSync(dir).sort(), [...kept, ...others, 'report.html', 'result.json'].sort());
    for (const name of kept) assert.equal(readFileSync(join(dir, name), 'utf8'), 'half a resul', `${name} is left to its writer`);
  });

  it('flushes the directory once both files are renamed into place, so a power cut cannot undo the renames', () => {
    const dir = join(root, 'flushed');
    mkdirSync(dir);
    writeFileSync(join(dir, 'result.json'), '{"earlier":true}\n');
    const syncs = directorySyncs(dir);
    writeOutput(outputFiles(dir), '{"new":true}\n', '<p>new</p>\n', syncs.fsync);
    assert.deepEqual(syncs.seen, [['report.html: <p>new</p>\n', 'result.json: {"new":true}\n']], 'one directory fsync, after both renames, no temporary file left');
    assert.throws(() => fstatSync(syncs.fds[0] as number), /EBADF/, 'the directory is closed again');
  });

  it('takes a filesystem that cannot fsync a directory (EINVAL, EISDIR) as no failure', () => {
    for (const code of ['EINVAL', 'EISDIR']) {
      const dir = join(root, `no-dir-fsync-${code}`);
      mkdirSync(dir);
      const syncs = directorySyncs(dir, code);
      writeOutput(outputFiles(dir), '{}\n', '<html>', syncs.fsync);
      assert.equal(syncs.seen.length, 1);
      assert.deepEqual(readdirSync(dir).sort(), ['report.html', 'result.json']);
      assert.equal(readFileSync(join(dir, 'result.json'), 'utf8'), '{}\n');
    }
  });

  it("tolerates Linux's own refusal to fsync a directory of /proc", { skip: existsSync('/proc/self') ? false : 'no /proc' }, () => {
    assert.doesNotThrow(() => syncDirectory('/proc'));
  });

  it('reports a directory fsync that fails otherwise (EIO) as an output error, exit 1, saying the files are in place', () => {
    const dir = join(root, 'dir-fsync-eio');
    mkdirSync(dir);
    const syncs = directorySyncs(dir, 'EIO');
    assert.throws(() => writeOutput(outputFiles(dir), '{"new":true}\n', '<p>new</p>\n', syncs.fsync), (err: unknown) => {
      assert.ok(err instanceof OutputNotSynced, String(err));
      assert.equal(err.code, 'CORRAL_ERR_LOADTEST_OUTPUT');
      assert.equal(err.exitCode, LOADTEST_EXIT.FAILURE);
      assert.equal(
        err.message,
        `could not flush ${dir} to disk after writing the result: EIO: fsync failed; the verdict above stands; result.json and report.html are this run's, in place, but a power cut may yet undo their renames`,
      );
      return true;
    });
    assert.throws(() => fstatSync(syncs.fds[0] as number), /EBADF/, 'the directory is closed after the failure');
    assert.deepEqual(readdirSync(dir).sort(), ['report.html', 'result.json']);
    assert.equal(readFileSync(join(dir, 'result.json'), 'utf8'), '{"new":true}\n');
  });

  it('a failed write into a new directory says nothing was written', () => {
    const dir = join(root, 'fresh');
    mkdirSync(join(dir, `.result.json.${process.pid}.tmp`), { recursive: true });
    assert.throws(() => writeOutput(outputFiles(dir), '{}\n', '<html>'), /; result\.json and report\.html were not written$/);
    assert.equal(existsSync(join(dir, 'result.json')), false);
    assert.equal(existsSync(join(dir, 'report.html')), false);
  });

  it('gives a run without --out a directory of its own: a name taken (by a run started in the same second) gets a suffix', () => {
    const wanted = outputFiles(join(root, 'own', 'loadtest-20250102-030405'));
    assert.deepEqual(checkOutput(wanted, true), [], 'where it goes is checked; nothing is created');
    assert.equal(existsSync(join(root, 'own')), false);
    const first = createOutputDir(wanted, true).files;
    const second = createOutputDir(wanted, true).files;
    writeFileSync(`${wanted.dir}-3`, 'a file by that name');
    const third = createOutputDir(wanted, true).files;
    assert.deepEqual([first.dir, second.dir, third.dir], [wanted.dir, `${wanted.dir}-2`, `${wanted.dir}-4`]);
    assert.deepEqual(third, outputFiles(`${wanted.dir}-4`));
    // An earlier run's files under the name are not this run's to replace.
    writeOutput(first, '{}\n', '<html>');
    assert.deepEqual(checkOutput(wanted, true), []);
    assert.equal(createOutputDir(wanted, true).files.dir, `${wanted.dir}-5`);
  });

  it('an --out given is shared by the runs that name it, as a re-run', () => {
    const given = outputFiles(join(root, 'given'));
    assert.deepEqual(createOutputDir(given), { files: given, created: [given.dir] });
    assert.deepEqual(createOutputDir(given), { files: given, created: [] }, 'made by the first run, not by the second');
  });

  it('flushes every directory it creates for --out into its parent, once, so a power cut cannot take the result directory away', () => {
    const base = join(root, 'made');
    mkdirSync(base);
    const dir = join(base, 'a', 'b');
    const creating = flushedDirectories();
    createOutputDir(outputFiles(dir), false, creating.fsync);
    assert.deepEqual(creating.named(base, join(base, 'a'), dir), [base, join(base, 'a')], "the new a's entry in made, then b's in a");
    const again = flushedDirectories();
    createOutputDir(outputFiles(dir), false, again.fsync);
    assert.deepEqual(again.named(), [], 'a directory already there is not flushed again');
    const writing = flushedDirectories();
    writeOutput(outputFiles(dir), '{}\n', '<html>', writing.fsync);
    assert.deepEqual(writing.named(base, join(base, 'a'), dir), [dir], 'the end of the run flushes the renames in b only');
  });

  it('flushes a directory of its own (the default --out) and the parents it created into their parents', () => {
    const base = join(root, 'made-own');
    mkdirSync(base);
    const wanted = outputFiles(join(base, 'runs', 'loadtest-20250102-030405'));
    const first = flushedDirectories();
    createOutputDir(wanted, true, first.fsync);
    assert.deepEqual(first.named(base, join(base, 'runs')), [base, join(base, 'runs')]);
    const second = flushedDirectories();
    assert.equal(createOutputDir(wanted, true, second.fsync).files.dir, `${wanted.dir}-2`);
    assert.deepEqual(second.named(base, join(base, 'runs')), [join(base, 'runs')], 'only the new name-2, in runs');
  });

  it('flushes a result directory removed during the run, and created again for the result, into its parent', () => {
    const base = join(root, 'removed');
    const dir = join(base, 'out');
    createOutputDir(outputFiles(dir));
    rmSync(base, { recursive: true });
    const writing = flushedDirectories();
    writeOutput(outputFiles(dir), '{}\n', '<html>', writing.fsync);
    assert.deepEqual(writing.named(root, base, dir), [root, base, dir]);
  });

  it('takes a filesystem that cannot fsync the parent of a new directory (EINVAL, EISDIR) as no failure', () => {
    for (const code of ['EINVAL', 'EISDIR']) {
      const dir = join(root, `no-parent-fsync-${code}`, 'out');
      const syncs = flushedDirectories(code);
      assert.deepEqual(createOutputDir(outputFiles(dir), false, syncs.fsync).files, outputFiles(dir));
      assert.equal(syncs.named().length, 2);
      assert.equal(existsSync(dir), true);
    }
  });

  it('stops before the load when a new directory cannot be flushed into its parent (EIO): an output error, exit 1', () => {
    const parent = join(root, 'parent-fsync-eio');
    mkdirSync(parent);
    const dir = join(parent, 'out');
    assert.throws(() => createOutputDir(outputFiles(dir), false, flushedDirectories('EIO').fsync), (err: unknown) => {
      assert.ok(err instanceof LoadtestError, String(err));
      assert.equal(err.code, 'CORRAL_ERR_LOADTEST_OUTPUT');
      assert.equal(err.exitCode, LOADTEST_EXIT.FAILURE);
      assert.equal(
        err.message,
        `--out: cannot flush ${parent} to disk after creating ${dir} in it: EIO: fsync failed; no load ran: a power cut could take the directory away with the result written in it`,
      );
      return true;
    });
    const removed = join(root, 'parent-fsync-eio-at-end', 'out');
    assert.throws(() => writeOutput(outputFiles(removed), '{}\n', '<html>', flushedDirectories('EIO').fsync), (err: unknown) => {
      assert.ok(err instanceof LoadtestError && !(err instanceof OutputNotSynced), String(err));
      assert.equal(err.code, 'CORRAL_ERR_LOADTEST_OUTPUT');
      assert.equal(err.exitCode, LOADTEST_EXIT.FAILURE);
      assert.match(err.message, /after the run: cannot flush .*corral-loadtest-output-[^/]+ to disk after creating .*parent-fsync-eio-at-end in it: EIO: fsync failed;.* result\.json and report\.html were not written$/);
      return true;
    });
  });
});
