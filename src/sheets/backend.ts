// What the keeper needs from wherever the sheet lives: Google's Sheets API v4 (or the emulator),
// or the offline local sheet. Shapes follow the API's ValueRange wire format.

/** The Sheets API `ValueRange` object. `values` is absent when the range is empty, as Google sends it. */
export interface ValueRange {
  readonly range: string;
  readonly majorDimension: 'ROWS' | 'COLUMNS';
  readonly values?: string[][];
}

export interface AppendResult {
  /** Exact A1 range the rows landed in (e.g. `Events!A12:E14`). */
  readonly updatedRange: string;
  readonly updatedRows: number;
}

/**
 * Told when an attempt of a call failed and the call will try again after Google's backoff (the
 * error of that attempt). The read tier answers, at once, the readers it must not keep waiting
 * through the retries (the listener fetch-flight.ts gives each fetch).
 */
export type RetryListener = (err: Error) => void;

export interface SheetsBackend {
  readonly kind: 'google' | 'offline';
  /** Human-readable description for the log (`google sheet 1AbC… via https://…`, `offline sheet in data/sheet`). */
  readonly description: string;
  /**
   * Which sheet, read how, in full (the description shortens it): a keeper serves the cache a
   * draining one handed over only when this is the same (keeper/cache-handoff.ts).
   */
  readonly source: string;
  /**
   * Which sheet appended rows land in, whoever writes them (the account is not part of it): the
   * journal keeps each entry's, and sends an entry only to its own (keeper/journal-entries.ts).
   */
  readonly destination: string;
  /** `onRetry`: see RetryListener (a backend that does not retry within a call never calls it). */
  getValues(range: string, signal?: AbortSignal, onRetry?: RetryListener): Promise<ValueRange>;
  batchGetValues(ranges: readonly string[], signal?: AbortSignal): Promise<ValueRange[]>;
  /**
   * Appends rows. Rejects with a SheetsError whose `applied` says whether Google may have written
   * the rows ('no' = safe to resend, 'maybe' = the journal must check before resending).
   */
  appendValues(range: string, rows: readonly (readonly string[])[], signal?: AbortSignal): Promise<AppendResult>;
  close(): Promise<void>;
}
