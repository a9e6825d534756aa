// Reads settings once: .env file (dotenv.parse, never mutating process.env), then the real
// environment on top, then aliases; every problem is collected and reported together. The parts
// are their own modules: the file (env-file.ts), one setting's value (setting-value.ts), the
// names that set nothing (unknown-names.ts), and the checks past a value's own (sheet-credentials,
// disk-checks, redis-checks, whole-checks); here, their order and what each is told.

import { isAbsolute, resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { diskProblems } from './disk-checks.js';
import { readEnvFile, secretsOpenToOthers } from './env-file.js';
import { lintWarnings, type UnclosedQuote } from './env-lint.js';
import { envOverridesOf, type EnvOverride } from './env-overrides.js';
import { gunicornVariableWarnings } from './gunicorn-variables.js';
import { proxyWarnings } from './proxy-url.js';
import { redisChecks } from './redis-checks.js';
import { IGNORED_WITH_NOTE, schema, settingNames, type SettingName, type Settings } from './schema.js';
import { PATH_SETTINGS, defaultOf, givenValue, judgeValue, type SettingSource } from './setting-value.js';
import { sheetCredentialChecks } from './sheet-credentials.js';
import { displayValue, shownRaw } from './shown-value.js';
import type { SettingSpec } from './spec.js';
import { unknownNameWarnings } from './unknown-names.js';
import { keeperHeap, wholeProblems, wholeWarnings } from './whole-checks.js';

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
   * For a reload: the pidfile the running master wrote (`path` undefined: none). A CORRAL_PIDFILE
   * naming another file is judged as start judges it: the reload leaves it for the next restart
   * (config.restart_needed), and that restart wrote it first. Unjudged, a reload accepted a
   * pidfile start refuses, told the operator to restart for it, and the restart exited 78, which
   * the unit does not restart: the site stayed down over a setting the reload had said was fine.
   * The running one is not judged again: the master holds it.
   */
  pidfileAtStart?: { readonly path: string | undefined };
  /**
   * The env file the master read at start (LoadedSettings.envFile), for a reload: that file gone
   * is refused (CORRAL_ERR_ENV_FILE), not read as "no file", which would reload with every default.
   */
  envFileAtStart?: string | undefined;
}

