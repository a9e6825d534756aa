// Boot failures that no new attempt can get past until the files or the settings change: the app
// cannot be imported as written (a syntax error, a module or package that is not there), it
// exports no listener, or the port is one this process may not bind. Under systemd a master that
// gave up on such a boot exited 3, which Restart=on-failure restarted every 7 s or so for good:
// the unit stayed "activating", never "failed", and the start limit (5 in 10 s) was never
// reached. Said as lasting, the master exits 78 instead, which the unit does not restart
// (RestartPreventExitStatus=78), as it already does for invalid settings.
//
// What an app's own code throws while it starts (createApp() rejecting: a database not up yet)
// is not lasting: the next attempt may well succeed. A module createApp() imports itself that is
// not there or does not parse is, as the same import at the top of the app's file is.

import { appFrame, syntaxErrorHead } from './app-error-location.js';

/** Node's codes for a module or package that cannot be resolved or loaded as named. */
const UNRESOLVABLE = new Set(['ERR_MODULE_NOT_FOUND', 'ERR_UNKNOWN_FILE_EXTENSION', 'ERR_UNSUPPORTED_DIR_IMPORT', 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_INVALID_PACKAGE_CONFIG', 'ERR_INVALID_PACKAGE_TARGET', 'MODULE_NOT_FOUND']);

/**
 * The frame of Node's own JSON loader: a .json file the app requires or imports that does not
 * parse. Its stack has the require()'s frame in the app's files, as a JSON.parse the app runs has:
 * taken as passing, a config.json with a trailing comma restarted the unit every few seconds.
 */
const JSON_MODULE_PARSE = /\n\s+at (?:Module\._extensions\.\.json|ModuleLoader\.jsonStrategy) /;

/**
 * Whether `err`, thrown by import() of the app, fails every import until the files change: a
 * module that does not parse (a SyntaxError with no frame in the app's files: one thrown by its
 * running code, a JSON.parse of a config service's error page, may pass next time), or one that
 * cannot be resolved as named. A dynamic import() of a path not there yet looks the same as a
 * static one; the master exits 78 only when every attempt failed alike (crash-ledger.ts).
 */
export function importFailureLasts(err: unknown): boolean {
  // A CommonJS file that does not parse heads its stack with "file:line" (as the source, not a
  // JSON.parse, has one), whatever frames follow: one required by the app's code has the frame of
  // that require(), and a typo in an Express app's routes/users.js was said as passing, exit 3
  // and a restart every few seconds for good.
  if (err instanceof SyntaxError && JSON_MODULE_PARSE.test(err.stack ?? '')) return true;
  if (err instanceof SyntaxError) return syntaxErrorHead(err.stack ?? '') !== undefined || appFrame(err.stack) === undefined;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && UNRESOLVABLE.has(code);
}

/**
 * The top frame is node's module loader's: a SyntaxError it threw compiling a module (an ES module's
 * has no file:line head), not one of code running in a module being loaded (JSON.parse on top).
 */
const THROWN_BY_LOADER = /^[^\n]*\n\s+at (?:[^\n]*\()?node:internal\/modules\//;

/**
 * Whether `err`, thrown by the app's createApp(), fails every boot until the files change: as
 * importFailureLasts, but a SyntaxError only with the evidence of a module that does not parse (a
 * file:line head, node's JSON loader in its stack, its module loader as its top frame). Without a frame of the app's, one
 * thrown by running code is common here (a createApp returning `fetch(url).then((r) => r.json())`
 * on a config service's error page: undici's frames alone), and as lasting the master exited 78,
 * which systemd does not restart, once the service was back.
 */
export function factoryFailureLasts(err: unknown): boolean {
  if (err instanceof SyntaxError) {
    const stack = err.stack ?? '';
    return JSON_MODULE_PARSE.test(stack) || syntaxErrorHead(stack) !== undefined || THROWN_BY_LOADER.test(stack);
  }
  return importFailureLasts(err);
}

/** Whether a failed listen() fails every attempt until the settings or the unit change. */
export function listenFailureLasts(err: unknown): boolean {
  // EACCES: a port below 1024 without CAP_NET_BIND_SERVICE. Not EADDRINUSE (a previous master
  // may still hold the port at a restart) nor EADDRNOTAVAIL (an address not configured yet at boot).
  return (err as { code?: unknown } | undefined)?.code === 'EACCES';
}
