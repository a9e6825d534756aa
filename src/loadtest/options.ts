// `corral loadtest` flags → validated options. Everything is checked before a single request is
// sent, and each problem names the flag.

import { isAbsolute, resolve } from 'node:path';
import { parseFlags } from '../cli/command.js';
import { readLoadtestEnv, type LoadtestEnv } from '../config/loadtest-env.js';
import { parseDecimal, parseInteger } from '../config/number-text.js';
import { CorralError } from '../errors.js';
import { formatExactDuration, parseDuration } from './duration.js';
import { inputError } from './exit.js';
import { DEFAULT_MIX, parseMix, type Mix } from './mix.js';
import { loadProfile, MAX_PROFILE_USERS, type Profile } from './profile.js';

export type LoadtestMode = 'steps' | 'profile' | 'constant';

export interface LoadtestOptions {
  readonly target: URL;
  readonly mode: LoadtestMode;
  readonly steps: readonly number[];
  readonly stepDurationMs: number;
  readonly profile: Profile | undefined;
  readonly profileFile: string | undefined;
  readonly timeScale: number;
  /** --duration: the run length for --users, a hard cap otherwise. */
  readonly durationMs: number | undefined;
  readonly users: number | undefined;
  /** --think-time when given; otherwise the profile's actions or DEFAULT_THINK_MS pace users. */
  readonly thinkTimeMs: number | undefined;
  readonly mix: Mix;
  readonly mixSource: 'default' | 'flag' | 'profile';
  readonly admin: URL | undefined;
  readonly adminToken: string | undefined;
  /** --out, or ./loadtest-<timestamp> when not given (see outDirIsDefault). */
  readonly outDir: string;
  /**
   * No --out: outDir is only the name wanted. Two runs started in the same second want the same
   * one, so each creates its own directory, with a suffix (-2, -3, ...) when the name is taken.
   */
  readonly outDirIsDefault: boolean;
  readonly timeoutMs: number;
  readonly allowRemote: boolean;
  /** Undefined: the bundled sample sheet's players. */
  readonly usersFile: string | undefined;
  /** Redraw the progress line in place when stderr is a terminal (not under CI, not TERM=dumb). */
  readonly progressInPlace: boolean;
}

/** The seeds' progressive test (seeds/001 "Test progressif"). */
export const DEFAULT_STEPS: readonly number[] = [5, 10, 25, 50, 100, 200];
export const DEFAULT_STEP_MS = 30_000;
export const DEFAULT_CONSTANT_MS = 60_000;
export const DEFAULT_THINK_MS = 1000;
export const DEFAULT_TIMEOUT_MS = 10_000;
/** --time-scale above this stretches a 45 min profile past MAX_RUN_MS anyway. */
export const MAX_TIME_SCALE = 1000;
/** No run, however configured, lasts longer than this. */
export const MAX_RUN_MS = 24 * 3_600_000;
/** The range each duration flag accepts, in ms; --help states them. */
export const DURATION_RANGES = {
  '--step-duration': { minMs: 100, maxMs: MAX_RUN_MS },
  '--duration': { minMs: 100, maxMs: MAX_RUN_MS },
  '--think-time': { minMs: 0, maxMs: 600_000 },
  '--timeout': { minMs: 1, maxMs: 600_000 },
} as const;

export const FLAGS = {
  target: { type: 'string' },
  steps: { type: 'string' },
  'step-duration': { type: 'string' },
  profile: { type: 'string' },
  'time-scale': { type: 'string' },
  duration: { type: 'string' },
  users: { type: 'string' },
  'think-time': { type: 'string' },
  mix: { type: 'string' },
  admin: { type: 'string' },
  'admin-token': { type: 'string' },
  out: { type: 'string' },
  timeout: { type: 'string' },
  'allow-remote': { type: 'boolean' },
  'users-file': { type: 'string' },
} as const;

/**
 * A count, read as every numeric option and setting is (config/number-text.ts): decimal digits,
 * so `--users " 5"`, `0x10` or `1e3` are refused as `--workers 1e3` is.
 */
function positiveInt(text: string, flag: string, max: number): number {
  const parsed = parseInteger(text, 1, max);
  if (!parsed.ok) throw inputError(`${flag}: ${JSON.stringify(text)} must be a whole number from 1 to ${max}, in decimal digits`);
  return parsed.value;
}