/** The names corral reads a setting from: its own, its aliases, its lower-case form. */
const readNames: ReadonlySet<string> = new Set(
  settingNames.flatMap((name) => {
    const spec = schema[name] as SettingSpec<unknown>;
    return [name, ...(spec.aliases ?? []), ...(spec.lowercase ? [name.toLowerCase()] : [])];
  }),
);

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
    const given = givenValue(name, spec, merged, fromFile);
    warnings.push(...given.warnings);
    const { raw, source } = given;
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
    const parsed = judgeValue(name, spec, raw, { unclosed, fromEnvironment: readFrom === undefined, env, fileName: file });
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
  for (const w of lintWarnings(lint, { fileName: file ?? '.env', env, said: unclosedSaid })) warnAt(w.line, w.text);
  for (const [name, { note }] of Object.entries(IGNORED_WITH_NOTE)) if (merged[name] !== undefined) warnings.push(note);
  for (const w of unknownNameWarnings({ merged, fileValues, env, lint, fileName: file ?? '.env' })) warnAt(w.line, w.text);
  // The file's other names reach the app as dotenv read them: a value of bytes that are not UTF-8
  // as U+FFFD, said once here (a setting's is refused with the others, judgeValue).
  for (const [key, value] of Object.entries(fileValues)) {
    if (env[key] !== undefined || readNames.has(key) || !value.includes('\uFFFD')) continue;
    const line = lint.lineOf.get(key);
    warnAt(line, `${line ? `line ${line} of ` : ''}${file ?? '.env'}: the value of ${key} holds bytes that are not UTF-8 (the file saved as Latin-1 or Windows-1252?), which reach the app as U+FFFD: save the file as UTF-8`);
  }
  const workers = { value: out.CORRAL_WORKERS as number | undefined, set: sources.CORRAL_WORKERS !== undefined && sources.CORRAL_WORKERS !== 'default' };
  for (const w of gunicornVariableWarnings({ merged, env, lint, fileName: file ?? '.env', workers })) warnAt(w.line, w.text);

  const judged = (name: SettingName) => !options.judgeOnly || options.judgeOnly.includes(name);
  const whereOf = (name: string) => where(sources[name as SettingName] ?? 'environment', name);
  const readFiles = options.readFiles !== false;
  const sheet = sheetCredentialChecks(out, problems, { judged, where: whereOf });
  problems.push(...sheet.problems);
  warnings.push(...sheet.warnings);
  problems.push(...diskProblems(out, problems, { judged, where: whereOf, readFiles, cwd, nodeOptions: merged.NODE_OPTIONS }));
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
  redisChecks(out, { where: whereOf, readFiles, cwd, refuse, warn: (...texts) => warnings.push(...texts) });
  for (const name of PATH_SETTINGS) {
    const v = out[name];
    if (typeof v === 'string' && !isAbsolute(v)) out[name] = resolve(cwd, v);
  }
  // Of the settings whose own values are valid: reported with the rest, every problem at once.
  const valid = Object.fromEntries(Object.entries(out).filter(([name]) => !problems.some((p) => p.name === name))) as Partial<Settings>;
  problems.push(
    ...wholeProblems(valid, {
      judged,
      where: whereOf,
      logFile: readFiles,
      pidfile: options.judgePidfile === true || (options.pidfileAtStart !== undefined && valid.CORRAL_PIDFILE !== undefined && valid.CORRAL_PIDFILE !== options.pidfileAtStart.path),
    }),
  );
  warnings.push(...proxyWarnings(out as Partial<Settings>));
  // A port alone meant every interface until it kept the setting's default host: an admin API a
  // token let other hosts reach (a scraper elsewhere) moved to loopback, and is said so.
  const adminRaw = merged.CORRAL_ADMIN_BIND?.trim();
  if (adminRaw !== undefined && /^:?\d+$/.test(adminRaw) && typeof out.CORRAL_ADMIN_TOKEN === 'string' && out.CORRAL_ADMIN_BIND !== undefined) {
    const { host, port } = out.CORRAL_ADMIN_BIND as Settings['CORRAL_ADMIN_BIND'];
    warnings.push(`CORRAL_ADMIN_BIND=${adminRaw} (${whereOf('CORRAL_ADMIN_BIND')}) is a port alone: the admin API listens on ${host}:${port}, loopback only; write 0.0.0.0:${port} for it to be reached from other hosts`);
  }
  // Judged on valid values, before a refusal of others: the warnings come with the refusal.
  warnings.push(...wholeWarnings(valid, (name) => sources[name] !== undefined && sources[name] !== 'default', keeperHeap(merged.NODE_OPTIONS, getHeapStatistics().heap_size_limit)));
  // The warnings of the file's lines in the order of the lines (each kind was said in turn: line
  // 4's cut value before line 3's unknown name); the others keep their places.
  const slots = [...lineOfWarning.keys()].sort((a, b) => a - b);
  const inOrder = [...slots].sort((a, b) => (lineOfWarning.get(a) ?? 0) - (lineOfWarning.get(b) ?? 0) || a - b).map((i) => warnings[i] as string);
  slots.forEach((slot, k) => (warnings[slot] = inOrder[k] as string));
  if (problems.length > 0) throw new ConfigError(problems, warnings, { valid, where: whereOf });

  const childEnv = { ...merged, CORRAL_ENV_FILE: 'none' };
  return {
    settings: Object.freeze(out) as Settings,
    sources: Object.freeze(sources) as Record<SettingName, SettingSource>,
    warnings,
    envFile: file,
    envFileNone: env.CORRAL_ENV_FILE === 'none',
    where: whereOf,
    envOverrides: envOverridesOf(fileValues, env),
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
