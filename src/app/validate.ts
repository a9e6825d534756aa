// Field validation for JSON bodies and query strings. Each check throws a 400 naming the field.

import { invalidField } from './http.js';

export interface TextRule {
  readonly min: number;
  readonly max: number;
  /** Allow newlines and tabs (free text); other control characters are always refused. */
  readonly multiline?: boolean;
}

// Control characters other than \t \n \r (C0, DEL and C1: U+0085 NEL is a line break, U+009B a
// terminal CSI), and the Unicode line/paragraph separators, are refused: they corrupt CSV exports
// and log lines and nobody types them on purpose.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/;
const NEWLINE = /[\r\n\t]/;
// A surrogate code unit without its pair (JSON's "\ud83d" parses to one): no UTF-8 spelling, so it
// would be stored as U+FFFD, not as what was accepted. In `u` mode paired surrogates never match.
const LONE_SURROGATE = /\p{Cs}/u;

/** A required string field, trimmed, within the rule. */
export function requireText(body: Record<string, unknown>, field: string, rule: TextRule): string {
  const v = body[field];
  if (v === undefined || v === null) throw invalidField(field, `${field} is required`);
  return checkText(v, field, rule);
}

/** An optional string field: undefined/null/"" give "". */
export function optionalText(body: Record<string, unknown>, field: string, rule: TextRule): string {
  const v = body[field];
  if (v === undefined || v === null || v === '') return '';
  return checkText(v, field, { ...rule, min: 0 });
}

function checkText(v: unknown, field: string, rule: TextRule): string {
  if (typeof v !== 'string') throw invalidField(field, `${field} must be a string`);
  const t = v.trim();
  const length = [...t].length;
  if (length < rule.min) throw invalidField(field, rule.min <= 1 ? `${field} must not be empty` : `${field} must have at least ${rule.min} characters`);
  if (length > rule.max) throw invalidField(field, `${field} must have at most ${rule.max} characters`);
  if (CONTROL.test(t) || (!rule.multiline && NEWLINE.test(t))) throw invalidField(field, `${field} contains control characters`);
  if (LONE_SURROGATE.test(t)) throw invalidField(field, `${field} is not valid Unicode text (unpaired surrogate)`);
  return t;
}

/** Refuses fields the route does not know, so typos (`{"knd": …}`) fail loudly. */
export function onlyFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw invalidField(key, `unknown field ${key}; expected ${allowed.join(', ')}`);
  }
}