function parseSteps(text: string): number[] {
  // Spaces around the commas are the list's, as in a list setting; each number is strict.
  const steps = text.split(',').map((part) => positiveInt(part.trim(), '--steps', MAX_PROFILE_USERS));
  for (let i = 1; i < steps.length; i++) {
    if ((steps[i] ?? 0) <= (steps[i - 1] ?? 0)) throw inputError(`--steps: ${text} must be strictly increasing (e.g. 5,10,25,50,100,200)`);
  }
  return steps;
}

function durationFlag(text: string, flag: keyof typeof DURATION_RANGES): number {
  const ms = parseDuration(text, flag);
  const { minMs, maxMs } = DURATION_RANGES[flag];
  if (ms < minMs || ms > maxMs) throw inputError(`${flag}: ${text} must be from ${formatExactDuration(minMs)} to ${formatExactDuration(maxMs)}`);
  return ms;
}

function urlFlag(text: string, flag: string): URL {
  // An address without its scheme, as CORRAL_BIND and CORRAL_ADMIN_BIND are written
  // (127.0.0.1:8080 is no URL; localhost:8080 reads as the scheme "localhost:"): say the URL
  // meant. Otherwise an example on corral's own default port (8000 sent operators elsewhere).
  const hostPort = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d+(\/\S*)?$/.test(text);
  const fix = hostPort ? `: write it with its scheme, http://${text}` : ` (e.g. ${flag === '--admin' ? 'http://127.0.0.1:9090' : 'http://127.0.0.1:8080'})`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw inputError(`${flag}: ${JSON.stringify(text)} is not a URL${fix}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw inputError(`${flag}: ${text} must be http:// or https://${fix}`);
  if (url.search || url.hash) throw inputError(`${flag}: ${text} must not carry a query string or fragment`);
  // A user name or password in the URL would go unused and be copied into result.json and report.html.
  if (url.username || url.password) throw inputError(`${flag}: a URL with a user name or password (user:pass@) is refused: corral's app does not use them and the URL is written into the report; virtual users log in with --users-file`);
  return url;
}

/** What the daemon's CORRAL_ADMIN_TOKEN may hold (config/schema-daemon.ts): it travels in an Authorization header. */
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;

/**
 * A token no corral can hold never authorises anything, and one with a control character cannot
 * even be sent: undici refuses the header (UND_ERR_INVALID_ARG), which the export before the load
 * took for no refusal and every export of the run then counted as a connection error of the
 * target ("supports 3 concurrent users: no"), and the admin API's probe as one not reachable.
 * The token itself is not said: it is a secret.
 */
function checkAdminToken(token: string, source: string): void {
  if (TOKEN_CHARACTERS.test(token)) return;
  const at = [...token].findIndex((c) => !TOKEN_CHARACTERS.test(c));
  const c = [...token][at] ?? '';
  const code = c.codePointAt(0) ?? 0;
  const what = c === '\r' ? 'a carriage return' : c === '\n' ? 'a line break' : c === ' ' ? 'a space' : code < 0x20 || code === 0x7f ? `a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')})` : `a character outside printable ASCII (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
  throw inputError(`${source}: the token holds ${what} at character ${at + 1}, which no CORRAL_ADMIN_TOKEN can (printable ASCII without spaces: it is sent in an HTTP header); give the token alone`);
}

function timestamp(now: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

export type ParsedArgs = { help: true } | { help: false; options: LoadtestOptions };

/**
 * `path` made absolute: against the working directory only when it is relative. A directory
 * removed under the shell (process.cwd() throws ENOENT) stops only a run that needs it; `unreachable`
 * says what could not be found from it, and what to do.
 */
function absolutePath(cwd: string | (() => string), path: string, unreachable: string): string {
  if (isAbsolute(path)) return resolve(path);
  let dir: string;
  try {
    dir = typeof cwd === 'string' ? cwd : cwd();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw inputError(`the current directory no longer exists, so ${unreachable}`, err);
  }
  return resolve(dir, path);
}

/** `cwd`: the working directory, or a function that reads it when a relative path needs it. */
export function parseLoadtestArgs(argv: readonly string[], cwd: string | (() => string), now = new Date(), env: LoadtestEnv = readLoadtestEnv()): ParsedArgs {
  const fromCwd = (flag: string, path: string): string => {
    // Resolved, '' is the working directory itself: `--out "$DIR"` with DIR unset wrote the result
    // files straight into it, and an empty --profile was refused as "cannot read /home/op: EISDIR".
    if (path === '') throw inputError(`${flag} is empty: give a path${flag === '--out' ? ', or leave out --out for ./loadtest-<timestamp>/' : ''}`);
    return absolutePath(cwd, path, `${flag} ${path} cannot be found from it; pass absolute paths`);
  };
  let parsed;
  try {
    parsed = parseFlags(argv, FLAGS);
  } catch (err) {
    throw inputError(err instanceof CorralError ? err.message : String(err), err);
  }
  const values = parsed.values;
  if (values.help) return { help: true };
  if (!values.target) throw inputError('--target URL is required (e.g. --target http://127.0.0.1:8080)');
  const target = urlFlag(values.target, '--target');

  const modes = [values.steps !== undefined && '--steps', values.profile !== undefined && '--profile', values.users !== undefined && '--users'].filter(Boolean);
  if (modes.length > 1) throw inputError(`${modes.join(' and ')} cannot be combined: pick one way to set the users`);
  const mode: LoadtestMode = values.profile !== undefined ? 'profile' : values.users !== undefined ? 'constant' : 'steps';
  if (values['time-scale'] !== undefined && mode !== 'profile') throw inputError('--time-scale applies to --profile only');
  if (values['step-duration'] !== undefined && mode !== 'steps') throw inputError('--step-duration applies to --steps only');

  let timeScale = 1;
  if (values['time-scale'] !== undefined) {
    // A factor such as 0.01 or .5, read as every decimal option is (config/number-text.ts): no
    // exponent (1e-3), hex or surrounding spaces.
    const parsed = parseDecimal(values['time-scale'], 0, MAX_TIME_SCALE);
    if (!parsed.ok || parsed.value <= 0) {
      throw inputError(`--time-scale: ${JSON.stringify(values['time-scale'])} must be a decimal number above 0 and at most ${MAX_TIME_SCALE}, in plain decimal notation: digits and one optional point, no exponent or hex (0.02 turns 45 min into 54 s)`);
    }
    timeScale = parsed.value;
  }
  const profileFile = values.profile === undefined ? undefined : fromCwd('--profile', values.profile);
  const profile = profileFile === undefined ? undefined : loadProfile(profileFile);

  let mix: Mix = DEFAULT_MIX;
  let mixSource: LoadtestOptions['mixSource'] = 'default';
  if (values.mix !== undefined) {
    mix = parseMix(values.mix);
    mixSource = 'flag';
  } else if (profile?.distribution) {
    mix = profile.distribution;
    mixSource = 'profile';
  }

  const admin = values.admin === undefined ? undefined : urlFlag(values.admin, '--admin');
  // Trimmed as $CORRAL_ADMIN_TOKEN is: `--admin-token "$(cat token.txt)"` keeps the carriage
  // return of a file saved on Windows, which no header can carry (checkAdminToken).
  const flagToken = values['admin-token']?.trim();
  if (flagToken === '') throw inputError('--admin-token is empty');
  // The flag wins; $CORRAL_ADMIN_TOKEN keeps the secret out of the process list.
  const adminToken = flagToken ?? env.adminToken;
  if (adminToken !== undefined) checkAdminToken(adminToken, flagToken !== undefined ? '--admin-token' : 'CORRAL_ADMIN_TOKEN');

  return {
    help: false,
    options: {
      target,
      mode,
      steps: mode === 'steps' ? (values.steps === undefined ? DEFAULT_STEPS : parseSteps(values.steps)) : [],
      stepDurationMs: values['step-duration'] === undefined ? DEFAULT_STEP_MS : durationFlag(values['step-duration'], '--step-duration'),
      profile,
      profileFile,
      timeScale,
      durationMs: values.duration === undefined ? undefined : durationFlag(values.duration, '--duration'),
      users: values.users === undefined ? undefined : positiveInt(values.users, '--users', MAX_PROFILE_USERS),
      thinkTimeMs: values['think-time'] === undefined ? undefined : durationFlag(values['think-time'], '--think-time'),
      mix,
      mixSource,
      admin,
      adminToken,
      outDir:
        values.out === undefined
          ? absolutePath(cwd, `loadtest-${timestamp(now)}`, 'the default --out (./loadtest-<timestamp>) has nowhere to go; pass --out with an absolute path')
          : fromCwd('--out', values.out),
      outDirIsDefault: values.out === undefined,
      timeoutMs: values.timeout === undefined ? DEFAULT_TIMEOUT_MS : durationFlag(values.timeout, '--timeout'),
      allowRemote: values['allow-remote'] === true,
      usersFile: values['users-file'] === undefined ? undefined : fromCwd('--users-file', values['users-file']),
      progressInPlace: env.progressInPlace,
    },
  };
}
