// What the settings say of a CORRAL_DATA_DIR they refuse, for the tests of its checks.

import { loadSettings } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

/** The refusal's `allowed` text for CORRAL_DATA_DIR=`dir` (relative to `cwd`), or undefined when the settings take it. */
export function dataDirRefusal(dir: string, cwd: string, readFiles = true): string | undefined {
  try {
    loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_DATA_DIR: dir }, cwd, readFiles });
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.find((p) => p.name === 'CORRAL_DATA_DIR')?.allowed;
  }
}
