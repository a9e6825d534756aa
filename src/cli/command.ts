// The shape of a CLI subcommand. Each lives in commands/<name>.ts and is listed in commands/index.ts.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CorralError } from '../errors.js';

export interface Command {
  readonly name: string;
  /** One line for `corral --help`. */
  readonly summary: string;
  /** Full text for `corral <name> --help`. */
  readonly help: string;
  /** Returns the process exit code. */
  run(argv: readonly string[]): Promise<number>;
}

/**
 * node:util parseArgs with strict checking, turning its errors into a usage error. The tokens say
 * how often each option was given (values keep only the last).
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    throw new CorralError('CORRAL_ERR_USAGE', (err as Error).message, { cause: err });
  }
}
