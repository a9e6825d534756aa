// A child's stack probe (native/stack_probe.cc): a thread that answers the master, over the
// socketpair it was handed at the fork, with this process's JavaScript stack, even while the event
// loop is stuck. The master asks for it before it kills a child that stopped beating
// (CORRAL_STUCK_STACKS; master/stack-capture.ts). Started first thing at boot, so an app whose
// import blocks the loop can be shown too.
//
// The same thread sees the master die (its end of the socketpair closes), which the child's
// JavaScript cannot while its loop is blocked: it then ends the child after ORPHAN_GRACE_MS, so
// that a worker stuck in a busy loop does not outlive a killed master, spinning and holding the
// listening port. Every child gets a probe for that reason, whatever CORRAL_STUCK_STACKS says.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStackProbeFd } from './config/identity.js';
import { CorralError, EXIT, describeError } from './errors.js';
import type { Logger } from './log/logger.js';

interface Addon {
  start(fd: number, exitCode?: number, graceMs?: number, logFile?: string, line?: string): void;
}

/**
 * How long a child whose master is gone is left to exit by its own JavaScript ('disconnect':
 * worker.master_gone, keeper.master_gone, each logged) before the probe's thread ends it. A child
 * whose loop turns exits within milliseconds; one stuck in synchronous code never would.
 */
export const ORPHAN_GRACE_MS = 2000;

/** What the probe does when the master is gone and this child is still there after the grace. */
export interface OrphanExit {
  readonly exitCode: number;
  readonly graceMs: number;
  /** CORRAL_LOG_FILE, where its line is appended; undefined: stderr (the log goes to the master's stdout then). */
  readonly logFile: string | undefined;
  /** The fields of its log line after level and time, as the logger's own lines have them. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * The exit of a child stuck when its master died: EXIT.MASTER_GONE, as its JavaScript path exits,
 * and a `<role>.master_gone` line with `stuck: true`, in the shape of the logger's lines.
 */
export function masterGoneExit(role: 'worker' | 'keeper', identity: { workerId: number; generation: number }, logFile: string | undefined): OrphanExit {
  const seconds = ORPHAN_GRACE_MS / 1000;
  return {
    exitCode: EXIT.MASTER_GONE,
    graceMs: ORPHAN_GRACE_MS,
    logFile,
    fields: {
      role,
      worker: identity.workerId,
      pid: process.pid,
      gen: identity.generation,
      event: `${role}.master_gone`,
      code: 'CORRAL_ERR_MASTER_GONE',
      stuck: true,
      grace_ms: ORPHAN_GRACE_MS,
      exit_code: EXIT.MASTER_GONE,
      msg: `the master is gone (its end of the stack probe closed) and this ${role}'s event loop is blocked (synchronous code: a busy loop, a long native call), so it could not exit by itself: ended by the stack probe's thread after ${seconds} s, with exit code ${EXIT.MASTER_GONE}`,
    },
  };
}

/** Where node-gyp puts the addon, relative to the package root (dist/src -> ../..). */
function addonPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../build/Release/stack_probe.node');
}

/**
 * Starts the probe on `fd`, and with `orphan` its watch for the master's death; throws
 * CORRAL_ERR_STACK_PROBE when the addon is missing or its thread cannot start.
 */
export function startProbeOn(fd: number, path: string = addonPath(), orphan?: OrphanExit): void {
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
    if (orphan) addon.start(fd, orphan.exitCode, orphan.graceMs, orphan.logFile ?? '', JSON.stringify(orphan.fields));
    else addon.start(fd);
  } catch (err) {
    throw new CorralError('CORRAL_ERR_STACK_PROBE', `cannot start the stack probe on fd ${fd}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Starts this child's probe when the master handed it one (always, from a master of this
 * version). A probe that cannot start is said (stack_probe.unavailable) and the child goes on:
 * the stack of a stuck child is lost, and a child stuck when its master dies is not ended.
 */
export function startStackProbe(logger: Pick<Logger, 'warn'>, orphan?: OrphanExit, env: NodeJS.ProcessEnv = process.env): void {
  const fd = readStackProbeFd(env);
  if (fd === undefined) return;
  try {
    startProbeOn(fd, addonPath(), orphan);
  } catch (err) {
    const d = describeError(err);
    logger.warn(
      { event: 'stack_probe.unavailable', code: 'CORRAL_ERR_STACK_PROBE', err: d.message },
      `stack probe: ${d.message}; if this process gets stuck, its stack cannot be logged, and if it is stuck when the master dies, it is not ended`,
    );
  }
}
