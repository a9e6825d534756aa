// Renders config/.env.example from the schema, so the file can never drift from it (a unit test
// compares the committed file with this output; `corral config --example` regenerates it).

import { schema, settingNames, META_SETTINGS, IGNORED_WITH_NOTE } from './schema.js';
import { daemonSchema } from './schema-daemon.js';
import { sheetsSchema } from './schema-sheets.js';
import { appSchema } from './schema-app.js';
import type { SettingSpec } from './spec.js';

const SECTIONS: readonly [string, readonly string[]][] = [
  ['Supervisor: master, workers, logs, admin API', Object.keys(daemonSchema)],
  ['Google Sheets: client, cache, quota, journal', Object.keys(sheetsSchema)],
  ['Bundled app and capacity limits', Object.keys(appSchema)],
];

/** The value of the commented `# NAME=` line: the default, or for a computed one a valid example. */
function lineValue(spec: SettingSpec<unknown>): string {
  if (spec.defaultText) return spec.example ?? '';
  const d = typeof spec.default === 'function' ? undefined : spec.default;
  return d === undefined ? '' : spec.format(d);
}

export function renderEnvExample(): string {
  const out: string[] = [
    '# corral settings. Copy to .env (or point CORRAL_ENV_FILE at it) and uncomment what you change.',
    '# Real environment variables win over this file. `corral config` shows the effective values.',
    '# Generated from the settings schema (src/config/schema-*.ts) by `corral config --example`.',
    '',
    ...Object.entries(META_SETTINGS).map(([k, d]) => `# ${d}\n# ${k}=.env`),
    '',
  ];
  for (const [title, names] of SECTIONS) {
    out.push(`# ---- ${title} ----`, '');
    for (const name of names) {
      const spec = schema[name as keyof typeof schema] as SettingSpec<unknown>;
      out.push(`# ${spec.description}`);
      out.push(`# type: ${spec.type}${spec.secret ? (spec.show ? ' (secret: its password is masked by corral config)' : ' (secret: redacted by corral config)') : ''}${spec.aliases?.length ? `; old name: ${spec.aliases.join(', ')}` : ''}`);
      // A computed default cannot be written as a value: it is said, and the line holds an example,
      // so that uncommenting any line of this file gives a setting corral accepts.
      if (spec.defaultText) out.push(`# default: ${spec.defaultText}; for example:`);
      out.push(`# ${name}=${lineValue(spec)}`, '');
    }
  }
  out.push('# ---- Accepted from the old gunicorn deployment ----', '');
  for (const [name, { note, example }] of Object.entries(IGNORED_WITH_NOTE)) out.push(`# ${note}`, `# ${name}=${example}`, '');
  return `${out.join('\n').trimEnd()}\n`;
}

/** Every schema name appears exactly once as a `# NAME=` line. */
export function exampleNames(text: string): string[] {
  return [...text.matchAll(/^# ([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1] ?? '').filter((n) => settingNames.includes(n as never));
}
