// The shape of a CLI subcommand. Each lives in commands/<name>.ts and is listed, with its summary,
// in commands/index.ts.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CorralError } from '../errors.js';
import { unknownOptionHint } from './flag-hints.js';

export interface Command {
  readonly name: string;
  /** Full text for `corral <name> --help`. */
  readonly help: string;
  /**
   * The command handles a closed stdout (EPIPE) itself; for the others a reader that goes away
   * (`corral config | head`) ends the process with 0.
   */
  readonly handlesClosedStdout?: boolean;
  /** Returns the process exit code. */
  run(argv: readonly string[]): Promise<number>;
}

/** A command as `corral --help` lists it; its module is imported by load() when it runs. */
export interface CommandEntry {
  readonly name: string;
  /** One line for `corral --help`. */
  readonly summary: string;
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
  } = {},
) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    const unknown = (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']+)'/.exec((err as Error).message)?.[1] : undefined;
    const hint = unknown === undefined ? '' : unknownOptionHint(unknown, argv, [...Object.keys(options), 'help'], o.readsSettings === true, o.flagHints);
    throw new CorralError('CORRAL_ERR_USAGE', `${(err as Error).message}${hint}`, { cause: err });
  }
  refuseRepeatedFlags(parsed.tokens);
  return parsed;
}
