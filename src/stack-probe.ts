// A child's stack probe (native/stack_probe.cc): a thread that answers the master, over the
// socketpair it was handed at the fork, with this process's JavaScript stack, even while the event
// loop is stuck. The master asks for it before it kills a child that stopped beating
// (CORRAL_STUCK_STACKS; master/stack-capture.ts). Started first thing at boot, so an app whose
// import blocks the loop can be shown too.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStackProbeFd } from './config/identity.js';
import { CorralError, describeError } from './errors.js';
import type { Logger } from './log/logger.js';

interface Addon {
  start(fd: number): void;
}

/** Where node-gyp puts the addon, relative to the package root (dist/src -> ../..). */
function addonPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../build/Release/stack_probe.node');
}

/** Starts the probe on `fd`; throws CORRAL_ERR_STACK_PROBE when the addon is missing or its thread cannot start. */
export function startProbeOn(fd: number, path: string = addonPath()): void {
  if (!existsSync(path)) {
    throw new CorralError('CORRAL_ERR_STACK_PROBE', `the stack_probe addon is missing (${path}); rebuild it with \`npm rebuild\` or \`npm ci\` (needs python3, make and g++)`);
  }
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (err) {
    throw new CorralError('CORRAL_ERR_STACK_PROBE', `cannot load the stack_probe addon ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    addon.start(fd);
  } catch (err) {
    throw new CorralError('CORRAL_ERR_STACK_PROBE', `cannot start the stack probe on fd ${fd}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Starts this child's probe when the master handed it one. A probe that cannot start is said
 * (stack_probe.unavailable) and the child goes on: only the stack of a stuck child is lost.
 */
export function startStackProbe(logger: Logger, env: NodeJS.ProcessEnv = process.env): void {
  const fd = readStackProbeFd(env);
  if (fd === undefined) return;
  try {
    startProbeOn(fd);
  } catch (err) {
    const d = describeError(err);
    logger.warn({ event: 'stack_probe.unavailable', code: 'CORRAL_ERR_STACK_PROBE', err: d.message }, `stack probe: ${d.message}; if this process gets stuck, its stack cannot be logged`);
  }
}
