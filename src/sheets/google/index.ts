// Public surface of the Google Sheets client, for the keeper and the CLI.

export { createGoogleBackend, GoogleBackend } from './backend.js';
export type { CredentialCheck, GoogleBackendOptions, GoogleBackendStats, GoogleSettings } from './backend.js';
export type { AttemptInfo, AttemptSent } from './client.js';
export type { StringValueRange } from './values-answers.js';
export { GOOGLE_BACKOFF, backoffDelay } from './retry.js';
export type { RetryPolicy } from './retry.js';
export { loadServiceAccount, parseServiceAccountKey } from './credentials.js';
export type { ServiceAccountKey } from './credentials.js';
