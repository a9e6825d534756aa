// Which sheet appended rows land in (SheetsBackend.destination), worked out from the settings alone,
// so a worker knows it without opening a backend: the keeper and its workers must agree on it.
// Two corrals sharing one CORRAL_DATA_DIR share one keeper socket: the second one's workers reached
// the first one's keeper, and their writes were acknowledged and sent to the first one's sheet
// (audit). Each request now carries a digest of the worker's destination and the keeper refuses
// one that is not its own (keeper/server.ts, CORRAL_ERR_KEEPER_OTHER_SHEET).
//
// The strings are written into the journal with every entry (journal-replay.ts `d`): they must not
// change, or rows journaled before an upgrade would be held as another sheet's.

import { createHash } from 'node:crypto';
import type { Settings } from '../config/schema.js';

/** Google's own Sheets API, when SHEETS_API_URL is unset (the settings' default). */
export const DEFAULT_API_URL = 'https://sheets.googleapis.com';

/** The offline sheet lives in the data dir beside the journal, and moves with it: one per data dir. */
export const OFFLINE_DESTINATION = 'the offline sheet';

/** The request header a worker names its destination's digest in (keeper/protocol.ts). */
export const DESTINATION_HEADER = 'corral-destination';

/** A spreadsheet reached through an API URL (trailing slashes do not make another sheet). */
export function googleDestination(spreadsheetId: string, apiUrl: string): string {
  return `google sheet ${spreadsheetId} via ${apiUrl.replace(/\/+$/, '')}`;
}

/** The destination these settings select: the same rule as create-backend.ts, without opening it. */
export function destinationOf(settings: Partial<Pick<Settings, 'SHEET_ID' | 'SHEETS_API_URL'>>): string {
  return settings.SHEET_ID ? googleDestination(settings.SHEET_ID, settings.SHEETS_API_URL ?? DEFAULT_API_URL) : OFFLINE_DESTINATION;
}

/**
 * A digest of a destination, for the wire and the log: two corrals' can be told apart and compared
 * without writing their spreadsheet ids and API URLs into each other's logs.
 */
export function destinationDigest(destination: string): string {
  return createHash('sha256').update(destination).digest('hex').slice(0, 16);
}
