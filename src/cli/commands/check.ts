// `corral check`: is the Sheets setup usable? Loads settings exactly as `corral start` does,
// fetches an access token (key problems show up here, apart from sharing problems), then reads
// the header rows of the players and events tabs in one batchGet, and prints one plain verdict.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings } from '../../config/load.js';
import { dataDirProblem } from '../../config/path-checks.js';
import type { Settings } from '../../config/schema.js';
import { EVENT_COLUMNS, eventLayout } from '../../app/event-columns.js';
import { ConfigError, CorralError, JournalFormatError } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { firstRowOf, parseA1 } from '../../sheets/a1.js';
import { createGoogleBackend, proxyText, type GoogleBackend } from '../../sheets/google/backend.js';
import { offlineSheetDir } from '../../sheets/offline/sheet-dir.js';
import { dataDirOf } from '../../sheets/keeper/socket-path.js';
import { sharedPrefix } from '../../sheets/keeper/shared-keys.js';
import { OfflineBackend } from '../../sheets/offline/backend.js';
import { SAMPLE_SHEET_DIR } from '../../sheets/sample-sheet.js';
import { parseFlags, type Command } from '../command.js';

interface TabReport {
  readonly setting: 'SHEET_PLAYERS_RANGE' | 'SHEET_EVENTS_RANGE';
  readonly range: string;
  readonly tab: string;
  readonly header: readonly string[];
}

interface Verdict {
  readonly ok: boolean;
  /** Absent when the settings could not be read: which sheet they meant is not known. */
  readonly backend?: 'offline' | 'google';
  readonly stage?: 'usage' | 'settings' | 'journal' | 'credentials' | 'sheet access' | 'redis' | 'internal';
  readonly spreadsheetId?: string;
  readonly identity?: string;
  readonly tabs?: readonly TabReport[];
  readonly warnings: readonly string[];
  readonly error?: { readonly code: string; readonly message: string };
  readonly line: string;
}

function tabName(range: string): string {
  try {
    return parseA1(range).sheet ?? 'first tab';
  } catch {
    return range;
  }
}

function describeTabs(tabs: readonly TabReport[]): string {
  return tabs
    .map((t) => {
      if (t.header.length === 0) return `tab ${t.tab}: no header row`;
      const names = t.header.length <= 8 ? `: ${t.header.join(', ')}` : '';
      return `tab ${t.tab}, ${t.header.length} column${t.header.length === 1 ? '' : 's'}${names}`;
    })
    .join('; ');
}

function failure(stage: Verdict['stage'], err: unknown, base: Partial<Verdict>): Verdict {
  const raw = (err as { code?: unknown } | undefined)?.code;
  const code = typeof raw === 'string' ? raw : 'ERROR';
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, backend: 'google', stage, warnings: [], ...base, error: { code, message }, line: `FAIL (${stage}): ${message} [${code}]` };
}

/**
 * What an OK does not prove: the check never writes, and a Viewer share (or a sheet anyone with
 * the link can view) reads as well as an Editor's while Google refuses its appends; the events
 * then wait in the journal until someone reads sheets.append_failed.
 */
function writeUntried(backend: GoogleBackend): string {
  if (backend.auth.identity.kind !== 'service-account') return '';
  return '; appends need the account to be an Editor of the sheet, which check does not try (it never writes)';
}

/**
 * What the header rows read mean for the bundled app (its ranges' own settings). A header it
 * cannot use was said OK: an Events row without event_id (or player, kind, detail, at) has every
 * POST /api/events answered 503 events_header_invalid, a Players row without name or code lets
 * no one log in; the check read those very rows and listed them under its OK. With CORRAL_APP,
 * another app's, only an empty row is said: what its columns must be is that app's business.
 */
