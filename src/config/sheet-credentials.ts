// SHEET_ID and the credentials to reach it, judged together: an id without credentials (refused),
// credentials without an id (the offline sheet, warned), and credentials set together, of which
// only one is used (warned). Each is a setting whose own value is valid, and whose effect is not
// the one the operator meant.

import type { ConfigProblem } from '../errors.js';
import type { SettingName } from './schema.js';

/**
 * The problems and warnings of SHEET_ID with its credentials in `out`, the values read so far.
 * `prior`: the problems found so far (a setting refused for its own value is not judged again).
 */
export function sheetCredentialChecks(
  out: Readonly<Record<string, unknown>>,
  prior: readonly ConfigProblem[],
  { judged, where }: { judged: (name: SettingName) => boolean; where: (name: SettingName) => string },
): { problems: ConfigProblem[]; warnings: string[] } {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const refused = (...names: string[]): boolean => [...prior, ...problems].some((p) => names.includes(p.name));
  // Google needs credentials: without them the keeper could only fail, over and over, behind a
  // master that looks healthy. Judged here so that start exits 78 and a reload is refused.
  const credentialSettings = ['GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_SERVICE_ACCOUNT_JSON', 'SHEETS_API_KEY'] as const;
  if (judged('SHEET_ID') && out.SHEET_ID !== undefined && !refused(...credentialSettings) && credentialSettings.every((n) => out[n] === undefined)) {
    problems.push({
      name: 'SHEET_ID',
      value: String(out.SHEET_ID),
      source: where('SHEET_ID'),
      allowed:
        'set with credentials, which are missing: GOOGLE_APPLICATION_CREDENTIALS (path of a service-account JSON key) or GOOGLE_SERVICE_ACCOUNT_JSON, or SHEETS_API_KEY for a public sheet (reads only); without SHEET_ID the offline sheet is used',
    });
  }

  // Credentials without SHEET_ID (unset, empty, commented out, misspelt) leave corral on the
  // offline sheet: the events it answers 201 to land in a local file, and nothing else said so
  // but one info line of the keeper's (and `corral check` said OK).
  const credentialsSet = credentialSettings.filter((n) => out[n] !== undefined);
  if (judged('SHEET_ID') && out.SHEET_ID === undefined && !refused('SHEET_ID') && credentialsSet.length > 0) {
    warnings.push(`${credentialsSet.join(' and ')} ${credentialsSet.length === 1 ? 'is' : 'are'} set but SHEET_ID is not, so corral uses the offline sheet under CORRAL_DATA_DIR (rows are written to a local file, not to Google Sheets): set SHEET_ID to the spreadsheet's id, or unset the credentials`);
  }
  // Credentials set together: one is used, the others are not, and nothing said which. A key file
  // rotated (GOOGLE_APPLICATION_CREDENTIALS) under a forgotten inline key went unused.
  if (judged('SHEET_ID') && out.SHEET_ID !== undefined) {
    // In the order the keeper takes them (sheets/google/credentials.ts, backend.ts).
    const [used, ...ignored] = (['GOOGLE_SERVICE_ACCOUNT_JSON', 'GOOGLE_APPLICATION_CREDENTIALS', 'SHEETS_API_KEY'] as const).filter((n) => out[n] !== undefined);
    if (used !== undefined && ignored.length > 0) {
      warnings.push(`${[used, ...ignored].join(' and ')} are set together: only ${used} is used (the inline key wins over the key file, and a service-account key over an API key), so ${ignored.join(' and ')} ${ignored.length === 1 ? 'has' : 'have'} no effect: unset ${ignored.length === 1 ? 'it' : 'them'}`);
    }
  }
  return { problems, warnings };
}
