// Settings that name a file are judged by what is there, not only by their shape: a
// service-account key that is missing, unreadable, a directory or no key was found by the keeper
// after the master said ready, the keeper failing over and over (exit 7) while `corral config
// --check` said "settings OK". Judged where the settings load (load.ts), as REDIS_TLS_CA_FILE is,
// so that config --check reports it, start exits 78 and a reload is refused, all with the same
// message. Local and cheap: one read and parse of the key, never the network.

import { loadServiceAccount } from '../sheets/google/credentials.js';

export interface KeySettings {
  readonly SHEET_ID: string | undefined;
  readonly GOOGLE_APPLICATION_CREDENTIALS: string | undefined;
  readonly GOOGLE_SERVICE_ACCOUNT_JSON: string | undefined;
}

/**
 * The service-account key the keeper will use, read and parsed as it will read it
 * (credentials.ts): the setting it comes from and why it cannot be used, or undefined (usable, or
 * not used: no SHEET_ID, or only SHEETS_API_KEY). GOOGLE_SERVICE_ACCOUNT_JSON, when set, wins
 * over the file, as in the keeper. `keyFile` is GOOGLE_APPLICATION_CREDENTIALS made absolute.
 */
export function serviceAccountKeyProblem(s: KeySettings, keyFile: string | undefined): { setting: 'GOOGLE_APPLICATION_CREDENTIALS' | 'GOOGLE_SERVICE_ACCOUNT_JSON'; why: string } | undefined {
  if (s.SHEET_ID === undefined) return undefined;
  const inline = s.GOOGLE_SERVICE_ACCOUNT_JSON !== undefined && s.GOOGLE_SERVICE_ACCOUNT_JSON.trim() !== '';
  try {
    loadServiceAccount({ GOOGLE_APPLICATION_CREDENTIALS: keyFile, GOOGLE_SERVICE_ACCOUNT_JSON: s.GOOGLE_SERVICE_ACCOUNT_JSON });
    return undefined;
  } catch (err) {
    const setting = inline ? 'GOOGLE_SERVICE_ACCOUNT_JSON' : 'GOOGLE_APPLICATION_CREDENTIALS';
    const message = (err as Error).message;
    // A file that could not be read says what to do already (credentials.ts); so does a damaged
    // private_key. The rest (not JSON, another kind of credential, a field missing) get the fix here.
    const read = message.startsWith('cannot read ') || /download a new JSON key/.test(message);
    const fix = inline ? "GOOGLE_SERVICE_ACCOUNT_JSON must hold a service account's JSON key" : "GOOGLE_APPLICATION_CREDENTIALS must name a service account's JSON key file";
    return { setting, why: read ? message : `${message}; ${fix} (Cloud console: IAM & Admin > Service accounts > Keys > Add key > JSON)` };
  }
}
