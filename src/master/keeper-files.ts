// The files the keeper reads once, at its start, by path: the service-account key
// (GOOGLE_APPLICATION_CREDENTIALS) and the CA file of a rediss:// Redis (REDIS_TLS_CA_FILE). A
// reload compares settings by value, so a key rotated in place (a new key written over
// /etc/corral/key.json, the path unchanged) left the keeper signing with the old one after a
// reload that said done: once the old key was deleted in Google's console, its next token refresh
// failed, and every Sheets call with it. Their contents are compared too (keeper-restart.ts).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Settings } from '../config/schema.js';

type FileSettings = Pick<Settings, 'SHEET_ID' | 'GOOGLE_APPLICATION_CREDENTIALS' | 'GOOGLE_SERVICE_ACCOUNT_JSON' | 'REDIS_URL' | 'REDIS_TLS_CA_FILE'>;

/** A digest of each file the keeper reads with these settings, by setting name (an unreadable one by its error code). */
export type KeeperFiles = Readonly<Record<string, string>>;

/** The files the keeper would read with `s`, as the keeper takes them (the inline key wins over the file). */
function pathsRead(s: FileSettings): [string, string][] {
  const out: [string, string][] = [];
  const inlineKey = s.GOOGLE_SERVICE_ACCOUNT_JSON !== undefined && s.GOOGLE_SERVICE_ACCOUNT_JSON.trim() !== '';
  if (s.SHEET_ID !== undefined && !inlineKey && s.GOOGLE_APPLICATION_CREDENTIALS) out.push(['GOOGLE_APPLICATION_CREDENTIALS', s.GOOGLE_APPLICATION_CREDENTIALS]);
  if (s.REDIS_URL !== undefined && s.REDIS_TLS_CA_FILE) out.push(['REDIS_TLS_CA_FILE', s.REDIS_TLS_CA_FILE]);
  return out;
}

export function keeperFiles(s: FileSettings): KeeperFiles {
  const out: Record<string, string> = {};
  for (const [name, path] of pathsRead(s)) {
    try {
      out[name] = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
    } catch (err) {
      out[name] = `unreadable:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
    }
  }
  return out;
}

/** The settings whose file the keeper read at its start (`running`) and whose file is another now. */
export function changedKeeperFiles(running: KeeperFiles | undefined, now: KeeperFiles | undefined): string[] {
  if (running === undefined || now === undefined) return [];
  return Object.keys(now).filter((name) => running[name] !== undefined && running[name] !== now[name]);
}
