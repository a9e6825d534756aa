// The checks of settings as a whole that each value's own (config/load.ts) cannot make. One
// function, so that what the master refuses at start and at a reload is exactly what `corral
// config` and `corral reload` refuse beforehand: a reload the CLI let through, signalled and
// answered 0, was then refused in the master's log alone.

import type { Settings } from '../config/schema.js';
import { assertLogFileOpenable } from '../log/log-file-access.js';
import { assertAdminBindSafe } from './admin/auth.js';

/**
 * Throws the CorralError the master refuses these settings with (CORRAL_ERR_ADMIN_UNSAFE: an admin
 * API beyond loopback without a token; CORRAL_ERR_LOG_FILE: a log file that cannot be opened).
 * Creates nothing.
 */
export function assertSettingsAccepted(settings: Pick<Settings, 'CORRAL_ADMIN_BIND' | 'CORRAL_ADMIN_TOKEN' | 'CORRAL_LOG_FILE'>): void {
  assertAdminBindSafe(settings);
  assertLogFileOpenable(settings.CORRAL_LOG_FILE);
}
