// Settings of the bundled players app and its capacity limits.

import { int, str } from './spec.js';

export const appSchema = {
  SHEET_PLAYERS_RANGE: str({
    description: 'Sheet tab (or A1 range) holding the players roster. A range naming no tab (`P01`, `A:E`) is cells of the sheet\'s first tab, as Google reads it: quote a tab whose name reads as a cell (`\'P01\'`); warned at load.',
    default: 'Players',
    emptyIsDefault: true,
  }),
  SHEET_EVENTS_RANGE: str({
    description: "Sheet tab (or A1 range starting at its table's first column, the event ids' column) receiving appended events. A range naming no tab (`P01`, `A:E`) is cells of the sheet's first tab, as Google reads it: quote a tab whose name reads as a cell (`'P01'`); warned at load.",
    default: 'Events',
    emptyIsDefault: true,
  }),
  CORRAL_SESSION_SECRET: str({
    description: 'HMAC secret for session tokens (unset = generated once and kept in CORRAL_DATA_DIR).',
    default: undefined,
    secret: true,
    minLength: 32,
  }),
  CORRAL_SESSION_TTL: int({
    description: 'Seconds a session token stays valid (lowered by a reload, it ends the tokens issued for longer).',
    default: 43200,
    min: 60,
    max: 2592000,
    unit: 'seconds',
  }),
  CORRAL_RATE_LIMIT: int({
    description: 'Requests per minute per client IP, shared by all workers (0 = off).',
    default: 100,
    min: 0,
    max: 1000000,
  }),
  CORRAL_LOGIN_FAILURES_PER_NAME: int({
    description: 'Failed logins per player name in 15 minutes, shared by all workers (with REDIS_URL, by all the sheet\'s hosts); then that name answers 429 until the window ends, even to a correct code (0 = off).',
    default: 10,
    min: 0,
    max: 1000000,
  }),
  CORRAL_MAX_CONNECTIONS: int({
    description: 'Host-wide connection cap, enforced and shown as the capacity status (0 = workers x worker connections).',
    default: 0,
    min: 0,
    max: 10000000,
  }),
  CORRAL_RAM_ALERT_PERCENT: int({
    description: 'Log an alert when host RAM use passes this percentage.',
    default: 80,
    min: 1,
    max: 100,
    unit: 'percent',
  }),
  CORRAL_EXPORT_THREADS: int({
    description: 'Threads per worker for CSV exports (piscina).',
    default: 1,
    min: 1,
    max: 64,
  }),
} as const;
