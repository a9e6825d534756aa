// The action mix: which share of a virtual user's requests are reads, event writes and exports.

import { parseDecimal } from '../config/number-text.js';
import { inputError } from './exit.js';

export const ACTION_KINDS = ['read', 'write', 'export'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];
export type Mix = Readonly<Record<ActionKind, number>>;

/** The seeds' plateau mix: 60 % read, 30 % write, 10 % export. */
export const DEFAULT_MIX: Mix = Object.freeze({ read: 0.6, write: 0.3, export: 0.1 });

const SUM_TOLERANCE = 0.001;

function isKind(key: string): key is ActionKind {
  return (ACTION_KINDS as readonly string[]).includes(key);
}

/** Checks shares are finite, non-negative and sum to 1, naming the flag or profile field at fault. */
export function checkMix(shares: Partial<Record<string, unknown>>, source: 'flag' | 'profile'): Mix {
  const field = (key: string): string => (source === 'flag' ? `--mix ${key}` : `profile field distribution.${key}`);
  const mix: Record<ActionKind, number> = { read: 0, write: 0, export: 0 };
  for (const [key, value] of Object.entries(shares)) {
    if (!isKind(key)) {
      throw inputError(source === 'flag'
        ? `--mix: unknown kind ${JSON.stringify(key)} (allowed: ${ACTION_KINDS.join(', ')})`
        : `unknown profile field distribution.${key} (allowed here: ${ACTION_KINDS.join(', ')})`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
      // 60/30/10 is how people say a mix: say what to write instead.
      const percent = typeof value === 'number' && value > 1 && value <= 100 ? ` (shares are fractions of 1: ${value} % is ${round(value / 100)})` : '';
      const notation = typeof value === 'string' && source === 'flag' ? ', in plain decimal notation: digits and one optional point, no exponent or hex' : '';
      throw inputError(`${field(key)}: ${JSON.stringify(value)} must be a share between 0 and 1${percent}${notation}`);
    }
    mix[key] = value;
  }
  const sum = mix.read + mix.write + mix.export;
  if (Math.abs(sum - 1) > SUM_TOLERANCE) {
    const where = source === 'flag' ? '--mix' : 'profile field distribution';
    throw inputError(`${where}: the shares sum to ${round(sum)}, they must sum to 1 (e.g. read=0.6,write=0.3,export=0.1)`);
  }
  return Object.freeze(mix);
}

/** Parses "read=0.6,write=0.3,export=0.1". */
export function parseMix(text: string): Mix {
  // No prototype: on a plain object "constructor" or "toString" was found by `in` and refused as
  // given twice, and "__proto__" set the prototype; each must reach checkMix as an unknown kind.
  const shares: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const part of text.split(',')) {
    const [key, raw, extra] = part.split('=').map((s) => s.trim());
    if (!key || raw === undefined || raw === '' || extra !== undefined) {
      throw inputError(`--mix: ${JSON.stringify(part)} is not kind=share (e.g. read=0.6,write=0.3,export=0.1)`);
    }
    if (Object.hasOwn(shares, key)) throw inputError(`--mix: ${key} is given twice`);
    // Read as every decimal option is (config/number-text.ts): 0x1 or 1e-1 stays text, refused below.
    const value = parseDecimal(raw, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
    shares[key] = value.ok ? value.value : raw;
  }
  return checkMix(shares, 'flag');
}

/** Drops exports (no admin token to authorise them) and rescales the rest to sum to 1. */
export function withoutExports(mix: Mix): Mix {
  const rest = mix.read + mix.write;
  if (rest <= 0) throw inputError('the mix has only exports, and exports need --admin-token');
  return Object.freeze({ read: mix.read / rest, write: mix.write / rest, export: 0 });
}

/** Picks a kind for a uniform random number r in [0, 1). */
export function pickKind(mix: Mix, r: number): ActionKind {
  if (r < mix.read) return 'read';
  if (r < mix.read + mix.write) return 'write';
  return mix.export > 0 ? 'export' : mix.write > 0 ? 'write' : 'read';
}

export function formatMix(mix: Mix): string {
  return ACTION_KINDS.map((k) => `${k} ${round(mix[k] * 100)} %`).join(', ');
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
