// Reads settings once: .env file (dotenv.parse, never mutating process.env), then the real
// environment on top, then aliases; every problem is collected and reported together.

import { lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import dotenv from 'dotenv';
import { ConfigError, CorralError, type ConfigProblem } from '../errors.js';
import { editDistance } from '../edit-distance.js';
import { readRedisCa } from '../redis/tls-ca.js';
import { redisTarget, redisUrlWarnings } from '../redis/url.js';
import { lintEnvText, type EnvLint, type UnclosedQuote } from './env-lint.js';
import { appModuleProblem } from './app-module.js';
import { dataDirProblem, serviceAccountKeyProblem } from './path-checks.js';
import { pathVariableProblem } from './path-variables.js';
import { variableReferenceProblem } from './value-variables.js';
import { proxyWarnings } from './proxy-url.js';
import { IGNORED_WITH_NOTE, META_SETTINGS, schema, settingNames, type SettingName, type Settings } from './schema.js';
import type { ParseResult, SettingSpec } from './spec.js';
import { wholeProblems, wholeWarnings } from './whole-checks.js';

export type SettingSource = 'default' | '.env' | 'environment' | `alias ${string}`;

export interface LoadedSettings {
  readonly settings: Settings;
  readonly sources: Readonly<Record<SettingName, SettingSource>>;
  /** Human-readable notes: alias use, ignored names, did-you-mean. Logged once by the master. */
  readonly warnings: readonly string[];
  /** The .env file that was read, if any. */
  readonly envFile: string | undefined;
  /** CORRAL_ENV_FILE=none: no file was read because none was asked for (not for want of a ./.env). */
  readonly envFileNone: boolean;
  /** Where a setting's value was read, as a problem with it says: `/etc/corral/corral.env line 4`, `environment`, `default`. */
  readonly where: (name: SettingName) => string;
  /** Settings the file gives one value and the environment, which wins, another (see EnvOverride). */
  readonly envOverrides: readonly EnvOverride[];
  /**
   * The merged environment (file values under real ones) handed to child processes, with
   * CORRAL_ENV_FILE=none so they never re-read a file the master may be re-reading on reload.
   */
  readonly childEnv: Readonly<Record<string, string>>;
  /** Settings with an invalid value that judgeOnly left out: their default stands in (warned). */
  readonly invalidIgnored: readonly SettingName[];
  /**
   * Settings a reload kept at the running value (keepingSetting), each with the value the file
   * configured, displayed: the next reload tells a repeat of that edit from a new one.
   */
  readonly kept?: Readonly<Partial<Record<SettingName, string>>>;
}

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

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Only these settings must be valid; an invalid other one falls back to its default, with a
   * warning. For commands that only find and signal a running master (stop, status): a bad edit
   * elsewhere in .env must not keep the operator from stopping or inspecting it.
   */
  judgeOnly?: readonly SettingName[];
  /**
   * Read and parse the files the settings name for the keeper: the service-account key when
   * SHEET_ID is set (path-checks.ts) and REDIS_TLS_CA_FILE, and judge whether this user can write
   * in CORRAL_DATA_DIR (or create it); default true, as start, a reload and
   * `corral config` must. False where they are read right after anyway and reported at their own
   * stage (`corral check`, the keeper: exit 7, or its Redis link), or never used (a worker: a
   * file removed or rotated while corral runs must not keep a recycled worker from booting), or
   * not yet needed (`corral systemd-unit`, which may run before they are installed), or not the
   * command's business (`corral recommend`, which sizes workers). The same goes for whether
   * CORRAL_LOG_FILE can be opened (whole-checks.ts).
   */
  readFiles?: boolean;
  /**
   * Judge whether CORRAL_PIDFILE can be written (without creating it): start, which writes it
   * before anything else, and `corral config`. Not a reload, which does not move the pidfile.
   */
  judgePidfile?: boolean;
  /**
   * The env file the master read at start (LoadedSettings.envFile), for a reload: that file gone
   * is refused (CORRAL_ERR_ENV_FILE), not read as "no file", which would reload with every default.
   */
  envFileAtStart?: string | undefined;
}

/** Settings holding file paths, resolved against the working directory at load time. */
const PATH_SETTINGS: readonly SettingName[] = ['CORRAL_PIDFILE', 'CORRAL_LOG_FILE', 'CORRAL_DATA_DIR', 'GOOGLE_APPLICATION_CREDENTIALS', 'REDIS_TLS_CA_FILE'];

/**
 * A path as a shell would have expanded it (~, $HOME), refused as an invalid value: nothing here
 * expands it. Judged with the value, so that `corral stop` or `status` (judgeOnly) warn of it in a
 * setting they do not need, as of any invalid value, rather than refuse to stop the master.
 */
