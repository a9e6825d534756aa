// The files and directories the settings name, judged by what is on disk where the settings load:
// the service-account key, CORRAL_DATA_DIR, and CORRAL_APP's module. The judging itself is
// path-checks.ts's and app-module.ts's; here, which settings are judged, with which value.

import { resolve } from 'node:path';
import type { ConfigProblem } from '../errors.js';
import { appModuleProblem } from './app-module.js';
import { dataDirProblem, serviceAccountKeyProblem } from './path-checks.js';
import type { SettingName, Settings } from './schema.js';

/**
 * The problems of what the settings in `out` name on disk. `prior`: the problems found so far;
 * `readFiles`: LoadOptions.readFiles (the key read and parsed, the data dir judged writable);
 * `nodeOptions`: the NODE_OPTIONS the workers get (a loader lets them import TypeScript).
 */
export function diskProblems(
  out: Readonly<Record<string, unknown>>,
  prior: readonly ConfigProblem[],
  { judged, where, readFiles, cwd, nodeOptions }: { judged: (name: SettingName) => boolean; where: (name: SettingName) => string; readFiles: boolean; cwd: string; nodeOptions: string | undefined },
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // The files the settings name, judged by what is there (path-checks.ts): a key the keeper cannot
  // read, or a data dir that is a file, made it fail over and over behind a master that said ready.
  // A SHEET_ID refused for its value (a URL pasted whole) still says a Google sheet is meant: the
  // key is judged with it, so that both are reported at once, not the key's after the id is fixed.
  const keySettings = ['SHEET_ID', 'GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_SERVICE_ACCOUNT_JSON'] as const;
  const sheetMeant = typeof out.SHEET_ID === 'string' ? out.SHEET_ID : prior.some((p) => p.name === 'SHEET_ID') ? '(refused)' : undefined;
  if (readFiles && keySettings.every(judged) && !prior.some((p) => p.name === 'GOOGLE_APPLICATION_CREDENTIALS' || p.name === 'GOOGLE_SERVICE_ACCOUNT_JSON')) {
    const file = typeof out.GOOGLE_APPLICATION_CREDENTIALS === 'string' ? resolve(cwd, out.GOOGLE_APPLICATION_CREDENTIALS) : undefined;
    const bad = serviceAccountKeyProblem({ ...(out as Pick<Settings, (typeof keySettings)[number]>), SHEET_ID: sheetMeant }, file);
    if (bad) {
      const value = bad.setting === 'GOOGLE_SERVICE_ACCOUNT_JSON' ? '<redacted>' : String(out.GOOGLE_APPLICATION_CREDENTIALS);
      problems.push({ name: bad.setting, value, source: where(bad.setting), allowed: bad.why });
    }
  }
  // The data dir by a stat here (config --check creates nothing), so a child started after it
  // became a file says so too, rather than a bare EEXIST. Whether this user can write in it only
  // where the keeper's files are judged (readFiles): a worker never writes there, and `corral
  // check` judges it itself, at its own stage (check.ts dataDirVerdict).
  if (judged('CORRAL_DATA_DIR') && typeof out.CORRAL_DATA_DIR === 'string') {
    const why = dataDirProblem(resolve(cwd, out.CORRAL_DATA_DIR), { writable: readFiles });
    if (why) problems.push({ name: 'CORRAL_DATA_DIR', value: out.CORRAL_DATA_DIR, source: where('CORRAL_DATA_DIR'), allowed: why });
  }

  if (judged('CORRAL_APP') && typeof out.CORRAL_APP === 'string') {
    const why = appModuleProblem(out.CORRAL_APP, cwd, nodeOptions);
    if (why) problems.push({ name: 'CORRAL_APP', value: out.CORRAL_APP, source: where('CORRAL_APP'), allowed: why });
  }
  return problems;
}
