// The ONE settings schema. Nothing else in corral reads process.env: every module gets the
// frozen Settings object produced from this schema by load.ts.

import { appSchema } from './schema-app.js';
import { daemonSchema } from './schema-daemon.js';
import { sheetsSchema } from './schema-sheets.js';
import type { SettingSpec } from './spec.js';

export const schema = { ...daemonSchema, ...sheetsSchema, ...appSchema } as const;

export type SettingName = keyof typeof schema;
type ValueOf<S> = S extends SettingSpec<infer T> ? T : never;
export type Settings = { readonly [K in SettingName]: ValueOf<(typeof schema)[K]> };

export const settingNames = Object.keys(schema) as SettingName[];

/** Settings read before the schema is applied (they say where the rest comes from). */
export const META_SETTINGS = {
  CORRAL_ENV_FILE: 'Path of the .env file to read (default ./.env; "none" = read no file). From the environment only: set in this file it has no effect.',
} as const;

/** Names that are accepted and ignored, with the note logged once. */
export const IGNORED_WITH_NOTE: Readonly<Record<string, string>> = {
  GUNICORN_WORKER_CLASS: 'GUNICORN_WORKER_CLASS is ignored: every corral worker is async (like gevent, without monkey-patching).',
};
