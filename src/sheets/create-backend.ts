// Chooses where the sheet lives: Google (or the emulator, by SHEETS_API_URL) when SHEET_ID is set,
// else the offline sheet under CORRAL_DATA_DIR. Logs the choice once: the first thing an operator
// wants to know when rows do not show up where expected.

import type { Settings } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { SheetsBackend } from './backend.js';
import type { ProxyRoute } from './google/proxy.js';
import { paced, type AfterAttempt, type BeforeAttempt } from './keeper/pacing.js';
import { offlineSheetDir } from './offline/sheet-dir.js';
import { createOfflineBackend } from './offline/backend.js';
import { sampleRosterExposure } from './offline/sample-roster.js';

export type BackendSettings = Pick<
  Settings,
  | 'SHEET_ID'
  | 'SHEETS_API_URL'
  | 'GOOGLE_APPLICATION_CREDENTIALS'
  | 'GOOGLE_SERVICE_ACCOUNT_JSON'
  | 'SHEETS_API_KEY'
  | 'SHEETS_TIMEOUT'
  | 'CORRAL_DATA_DIR'
> &
  Partial<Pick<Settings, 'CORRAL_BIND'>> &
  Partial<Pick<Settings, 'HTTPS_PROXY' | 'HTTP_PROXY' | 'NO_PROXY'>>;

/** The kind of backend these settings select, without opening it (workers report it). */
export function backendKind(settings: Pick<Settings, 'SHEET_ID'>): 'google' | 'offline' {
  return settings.SHEET_ID ? 'google' : 'offline';
}


/**
 * Opens the backend with `beforeAttempt` run before every upstream attempt (the keeper's quota):
 * Google's client calls it per HTTP request sent, retries included, once the request's access
 * token is in hand; the offline sheet is wrapped.
 */
export async function openBackend(settings: BackendSettings, logger: Logger, beforeAttempt: BeforeAttempt, afterAttempt?: AfterAttempt): Promise<SheetsBackend> {
  let backend: SheetsBackend;
  let proxy: ProxyRoute | undefined;
  if (backendKind(settings) === 'google') {
    // Loaded only for Google: its HTTP client (undici) took a tenth of a second of CPU at every
    // start of a keeper serving the offline sheet.
    const { createGoogleBackend } = await import('./google/index.js');
    const google = createGoogleBackend(settings, logger, {
      beforeAttempt: (info, signal) => beforeAttempt(info, signal),
      ...(afterAttempt ? { afterAttempt: (info, error) => afterAttempt(info, error) } : {}),
    });
    // `proxy`: grep-able, its password never shown (proxy.ts); the description says it too.
    proxy = google.proxy.api ?? google.proxy.token;
    backend = google;
  } else {
    const dir = offlineSheetDir(settings);
    backend = paced(await createOfflineBackend({ dir, logger }), beforeAttempt, afterAttempt);
    const exposure = settings.CORRAL_BIND ? await sampleRosterExposure(dir, settings.CORRAL_BIND) : undefined;
    if (exposure) logger.warn({ event: 'sheets.sample_roster_exposed', code: 'CORRAL_ERR_SAMPLE_ROSTER', bind: settings.CORRAL_BIND }, exposure);
  }
  logger.info(
    { event: 'sheets.backend', backend: backend.kind, description: backend.description, ...(proxy ? { proxy: proxy.shown, proxySetting: proxy.setting } : {}) },
    `sheets backend: ${backend.description}`,
  );
  return backend;
}
