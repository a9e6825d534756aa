// Whether the code on disk loads the keeper, asked before a reload drains the running one for a
// new keeper (keeper-restart.ts). The new keeper is forked from the files on disk, which an
// upgrade in place may have left broken: a half-written file, a syntax error, a module missing,
// node_modules gone during `npm ci`. Drained first, the running keeper (its cache, the quota, the
// write journal) was gone for good, and the new one could not boot: every write and every read no
// worker held a copy of failed until an operator repaired the build. The check is a short process
// of the keeper's entry on disk, started in its load-check mode (own-code-load.ts LOAD_CHECK_ENV):
// it imports the keeper's modules, starts nothing, and exits 0, within KEEPER_LOAD_CHECK_MS.

import { spawn } from 'node:child_process';
import { EXIT } from '../errors.js';
import { LOAD_CHECK_ENV, placeOfLoadError } from '../own-code-load.js';
import { secondsText } from '../seconds-text.js';

/**
 * How long the check may take: the keeper's modules load in 0.1 to 0.5 s (about 2 s on a 2-core
 * host under load). Past it the build is taken as not loading: the reload keeps the running keeper.
 */
export const KEEPER_LOAD_CHECK_MS = 10_000;

/** What the check found. `error`: the loader's error, one line, naming the file when node did. */
export type KeeperLoadVerdict = { readonly loads: true; readonly ms: number } | { readonly loads: false; readonly ms: number; readonly error: string; readonly stderr: string };

/** A check under way: its verdict, and its end before it (a stop), which kills its process. */
export interface KeeperLoadCheck {
  readonly verdict: Promise<KeeperLoadVerdict>;
  cancel(): void;
}

/** Starts a check of the keeper's entry on disk, with the environment a keeper is forked with. */
export type KeeperLoadChecker = (env: Readonly<Record<string, string>>) => KeeperLoadCheck;

/** The stderr kept for the log: the loader's error and its first frames. */
const STDERR_KEPT = 8192;

/**
 * The check's environment. CORRAL_WORKERS is made invalid for a build from before the load check,
 * whose entry does not know LOAD_CHECK_ENV and starts a keeper once its code is loaded: that
 * keeper's first step, reading its settings, refuses them and exits EXIT.CONFIG, before it opens
 * anything (the data dir's lock, the journal, Google).
 */
function checkEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return { ...env, [LOAD_CHECK_ENV]: '1', CORRAL_WORKERS: 'keeper-load-check' };
}

export function checkKeeperLoads(entry: string, env: Readonly<Record<string, string>>, timeoutMs: number = KEEPER_LOAD_CHECK_MS): KeeperLoadCheck {
  const startedAt = performance.now();
  let stderr = '';
  let timedOut = false;
  let cancelled = false;
  let child: ReturnType<typeof spawn> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const verdict = new Promise<KeeperLoadVerdict>((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      if (timer) clearTimeout(timer);
      const ms = Math.round(performance.now() - startedAt);
      // EXIT.CONFIG: its code read its (invalid) settings, which only a build from before the check
      // does, and only once its modules are loaded (checkEnv).
      if (code === 0 || code === EXIT.CONFIG) {
        resolve({ loads: true, ms });
        return;
      }
      const error = spawnError
        ? `the check could not be started (${spawnError.message})`
        : timedOut
          ? `it did not load within ${secondsText(timeoutMs)}`
          : cancelled
            ? 'the check was ended before its verdict'
            : (loadErrorOf(stderr) ?? `it exited ${signal === null ? `with code ${code}` : `of ${signal}`} without saying why`);
      resolve({ loads: false, ms, error, stderr });
    };
    try {
      child = spawn(process.execPath, [entry], { env: checkEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      done(null, null, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < STDERR_KEPT) stderr = (stderr + chunk).slice(0, STDERR_KEPT);
    });
    // A spawn refused (EAGAIN, EMFILE) gives no pid, and emits 'error' and then 'close' without an exit code.
    let spawnError: Error | undefined;
    child.on('error', (err) => (spawnError = err));
    child.once('close', (code, signal) => done(code, signal, child?.pid === undefined ? spawnError : undefined));
    timer = setTimeout(() => {
      timedOut = true;
      child?.kill('SIGKILL');
    }, timeoutMs);
  });
  return {
    verdict,
    cancel: () => {
      if (cancelled) return;
      cancelled = true;
      child?.kill('SIGKILL');
    },
  };
}

/**
 * The loader's error in the check's stderr, as node prints an error left uncaught: the error's
 * line (`SyntaxError: Unexpected token ';'`, `Error [ERR_MODULE_NOT_FOUND]: Cannot find package
 * 'pino' imported from ...`), with the file and line node put above it when the error is in a file
 * of the build (a syntax error, a module that throws as it loads); undefined when there is none.
 */
export function loadErrorOf(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trimEnd());
  const errorLine = lines.find((l) => /^[A-Za-z]*Error\b/.test(l));
  if (errorLine === undefined) return lines.find((l) => l.trim() !== '');
  const place = placeOfLoadError(stderr);
  return place === undefined ? errorLine : `${errorLine} (${place})`;
}
