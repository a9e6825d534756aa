// `corral emulator`: runs the Sheets API emulator in the foreground, for benchmarks, multi-process
// tests and trying corral without a Google account. With --key-out it writes a service-account
// key whose token_uri points at the emulator, so corral is pointed at it with ordinary settings.

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseInteger } from '../../config/number-text.js';
import { CorralError } from '../../errors.js';
import { describeHolder, portHolders } from '../../port-holder.js';
import { defaultSeed, loadSeedFile, SPREADSHEET_ID_CHARS, startEmulator, type Faults, type ShareRole, type SheetSeed } from '../../sheets/emulator/index.js';
import { parseFlags, type Command } from '../command.js';
import { decimalFlag, integerFlag } from '../number-flag.js';
import { envFileWord } from '../env-file-word.js';
import { shellWord } from '../shell-word.js';

const FLAGS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'latency-ms': { type: 'string' },
  'latency-jitter-ms': { type: 'string' },
  'error-rate': { type: 'string' },
  'error-status': { type: 'string' },
  'hang-rate': { type: 'string' },
  'reset-rate': { type: 'string' },
  'applied-error-rate': { type: 'string' },
  'token-error-rate': { type: 'string' },
  'reads-per-minute': { type: 'string' },
  'writes-per-minute': { type: 'string' },
  'reads-per-minute-per-user': { type: 'string' },
  'writes-per-minute-per-user': { type: 'string' },
  'workbook-cell-limit': { type: 'string' },
  'sheet-file': { type: 'string' },
  'spreadsheet-id': { type: 'string' },
  'key-out': { type: 'string' },
  'client-email': { type: 'string' },
  share: { type: 'string' },
  'api-key': { type: 'string' },
  public: { type: 'boolean' },
  xlsx: { type: 'boolean' },
  'random-seed': { type: 'string' },
  'token-lifetime': { type: 'string' },
} as const;

/**
 * The `use:` line: the settings as a shell takes them (before `corral start`), each of which a .env
 * line takes too, unless a value holds what dotenv reads otherwise (a single quote, which the
 * shell's spelling escapes as '\''): then lines for a .env follow, one setting each, or the line
 * says which value no .env can hold.
 */
function useLines(env: readonly (readonly [string, string])[]): string[] {
  const shell = env.map(([name, value]) => [name, shellWord(value)] as const);
  const use = `  use: ${shell.map(([name, word]) => `${name}=${word}`).join(' ')}`;
  const dotenv = env.map(([name, value], i) => [name, envFileWord(value, shell[i]?.[1])] as const);
  if (dotenv.every(([, word], i) => word === shell[i]?.[1])) return [use];
  const unwritable = dotenv.filter(([, word]) => word === undefined).map(([name]) => name);
  if (unwritable.length > 0) return [`${use}   (in a shell; no .env can hold the value of ${unwritable.join(' and ')}: set it in the environment)`];
  return [`${use}   (in a shell)`, '  in .env:', ...dotenv.map(([name, word]) => `    ${name}=${word}`)];
}

/** The 5xx statuses the emulator answers as Google's front end does. */
const ERROR_STATUSES: readonly Faults['errorStatus'][] = [500, 502, 503, 504];

/**
 * --error-status, refused with the statuses it takes and the value given: "an integer from 500 to
 * 504" for 418 sent the operator to try 501, which was then refused without saying what it got.
 */
function errorStatusFlag(raw: string | undefined): Faults['errorStatus'] | undefined {
  if (raw === undefined) return undefined;
  const parsed = parseInteger(raw, 500, 504);
  const status = ERROR_STATUSES.find((s) => parsed.ok && s === parsed.value);
  if (status !== undefined) return status;
  throw new CorralError('CORRAL_ERR_USAGE', `--error-status must be 500, 502, 503 or 504, got ${JSON.stringify(raw)}`);
}

