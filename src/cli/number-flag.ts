// Numeric command-line flags, read with the settings' own number parser (config/number-text.ts),
// so that `--port 0x10` or `--error-rate 1e-1` is refused the way CORRAL_WORKERS=1e2 is.

import { parseDecimal, parseInteger } from '../config/number-text.js';
import { CorralError } from '../errors.js';

function refuse(flag: string, raw: string, allowed: string): never {
  throw new CorralError('CORRAL_ERR_USAGE', `--${flag} must be ${allowed}, got ${JSON.stringify(raw)}`);
}

/** `--flag N`: an integer in min..max, or undefined when the flag is absent. */
export function integerFlag(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const parsed = parseInteger(raw, min, max);
  return parsed.ok ? parsed.value : refuse(flag, raw, parsed.allowed);
}

/** `--flag X`: a decimal number in min..max, or undefined when the flag is absent. */
export function decimalFlag(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const parsed = parseDecimal(raw, min, max);
  return parsed.ok ? parsed.value : refuse(flag, raw, parsed.allowed);
}
