// The one reading of numbers typed by people, for settings and command-line flags alike. Number()
// and parseInt are too lenient for that: Number takes "1e3", "0x10", "0b11" and "Infinity",
// parseInt stops at the first bad character ("12abc" is 12). Here a number is decimal digits,
// with a sign, and (where a fraction makes sense) one decimal point; anything else is refused,
// and the refusal says what is accepted.

import type { ParseResult } from './spec.js';

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;

/** An integer in min..max, written as decimal digits. */
export function parseInteger(text: string, min: number, max: number): ParseResult<number> {
  const n = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(n) || n < min || n > max) return { ok: false, allowed: `an integer from ${min} to ${max}` };
  return { ok: true, value: n };
}

/** A number in min..max, written as decimal digits with at most one decimal point. */
export function parseDecimal(text: string, min: number, max: number): ParseResult<number> {
  const n = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(n) || n < min || n > max) {
    return { ok: false, allowed: `a number from ${min} to ${max} in plain decimal notation (digits and one optional point, no exponent or hex)` };
  }
  return { ok: true, value: n };
}
