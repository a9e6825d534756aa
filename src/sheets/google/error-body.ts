// What the body of an error answer says: Google's JSON error envelope (code, message, status and
// the details' reasons), or, when it is not one, the words of the page or text it is. A file of
// its own: the Sheets API's answers (error-map.ts) and the token endpoint's (token-error-map.ts)
// are both read through it.

import type { WireErrorEnvelope } from './wire.js';

export interface Envelope {
  readonly code: number;
  readonly message: string;
  readonly status: string;
  readonly reasons: readonly string[];
}

export function parseEnvelope(body: Buffer): Envelope | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Partial<WireErrorEnvelope>;
    const e = parsed.error;
    if (!e || typeof e !== 'object') return undefined;
    const reasons = (e.details ?? []).map((d) => d.reason).filter((r): r is string => typeof r === 'string');
    return { code: Number(e.code), message: String(e.message ?? ''), status: String(e.status ?? ''), reasons };
  } catch {
    return undefined;
  }
}

/**
 * The words of an error body that is not Google's JSON envelope. Google's front end answers some
 * errors (a 502 most often) with an HTML page whose first 300 characters are markup and CSS
 * (`<!DOCTYPE html>...<style>*{margin:0;...`); its text says what happened: "Error 502 (Server
 * Error)!!1 502. That’s an error. The server encountered a temporary error ...".
 */
export function bodyText(body: Buffer): string {
  const raw = body.toString('utf8');
  if (!/^\s*<(!doctype|html)/i.test(raw)) return raw.slice(0, 300);
  const text = raw
    .replace(/<(style|script)\b[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}
