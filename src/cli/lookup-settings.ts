// The settings a command loads to find the master (stop, reload, status), judged apart from the
// rest so that an invalid setting the command does not need cannot keep it from finding the
// master, and what it keeps of them (MasterLookup). A file of its own: findMasterHere
// (master-process.ts) reads a lookup; the commands choose which settings make one.

import { loadSettings } from '../config/load.js';
import type { SettingName, Settings } from '../config/schema.js';
import type { SettingSource } from '../config/setting-value.js';

/**
 * The setting that finds the master; other invalid settings must not keep stop, reload and status
 * from finding it. The admin API's are used best effort (MasterLookup.adminApi). reload judges the
 * master's settings whole once it has found it (a refusal is 78), but "not running" comes first.
 */
export const MASTER_LOOKUP_SETTINGS = ['CORRAL_PIDFILE'] as const;
/**
 * status asks the admin API: its address must be valid too. An invalid token stands as unset (a
 * warning, and the summary without per-worker figures): refused, status exited 78 with corral
 * running fine, and a `corral status || alert` alerted on a typo in a setting it can do without.
 * So did an invalid CORRAL_GRACEFUL_TIMEOUT, which status never reads, while it was judged with stop's.
 */
export const STATUS_SETTINGS = [...MASTER_LOOKUP_SETTINGS, 'CORRAL_ADMIN_BIND'] as const;

export interface MasterLookup {
  readonly settings: Settings;
  /**
   * Whether CORRAL_ADMIN_BIND is valid, so the admin API may be asked whether a corral answers
   * there (findMasterHere). An invalid one stands at its default, where another corral may answer.
   * (An invalid token stands as unset: only the master's pid goes unread.)
   */
  readonly adminApi: boolean;
  /** The settings file read (LoadedSettings.envFile); undefined: none (no ./.env, or CORRAL_ENV_FILE=none). */
  readonly envFile: string | undefined;
  /** Why no file was read, when none was: CORRAL_ENV_FILE=none (LoadedSettings.envFileNone), or no ./.env. */
  readonly envFileNone: boolean;
  /** Where CORRAL_PIDFILE's value came from: the hint of a lookup that found nothing names it. */
  readonly pidfileSource: SettingSource;
  /** CORRAL_ADMIN_TOKEN is set but invalid: it stands as unset (said among the warnings). */
  readonly tokenInvalid: boolean;
}

/**
 * Loads the settings that find the master (`judge`), printing the warnings unless `quiet` (a
 * broken .env is worth knowing of).
 */
export function loadLookupSettings(judge: readonly SettingName[] = MASTER_LOOKUP_SETTINGS, quiet = false): MasterLookup {
  const loaded = loadSettings({ judgeOnly: judge });
  if (!quiet) for (const w of loaded.warnings) process.stderr.write(`corral: warning: ${w}\n`);
  return {
    settings: loaded.settings,
    adminApi: !loaded.invalidIgnored.includes('CORRAL_ADMIN_BIND'),
    envFile: loaded.envFile,
    envFileNone: loaded.envFileNone,
    pidfileSource: loaded.sources.CORRAL_PIDFILE,
    tokenInvalid: loaded.invalidIgnored.includes('CORRAL_ADMIN_TOKEN'),
  };
}
