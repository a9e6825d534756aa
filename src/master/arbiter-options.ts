// What the master hands the arbiter: the settings it started with and how to read them again, how
// to fork a child, the logger and systemd notifier, what to call when the settings change and when
// the master is done, and the clock and build identity tests replace. Also the intents the
// arbiter records from signals and the admin API.

import type { LoadedSettings } from '../config/load.js';
import type { Settings } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { InstallMove } from './code-identity.js';
import type { DeathCauses } from './death-causes.js';
import type { KeeperFiles } from './keeper-files.js';
import type { KeeperLoadChecker } from './keeper-load-check.js';
import type { FatalReason } from './fatal-stderr.js';
import type { Notifier } from './notify.js';
import type { Spawner } from './spawner.js';

/** `log-file-changed`: the reopen the log file watch asks for (master/run.ts), not a USR1's. */
export type Intent = 'reload' | 'stop' | 'quit' | 'ttin' | 'ttou' | 'reopen-logs' | 'log-file-changed' | 'usr2';

export interface ArbiterOptions {
  readonly loaded: LoadedSettings;
  /** Re-reads .env and the environment for a reload; throws ConfigError on bad values. */
  readonly reloadSettings: () => LoadedSettings;
  readonly spawner: Spawner;
  readonly withKeeper: boolean;
  readonly logger: Logger;
  /**
   * Reopens the master's log file; `said` runs once that is done and the file watch's line (if it
   * asked) is written, so the master's lines come in the new file in the order things happened.
   */
  readonly reopenLogs: (said?: () => void) => void;
  /** Applies a reload's CORRAL_LOG_LEVEL and CORRAL_LOG_FILE to the master's own logger; false = needs a restart. */
  readonly configureLogs?: (settings: Settings) => boolean;
  /**
   * A reload applied these settings, or a failed one went back to them (`rollBack`; run.ts records
   * them for the CLI). `keeperRestarts`: the reload restarts the keeper, which says again what it
   * says at its start.
   */
  readonly settingsApplied?: (settings: Settings, how: SettingsApplied) => void;
  readonly notifier: Notifier;
  /** Called once with the exit code when the master is done, and why when it gives up (boot.exhausted). */
  readonly onExit: (code: number, fatal?: FatalReason) => void;
  /**
   * Defaults to monotonicNow: with Date.now, a system clock stepped back an hour left a stuck
   * worker alive, and every drain and stop deadline pending, for that hour.
   */
  readonly now?: () => number;
  /**
   * The real clock the fork budget is kept by (fork-pace.ts; default performance.now): forks take
   * real time, which a test's `now` does not see pass.
   */
  readonly forkClock?: () => number;
  /** What a child that died unasked died of, by its cgroup's counters (default: this process's cgroup). */
  readonly deathCauses?: DeathCauses;
  /** The build on disk (code-identity.ts); tests give their own. */
  readonly codeIdentity?: () => string | undefined;
  /** The files the keeper reads at its start by the settings' paths, digested (keeper-files.ts); tests give their own. */
  readonly keeperFiles?: (settings: Settings) => KeeperFiles;
  /** The install the path corral was started as leads to now, when moved (code-identity.ts); tests give their own. */
  readonly installMove?: () => InstallMove | undefined;
  /**
   * Checks that the code on disk loads the keeper, before a reload drains the running one
   * (keeper-load-check.ts); undefined: a reload restarts the keeper unchecked.
   */
  readonly keeperLoadCheck?: KeeperLoadChecker;
  /**
   * The most connections a worker can hold under the open-files limit its children inherit
   * (fd-limit.ts connectionsWithin); CORRAL_WORKER_CONNECTIONS is held under it. Undefined: none known.
   */
  readonly fdCeiling?: number;
}

/** How a reload's settings came to apply (ArbiterOptions.settingsApplied). */
export interface SettingsApplied {
  readonly keeperRestarts: boolean;
  readonly rollBack: boolean;
}