function headerWarnings(settings: Settings, tabs: readonly TabReport[]): string[] {
  const warnings: string[] = [];
  const bundled = settings.CORRAL_APP === undefined;
  for (const t of tabs) {
    if (t.header.length === 0) {
      warnings.push(`${t.setting}=${t.range}: the first row is empty; corral keys records by the header row, so add one`);
      continue;
    }
    if (!bundled) continue;
    if (t.setting === 'SHEET_EVENTS_RANGE') {
      const layout = eventLayout(t.header);
      if (!layout.ok) {
        warnings.push(
          `${t.setting}=${t.range}: ${layout.problem}, so every POST /api/events is answered 503 events_header_invalid and nothing is saved [CORRAL_ERR_EVENTS_HEADER]: ` +
            `make its first row name ${EVENT_COLUMNS.join(', ')} (event_id first, the others in any order), or point ${t.setting} at a tab that does`,
        );
      }
    } else {
      const names = new Set(t.header.map((h) => h.trim().toLowerCase()));
      const missing = ['name', 'code'].filter((c) => !names.has(c));
      if (missing.length > 0) {
        const effect = missing.includes('name') ? 'no player can be found or log in' : 'no player can log in';
        warnings.push(`${t.setting}=${t.range}: its header row lacks ${missing.join(' and ')}, so ${effect} (POST /api/login answers 401 invalid_credentials): name the columns name and code in its first row`);
      }
    }
  }
  return warnings;
}

/** The ranges whose header rows a check reads, Google's or the offline sheet's. */
function wantedTabs(settings: Settings): { setting: TabReport['setting']; range: string }[] {
  return [
    { setting: 'SHEET_PLAYERS_RANGE', range: settings.SHEET_PLAYERS_RANGE ?? 'Players' },
    { setting: 'SHEET_EVENTS_RANGE', range: settings.SHEET_EVENTS_RANGE ?? 'Events' },
  ];
}

/**
 * No SHEET_ID: the offline sheet, local files in the data dir. It said OK without looking at
 * them, where start then refused the data dir (exit 78: /proc, a directory this user cannot
 * write in) or every login and event failed (a tab removed from data/sheet/, which is not
 * seeded again once it exists, or SHEET_EVENTS_RANGE naming a tab it lacks). The data dir is
 * judged as start judges it, and the header rows are read as for Google: from the offline
 * sheet, or before the first start from the sample sheet it will be created from.
 */
/**
 * The data dir judged as start judges it (exit 78 there), or undefined when start would take it.
 * With Google as much as offline: the keeper's lock and write journal live there, and a check that
 * skipped it said OK to a data dir the service's user cannot write in, which start then refused.
 */
function dataDirVerdict(settings: Settings, backend: 'offline' | 'google'): Verdict | undefined {
  const problem = dataDirProblem(dataDirOf(settings), { writable: true });
  if (problem === undefined) return undefined;
  const holds = backend === 'offline' ? 'the offline sheet' : "the keeper's lock and write journal";
  const message = `CORRAL_DATA_DIR=${JSON.stringify(settings.CORRAL_DATA_DIR ?? 'data')}, which holds ${holds}: ${problem}`;
  return {
    ok: false,
    backend,
    stage: 'settings',
    ...(backend === 'google' ? { spreadsheetId: settings.SHEET_ID } : {}),
    warnings: [],
    error: { code: 'CORRAL_ERR_CONFIG_INVALID', message },
    line: `FAIL (settings): ${message} [CORRAL_ERR_CONFIG_INVALID]`,
  };
}

/**
 * The data dir's write journal as the keeper's start would take it, or undefined when it would: a
 * journal declaring a format newer than this build reads (a rollback after a newer build ran) is
 * refused there (CORRAL_ERR_JOURNAL_FORMAT), and the keeper does not start. The start of the file
 * is read (journal-format-probe.ts), as the declaration is written first.
 */
async function journalVerdict(settings: Settings, backend: 'offline' | 'google'): Promise<Verdict | undefined> {
  // Loaded here only, as the Redis probe: every corral command imports this file.
  const [{ unknownFormatAtStart }, { JOURNAL_FORMAT }, { JOURNAL_FILE }] = await Promise.all([
    import('../../sheets/keeper/journal-format-probe.js'),
    import('../../sheets/keeper/journal-format.js'),
    import('../../sheets/keeper/journal-open.js'),
  ]);
  const path = join(dataDirOf(settings), JOURNAL_FILE);
  const found = await unknownFormatAtStart(path);
  if (found === undefined) return undefined;
  const err = new JournalFormatError(path, found.v, JOURNAL_FORMAT);
  return {
    ok: false,
    backend,
    stage: 'journal',
    ...(backend === 'google' ? { spreadsheetId: settings.SHEET_ID } : {}),
    warnings: [],
    error: { code: err.code, message: err.message },
    line: `FAIL (journal): ${err.message} [${err.code}]`,
  };
}

