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

/**
 * Names that are accepted and ignored, with the note logged once, and the value config/.env.example
 * shows them with. gunicorn settings with no corral setting of the same meaning: "unknown setting
 * GUNICORN_LIMIT_REQUEST_LINE: ignored" left the operator to guess whether anything stood in for it.
 */
export const IGNORED_WITH_NOTE: Readonly<Record<string, { readonly note: string; readonly example: string }>> = {
  GUNICORN_WORKER_CLASS: { note: 'GUNICORN_WORKER_CLASS is ignored: every corral worker is async (like gevent, without monkey-patching).', example: 'gevent' },
  GUNICORN_LIMIT_REQUEST_LINE: {
    note: "GUNICORN_LIMIT_REQUEST_LINE is ignored: corral has no limit of the request line's own; CORRAL_LIMIT_REQUEST_HEADER_BYTES (default 16384) bounds the request line and headers together (a request line alone over it is a 414).",
    example: '4094',
  },
  GUNICORN_LIMIT_REQUEST_FIELD_SIZE: {
    note: 'GUNICORN_LIMIT_REQUEST_FIELD_SIZE is ignored: corral has no limit per header; CORRAL_LIMIT_REQUEST_HEADER_BYTES (default 16384) bounds the request line and headers together (more is a 431).',
    example: '8190',
  },
};
