// Reads the service-account key: a file named by GOOGLE_APPLICATION_CREDENTIALS, or the JSON
// itself in GOOGLE_SERVICE_ACCOUNT_JSON. Keys pasted into .env files often arrive with their
// newlines escaped once too many (`\\n`), or with raw newlines inside the JSON string; both are
// repaired here so the operator does not have to.

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SheetsError } from '../errors.js';
import { GOOGLE_TOKEN_URI } from './wire.js';

/** The fields of a Google service-account key file that corral uses. */
export interface ServiceAccountKey {
  readonly type: 'service_account';
  readonly project_id?: string;
  readonly private_key_id?: string;
  readonly private_key: string;
  readonly client_email: string;
  readonly client_id?: string;
  readonly token_uri: string;
}

export interface LoadedServiceAccount {
  readonly key: ServiceAccountKey;
  readonly privateKey: KeyObject;
  /** Where the key came from, for messages (`GOOGLE_APPLICATION_CREDENTIALS=/etc/corral/key.json`). */
  readonly source: string;
}

export interface CredentialSettings {
  readonly GOOGLE_APPLICATION_CREDENTIALS: string | undefined;
  readonly GOOGLE_SERVICE_ACCOUNT_JSON: string | undefined;
}

function fail(message: string, cause?: unknown): never {
  throw new SheetsError('CORRAL_ERR_SHEETS_CREDENTIALS', message, {
    reason: 'CREDENTIALS',
    applied: 'no',
    retryable: false,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A JSON.parse message without the quoted source text some of them carry. */
function withoutSnippet(message: string): string {
  return message.replace(/,\s*(?:\.\.\.)?".*$/s, '');
}

/**
 * `text` with the line breaks inside its JSON strings escaped (`\n`), those between the values
 * left as they are: a pretty-printed key is still JSON after it.
 */
function escapeBreaksInStrings(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inString && c === '\\') {
      out += c + (text[i + 1] ?? '');
      i++;
    } else if (c === '"') {
      inString = !inString;
      out += c;
    } else if (inString && (c === '\n' || c === '\r')) {
      if (c === '\r' && text[i + 1] === '\n') i++;
      out += '\\n';
    } else {
      out += c;
    }
  }
  return out;
}

function parseJson(text: string, source: string): unknown {
  // Raw line breaks inside the private_key string make the JSON invalid (a double-quoted .env
  // value has dotenv turn its \n into them): they are escaped. And every quote escaped
  // (`{\"type\": ...}`), as a shell wants it inside "...": in a .env double-quoted value dotenv
  // keeps those backslashes, so the JSON began `{\"` and was refused as "Expected property name or
  // '}' at position 1". A key's fields hold no quote of their own, so unescaping them gives the
  // JSON the operator pasted. Each repair is tried only when the text as given is not JSON.
  const candidates = [() => text, () => escapeBreaksInStrings(text)];
  if (/^\s*\{\s*\\"/.test(text)) candidates.push(() => escapeBreaksInStrings(text.replace(/\\"/g, '"')));
  let first: unknown;
  for (const candidate of candidates) {
    try {
      return JSON.parse(candidate());
    } catch (err) {
      first ??= err;
    }
  }
  // V8 quotes the text around the error (`Unexpected token 'M', ..."ate_key": MIIE..." is not
  // valid JSON`): that text is the key itself, so only the kind of error and its position are
  // kept, and the SyntaxError is not attached as the cause (it would be logged with it).
  fail(`${source} is not valid JSON: ${withoutSnippet((first as Error).message)}`);
}

/** Validates a parsed key object. Exported for the emulator's `--key-out` round trip and tests. */
export function parseServiceAccountKey(raw: unknown, source: string): LoadedServiceAccount {
  if (typeof raw !== 'object' || raw === null) fail(`${source} does not hold a JSON object`);
  const obj = raw as Record<string, unknown>;
  if (obj.type !== undefined && obj.type !== 'service_account') {
    fail(`${source} is a "${String(obj.type)}" credential; corral needs a service-account key (type "service_account")`);
  }
  const email = obj.client_email;
  if (typeof email !== 'string' || !email.includes('@')) fail(`${source} has no client_email`);
  if (typeof obj.private_key !== 'string' || obj.private_key.trim() === '') fail(`${source} has no private_key`);
  // `\\n` written literally (two characters) where the PEM needs line breaks.
  const pem = obj.private_key.replace(/\\r\\n|\\n/g, '\n');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    fail(`the private_key in ${source} is not a valid PEM private key (${(err as Error).message}); download a new JSON key for ${email}`, err);
  }
  if (privateKey.asymmetricKeyType !== 'rsa') fail(`the private_key in ${source} is not an RSA key`);
  const tokenUri = typeof obj.token_uri === 'string' && obj.token_uri !== '' ? obj.token_uri : GOOGLE_TOKEN_URI;
  if (!/^https?:\/\//.test(tokenUri)) fail(`${source} has an invalid token_uri: ${tokenUri}`);
  const key: ServiceAccountKey = {
    type: 'service_account',
    private_key: pem,
    client_email: email,
    token_uri: tokenUri,
    ...(typeof obj.project_id === 'string' ? { project_id: obj.project_id } : {}),
    ...(typeof obj.private_key_id === 'string' ? { private_key_id: obj.private_key_id } : {}),
    ...(typeof obj.client_id === 'string' ? { client_id: obj.client_id } : {}),
  };
  return { key, privateKey, source };
}

/** What to do about a key file that could not be read, by the errno. */
function readFix(code: string | undefined): string {
  if (code === 'EACCES' || code === 'EPERM') return "make it readable by the user corral runs as (e.g. chgrp corral, chmod 0640)";
  if (code === 'EISDIR') return 'GOOGLE_APPLICATION_CREDENTIALS names a directory: name the JSON key file itself';
  return "give the path of a service account's JSON key file (Cloud console: IAM & Admin > Service accounts > Keys > Add key > JSON), or put the JSON itself in GOOGLE_SERVICE_ACCOUNT_JSON";
}

/** Loads the key named by the settings; undefined when neither setting is present. */
export function loadServiceAccount(settings: CredentialSettings): LoadedServiceAccount | undefined {
  const inline = settings.GOOGLE_SERVICE_ACCOUNT_JSON;
  if (inline !== undefined && inline.trim() !== '') {
    return parseServiceAccountKey(parseJson(inline.trim(), 'GOOGLE_SERVICE_ACCOUNT_JSON'), 'GOOGLE_SERVICE_ACCOUNT_JSON');
  }
  const path = settings.GOOGLE_APPLICATION_CREDENTIALS;
  if (path === undefined || path === '') return undefined;
  const source = `GOOGLE_APPLICATION_CREDENTIALS=${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    fail(`cannot read the service-account key ${source}: ${(err as Error).message}; ${readFix((err as NodeJS.ErrnoException).code)}`, err);
  }
  // A byte-order mark, which an editor on Windows (Notepad before 2019) writes at the start of a
  // file it saves as UTF-8, is no JSON: the key was refused as "not valid JSON: Unexpected token
  // '<U+FEFF>'", naming a character that shows as nothing. The inline key loses it to trim().
  return parseServiceAccountKey(parseJson(text.replace(/^\uFEFF/, ''), source), source);
}