function unexpandedPath(name: SettingName, parsed: ParseResult<unknown>, env: NodeJS.ProcessEnv): ParseResult<unknown> {
  if (!parsed.ok || !PATH_SETTINGS.includes(name) || typeof parsed.value !== 'string') return parsed;
  const why = tildeProblem(parsed.value, env.HOME) ?? pathVariableProblem(parsed.value, env);
  return why ? { ok: false, allowed: why } : parsed;
}

/**
 * Why a path setting may not begin with `~`, or undefined. Nothing expands it in .env (neither
 * dotenv, nor systemd's EnvironmentFile=, nor the shell, which never reads the file): it was
 * taken literally, CORRAL_DATA_DIR=~/corral-data becoming ./~/corral-data under the working directory.
 */
function tildeProblem(path: string, home: string | undefined): string | undefined {
  if (!path.startsWith('~')) return undefined;
  const example = path.startsWith('~/') && home && isAbsolute(home) ? `: ${resolve(home, path.slice(2))}` : ' (e.g. /home/<user>/...)';
  return `an absolute path, without ~: nothing expands ~ in the settings (not dotenv, not systemd), so it would be a directory named "~" under the working directory; write the absolute path${example}`;
}

const KNOWN_PREFIXES = ['CORRAL_', 'GUNICORN_', 'SHEET_', 'SHEETS_'];
/** Prefixes other tools use too: an unknown name there is warned about only when it is a near miss of ours. */
const SHARED_PREFIXES = ['GOOGLE_', 'REDIS_'];

const NO_LINT: EnvLint = { lineOf: new Map(), duplicates: [], ignored: [], cutAtHash: [], unclosedQuotes: [], swallowed: [] };

/**
 * Why a value whose opening quote nothing closes is refused. dotenv keeps the quote in the value,
 * without a word: CORRAL_PIDFILE="/run/x.pid became the relative path `"/run/x.pid` (start made a
 * directory named `"`), CORRAL_BIND="127.0.0.1:80 a host name `"127.0.0.1`, refused for the wrong
 * reason. A value that does begin with a quote of its own is quoted whole ('"x').
 */
function unclosedQuoteProblem({ quote }: UnclosedQuote): string {
  return `its opening ${quote} is never closed, so dotenv keeps the ${quote} as part of the value: close the quote or remove it (a quoted value may span lines; it ends at its closing ${quote}, followed by nothing but a # comment)`;
}

