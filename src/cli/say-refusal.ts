// A command's refusal or failure on stderr. Under systemd (a command the unit runs: `corral start`,
// ExecReload='s `corral reload --wait`) stderr is the journal, where a line without a priority
// counts as info: `journalctl -u corral -p err` showed systemd's "Failed to start" or "Reload
// failed" without corral's reason. There each line carries the err priority (onStderr).

import { onStderr, REFUSAL_PRIORITY } from '../log/journal.js';

export function sayRefusal(text: string): void {
  process.stderr.write(onStderr(text, REFUSAL_PRIORITY));
}
