// Where result.json and report.html go. Checked before the first request: finding out that --out
// cannot be written after minutes of load would throw the whole run away. The files themselves
// are written only at the end (whole, then renamed into place), so a run refused before its load
// leaves nothing behind, and one cut short while writing leaves no half of a result.

import { accessSync, constants, fsyncSync, mkdirSync, renameSync, rmdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { makeDirsSync } from '../make-dirs.js';
import { syncDirectory, syncNewDirectories, writeDurably, type Fsync } from './durable-file.js';
import { LoadtestError, LOADTEST_EXIT, inputError } from './exit.js';
import { removeAbandonedTemporaries, removeQuietly, temporaryPath } from './temporary-files.js';

export interface OutputFiles {
  readonly dir: string;
  readonly json: string;
  readonly html: string;
}

export function outputFiles(dir: string): OutputFiles {
  return { dir, json: join(dir, 'result.json'), html: join(dir, 'report.html') };
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The directory itself if it exists, else its nearest existing parent (where it would be created). */
function nearestExisting(path: string): { dir: string; stat: Stats } {
  let dir = path;
  for (;;) {
    const stat = statOrUndefined(dir);
    if (stat !== undefined) return { dir, stat };
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no parent directory exists');
    dir = parent;
  }
}

function writable(path: string): string | undefined {
  try {
    accessSync(path, constants.W_OK);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function refuseOutput(files: OutputFiles, why: string): never {
  throw inputError(`--out: cannot write the result to ${files.dir}: ${why}; pass --out with a directory you can write to`);
}

/**
 * Refuses an output directory this process could not fill: --out names a file, a parent is a
 * file, the directory (or the nearest existing parent it would be created in) is not writable,
 * or result.json / report.html exist and are not writable files. Creates nothing. Returns the
 * files there already, which the end of the run (or of an interrupted one) replaces: an --out
 * given again is a re-run, and the operator hears so before the load, in time to pick another.
 * `ownDirectory` (the default --out): the run will create a directory of its own next to that
 * name (createOutputDir), so only where it goes is checked, and nothing there is replaced.
 */
export function checkOutput(files: OutputFiles, ownDirectory = false): string[] {
  const refuse = (why: string): never => refuseOutput(files, why);
  let found: { dir: string; stat: Stats };
  try {
    found = nearestExisting(ownDirectory ? dirname(files.dir) : files.dir);
  } catch (err) {
    refuseOutput(files, (err as Error).message);
  }
  const { dir, stat } = found;
  if (!stat.isDirectory()) refuse(`${dir} is not a directory`);
  const dirProblem = writable(dir);
  if (dirProblem !== undefined) refuse(`${dir} is not writable (${dirProblem})`);
  if (dir !== files.dir) return [];
  const present: string[] = [];
  for (const file of [files.json, files.html]) {
    const existing = statOrUndefined(file);
    if (existing === undefined) continue;
    if (!existing.isFile()) refuse(`${file} exists and is not a file`);
    const fileProblem = writable(file);
    if (fileProblem !== undefined) refuse(`${file} is not writable (${fileProblem})`);
    present.push(file);
  }
  return present;
}

/** How many names createOutputDir tries for a directory of its own before giving up. */
const OWN_DIRECTORY_TRIES = 1000;

/**
 * Creates the directory just before the load starts (after every check passed). `ownDirectory`
 * (the default --out, named by the second it was chosen in): the directory is created exclusively,
 * so of two runs started in the same second only one gets the name and the other takes the first
 * free one of name-2, name-3, ...; returns the files where they will go. Every directory created
 * is flushed into its parent before the load: the result's own flush at the end makes the files
 * durable in their directory, not the directory in its parent. `created`: the directories made,
 * topmost first, which a run abandoned before writing anything removes (removeEmptyCreated).
 */
export function createOutputDir(files: OutputFiles, ownDirectory = false, fsync: Fsync = fsyncSync): CreatedOutput {
  const cannotCreate = (dir: string, err: unknown): LoadtestError =>
    inputError(`--out: cannot create ${dir}: ${(err as Error).message}; pass --out with a directory you can write to`, err);
  const makeAll = (dir: string): string[] => {
    try {
      return makeDirsSync(dir);
    } catch (err) {
      throw cannotCreate(dir, err);
    }
  };
  if (!ownDirectory) {
    const created = makeAll(files.dir);
    syncCreated(created, fsync);
    return { files, created };
  }
  const parents = makeAll(dirname(files.dir));
  for (let n = 1; ; n++) {
    const dir = n === 1 ? files.dir : `${files.dir}-${n}`;
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= OWN_DIRECTORY_TRIES) throw cannotCreate(dir, err);
      continue;
    }
    const created = [...parents, resolve(dir)];
    syncCreated(created, fsync);
    return { files: outputFiles(dir), created };
  }
}

/** Where the run's files go, and the directories createOutputDir made for them (topmost first). */
export interface CreatedOutput {
  readonly files: OutputFiles;
  readonly created: readonly string[];
}

/**
 * Removes, deepest first, those of `created` that are still empty: a run abandoned before its
 * report leaves no empty --out directory behind to pass for a run's. A directory holding anything
 * (another run's files, a temporary one being written) stays, and so do its parents. Returns the
 * directories removed.
 */
export function removeEmptyCreated(created: readonly string[]): string[] {
  const removed: string[] = [];
  for (const dir of [...created].reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      break;
    }
    removed.push(dir);
  }
  return removed;
}

/** The flush of new directories before the load; a failure (EIO) stops the run there, exit 1. */
function syncCreated(created: readonly string[], fsync: Fsync): void {
  try {
    syncNewDirectories(created, fsync);
  } catch (err) {
    throw new LoadtestError(
      'CORRAL_ERR_LOADTEST_OUTPUT',
      `--out: ${(err as Error).message}; no load ran: a power cut could take the directory away with the result written in it`,
      LOADTEST_EXIT.FAILURE,
      { cause: err },
    );
  }
}

/**
 * The files could not all be written after the run. `written`: this run's files in place
 * (renamed over their names) all the same, which the summary still points to.
 */
export class OutputFailed extends LoadtestError {
  readonly written: readonly string[];
  constructor(message: string, written: readonly string[], cause: unknown) {
    super('CORRAL_ERR_LOADTEST_OUTPUT', message, LOADTEST_EXIT.FAILURE, { cause });
    this.written = written;
  }
}

/**
 * This run's files were renamed into place, but their directory could not be flushed to disk:
 * they are there to read, and a power cut may yet undo the renames.
 */
export class OutputNotSynced extends OutputFailed {}

const names = (list: readonly string[]): string => list.map((f) => basename(f)).join(' and ');

/** What a failed write leaves in the directory, for the error message. */
function leftBehind(files: OutputFiles, earlier: readonly string[], renamed: readonly string[]): string {
  const parts: string[] = [];
  if (renamed.length > 0) parts.push(`${names(renamed)} ${renamed.length === 1 ? 'is' : 'are'} this run's`);
  const kept = earlier.filter((f) => !renamed.includes(f));
  if (kept.length > 0) parts.push(`${names(kept)} ${kept.length === 1 ? 'is the earlier one, left as it was' : 'are the earlier ones, left as they were'}`);
  const missing = [files.json, files.html].filter((f) => !renamed.includes(f) && !kept.includes(f));
  if (missing.length > 0) parts.push(`${names(missing)} ${missing.length === 1 ? 'was' : 'were'} not written`);
  return parts.join('; ');
}

/**
 * Writes both files, each to a temporary file in the same directory that is then renamed over its
 * name (atomic on POSIX), both written before either is renamed: a full disk, an interrupt or a
 * crash while writing leaves no truncated file that looks like a result, and any earlier
 * result.json and report.html as they were. The directory is then flushed, so that a power cut
 * after the run cannot undo the renames. A failure is an output error, exit 1, saying what the
 * directory holds (OutputNotSynced: the files in place, the directory not flushed).
 * `html` undefined (the report could not be rendered): result.json alone is written, and an
 * earlier report.html is removed once it is in place, since beside it that report would pass for
 * this run's.
 */
export function writeOutput(files: OutputFiles, json: string, html: string | undefined, fsync: Fsync = fsyncSync): void {
  const earlier = [files.json, files.html].filter((f) => statOrUndefined(f) !== undefined);
  const pending = [{ file: files.json, text: json, temp: temporaryPath(files.json) }];
  if (html !== undefined) pending.push({ file: files.html, text: html, temp: temporaryPath(files.html) });
  const renamed: string[] = [];
  try {
    // Created again when removed during the run, and flushed into its parent as before the load.
    syncNewDirectories(makeDirsSync(files.dir), fsync);
    // What runs killed while writing here left behind; a run writing here now keeps its own.
    removeAbandonedTemporaries(files.dir);
    for (const p of pending) {
      // A temporary file of an earlier process with this pid, killed while writing, is stale.
      removeQuietly(p.temp);
      writeDurably(p.temp, p.text, fsync);
    }
    for (const p of pending) {
      renameSync(p.temp, p.file);
      renamed.push(p.file);
    }
    // Last: a failure before leaves the earlier report as it was, said so with the rest.
    if (html === undefined && earlier.includes(files.html)) unlinkSync(files.html);
  } catch (err) {
    // Never created, or already renamed: then nothing of this run is left under that name.
    for (const p of pending) removeQuietly(p.temp);
    throw new OutputFailed(`could not write the result to ${files.dir} after the run: ${(err as Error).message}; the verdict above stands; ${leftBehind(files, earlier, renamed)}`, renamed, err);
  }
  try {
    syncDirectory(files.dir, fsync);
  } catch (err) {
    const these = `${names(renamed)} ${renamed.length === 1 ? 'is' : 'are'} this run's, in place, but a power cut may yet undo ${renamed.length === 1 ? 'its rename' : 'their renames'}`;
    throw new OutputNotSynced(`could not flush ${files.dir} to disk after writing the result: ${(err as Error).message}; the verdict above stands; ${these}`, renamed, err);
  }
}

/**
 * The end of a run: renders the report from the result, then writes both. The result is what a
 * run leaves to compare with later, the report one view of it: a report that cannot be rendered
 * (a bug; before, a run of hours overflowed the stack) costs the report alone. result.json is
 * written all the same, and the failure is then an output error, exit 1, saying so.
 */
export function writeResult(files: OutputFiles, json: string, render: () => string, fsync: Fsync = fsyncSync): void {
  let html: string | undefined;
  let renderError: unknown;
  try {
    html = render();
  } catch (err) {
    renderError = err;
  }
  const renderFailed = (): string => `could not render report.html after the run: ${(renderError as Error).message}`;
  const hadReport = statOrUndefined(files.html) !== undefined;
  try {
    writeOutput(files, json, html, fsync);
  } catch (err) {
    if (renderError === undefined || !(err instanceof OutputFailed)) throw err;
    const Failed = err instanceof OutputNotSynced ? OutputNotSynced : OutputFailed;
    throw new Failed(`${renderFailed()}; and ${err.message}`, err.written, err);
  }
  if (renderError !== undefined) {
    const removed = hadReport ? ' (the earlier one was removed: it described another run)' : '';
    throw new OutputFailed(`${renderFailed()}; the verdict above stands; result.json is this run's, in place in ${files.dir}; report.html was not written${removed}`, [files.json], renderError);
  }
}
