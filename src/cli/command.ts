// The shape of a CLI subcommand. Each lives in commands/<name>.ts and is listed, with its summary,
// in commands/index.ts.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CorralError } from '../errors.js';
import { unknownOptionHint, type SettingFlagHints } from './flag-hints.js';

export interface Command {
  readonly name: string;
  /** Full text for `corral <name> --help`. */
  readonly help: string;
  /**
   * The command handles a closed stdout (EPIPE) itself; for the others a reader that goes away
   * (`corral config | head`) ends the process with 0.
   */
  readonly handlesClosedStdout?: boolean;
  /**
   * The exit code says what the answer meant (check's OK/FAIL, status's running or not, reload
   * --wait's outcome): a reader that went away (EPIPE) takes nothing from it. Ended with 0 there,
   * `corral check | head -n1` (pipefail) read a FAIL as OK, and `reload --wait` exited 0 before
   * the reload had ended.
   */
  readonly exitCodeIsVerdict?: boolean;
  /**
   * For a command with --json: its refusal as the one JSON object a script reads on stdout. Any
   * CorralError the command throws (a refused command line, refused settings) is printed with it
   * when the command line asks for JSON, beside the message on stderr: nothing on stdout reads as
   * success to `jq`.
   */
  jsonRefusal?(err: CorralError): Record<string, unknown>;
  /** Returns the process exit code. */
  run(argv: readonly string[]): Promise<number>;
}

/**
 * Whether a command line asks for JSON: `--json=yes` too, refused for its value, still asks for the
 * answer as JSON.
 */
export function asksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--json' || a.startsWith('--json='));
}

/**
 * How every command says a command line it refused (exit 64): what is wrong, its usage line (the
 * first of its help, not the whole help, after which the one line that matters scrolled away)
 * and where the rest is. `said`: the message, with its code where the command gives one.
 */
export function usageRefusal(command: Pick<Command, 'name' | 'help'>, said: string): string {
  const usageLine = command.help.split('\n')[0] ?? '';
  return `corral ${command.name}: ${said}\n${usageLine}\nRun \`corral ${command.name} --help\` for the options and exit codes.\n`;
}

/** A command as `corral --help` lists it; its module is imported by load() when it runs. */
export interface CommandEntry {
  readonly name: string;
  /** One line for `corral --help`. */
  readonly summary: string;
  /**
   * The exit code when the command fails on an error corral did not foresee (CORRAL_ERR_INTERNAL),
   * or its own modules cannot be loaded (CORRAL_ERR_CODE_LOAD): 1 unless the command's 1 says
   * something else (status's 1 is "running, but the admin API did not answer"). Here, not on the
   * command: known before its module is loaded.
   */
  readonly internalErrorExit?: number;
  load(): Promise<Command>;
}

/** Flags whose values are secrets: a refusal names them and never echoes what was given. */
const SECRET_FLAGS: ReadonlySet<string> = new Set(['admin-token', 'api-key']);

type Token = { kind: string; name?: string; value?: string | undefined };

/**
 * A flag given twice is refused: parseArgs keeps the last, so `--workers 4 ... --workers 8` or a
 * second --target would silently do other than what the operator read on their command line.
 */
function refuseRepeatedFlags(tokens: readonly Token[]): void {
  const seen = new Map<string, (string | undefined)[]>();
  for (const t of tokens) {
    if (t.kind !== 'option' || t.name === undefined) continue;
    seen.set(t.name, [...(seen.get(t.name) ?? []), t.value]);
  }
  for (const [name, given] of seen) {
    if (given.length < 2) continue;
    const shown = SECRET_FLAGS.has(name) || given.every((v) => v === undefined) ? '' : ` (${given.map((v) => JSON.stringify(v ?? '')).join(', ')})`;
    throw new CorralError('CORRAL_ERR_USAGE', `Option --${name} is given ${given.length} times${shown}: give it once`);
  }
}

/**
 * `--steps 5, 10` typed as the README's prose shows a list: the shell splits it at the space, and
 * parseArgs says only that '10' is an unexpected argument. Names the list and how to quote it.
 */
function unquotedListHint(argv: readonly string[]): string {
  for (let i = 1; i < argv.length; i++) {
    const value = argv[i] ?? '';
    const flag = argv[i - 1] ?? '';
    if (!flag.startsWith('--') || flag.includes('=') || !value.endsWith(',')) continue;
    const rest: string[] = [];
    for (let j = i + 1; j < argv.length && !(argv[j] ?? '').startsWith('-'); j++) rest.push(argv[j] ?? '');
    return `: a list with spaces after its commas is one argument only in quotes: ${flag} "${[value, ...rest].join(' ')}"`;
  }
  return '';
}

/** The command's own word on the argument parseArgs found unexpected, if it has one. */
function unexpectedArgumentHint(err: Error, hint: ((arg: string) => string) | undefined): string {
  const arg = /^Unexpected argument '([\s\S]*)'\. This command/.exec(err.message)?.[1];
  return hint === undefined || arg === undefined ? '' : hint(arg);
}

/**
 * An option whose value was left out: last on the line, or followed by another option (`--profile
 * --out X`), which parseArgs says over three lines ("argument is ambiguous. Did you forget ...").
 * One line, naming what follows it.
 */
function missingValueMessage(err: Error, argv: readonly string[]): string | undefined {
  const last = /^Option '(-[^' ]+)(?:, -[^' ]+)? <value>' argument missing/.exec(err.message)?.[1];
  if (last !== undefined) return `Option '${last}' needs a value, and none follows it`;
  const flag = /^Option '(-[^' ]+)' argument is ambiguous/.exec(err.message)?.[1];
  if (flag === undefined) return undefined;
  const next = argv[argv.indexOf(flag) + 1];
  return `Option '${flag}' needs a value, and what follows it${next === undefined ? '' : `, '${next}',`} is an option: give ${flag} its value (one that starts with a dash as ${flag}=-x)`;
}

/**
 * node:util parseArgs with strict checking, turning its errors into a usage error; each option may
 * be given once.
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: T,
  o: {
    readonly readsSettings?: boolean;
    /** What to say of a flag the command does not take, by its name: before any setting it may spell. */
    readonly flagHints?: Readonly<Record<string, string>>;
    /** What to say of a flag that names one of these settings, in place of "set it in the settings file". */
    readonly settingFlagHints?: SettingFlagHints;
    /** What to say of an argument the command does not take, by its text (start's: an app to serve), after the list hint. */
    readonly argumentHint?: (arg: string) => string;
  } = {},
) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    const unknown = (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']+)'/.exec((err as Error).message)?.[1] : undefined;
    const hint =
      unknown !== undefined
        ? unknownOptionHint(unknown, argv, [...Object.keys(options), 'help'], o.readsSettings === true, o.flagHints, o.settingFlagHints)
        : (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
          ? unquotedListHint(argv) || unexpectedArgumentHint(err as Error, o.argumentHint)
          : '';
    throw new CorralError('CORRAL_ERR_USAGE', `${missingValueMessage(err as Error, argv) ?? (err as Error).message}${hint}`, { cause: err });
  }
  refuseRepeatedFlags(parsed.tokens);
  return parsed;
}