/** Where the symlink at `file` points, when there is one (read after ENOENT: its target is missing). */
function danglingLinkTarget(file: string): string | undefined {
  try {
    return lstatSync(file).isSymbolicLink() ? readlinkSync(file) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why `bytes` cannot be read as the UTF-8 text dotenv expects, or undefined. A file saved as
 * UTF-16 (Windows editors, PowerShell's `>`) parsed as UTF-8 gave no setting at all, exit 0, and
 * warnings about lines of junk; NUL bytes are in no text file an operator meant.
 */
function notUtf8Text(bytes: Buffer): string | undefined {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) return 'it begins with a UTF-16 byte-order mark';
  if (bytes.includes(0)) return 'it holds NUL bytes (UTF-16 or UTF-32 text, or not text at all)';
  return undefined;
}

/** The settings file a process reads, by its CORRAL_ENV_FILE and working directory: undefined for `none`. */
function envFilePath(named: string | undefined, cwd: string): string | undefined {
  const name = envFileName(named);
  return name === undefined ? undefined : resolve(cwd, name);
}

/**
 * The settings file CORRAL_ENV_FILE names, as given (relative to the cwd unless absolute):
 * undefined for `none`. Also how a command finds the master that read a file
 * (cli/master-by-settings-file.ts, from that master's /proc environ): one rule, not two that
 * could drift apart.
 */
export function envFileName(named: string | undefined): string | undefined {
  if (named === 'none') return undefined;
  return named && named !== '' ? named : '.env';
}

function readEnvFile(env: NodeJS.ProcessEnv, cwd: string, readAtStart: string | undefined): { file: string | undefined; values: Record<string, string>; lint: EnvLint } {
  const named = env.CORRAL_ENV_FILE;
  const file = envFilePath(named, cwd);
  if (file === undefined) return { file: undefined, values: {}, lint: NO_LINT };
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A link whose target is gone is a file the operator meant to be read, not "no file".
    const target = code === 'ENOENT' ? danglingLinkTarget(file) : undefined;
    if (target !== undefined) {
      throw new CorralError('CORRAL_ERR_ENV_FILE', `cannot read env file ${file}: it is a symbolic link to ${target}, which does not exist; restore ${target}, or point the link at the settings file (or remove it to read no file)`, { cause: err });
    }
    // Gone since the master read it at start: a reload with the defaults (8 workers, logs on
    // stdout...) in its place would be a silent change of every setting.
    if (code === 'ENOENT' && readAtStart === file) {
      throw new CorralError('CORRAL_ERR_ENV_FILE', `the env file ${file}, read at start, is gone; restore it, or create an empty file there (touch ${file}) to reload with the defaults`, { cause: err });
    }
    // A missing default ./.env is normal; a missing file the operator named is an error.
    if (code === 'ENOENT' && !named) return { file: undefined, values: {}, lint: NO_LINT };
    const fix =
      code === 'EACCES' || code === 'EPERM'
        ? // Read by the master, and by the commands that find it (status, reload, stop), often
          // run by an operator as themselves: the file is private to corral's user on purpose.
          `make it readable by the user corral runs as, and run corral's commands as that user or root (sudo -u <that user> corral …)`
        : code === 'EISDIR'
          ? named
            ? 'CORRAL_ENV_FILE must name a file, not a directory'
            : // Not named: the default ./.env is what is a directory, which no CORRAL_ENV_FILE set.
              'the settings are read from ./.env unless CORRAL_ENV_FILE names another file: move that directory away, or set CORRAL_ENV_FILE to the settings file (none: read no file)'
          : 'point CORRAL_ENV_FILE at an existing file, or set CORRAL_ENV_FILE=none to read no file';
    throw new CorralError('CORRAL_ERR_ENV_FILE', `cannot read env file ${file}: ${(err as Error).message}; ${fix}`, { cause: err });
  }
  const why = notUtf8Text(bytes);
  if (why) throw new CorralError('CORRAL_ERR_ENV_FILE', `cannot read env file ${file}: ${why}; save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 ${file} > ${file}.utf8, then move that into place)`);
  const text = bytes.toString('utf8');
  return { file, values: dotenv.parse(text), lint: lintEnvText(text) };
}

const aliasOf = new Map<string, SettingName>();
for (const name of settingNames) for (const alias of (schema[name] as SettingSpec<unknown>).aliases ?? []) aliasOf.set(alias, name);
for (const name of settingNames) if ((schema[name] as SettingSpec<unknown>).lowercase) aliasOf.set(name.toLowerCase(), name);

/** A value as written, as it may be shown: secrets redacted whole, a proxy URL's or REDIS_URL's password alone. */
function shownRaw(spec: SettingSpec<unknown>, raw: string): string {
  if (spec.show) return spec.show(raw);
  return spec.secret ? '<redacted>' : raw;
}

function nearest(unknown: string): { name: string; d: number } | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of [...settingNames, ...aliasOf.keys(), ...Object.keys(META_SETTINGS)]) {
    const d = editDistance(unknown, name);
    if (!best || d < best.d) best = { name, d };
  }
  return best;
}

/** The setting an unknown name under one of our prefixes most likely meant. */
function suggest(unknown: string): string | undefined {
  const best = nearest(unknown);
  return best && best.d <= Math.max(2, Math.floor(unknown.length / 4)) ? best.name : undefined;
}

/**
 * The setting a name under no prefix of ours meant, when it is a near miss: a prefix misspelt
 * (CORAL_WORKERS, CORRALWORKERS, CORRAL-TIMEOUT, SHEETID). Closer than suggest() asks, as such a
 * file may hold other programs' names too: one edit for a short name, two from 10 characters.
 */
function nearMiss(unknown: string): string | undefined {
  if (unknown.length < 5) return undefined;
  const best = nearest(unknown);
  return best && best.d <= (unknown.length >= 10 ? 2 : 1) ? best.name : undefined;
}

/**
 * Words written for the default by operators used to other tools (gunicorn's `workers = auto`,
 * `CORRAL_TIMEOUT=default`). `CORRAL_WORKERS=auto` was told "an integer from 1 to 512" alone, not
 * that leaving it out gives CPU count x 4.
 */
const DEFAULT_WORDS = new Set(['auto', 'default']);

/**
 * An empty value refused says why: `CORRAL_TIMEOUT=` is not the default, as `CORRAL_DATA_DIR=` is
 * for a setting whose empty value means it (spec.ts), and "an integer from 1 to 3600" alone read
 * as if the line held something else. So does `auto` or `default` refused.
 */
function withDefaultNote(spec: SettingSpec<unknown>, raw: string, parsed: ParseResult<unknown>, fromEnvironment = false): ParseResult<unknown> {
  if (parsed.ok) return parsed;
  const word = raw.trim();
  const what = word === '' ? 'it is empty, which does not mean the default' : DEFAULT_WORDS.has(word.toLowerCase()) ? `"${word}" is not a name of the default` : undefined;
  if (what === undefined) return parsed;
  const d = spec.defaultText ?? (typeof spec.default === 'function' || spec.default === undefined ? undefined : spec.format(spec.default));
  // Set in the environment, there is no line to delete: `Environment=CORRAL_TIMEOUT=` in a unit.
  const fix = fromEnvironment ? "unset it where the environment sets it (the unit's Environment=, the shell)" : 'delete the line (or comment it out)';
  return { ok: false, allowed: `${parsed.allowed}; ${what}: ${fix} to use the default${d !== undefined && d !== '' ? ` (${d})` : ''}` };
}

