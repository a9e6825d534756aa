// A worker or keeper whose own code (dist/, node_modules) cannot be loaded: its entry file
// imports the rest dynamically through this, and says why to the master before it exits. The CLI
// locates a failure to load its own modules the same way (placeOfOwnCodeError: bin/corral for the
// CLI's entry, src/cli/main.ts for a command's modules).
//
// `npm ci` in the directory a running corral runs from deletes node_modules, then rebuilds it;
// a worker forked meanwhile (a crash replaced, a recycle, a TTIN) threw ERR_MODULE_NOT_FOUND from
// the import and exited 1, which the master logged as "exited with code 1 before it was ready,
// not with a boot-failure code (the app or a library called process.exit?)": the app blamed, the
// loader's error on the master's stderr alone. Only node builtins and the IPC files are imported
// statically here, so that this much still loads when the rest does not.
//
// A syntax error (a file half written by an upgrade in place) named neither its file nor its line:
// node 20 keeps them in a private property of the error, which it prints only when the error ends
// the process uncaught. They are had from node itself: a short process imports the same module
// and leaves the error uncaught (locateSyntaxError).

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { IPC_TAG, type ChildMessage } from './ipc/messages.js';

/** Exit code of a child whose own code could not be loaded: no boot-failure code (a retry may find the files whole again). */
const CODE_LOAD_EXIT = 1;

/**
 * How long finding a syntax error's file and line may take: the graph of corral's modules parses
 * in 0.1 to 0.5 s (about 2 s on a 2-core host under load). Past it, the error is said without them.
 */
export const SYNTAX_LOCATE_MS = 5000;

/**
 * The file and line node prints above an error it reports uncaught, when the error is in a file's
 * code (a syntax error; a module that throws as it loads): `/opt/corral/dist/src/x.js:12`, from
 * the report's first line (`file:///opt/corral/dist/src/x.js:12`); undefined when there is none.
 */
export function placeOfLoadError(report: string): string | undefined {
  const at = /^((?:file:\/\/|\/)\S+?):(\d+)$/.exec(report.split('\n')[0]?.trimEnd() ?? '');
  if (!at?.[1]) return undefined;
  const file = at[1].startsWith('file://') ? fileURLToPath(at[1]) : at[1];
  return `${file}:${at[2]}`;
}

/** Where a syntax error is, and node's report of it (the file and line, the source line, a caret, the error). */
export interface SyntaxErrorPlace {
  readonly place: string;
  readonly report: string;
}

/**
 * The file and line of the syntax error `err` that importing `url` threw, as node reports it: a
 * process imports `url` after a module that exits at once. Node parses and links the whole graph
 * of static imports before it runs any of it, so a syntax error in that graph is reported with its
 * place, and nothing of the graph runs either way (its files are corral's, which a worker or the
 * keeper loads anyway, but not in a process that is neither). Undefined when the process did not
 * report the same error (the error is in a module imported at run time; the files changed since),
 * or did not end within `timeoutMs`.
 */
export function locateSyntaxError(url: URL, err: SyntaxError, timeoutMs: number = SYNTAX_LOCATE_MS): Promise<SyntaxErrorPlace | undefined> {
  const source = `import 'data:text/javascript,process.exit(0)';\nimport ${JSON.stringify(url.href)};\n`;
  return new Promise((resolve) => {
    try {
      execFile(
        process.execPath,
        ['--input-type=module', '-e', source],
        // No preload of NODE_OPTIONS (--import, --require): it would run, and is no part of the graph.
        { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } },
        (failed, _stdout, stderr) => {
          const report = String(stderr);
          const place = failed ? placeOfLoadError(report) : undefined;
          const same = report.split('\n').some((l) => l.trimEnd() === `SyntaxError: ${err.message}`);
          const end = report.indexOf('\nNode.js v');
          resolve(place !== undefined && same ? { place, report: (end < 0 ? report : report.slice(0, end)).trimEnd() } : undefined);
        },
      );
    } catch {
      // A spawn refused at once (EAGAIN, EMFILE): the error is said without its place.
      resolve(undefined);
    }
  });
}

/**
 * Where the error `err` that importing corral's module at `url` threw is, when it is in a file's
 * code: an import naming an export its module lacks heads its stack with the importing file's
 * place; a syntax error names none, and is located as node reports it uncaught. Undefined for any
 * other error (a module not found), or a syntax error not located.
 */
export async function placeOfOwnCodeError(url: URL, err: Error): Promise<SyntaxErrorPlace | undefined> {
  const stackPlace = placeOfLoadError(err.stack ?? '');
  if (stackPlace !== undefined) return { place: stackPlace, report: err.stack ?? '' };
  return err instanceof SyntaxError ? locateSyntaxError(url, err) : undefined;
}

/** Imports corral's module at `url` (the rest of a worker's or the keeper's code); a failure is said to the master, and the process exits. */
export async function loadOwnCode<T>(role: 'worker' | 'keeper', url: URL): Promise<T> {
  try {
    return (await import(url.href)) as T;
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const located = await placeOfOwnCodeError(url, e);
    const what = located ? `${e.message} in ${located.place}` : e.message;
    const message =
      `corral's own code could not be loaded in a new ${role} (${what}): its files changed under the running corral, as an npm ci or git pull in the directory it runs from does, or are incomplete; ` +
      'stop corral before upgrading it in place, or build the new release in a directory of its own (README: Upgrading corral)';
    const stack = located?.report ?? e.stack;
    process.stderr.write(`${stack ?? e.message}\n`);
    const report: ChildMessage = { type: 'boot-failed', code: 'CORRAL_ERR_CODE_LOAD', message, ...(stack ? { stack } : {}) };
    // Exits once the message has left: an exit right after send() may drop it.
    if (process.send && process.connected) process.send({ tag: IPC_TAG, ...report }, undefined, {}, () => process.exit(CODE_LOAD_EXIT));
    else process.exit(CODE_LOAD_EXIT);
    return new Promise<never>(() => undefined);
  }
}

/**
 * Set in the environment of a keeper entry the master starts only to see that the code on disk
 * loads, before a reload drains the running keeper (master/keeper-load-check.ts): the entry then
 * imports the keeper's modules, starts nothing, and exits 0.
 */
export const LOAD_CHECK_ENV = 'CORRAL_INTERNAL_LOAD_CHECK';

export function isLoadCheck(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[LOAD_CHECK_ENV] === '1';
}