async function checkOffline(settings: Settings): Promise<Verdict> {
  const dataDir = dataDirOf(settings);
  const refused = dataDirVerdict(settings, 'offline') ?? (await journalVerdict(settings, 'offline'));
  if (refused !== undefined) return refused;
  const dir = offlineSheetDir(settings);
  let exists = true;
  try {
    statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return failure('sheet access', err, { backend: 'offline' });
    exists = false;
  }
  // Read, never created: the keeper seeds it at its start (a check run as root would leave it root's).
  const backend = new OfflineBackend(exists ? dir : SAMPLE_SHEET_DIR);
  const wanted = wantedTabs(settings);
  let tabs: TabReport[];
  try {
    const got = await backend.batchGetValues(wanted.map((w) => firstRowOf(w.range)));
    tabs = wanted.map((w, i) => ({ ...w, tab: tabName(w.range), header: got[i]?.values?.[0] ?? [] }));
  } catch (err) {
    const source = exists ? dir : SAMPLE_SHEET_DIR;
    let names: string[] = [];
    try {
      names = readdirSync(source).filter((n) => n.endsWith('.csv')).sort();
    } catch {
      // Unreadable: the error above says so.
    }
    const where = exists ? `the offline sheet in ${dir}` : `the sample sheet ${source}, which the offline sheet is created from at the first start`;
    const fix = exists ? ', or restore the missing tab\'s file' : '';
    const message = `${(err as Error).message}, in ${where}, whose tabs are its CSV files (${names.length > 0 ? names.join(', ') : 'none'}): point SHEET_PLAYERS_RANGE and SHEET_EVENTS_RANGE at tabs it has${fix}`;
    return failure('sheet access', Object.assign(new Error(message), { code: (err as { code?: unknown }).code ?? 'ERROR' }), { backend: 'offline' });
  } finally {
    await backend.close();
  }
  const warnings = headerWarnings(settings, tabs);
  const from = exists ? `in ${dir}` : `to be created in ${dir} at the first start, from the sample sheet`;
  return {
    ok: true,
    backend: 'offline',
    tabs,
    warnings,
    line: `OK: no SHEET_ID is set, so the offline sheet is in use (local files under CORRAL_DATA_DIR=${dataDir}; ${from}: ${describeTabs(tabs)}); set SHEET_ID and GOOGLE_APPLICATION_CREDENTIALS to use Google Sheets`,
  };
}

async function checkGoogle(settings: Settings, backend: GoogleBackend): Promise<Verdict> {
  const spreadsheetId = backend.spreadsheetId;
  let identity: string;
  try {
    const creds = await backend.verifyCredentials();
    identity = creds.kind === 'service-account' ? `service account ${creds.clientEmail ?? ''}` : 'the API key (SHEETS_API_KEY)';
  } catch (err) {
    return failure('credentials', err, { spreadsheetId });
  }
  const wanted = wantedTabs(settings);
  let tabs: TabReport[];
  try {
    const heads = wanted.map((w) => firstRowOf(w.range));
    const got = await backend.batchGetValues(heads);
    tabs = wanted.map((w, i) => ({ ...w, tab: tabName(w.range), header: got[i]?.values?.[0] ?? [] }));
  } catch (err) {
    return failure('sheet access', err, { spreadsheetId, identity });
  }
  const warnings = headerWarnings(settings, tabs);
  if (backend.auth.identity.kind === 'api-key') warnings.push('reads only: appends (events) need a service account shared as Editor');
  let shared = '';
  if (settings.REDIS_URL !== undefined) {
    // Loaded here only: every corral command (the master's `start` too) imports this file.
    const { probeRedis } = await import('../../redis/probe.js');
    const probe = await probeRedis(settings.REDIS_URL, sharedPrefix(backend.source), settings.REDIS_TLS_CA_FILE);
    if (!probe.ok) {
      const message = `Redis at ${probe.shown} (REDIS_URL): ${probe.message}; until it works each host reads Google, spends the quota on its own share and counts failed logins alone`;
      return failure('redis', Object.assign(new Error(message), { code: probe.refused ? 'CORRAL_ERR_REDIS_REFUSED' : 'CORRAL_ERR_REDIS' }), { spreadsheetId, identity, tabs });
    }
    shared = `; its quota, cache and failed-login counts are shared through Redis ${probe.version} at ${probe.shown}`;
    warnings.push(...probe.warnings);
  }
  return {
    ok: true,
    backend: 'google',
    spreadsheetId,
    identity,
    tabs,
    warnings,
    // The proxy, when one is used: an OK through it proves HTTPS_PROXY right (password as ***).
    line: `OK: ${identity} can read sheet ${spreadsheetId} (${describeTabs(tabs)})${shared}${proxyText(backend.proxy)}${writeUntried(backend)}`,
  };
}