/** Applies a setting's default (literal or computed). */
export function defaultOf<T>(spec: SettingSpec<T>): T {
  return typeof spec.default === 'function' ? (spec.default as () => T)() : spec.default;
}

export function loadSettings(options: LoadOptions = {}): LoadedSettings {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const { file, values: fileValues, lint } = readEnvFile(env, cwd, options.envFileAtStart);

  const merged: Record<string, string> = { ...fileValues };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v;

  const fromFile = (k: string) => Object.hasOwn(fileValues, k) && env[k] === undefined;
  // Where a refused value was read, said so it can be found: the file's path, not ".env", which
  // under systemd is /etc/corral/corral.env; and its line.
  const where = (source: SettingSource, name: string): string => {
    if (source !== '.env' && !(source.startsWith('alias ') && fromFile(source.slice(6)))) return source;
    const line = lint.lineOf.get(source === '.env' ? name : source.slice(6));
    return `${source === '.env' ? '' : `${source} in `}${file ?? '.env'}${line ? ` line ${line}` : ''}`;
  };
  const warnings: string[] = [];
  // The file's line each warning about one is of (by index in `warnings`), to say them in line order.
  const lineOfWarning = new Map<number, number>();
  const warnAt = (line: number | undefined, text: string): void => {
    if (line !== undefined) lineOfWarning.set(warnings.length, line);
    warnings.push(text);
  };
  // Said where the settings are judged whole (start, config, a reload), not by the commands that
  // only look the master up (status, stop).
  const openSecrets = file === undefined || options.judgeOnly !== undefined ? undefined : secretsOpenToOthers(file, fileValues);
  if (openSecrets) warnings.push(openSecrets);
  const problems: ConfigProblem[] = [];
  const out: Record<string, unknown> = {};
  const sources: Record<string, SettingSource> = {};
  const invalidIgnored: SettingName[] = [];
  // The line a name's value came from, when dotenv kept an unclosed opening quote in it.
  const unclosedAt = (key: string): UnclosedQuote | undefined => lint.unclosedQuotes.find((u) => u.name === key && u.line === lint.lineOf.get(key));
  /** Unclosed quotes reported with the setting read from them; the others are warned of below. */
  const unclosedSaid = new Set<UnclosedQuote>();

  for (const name of settingNames) {
    const spec = schema[name] as SettingSpec<unknown>;
    let raw = merged[name];
    let source: SettingSource = fromFile(name) ? '.env' : 'environment';
    const lower = spec.lowercase ? name.toLowerCase() : undefined;
    if (lower !== undefined && merged[lower] !== undefined) {
      // curl and undici read https_proxy before HTTPS_PROXY: the same proxy as the other tools on the host.
      if (raw !== undefined && raw.trim() !== merged[lower].trim()) {
        warnings.push(`${lower} and ${name} are both set, to different values: ${lower} (${shownRaw(spec, merged[lower])}) is used, as curl and undici do; unset one of them`);
      }
      raw = merged[lower];
      source = `alias ${lower}`;
    } else if (raw === undefined) {
      for (const alias of spec.aliases ?? []) {
        if (merged[alias] !== undefined) {
          raw = merged[alias];
          source = `alias ${alias}`;
          warnings.push(`${alias} is a deprecated alias of ${name}; rename it ${fromFile(alias) ? 'in your env file' : 'where the environment sets it (the unit\'s Environment=, the shell)'} (value used: ${raw})`);
          break;
        }
      }
    } else {
      for (const alias of spec.aliases ?? []) {
        if (merged[alias] !== undefined) warnings.push(`${alias} is ignored because ${name} is also set`);
      }
    }
    if (raw === undefined) {
      out[name] = defaultOf(spec);
      sources[name] = 'default';
      continue;
    }
    // The name read from the file, if the value came from there: a quote dotenv kept in it is the
    // problem to name, whatever the setting would make of the quote (a path, a bad host name).
    const readFrom = source === '.env' ? name : source.startsWith('alias ') && fromFile(source.slice(6)) ? source.slice(6) : undefined;
    const unclosed = readFrom !== undefined ? unclosedAt(readFrom) : undefined;
    if (unclosed) unclosedSaid.add(unclosed);
    // A reference to a variable is judged before the value's own parser, which accepted it as
    // text (SHEET_ID, a secret) or refused it for something else ("an integer from 1 to 512").
    const reference = PATH_SETTINGS.includes(name) ? undefined : variableReferenceProblem(raw, spec.secret === true);
    const parsed: ParseResult<unknown> = unclosed
      ? { ok: false, allowed: unclosedQuoteProblem(unclosed) }
      : reference
        ? { ok: false, allowed: reference }
        : unexpandedPath(name, withDefaultNote(spec, raw, spec.parse(raw), readFrom === undefined), env);
    if (!parsed.ok && options.judgeOnly && !options.judgeOnly.includes(name)) {
      warnings.push(`${name}=${spec.secret && !spec.show ? '<redacted>' : JSON.stringify(shownRaw(spec, raw))} (from ${where(source, name)}) is invalid (${parsed.allowed}); this command does not need it, but corral will not start or reload until it is fixed`);
      out[name] = defaultOf(spec);
      sources[name] = 'default';
      invalidIgnored.push(name);
      continue;
    }
    if (!parsed.ok) {
      problems.push({ name, value: shownRaw(spec, raw), allowed: parsed.allowed, source: where(source, name) });
      continue;
    }
    out[name] = parsed.value;
    sources[name] = source;
  }

  // Which file to read is decided before any is read: one naming another file in itself is read
  // as it is, and the operator who wrote that line would otherwise never learn it did nothing.
  if (Object.hasOwn(fileValues, 'CORRAL_ENV_FILE')) {
    const line = lint.lineOf.get('CORRAL_ENV_FILE');
    warnAt(
      line,
      `CORRAL_ENV_FILE in ${file ?? '.env'}${line ? ` line ${line}` : ''} has no effect: it says which file to read, so only the environment can set it (under systemd, Environment=CORRAL_ENV_FILE=... in the unit); this file was read`,
    );
  }
  for (const { line, begins } of lint.ignored) {
    warnAt(line, `line ${line} of ${file ?? '.env'} is not NAME=value, so it is ignored${begins ? ` (it begins ${begins})` : ''}: write it as NAME=value, or comment it out with #`);
  }
  for (const u of lint.unclosedQuotes) {
    if (unclosedSaid.has(u)) continue;
    // Not the value of a setting corral reads (another program's name, a line set again later, a
    // value the environment overrides): the children get it as dotenv read it. Never shown.
    warnAt(u.line, `line ${u.line} of ${file ?? '.env'}: the value of ${u.name} begins with ${u.quote}, never closed, so dotenv keeps the ${u.quote} as part of the value: close the quote or remove it`);
  }
  for (const w of lint.swallowed) {
    // Only names: the value and the lines may hold secrets.
    const held = w.lines.map((l) => `${l.name} on line ${l.line}`).join(', ');
    warnAt(
      w.line,
      `line ${w.line} of ${file ?? '.env'}: the value of ${w.name} is quoted across lines ${w.line} to ${w.closedAt}, and holds lines that read as settings (${held}): dotenv takes them as part of that value, not as settings. If they are settings, close the quote on line ${w.line}`,
    );
  }
  for (const { line, name } of lint.cutAtHash) {
    // The value is never shown: it may be a secret (a token cut short is still refused as short).
    warnAt(line, `line ${line} of ${file ?? '.env'}: the value of ${name} ends at its "#" (dotenv reads an unquoted value only up to a #), so what follows the # is dropped: if the # is part of the value, quote the value (${name}="..."); if it begins a comment, put a space before it`);
  }
  for (const d of lint.duplicates) {
    const which = env[d.name] !== undefined ? 'and in the environment, whose value is used' : `the last one (line ${d.lines[d.lines.length - 1]}) is used`;
    warnAt(d.lines[0], `${d.name} is set ${d.lines.length} times in ${file ?? '.env'} (lines ${d.lines.join(', ')}); ${which}: delete the duplicate lines`);
  }
  for (const [name, note] of Object.entries(IGNORED_WITH_NOTE)) if (merged[name] !== undefined) warnings.push(note);
  const known = (key: string) => key in schema || aliasOf.has(key) || key in IGNORED_WITH_NOTE || key in META_SETTINGS;
  // The file's line a name was read from (none when the environment sets it).
  const fileLine = (key: string): number | undefined => (env[key] !== undefined ? undefined : lint.lineOf.get(key));
  // Where an unknown name was set, to fix it there: the file's line, or the environment.
  const setAt = (key: string, cased = ''): string => {
    const line = lint.lineOf.get(key);
    const place = env[key] !== undefined ? 'set in the environment' : `${file ?? '.env'}${line ? ` line ${line}` : ''}`;
    return ` (${place}${cased})`;
  };
  for (const key of Object.keys(merged)) {
    // Names are case-sensitive: `corral_workers=4` sets nothing, and must not pass unnoticed.
    const upper = key.toUpperCase();
    if (!KNOWN_PREFIXES.some((p) => upper.startsWith(p))) continue;
    if (known(key) || key.startsWith('CORRAL_INTERNAL_')) continue;
    const guess = known(upper) ? upper : suggest(upper);
    const cased = key !== upper ? '; setting names are upper case' : '';
    warnAt(fileLine(key), `unknown setting ${key}${setAt(key, cased)}${guess ? `: did you mean ${guess}?` : ': ignored'}`);
  }
  // A name under none of the prefixes (a misspelt prefix), from the file only: the environment
  // holds every other program's variables, and is not where an operator types corral's settings.
  for (const key of Object.keys(fileValues)) {
    const upper = key.toUpperCase();
    if (known(key) || [...KNOWN_PREFIXES, ...SHARED_PREFIXES].some((p) => upper.startsWith(p))) continue;
    const guess = known(upper) ? upper : nearMiss(upper);
    if (guess) warnAt(fileLine(key), `unknown setting ${key}${setAt(key)}: did you mean ${guess}?`);
  }
  // GOOGLE_* and REDIS_* names belong to other tools too (GOOGLE_CLOUD_PROJECT, an app's
  // REDIS_HOST...): only a near miss of one of ours is worth a word, and it is:
  // GOOGLE_APPLICATION_CREDENTIAL leaves corral without a key, REDIS_ULR leaves the host unshared.
  for (const key of Object.keys(merged)) {
    const upper = key.toUpperCase();
    const prefix = SHARED_PREFIXES.find((p) => upper.startsWith(p));
    if (prefix === undefined || key in schema) continue;
    const guess = upper in schema ? upper : suggest(upper);
    const cased = key !== upper ? '; setting names are upper case' : '';
    if (guess?.startsWith(prefix)) warnAt(fileLine(key), `unknown setting ${key}${setAt(key, cased)}: did you mean ${guess}?`);
  }

  // Google needs credentials: without them the keeper could only fail, over and over, behind a
  // master that looks healthy. Judged here so that start exits 78 and a reload is refused.
  const judged = (name: SettingName) => !options.judgeOnly || options.judgeOnly.includes(name);
  const credentialSettings = ['GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_SERVICE_ACCOUNT_JSON', 'SHEETS_API_KEY'] as const;
  if (judged('SHEET_ID') && out.SHEET_ID !== undefined && !problems.some((p) => (credentialSettings as readonly string[]).includes(p.name)) && credentialSettings.every((n) => out[n] === undefined)) {
    problems.push({
      name: 'SHEET_ID',
      value: String(out.SHEET_ID),
      source: where(sources.SHEET_ID ?? 'environment', 'SHEET_ID'),
      allowed:
        'set with credentials, which are missing: GOOGLE_APPLICATION_CREDENTIALS (path of a service-account JSON key) or GOOGLE_SERVICE_ACCOUNT_JSON, or SHEETS_API_KEY for a public sheet (reads only); without SHEET_ID the offline sheet is used',
    });
  }

  // Credentials without SHEET_ID (unset, empty, commented out, misspelt) leave corral on the
  // offline sheet: the events it answers 201 to land in a local file, and nothing else said so
  // but one info line of the keeper's (and `corral check` said OK).
  const credentialsSet = credentialSettings.filter((n) => out[n] !== undefined);
  if (judged('SHEET_ID') && out.SHEET_ID === undefined && !problems.some((p) => p.name === 'SHEET_ID') && credentialsSet.length > 0) {
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

  // The files the settings name, judged by what is there (path-checks.ts): a key the keeper cannot
  // read, or a data dir that is a file, made it fail over and over behind a master that said ready.
  // A SHEET_ID refused for its value (a URL pasted whole) still says a Google sheet is meant: the
  // key is judged with it, so that both are reported at once, not the key's after the id is fixed.
  const keySettings = ['SHEET_ID', 'GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_SERVICE_ACCOUNT_JSON'] as const;
  const sheetMeant = typeof out.SHEET_ID === 'string' ? out.SHEET_ID : problems.some((p) => p.name === 'SHEET_ID') ? '(refused)' : undefined;
  if (options.readFiles !== false && keySettings.every(judged) && !problems.some((p) => p.name === 'GOOGLE_APPLICATION_CREDENTIALS' || p.name === 'GOOGLE_SERVICE_ACCOUNT_JSON')) {
    const file = typeof out.GOOGLE_APPLICATION_CREDENTIALS === 'string' ? resolve(cwd, out.GOOGLE_APPLICATION_CREDENTIALS) : undefined;
    const bad = serviceAccountKeyProblem({ ...(out as Pick<Settings, (typeof keySettings)[number]>), SHEET_ID: sheetMeant }, file);
    if (bad) {
      const value = bad.setting === 'GOOGLE_SERVICE_ACCOUNT_JSON' ? '<redacted>' : String(out.GOOGLE_APPLICATION_CREDENTIALS);
      problems.push({ name: bad.setting, value, source: where(sources[bad.setting] ?? 'environment', bad.setting), allowed: bad.why });
    }
  }
  // The data dir by a stat here (config --check creates nothing), so a child started after it
  // became a file says so too, rather than a bare EEXIST. Whether this user can write in it only
  // where the keeper's files are judged (readFiles): a worker never writes there, and `corral
  // check` reaches the keeper's own refusal.
  if (judged('CORRAL_DATA_DIR') && typeof out.CORRAL_DATA_DIR === 'string') {
    const why = dataDirProblem(resolve(cwd, out.CORRAL_DATA_DIR), { writable: options.readFiles !== false });
    if (why) problems.push({ name: 'CORRAL_DATA_DIR', value: out.CORRAL_DATA_DIR, source: where(sources.CORRAL_DATA_DIR ?? 'environment', 'CORRAL_DATA_DIR'), allowed: why });
  }

  if (judged('CORRAL_APP') && typeof out.CORRAL_APP === 'string') {
    const why = appModuleProblem(out.CORRAL_APP, cwd);
    if (why) problems.push({ name: 'CORRAL_APP', value: out.CORRAL_APP, source: where(sources.CORRAL_APP ?? 'environment', 'CORRAL_APP'), allowed: why });
  }

  // A problem of the Redis settings, judged past their own values: for a command that does not need
  // them (stop, status: judgeOnly), a warning like any invalid value's, not a refusal, which kept
  // `corral stop` from stopping the master.
  const refuse = (p: ConfigProblem): void => {
    if (judged(p.name as SettingName)) {
      problems.push(p);
      return;
    }
    warnings.push(`${p.name}=${JSON.stringify(p.value)} (from ${p.source}) is invalid (${p.allowed}); this command does not need it, but corral will not start or reload until it is fixed`);
    invalidIgnored.push(p.name as SettingName);
  };
  if (typeof out.REDIS_URL === 'string') {
    warnings.push(...redisUrlWarnings(out.REDIS_URL));
    try {
      redisTarget(out.REDIS_URL);
    } catch (err) {
      refuse({ name: 'REDIS_URL', value: shownRaw(schema.REDIS_URL as SettingSpec<unknown>, out.REDIS_URL), source: where(sources.REDIS_URL ?? 'environment', 'REDIS_URL'), allowed: (err as Error).message });
    }
    // Each host's offline sheet is its own file: there is nothing to share, and sharing its ranges
    // would serve one host's rows from another's file.
    if (out.SHEET_ID === undefined) warnings.push('REDIS_URL has no effect without SHEET_ID: the offline sheet is this host\'s own, its quota and cache are not shared');
  }
  if (typeof out.REDIS_TLS_CA_FILE === 'string') {
    const source = where(sources.REDIS_TLS_CA_FILE ?? 'environment', 'REDIS_TLS_CA_FILE');
    const path = resolve(cwd, out.REDIS_TLS_CA_FILE);
    if (typeof out.REDIS_URL !== 'string' || !out.REDIS_URL.startsWith('rediss://')) {
      // Set for TLS, with a URL that would send the password in the clear: refused, not ignored.
      refuse({ name: 'REDIS_TLS_CA_FILE', value: out.REDIS_TLS_CA_FILE, source, allowed: 'set only with a rediss:// REDIS_URL (TLS): write REDIS_URL=rediss://host:port, or unset REDIS_TLS_CA_FILE' });
    } else if (options.readFiles !== false) {
      try {
        readRedisCa(path);
      } catch (err) {
        refuse({ name: 'REDIS_TLS_CA_FILE', value: out.REDIS_TLS_CA_FILE, source, allowed: (err as Error).message });
      }
    }
  }
  for (const name of PATH_SETTINGS) {
    const v = out[name];
    if (typeof v === 'string' && !isAbsolute(v)) out[name] = resolve(cwd, v);
  }
  // Of the settings whose own values are valid: reported with the rest, every problem at once.
  const valid = Object.fromEntries(Object.entries(out).filter(([name]) => !problems.some((p) => p.name === name))) as Partial<Settings>;
  problems.push(
    ...wholeProblems(valid, {
      judged,
      where: (name) => where(sources[name] ?? 'environment', name),
      logFile: options.readFiles !== false,
      pidfile: options.judgePidfile === true,
    }),
  );
  warnings.push(...proxyWarnings(out as Partial<Settings>));
  // A port alone meant every interface until it kept the setting's default host: an admin API a
  // token let other hosts reach (a scraper elsewhere) moved to loopback, and is said so.
  const adminRaw = merged.CORRAL_ADMIN_BIND?.trim();
  if (adminRaw !== undefined && /^:?\d+$/.test(adminRaw) && typeof out.CORRAL_ADMIN_TOKEN === 'string' && out.CORRAL_ADMIN_BIND !== undefined) {
    const { host, port } = out.CORRAL_ADMIN_BIND as Settings['CORRAL_ADMIN_BIND'];
    warnings.push(`CORRAL_ADMIN_BIND=${adminRaw} (${where(sources.CORRAL_ADMIN_BIND ?? 'environment', 'CORRAL_ADMIN_BIND')}) is a port alone: the admin API listens on ${host}:${port}, loopback only; write 0.0.0.0:${port} for it to be reached from other hosts`);
  }
  // Judged on valid values, before a refusal of others: the warnings come with the refusal.
  warnings.push(...wholeWarnings(valid, (name) => sources[name] !== undefined && sources[name] !== 'default'));
  // The warnings of the file's lines in the order of the lines (each kind was said in turn: line
  // 4's cut value before line 3's unknown name); the others keep their places.
  const slots = [...lineOfWarning.keys()].sort((a, b) => a - b);
  const inOrder = [...slots].sort((a, b) => (lineOfWarning.get(a) ?? 0) - (lineOfWarning.get(b) ?? 0) || a - b).map((i) => warnings[i] as string);
  slots.forEach((slot, k) => (warnings[slot] = inOrder[k] as string));
  const whereOf = (name: string) => where(sources[name as SettingName] ?? 'environment', name);
  if (problems.length > 0) throw new ConfigError(problems, warnings, { valid, where: whereOf });

  const envOverrides: EnvOverride[] = [];
  for (const name of settingNames) {
    const spec = schema[name] as SettingSpec<unknown>;
    // An alias set in both (GUNICORN_TIMEOUT in the file and in the unit's Environment=) is the
    // same edit without effect as the setting's own name.
    for (const given of [name, ...(spec.aliases ?? [])]) {
      const [inFile, inEnv] = [fileValues[given], env[given]];
      if (!Object.hasOwn(fileValues, given) || inFile === undefined || inEnv === undefined || inFile === inEnv) continue;
      envOverrides.push({ setting: given, ...(given === name ? {} : { aliasOf: name }), file: shownRaw(spec, inFile), environment: shownRaw(spec, inEnv) });
    }
  }

  const childEnv = { ...merged, CORRAL_ENV_FILE: 'none' };
  return {
    settings: Object.freeze(out) as Settings,
    sources: Object.freeze(sources) as Record<SettingName, SettingSource>,
    warnings,
    envFile: file,
    envFileNone: env.CORRAL_ENV_FILE === 'none',
    where: whereOf,
    envOverrides,
    childEnv,
    invalidIgnored,
  };
}

/**
 * The same settings with one kept at another value, for the children too (their environment names
 * it, its aliases removed): a reload that applies the rest of the file but not that setting.
 */
export function keepingSetting<N extends SettingName>(loaded: LoadedSettings, name: N, value: Settings[N]): LoadedSettings {
  const spec = schema[name] as SettingSpec<unknown>;
  const childEnv: Record<string, string> = { ...loaded.childEnv, [name]: spec.format(value) };
  for (const alias of spec.aliases ?? []) delete childEnv[alias];
  const kept = { ...loaded.kept, [name]: displayValue(name, loaded.settings[name]) };
  return { ...loaded, settings: Object.freeze({ ...loaded.settings, [name]: value }) as Settings, childEnv, kept };
}

/** Printable value of a setting, with secrets redacted. */
export function displayValue(name: SettingName, value: unknown): string {
  const spec = schema[name] as SettingSpec<unknown>;
  if (value === undefined) return '(unset)';
  if (spec.show) return spec.show(spec.format(value));
  return spec.secret ? '<redacted>' : spec.format(value);
}

/**
 * A settings file every user of the host may read, that holds a secret (the admin token, the
 * session secret, a service-account key, a Redis password): said, with the fix. `echo ... >> .env`
 * under the usual umask 022 makes it 0644; the data dir's files corral writes itself are 0600.
 */
function secretsOpenToOthers(file: string, values: Record<string, string>): string | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return undefined;
  }
  if ((mode & 0o004) === 0) return undefined;
  const held = settingNames.filter((name) => {
    const spec = schema[name] as SettingSpec<unknown>;
    // A setting only part of which is secret (REDIS_URL's password) holds one only with that part.
    return spec.secret === true && [name, ...(spec.aliases ?? [])].some((n) => {
      const raw = values[n] ?? '';
      return raw !== '' && (spec.holdsSecret?.(raw) ?? true);
    });
  });
  if (held.length === 0) return undefined;
  return `${file} is readable by every user of this host (mode ${(mode & 0o777).toString(8).padStart(4, '0')}) and holds ${held.join(', ')}: chmod 600 ${file} (or 640, owned by root and the service's group, as the Deploy steps install it)`;
}
