// The deliberate exit of a worker or the keeper: the lines that say why it exits must reach the log
// file. pino opens the file asynchronously, and until it is open flush() has nowhere to write: a
// process that exits sooner (an app that fails to import within milliseconds, a keeper whose
// master was gone before it listened, a data dir that cannot be made) lost its last lines, the
// only ones that said why. Bounded, so that a file that never opens does not hold the exit.

import { EXIT_DRAIN_WAIT_MS, type CorralLogger } from './logger.js';

/** How long an exit waits for the log file to open, so the lines that say why reach it. */
export const LOG_OPEN_WAIT_MS = 2000;

/** Waits (bounded) for the log to be open and its write in flight done, flushes it, and exits. */
export async function flushAndExit(log: CorralLogger | undefined, code: number): Promise<never> {
  if (log) {
    await log.opened(LOG_OPEN_WAIT_MS);
    await log.drained(EXIT_DRAIN_WAIT_MS);
    log.flush();
  }
  process.exit(code);
}
