// Durations ("500ms", "30s", "2m", "1h", "1m30s") and rates ("100/h") as the seeds write them.
// A bare number is refused rather than guessed: "--duration 60" could mean seconds or minutes.

import { inputError } from './exit.js';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/**
 * Parses a duration into milliseconds; `what` names the flag or profile field in the error. Spaces
 * around it are refused, as around a numeric option (`--users " 5"`): the text is taken as typed.
 */
export function parseDuration(text: string, what: string): number {
  // A bare 0 is the one number that needs no unit.
  if (text === '0') return 0;
  let total = 0;
  let pos = 0;
  // Units in order, each once: "1m30s", not "1m1m" nor "30s1m".
  let lastUnit = Number.POSITIVE_INFINITY;
  let ordered = true;
  PART.lastIndex = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) break;
    const unit = UNIT_MS[m[2] ?? ''] ?? Number.NaN;
    if (!(unit < lastUnit)) ordered = false;
    lastUnit = unit;
    total += Number(m[1]) * unit;
    pos = PART.lastIndex;
  }
  if (text === '' || pos !== text.length || !ordered || !Number.isFinite(total)) {
    throw inputError(`${what}: ${JSON.stringify(text)} is not a duration (write a number with a unit: 500ms, 30s, 2m, 1h, or 1m30s)`);
  }
  return Math.round(total);
}

const RATE = /^(\d+(?:\.\d+)?)\s*\/\s*(s|sec|m|min|h|hour)$/;
const PER_HOUR: Readonly<Record<string, number>> = { s: 3600, sec: 3600, m: 60, min: 60, h: 1, hour: 1 };

/** Parses "100/h", "5/min", "2/s" (spaces around the slash allowed, not around it all) into a rate per hour. */
export function parseRate(text: string, what: string): number {
  const m = RATE.exec(text);
  const perHour = m ? Number(m[1]) * (PER_HOUR[m[2] ?? ''] ?? Number.NaN) : Number.NaN;
  // Finite too: 400 digits read as Infinity, and the action picker then always picked the last
  // action while the forecast of the run's requests became NaN and refused nothing.
  if (!Number.isFinite(perHour)) throw inputError(`${what}: ${JSON.stringify(text)} is not a rate (write count/unit: 100/h, 5/min, 2/s)`);
  return perHour;
}

/** "1m05s", "850ms": compact, for progress lines and reports. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalS = Math.round(ms / 1000);
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${String(s).padStart(2, '0')}s`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * "24h", "10m", "1m30s", "1.5s", "100ms": a duration an operator gave (an option, a limit), exactly
 * and as they would write it, no zero parts. formatDuration rounds to the second, which would show
 * `--duration 1.5s` as "2s".
 */
export function formatExactDuration(ms: number): string {
  const total = Math.round(ms);
  if (total === 0) return '0';
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  // Whole milliseconds over 1000: at most three decimals, and no float noise (1001 → "1.001").
  const s = (total % 60_000) / 1000;
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 ? `${s}s` : ''}`;
}

/** "01:05" / "1:02:03": a clock for the progress line. */
export function formatClock(ms: number): string {
  const totalS = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  const mmss = `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}
