// Settings the file gives one value and the environment, which wins, another: found once where the
// settings load, and said by `corral config`, by the master at a reload (reload-plan.ts) and in the
// admin API's answer to one (reload-answer.ts), which take the type from here, not the loader.

import { schema, settingNames, type SettingName } from './schema.js';
import { shownRaw } from './shown-value.js';
import type { SettingSpec } from './spec.js';

/**
 * A setting the .env file sets to one value while the environment the process was started with
 * sets it to another: the environment's is used, so an edit of that line in the file changes
 * nothing, at start or at a reload. Values are as written (secrets redacted).
 */
export interface EnvOverride {
  /** The name as set: the setting's, or one of its aliases (then `aliasOf` names the setting). */
  readonly setting: string;
  readonly aliasOf?: SettingName;
  readonly file: string;
  readonly environment: string;
}

/** The settings (or aliases) `fileValues` gives one value and `env` another, in the schema's order. */
export function envOverridesOf(fileValues: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv): EnvOverride[] {
  const envOverrides: EnvOverride[] = [];
  for (const name of settingNames) {
    const spec = schema[name] as SettingSpec<unknown>;
    // An alias set in both (GUNICORN_TIMEOUT in the file and in the unit's Environment=) is the
    // same edit without effect as the setting's own name; so is a proxy's lower-case name, which
    // wins over the upper-case one (https_proxy in the file and in the unit's node.env).
    for (const given of [name, ...(spec.aliases ?? []), ...(spec.lowercase ? [name.toLowerCase()] : [])]) {
      const [inFile, inEnv] = [fileValues[given], env[given]];
      if (!Object.hasOwn(fileValues, given) || inFile === undefined || inEnv === undefined || inFile === inEnv) continue;
      envOverrides.push({ setting: given, ...(given === name ? {} : { aliasOf: name }), file: shownRaw(spec, inFile), environment: shownRaw(spec, inEnv) });
    }
  }
  return envOverrides;
}
