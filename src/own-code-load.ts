// A worker or keeper whose own code (dist/, node_modules) cannot be loaded: its entry file
// imports the rest dynamically through this, and says why to the master before it exits.
//
// `npm ci` in the directory a running corral runs from deletes node_modules, then rebuilds it;
// a worker forked meanwhile (a crash replaced, a recycle, a TTIN) threw ERR_MODULE_NOT_FOUND from
// the import and exited 1, which the master logged as "exited with code 1 before it was ready,
// not with a boot-failure code (the app or a library called process.exit?)": the app blamed, the
// loader's error on the master's stderr alone. Only node builtins and the IPC files are imported
// statically here, so that this much still loads when the rest does not.

import { IPC_TAG, type ChildMessage } from './ipc/messages.js';

/** Exit code of a child whose own code could not be loaded: no boot-failure code (a retry may find the files whole again). */
const CODE_LOAD_EXIT = 1;

export async function loadOwnCode<T>(role: 'worker' | 'keeper', load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const message =
      `corral's own code could not be loaded in a new ${role} (${e.message}): its files changed under the running corral, as an npm ci or git pull in the directory it runs from does, or are incomplete; ` +
      'stop corral before upgrading it in place, or build the new release in a directory of its own (README: Upgrading corral)';
    process.stderr.write(`${e.stack ?? e.message}\n`);
    const report: ChildMessage = { type: 'boot-failed', code: 'CORRAL_ERR_CODE_LOAD', message, ...(e.stack ? { stack: e.stack } : {}) };
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
