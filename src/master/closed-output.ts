// The master's stdout or stderr whose reader went away (`corral start | head` once head had its
// lines, a terminal closed, a journal stream gone) must cost the output, not the service.
//
// Why: with CORRAL_LOG_FILE the master's stdout and stderr carry only its children's stray output
// (an app's console.log and console.error, relayed by the spawner). The first such line after the
// reader went away failed with EPIPE: on stdout the CLI's handler for `corral config | head` ended
// the master at once with 0 (no stop, no master.exit, the pidfile left, the workers exiting as
// orphans, and systemd's Restart=on-failure not restarting a clean exit); on stderr it was an
// uncaught exception, which stopped every worker and exited 70. Now the failure is said once in
// the log and the relays to that stream stop.

import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';

/** A pipe's reader gone, or the file or device behind the stream failing (a full disk under `>> out.log`). */
function whyUnwritable(code: string | undefined): string {
  if (code === 'EPIPE' || code === 'ECONNRESET') return 'its reader went away';
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk it writes to is full';
  return 'the file or device it writes to failed';
}

export function outlastClosedOutput(logger: Logger): void {
  for (const [name, stream] of [['stdout', process.stdout], ['stderr', process.stderr]] as const) {
    let said = false;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (said) return;
      said = true;
      logger.warn(
        { event: 'master.output_closed', code: 'CORRAL_ERR_LOG_WRITE', stream: name, err: describeError(err) },
        `the master's ${name} cannot be written (${err.code ?? err.message}: ${whyUnwritable(err.code)}): what the children write to their ${name} outside the log is dropped from now on, until a restart; serving goes on`,
      );
    });
  }
}

/** Writes `text` to `stream` unless it failed before (outlastClosedOutput): a relay's write. */
export function writeIfOpen(stream: NodeJS.WritableStream & { writable: boolean }, text: string): boolean {
  return stream.writable ? stream.write(text) : false;
}