export const emulatorCommand: Command = {
  name: 'emulator',
  help: `Usage: corral emulator [--port 8085] [options]

Serves the Sheets API v4 values endpoints and Google's OAuth token endpoint on HTTP, with the
same JSON bodies and errors, per-minute quotas and injectable faults. Stops on Ctrl-C / SIGTERM.
Its state is in memory only: a new run serves the seed again (rows written before are gone) and
knows no key an earlier run wrote (its token calls get invalid_grant "account not found"): remove
that key file, write a new one with --key-out, and point corral at it again.

Options:
  --port P                  listen port (default 8085; 0 = any free port)
  --host H                  listen address (default 127.0.0.1; control endpoints are unauthenticated)
  --sheet-file FILE         seed JSON: {"spreadsheetId": "...", "sheets": {"Players": [[...], ...]}}
                            (default: the sample sheet of config/sample-sheet/, as offline)
  --spreadsheet-id ID       override the seed's spreadsheet id
  --key-out FILE            write a service-account key (token_uri = this emulator) to FILE, shared
                            on the sheet; then: GOOGLE_APPLICATION_CREDENTIALS=FILE
  --client-email EMAIL      client_email of that key (default corral-1@corral-emulator.iam.gserviceaccount.com)
  --share writer|reader|none  how the sheet is shared with that key (default writer)
  --api-key KEY             accept KEY as SHEETS_API_KEY (reads of public sheets only)
  --public                  make the sheet readable with an API key ("anyone with the link")
  --xlsx                    serve the sheet as an Excel file stored in Drive, not a Google Sheet:
                            every values call is answered 400 FAILED_PRECONDITION, as Google does
  --latency-ms N            latency added to every values call (default 0)
  --latency-jitter-ms N     plus a uniform random 0..N ms (default 0)
  --error-rate R            share of values calls answered 5xx, 0..1 (default 0)
  --error-status S          500, 502, 503 or 504 (default 503; 502 is Google's front-end HTML page)
  --hang-rate R             share of values calls never answered, 0..1 (default 0)
  --reset-rate R            share of calls carried out, then cut mid-answer, 0..1 (default 0)
  --applied-error-rate R    share of writes carried out, then answered 500, 0..1 (default 0)
  --token-error-rate R      share of token-endpoint calls answered 503, 0..1 (default 0)
  --reads-per-minute N      the project's read quota per minute, 0 = unlimited (default 300,
                            as Google's)
  --writes-per-minute N     the project's write quota per minute, 0 = unlimited (default 300)
  --reads-per-minute-per-user N
                            each service account's read quota per minute, 0 = unlimited
                            (default 60, as Google's; API-key reads count only per project)
  --writes-per-minute-per-user N
                            each service account's write quota per minute, 0 = unlimited
                            (default 60)
  --workbook-cell-limit N   cells a spreadsheet may hold, every tab's rows x columns, 0 = unlimited
                            (default 10000000, as Google's): an append past it gets Google's 400
  --random-seed N           seed of the fault-injection randomness (replayable runs)
  --token-lifetime S        access-token lifetime in seconds (default 3599, as Google)
  -h, --help                this text

Control over HTTP (for benchmarks and multi-process tests):
  GET  /__emulator/counters            calls per method, statuses, injected faults, rows appended
  POST /__emulator/counters/reset      returns the counters, then zeroes them
  GET  /__emulator/reads?since=MS      read calls (values.get, batchGet) since MS: [{at, ranges}], the last 100,000
  POST /__emulator/quotas/reset        the per-minute quotas as at the start of a minute
  GET  /__emulator/faults              current faults and quotas
  POST /__emulator/faults              JSON partial, e.g. {"errorRate": 1} ... {"errorRate": 0}
  GET  /__emulator/spreadsheets/ID/sheets/TAB   a tab's rows
  POST /__emulator/revoke-tokens       the next call with an old token gets 401

The "listening on" line is printed once the emulator is ready (the key written), never before a
failure.

Exit codes: 0 stopped by Ctrl-C or SIGTERM, 1 the port cannot be bound (CORRAL_ERR_LISTEN), 64 an
unknown or invalid option, a --sheet-file it cannot read or a --key-out it cannot write (one that
exists is refused: it writes a new file, mode 0600).`,
  async run(argv) {
    const { values: v } = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(`${this.help}\n`);
      return 0;
    }
    // An empty value (`--host=$HOST` with HOST unset) is refused, not taken as the option left out:
    // an empty --host listened on every interface (the control endpoints are unauthenticated) and
    // printed http://:PORT; an empty --sheet-file served the sample sheet without a word.
    for (const flag of ['host', 'sheet-file', 'spreadsheet-id', 'api-key', 'key-out', 'client-email'] as const) {
      if (v[flag] === '') throw new CorralError('CORRAL_ERR_USAGE', `--${flag} is empty: give it a value, or leave the option out`);
    }
    const faults: Partial<Faults> = {};
    const set = <K extends keyof Faults>(k: K, value: Faults[K] | undefined) => {
      if (value !== undefined) faults[k] = value;
    };
    set('latencyMs', decimalFlag('latency-ms', v['latency-ms'], 0, 600_000));
    set('latencyJitterMs', decimalFlag('latency-jitter-ms', v['latency-jitter-ms'], 0, 600_000));
    set('errorRate', decimalFlag('error-rate', v['error-rate'], 0, 1));
    set('hangRate', decimalFlag('hang-rate', v['hang-rate'], 0, 1));
    set('resetRate', decimalFlag('reset-rate', v['reset-rate'], 0, 1));
    set('appliedErrorRate', decimalFlag('applied-error-rate', v['applied-error-rate'], 0, 1));
    set('tokenErrorRate', decimalFlag('token-error-rate', v['token-error-rate'], 0, 1));
    set('readsPerMinute', integerFlag('reads-per-minute', v['reads-per-minute'], 0, 10_000_000));
    set('writesPerMinute', integerFlag('writes-per-minute', v['writes-per-minute'], 0, 10_000_000));
    set('readsPerMinutePerUser', integerFlag('reads-per-minute-per-user', v['reads-per-minute-per-user'], 0, 10_000_000));
    set('writesPerMinutePerUser', integerFlag('writes-per-minute-per-user', v['writes-per-minute-per-user'], 0, 10_000_000));
    set('workbookCellLimit', integerFlag('workbook-cell-limit', v['workbook-cell-limit'], 0, 1_000_000_000));
    const status = errorStatusFlag(v['error-status']);
    if (status !== undefined) faults.errorStatus = status;
    // Both describe the key --key-out writes; without it they would change nothing, silently.
    for (const flag of ['share', 'client-email'] as const) {
      if (v[flag] !== undefined && !v['key-out']) throw new CorralError('CORRAL_ERR_USAGE', `--${flag} applies to the key written by --key-out FILE; add --key-out`);
    }
    // corral refuses a key whose client_email has no @ ("has no client_email"): refused here, not
    // written under a "listening" line for corral to refuse with exit 78.
    if (v['client-email'] !== undefined && !/^[^@\s]+@[^@\s]+$/.test(v['client-email'])) {
      throw new CorralError('CORRAL_ERR_USAGE', `--client-email must be an e-mail address (name@project.iam.gserviceaccount.com), got ${JSON.stringify(v['client-email'])}`);
    }
    const share = v.share ?? 'writer';
    if (share !== 'writer' && share !== 'reader' && share !== 'none') throw new CorralError('CORRAL_ERR_USAGE', '--share must be writer, reader or none');
    let seed: SheetSeed;
    try {
      seed = v['sheet-file'] ? loadSeedFile(resolve(v['sheet-file'])) : defaultSeed();
    } catch (err) {
      throw new CorralError('CORRAL_ERR_USAGE', `cannot use --sheet-file: ${(err as Error).message}`, { cause: err });
    }
    if (v['spreadsheet-id'] !== undefined) {
      // As a seed file's id is checked: the `use:` line's SHEET_ID must be one corral takes.
      if (!SPREADSHEET_ID_CHARS.test(v['spreadsheet-id'])) throw new CorralError('CORRAL_ERR_USAGE', `--spreadsheet-id must be letters, digits, - or _, got ${JSON.stringify(v['spreadsheet-id'])}`);
      seed = { ...seed, spreadsheetId: v['spreadsheet-id'] };
    }
    const randomSeed = integerFlag('random-seed', v['random-seed'], 0, 2 ** 32 - 1);
    const tokenLifetimeS = integerFlag('token-lifetime', v['token-lifetime'], 1, 86_400);

    // Checked before listening: a bad value is a usage error, not a listen failure.
    const port = integerFlag('port', v.port, 0, 65535) ?? 8085;
    let emulator;
    try {
      emulator = await startEmulator({
        port,
        host: v.host ?? '127.0.0.1',
        seed,
        faults,
        ...(randomSeed === undefined ? {} : { randomSeed }),
        ...(tokenLifetimeS === undefined ? {} : { tokenLifetimeS }),
      });
    } catch (err) {
      throw new CorralError('CORRAL_ERR_LISTEN', `the emulator cannot listen: ${(err as Error).message}${listenFix((err as NodeJS.ErrnoException).code, v.host ?? '127.0.0.1', port)}`, { cause: err });
    }
    const out = (line: string) => process.stdout.write(`${line}\n`);
    // Nothing is said until everything that can fail has been done: a script waiting for the
    // "listening" line must not go on against an emulator about to exit 64 (the key's token_uri
    // needs the bound port, so the key is written after listening, before the announcement).
    const lines = [`corral emulator listening on ${emulator.url}`, `  spreadsheet ${emulator.spreadsheetId}: tabs ${[...seed.sheets.keys()].join(', ')}`];
    // Name and value of each setting the `use:` line gives, spelt for a shell and for a .env below.
    const env: [string, string][] = [['SHEET_ID', emulator.spreadsheetId], ['SHEETS_API_URL', emulator.url]];
    if (v['key-out']) {
      const file = resolve(v['key-out']);
      const key = emulator.registerServiceAccount({ ...(v['client-email'] ? { clientEmail: v['client-email'] } : {}), share: share as ShareRole | 'none' });
      try {
        // A new file only (O_EXCL, which no symlink passes): the name an operator's real key goes
        // by (key.json) must not be overwritten by a test key, nor a file of mode 0644 left holding
        // a private key (the mode applies only to a file created).
        writeFileSync(file, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        // Nothing must keep listening for a run that has already failed.
        await emulator.close();
        const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
        throw new CorralError('CORRAL_ERR_USAGE', exists ? `--key-out ${file} exists: the emulator writes a new key; remove it or choose another name` : `cannot write --key-out ${file}: ${(err as Error).message}`, { cause: err });
      }
      lines.push(`  key ${file}: ${key.client_email} (shared as ${share})`);
      env.push(['GOOGLE_APPLICATION_CREDENTIALS', file]);
    }
    if (v['api-key'] !== undefined) {
      emulator.registerApiKey(v['api-key']);
      env.push(['SHEETS_API_KEY', v['api-key']]);
    }
    if (v.public) emulator.setPublic(emulator.spreadsheetId, true);
    if (v.xlsx) emulator.setXlsx(emulator.spreadsheetId, true);
    const f = emulator.faults();
    lines.push(...useLines(env));
    // corral refuses SHEET_ID without a credential (exit 78), and reads nothing with an API key on
    // a sheet not public (403): a `use:` line pasted as printed must say so, not look complete.
    if (!v['key-out'] && v['api-key'] === undefined) {
      lines.push('  (no credential in it, which corral refuses with SHEET_ID: add --key-out FILE for a service-account key, or --api-key KEY --public for reads only)');
    } else if (!v['key-out'] && !v.public) {
      lines.push('  (the sheet is not public: every call with SHEETS_API_KEY is answered 403; add --public, or --key-out FILE)');
    }
    lines.push(
      `  faults: latency ${f.latencyMs}+${f.latencyJitterMs} ms, errors ${f.errorRate} (${f.errorStatus}), hangs ${f.hangRate}, resets ${f.resetRate}, applied-errors ${f.appliedErrorRate}, token errors ${f.tokenErrorRate}; quotas ${f.readsPerMinute || 'unlimited'} reads/min, ${f.writesPerMinute || 'unlimited'} writes/min per project, ${f.readsPerMinutePerUser || 'unlimited'} and ${f.writesPerMinutePerUser || 'unlimited'} per user; ${f.workbookCellLimit || 'unlimited'} cells per spreadsheet`,
      '  control: GET /__emulator/counters, POST /__emulator/faults',
    );
    // Listening for the stop signals before the announcement: installed after it, a SIGTERM sent
    // by a script as soon as it read the "listening" lines found no handler about one time in two,
    // and the emulator died by the signal (143, no "served" line) rather than exiting 0. A second
    // signal while it stops ends it by the signal's default action.
    const stopped = new Promise<NodeJS.Signals>((done) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done(signal);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    for (const line of lines) out(line);
    out(`corral emulator: ${await stopped}, stopping`);
    const c = emulator.counters();
    await emulator.close();
    out(`corral emulator: served ${JSON.stringify(c.calls)}; statuses ${JSON.stringify(c.statuses)}`);
    return 0;
  },
};

/** What to do about a listen failure: the raw EADDRINUSE said what failed, not how to go on. */
function listenFix(code: string | undefined, host: string, port: number): string {
  if (code === 'EADDRINUSE') {
    // Named as corral's own bind names it (config/bind-check.ts), when /proc shows the holder.
    const holders = portHolders(port);
    const which = holders.length > 0 ? `it is held by ${holders.map(describeHolder).join('; and by ')}` : `ss -ltnp 'sport = :${port}' names it`;
    return `: another process listens on port ${port}; give another --port (--port 0 takes any free one, said on the "listening on" line), or stop that process (${which})`;
  }
  // EACCES on a higher port is a sandbox's or a raised net.ipv4.ip_unprivileged_port_start: not this advice.
  if (code === 'EACCES' && port > 0 && port < 1024) return `: a port below 1024 needs CAP_NET_BIND_SERVICE; give a --port of 1024 or more`;
  if (code === 'EADDRNOTAVAIL') return `: no interface of this host has the address ${host}; give a --host of this host (default 127.0.0.1)`;
  return '';
}