/**
 * `check --timeout 5` means how long check waits for Google, which SHEETS_TIMEOUT bounds, not the
 * workers' heartbeat timeout the generic hint named ("set CORRAL_TIMEOUT=5").
 */
const CHECK_WAIT = 'check takes no timeout: each request to Google (or SHEETS_API_URL) waits at most SHEETS_TIMEOUT (10 s by default), as the keeper\'s do; for a shorter bound on the whole check, run it under timeout(1) (CORRAL_TIMEOUT is the workers\' heartbeat timeout, not this wait)';
const CHECK_FLAG_HINTS: Readonly<Record<string, string>> = { timeout: CHECK_WAIT, t: CHECK_WAIT };

export const checkCommand: Command = {
  name: 'check',
  // Its exit code is the verdict: a FAIL stays 1 when nobody read the line.
  exitCodeIsVerdict: true,
  help: `Usage: corral check [--json]

Reads .env (or CORRAL_ENV_FILE) and the environment exactly as \`corral start\` would, then:
  1. with no SHEET_ID: the offline sheet (under CORRAL_DATA_DIR) is in use: judges the data dir
     and its write journal as start does, reads the header rows of SHEET_PLAYERS_RANGE and
     SHEET_EVENTS_RANGE from its tabs (before the first start, from the sample sheet it is created
     from), and stops there;
  2. judges CORRAL_DATA_DIR as start does (the keeper's lock and write journal: one that declares
     a format newer than this build reads, written by a newer corral, is FAIL (journal)), then
     loads the service-account key (GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT_JSON)
     and fetches an access token from its token_uri (or uses SHEETS_API_KEY for a public sheet);
  3. reads the header row of SHEET_PLAYERS_RANGE and SHEET_EVENTS_RANGE in one values:batchGet
     (a row the bundled app cannot use, without name or code, or without event_id first, is a warning);
  4. with REDIS_URL: connects to Redis, runs a script and writes (then deletes) a key under the
     sheet's prefix, as the keeper's shared quota and cache need.
Prints one line, "OK: ..." or "FAIL (stage): what is wrong and how to fix it". Works against the
emulator (SHEETS_API_URL).

Options:
  --json     machine-readable verdict: ok, backend ("offline" or "google"; absent when the
             settings could not be read), stage (of a FAIL), spreadsheetId, identity, tabs
             (setting, range, tab, header), warnings, error (code, message), line (the text verdict);
             a refused command line too, as stage "usage" (exit 64)
  -h, --help this text

Exit codes: 0 corral can read the sheet (OK), 1 it cannot (FAIL; invalid settings and an
unreadable CORRAL_ENV_FILE included, as "FAIL (settings)"), 64 an unknown option.`,
  // A refused command line (exit 64) as a verdict too: `corral check --json | jq .ok` reads false.
  // (The settings' own refusals are verdicts of run(); whatever else it throws, it threw reading
  // them, but for an error corral did not foresee: a bug, stage "internal".)
  jsonRefusal: (err) => {
    const stage = err.code === 'CORRAL_ERR_USAGE' ? 'usage' : err.code === 'CORRAL_ERR_INTERNAL' ? 'internal' : 'settings';
    return { ok: false, stage, warnings: [], error: { code: err.code, message: err.message }, line: `FAIL (${stage}): ${err.message} [${err.code}]` } satisfies Verdict;
  },
  async run(argv) {
    const { values } = parseFlags(argv, { json: { type: 'boolean' } }, { readsSettings: true, flagHints: CHECK_FLAG_HINTS });
    if (values.help) {
      process.stdout.write(`${this.help}\n`);
      return 0;
    }
    let settings: Settings;
    // The settings' own warnings belong in the verdict: `SHEETS_ID=...` (did you mean SHEET_ID?)
    // is the difference between "OK: offline sheet" and the Google sheet the operator meant.
    let settingsWarnings: readonly string[];
    try {
      // The key is read at step 2, and a failure there said as FAIL (credentials).
      const loaded = loadSettings({ readFiles: false });
      settings = loaded.settings;
      settingsWarnings = [...loaded.warnings, ...noSettingsFileWarning(loaded.envFile, loaded.envFileNone)];
    } catch (err) {
      // check's own verdict (FAIL, exit 1), so scripts read every failure the same way: an
      // invalid value, or a CORRAL_ENV_FILE that cannot be read.
      let message: string;
      if (err instanceof ConfigError) message = err.problems.map((p) => `${p.name}=${JSON.stringify(p.value)} (from ${p.source}): ${p.allowed}`).join('; ');
      else if (err instanceof CorralError && err.code === 'CORRAL_ERR_ENV_FILE') message = err.message;
      else throw err;
      const warnings = err instanceof ConfigError ? err.warnings : [];
      return report({ ok: false, stage: 'settings', warnings, error: { code: err.code, message }, line: `FAIL (settings): ${message} [${err.code}]` }, values.json === true);
    }
    let verdict: Verdict;
    if (!settings.SHEET_ID) {
      const offline = await checkOffline(settings);
      verdict = { ...offline, warnings: [...settingsWarnings, ...offline.warnings] };
    } else {
      // Silent, and never CORRAL_LOG_FILE: opening it created it, owned by whoever ran the check
      // (root, before the service's user could open it), and a log file it could not open ended
      // the check with exit 78 and no verdict. What the client has to say is in the verdict.
      const log = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'cli' });
      let backend: GoogleBackend | undefined;
      try {
        // Read-only scope: check never writes. Two attempts keep a check against a down Google short.
        // The data dir first, as start refuses it before any call to Google.
        const refused = dataDirVerdict(settings, 'google') ?? (await journalVerdict(settings, 'google'));
        if (refused !== undefined) verdict = refused;
        else {
          backend = createGoogleBackend(settings, log.logger, { readOnly: true, retry: { maxAttempts: 2 } });
          verdict = await checkGoogle(settings, backend);
        }
      } catch (err) {
        // The key is read when the backend is built: a missing or damaged key file is a
        // credentials problem (step 2), not one of the settings' values.
        const stage = (err as { code?: unknown } | undefined)?.code === 'CORRAL_ERR_SHEETS_CREDENTIALS' ? 'credentials' : 'settings';
        verdict = failure(stage, err, { spreadsheetId: settings.SHEET_ID });
      } finally {
        await backend?.close();
        log.flush();
      }
      verdict = { ...verdict, warnings: [...settingsWarnings, ...verdict.warnings] };
    }
    return report(verdict, values.json === true);
  },
};

/**
 * No settings file was read: no ./.env where the check ran, and no CORRAL_ENV_FILE (none asked for
 * is a choice). `cd /opt/corral && sudo corral check` judged the defaults, "OK: no SHEET_ID is set,
 * so the offline sheet is in use" while the service's settings file set SHEET_ID and its key.
 */
function noSettingsFileWarning(envFile: string | undefined, envFileNone: boolean): string[] {
  if (envFile !== undefined || envFileNone) return [];
  return [
    'no settings file was read (there is no .env in this directory and CORRAL_ENV_FILE is not set), so this verdict is on the environment and the defaults alone: to check the settings the service runs with, name its file, as the systemd unit does (CORRAL_ENV_FILE=/etc/corral/corral.env corral check)',
  ];
}

function report(verdict: Verdict, json: boolean): number {
  if (json) {
    process.stdout.write(`${JSON.stringify(verdict, null, 2)}\n`);
  } else {
    process.stdout.write(`${verdict.line}\n`);
    for (const w of verdict.warnings) process.stdout.write(`warning: ${w}\n`);
  }
  return verdict.ok ? 0 : 1;
}
