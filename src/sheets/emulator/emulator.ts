// What an emulator offers the process that started it (tests, benches, `corral emulator`): the
// Emulator interface and its options. Apart from server.ts, which implements it over HTTP, so
// that its users read the surface without the request handling (control-endpoints.ts serves the
// same calls to other processes).

import type { ServiceAccountKey } from '../google/credentials.js';
import type { EmulatorCounters, Faults } from './faults.js';
import type { ReadCall } from './read-log.js';
import type { SheetSeed } from './seed.js';
import type { ShareRole } from './store.js';

export interface EmulatorOptions {
  /** 0 (default) = an ephemeral port. */
  readonly port?: number;
  /** Default 127.0.0.1: the control endpoints are unauthenticated. */
  readonly host?: string;
  readonly seed?: SheetSeed;
  readonly faults?: Partial<Faults>;
  /** Clock shared with the token checks and quotas (tests move it). */
  readonly now?: () => number;
  /** Seed of the fault-injection PRNG (default: random). */
  readonly randomSeed?: number;
  /** Lifetime of issued access tokens in seconds (Google: 3599). */
  readonly tokenLifetimeS?: number;
}

export interface RegisterOptions {
  readonly clientEmail?: string;
  /** Sharing on `spreadsheetId` (default the seed's): writer (default), reader, or none. */
  readonly share?: ShareRole | 'none';
  readonly spreadsheetId?: string;
}

export interface Emulator {
  /** Base URL to use as SHEETS_API_URL. */
  readonly url: string;
  readonly port: number;
  /** The token endpoint, as written into generated keys. */
  readonly tokenUri: string;
  /** The seed spreadsheet's id. */
  readonly spreadsheetId: string;
  /** Creates a service account, shares the sheet with it, returns its key file content. */
  registerServiceAccount(options?: RegisterOptions): ServiceAccountKey;
  /** Registers an API key (generated when omitted) and returns it. */
  registerApiKey(key?: string): string;
  share(spreadsheetId: string, clientEmail: string, role: ShareRole | 'none'): void;
  /** "Anyone with the link can view" on or off (reads with an API key or any account's token). */
  setPublic(spreadsheetId: string, isPublic: boolean): void;
  /** An Excel file stored in Drive under this id rather than a Google Sheet (every values call: 400 FAILED_PRECONDITION). */
  setXlsx(spreadsheetId: string, isXlsx: boolean): void;
  /**
   * Protects a whole tab (Data > Protect sheets and ranges), `editors` the accounts it lets write
   * (none: only the owner, no service account); `false` removes the protection. Writes into it by
   * anyone else get Google's 400 "You are trying to edit a protected cell or object. ...".
   */
  protectTab(spreadsheetId: string, title: string, editors: readonly string[] | false): void;
  /**
   * Names `range` (cells of one of its tabs, `Players!A1:E3`) `name` (Data > Named ranges): a
   * range written as that name bare reads them, before a tab of that name.
   */
  defineNamedRange(spreadsheetId: string, name: string, range: string): void;
  setSheet(spreadsheetId: string, title: string, rows: readonly (readonly unknown[])[]): void;
  getSheet(spreadsheetId: string, title: string): string[][] | undefined;
  faults(): Faults;
  setFaults(update: Partial<Faults>): Faults;
  counters(): EmulatorCounters;
  resetCounters(): void;
  /** The read calls that arrived at or after `since` (ms since the epoch), oldest first: of the latest READ_LOG_MAX at most. */
  reads(since: number): ReadCall[];
  /**
   * Google's per-minute quotas (the project's and each user's) as at the start of a minute: a
   * benchmark's load does not inherit what the load before it spent.
   */
  resetQuotas(): void;
  /** Forgets every issued access token: the next call with one gets 401. */
  revokeTokens(): void;
  /** Requests currently hung by fault injection. */
  hungRequests(): number;
  close(): Promise<void>;
}
