// Settings of the Google Sheets layer (client, cache, quota, journal).

import { REDIS_URL_PATTERN, REDIS_URL_TEXT, redisUrlHoldsSecret, shownRedisUrl } from '../redis/url.js';
import { noProxyList, proxyUrl } from './proxy-url.js';
import { sheetId } from './sheet-id.js';
import { sheetsApiUrl } from './sheets-api-url.js';
import { int, str } from './spec.js';

export const sheetsSchema = {
  SHEET_ID: sheetId({
    description: 'Spreadsheet id from its URL; unset = the offline sample sheet under CORRAL_DATA_DIR.',
  }),
  SHEETS_API_URL: sheetsApiUrl({
    description: 'Sheets API base URL (the emulator\'s URL in tests).',
    default: 'https://sheets.googleapis.com',
  }),
  // Read by the keeper and `corral check` only, for their calls to Google (the Sheets API and the
  // key's token_uri); nothing else corral sends goes through a proxy. The lower-case names are read
  // too and win, as in curl and undici.
  HTTPS_PROXY: proxyUrl({
    description: 'Proxy for the calls to Google (https:// URLs: the Sheets API, the token endpoint), e.g. http://proxy.corp:3128 or http://user:password@proxy.corp:3128 (the password is never shown); unset = direct. https_proxy is read too and wins.',
  }),
  HTTP_PROXY: proxyUrl({
    description: 'Proxy for http:// SHEETS_API_URL and token_uri (an emulator), and for https:// ones too when HTTPS_PROXY is unset (as undici does; curl does not). http_proxy is read too and wins.',
  }),
  NO_PROXY: noProxyList({
    description: 'Hosts reached directly despite a proxy: host names (each covers its subdomains), host:port, or * for all; loopback is not implied (add 127.0.0.1,localhost for a local emulator); no CIDR blocks. no_proxy is read too and wins.',
  }),
  GOOGLE_APPLICATION_CREDENTIALS: str({
    description: 'Path to a service-account key JSON file; with SHEET_ID, read at start and reload (missing, unreadable or not a service-account key: refused, exit 78).',
    default: undefined,
  }),
  GOOGLE_SERVICE_ACCOUNT_JSON: str({
    description: 'The service-account key JSON inline (\\n-escaped private keys are accepted); wins over GOOGLE_APPLICATION_CREDENTIALS; with SHEET_ID, parsed at start and reload (not a service-account key: refused, exit 78).',
    default: undefined,
    secret: true,
  }),
  SHEETS_API_KEY: str({
    description: 'API key for public sheets (reads only).',
    default: undefined,
    secret: true,
  }),
  SHEET_CACHE_TTL: int({
    description: 'Seconds a cached range is fresh; after that it is served stale while one refresh runs.',
    default: 30,
    min: 1,
    max: 86400,
    unit: 'seconds',
  }),
  SHEET_CACHE_MAX_STALE: int({
    description: 'Seconds past SHEET_CACHE_TTL a range may still be served: while its refresh runs, and while Google fails (0: no expired copy, so every read after an expiry waits for Google).',
    default: 3600,
    min: 0,
    max: 604800,
    unit: 'seconds',
  }),
  // Google's quota is 300 reads a minute per project and 60 per user per project; corral calls as
  // one service account, one user, so 60 is what Google enforces unless the project raised it.
  SHEETS_READS_PER_MINUTE: int({
    description: 'Ceiling on read calls to Google per minute, host-wide (with REDIS_URL: for all the sheet\'s hosts together); Google allows one service account 60 unless the project\'s quota was raised.',
    default: 60,
    min: 1,
    max: 100000,
  }),
  // Google's quota is 300 writes a minute per project and 60 per user per project; corral calls as
  // one service account, one user, so 60 is what Google enforces unless the project raised it.
  SHEETS_WRITES_PER_MINUTE: int({
    description: 'Ceiling on write calls to Google per minute, host-wide (with REDIS_URL: for all the sheet\'s hosts together); Google allows one service account 60 unless the project\'s quota was raised.',
    default: 60,
    min: 1,
    max: 100000,
  }),
  SHEETS_TIMEOUT: int({
    description: 'Seconds before a Sheets call is abandoned and retried.',
    default: 10,
    min: 1,
    max: 300,
    unit: 'seconds',
  }),
  SHEETS_FLUSH_INTERVAL_MS: int({
    description: 'Milliseconds between journal flushes (batched appends).',
    default: 500,
    min: 10,
    max: 600000,
    unit: 'milliseconds',
  }),
  SHEETS_UNSURE_DELAY: int({
    description: 'Seconds to wait before reading back an append whose outcome is unknown (timeout, 5xx, crash), so a late one lands first.',
    default: 60,
    min: 1,
    max: 3600,
    unit: 'seconds',
  }),
  // Measured on a 2-core box (README, journal section): a keeper replays about 10 MiB of journal a
  // second and holds up to ~9 bytes of heap per journal byte while it does. Without a cap a long
  // outage grew the journal until the keeper ran out of heap (V8 aborts) or could not replay it
  // within CORRAL_TIMEOUT, and every restart failed the same way (audit F3).
  SHEETS_JOURNAL_MAX_MB: int({
    description: 'MiB of rows the write journal may hold that the sheet has not taken yet (Google failing or refusing); beyond it appends are refused, unacknowledged (503 not_saved, logged journal.backlog_full), so the keeper stays inside its heap and can replay its journal at a restart.',
    default: 256,
    min: 1,
    max: 65536,
    unit: 'MiB',
  }),
  CORRAL_L1_CACHE_MB: int({
    description: 'Per-worker cache size in MiB (in front of the host-wide cache).',
    default: 32,
    min: 1,
    max: 4096,
    unit: 'MiB',
  }),
  CORRAL_IDEMPOTENCY_TTL: int({
    description: 'Seconds the keeper remembers an Idempotency-Key of POST /api/events (a retry with it gets the first answer, no second row).',
    default: 86400,
    min: 60,
    max: 2592000,
    unit: 'seconds',
  }),
  CORRAL_IDEMPOTENCY_KEYS: int({
    description: 'Most Idempotency-Keys the keeper remembers; beyond it the oldest are forgotten early (logged idempotency.keys_evicted).',
    default: 100000,
    min: 100,
    max: 10000000,
  }),
  CORRAL_IDEMPOTENCY_KEYS_PER_PLAYER: int({
    description: 'Most of those keys one player holds; beyond it that player\'s own oldest are forgotten, never another player\'s.',
    default: 1000,
    min: 1,
    max: 10000000,
  }),
  REDIS_URL: str({
    description: 'Redis shared by the corral hosts of one sheet: the Sheets quota, the cached ranges and the failed logins per name are shared through it, so the hosts together stay under SHEETS_*_PER_MINUTE, read each range from Google once per TTL and give a name CORRAL_LOGIN_FAILURES_PER_NAME failures in all (unset = this host alone; the per-IP rate limit stays per host).',
    default: undefined,
    pattern: REDIS_URL_PATTERN,
    patternText: REDIS_URL_TEXT,
    secret: true,
    show: shownRedisUrl,
    holdsSecret: redisUrlHoldsSecret,
  }),
  REDIS_TLS_CA_FILE: str({
    description: 'PEM file of the CA certificates that sign the Redis server\'s certificate, for a rediss:// REDIS_URL whose server a public CA did not sign (unset = the system\'s CAs). Read when the keeper starts.',
    default: undefined,
  }),
} as const;
