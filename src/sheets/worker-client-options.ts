// What a worker's Sheets client (worker-client.ts) is made from: the settings it reads, and the
// options its maker (worker/sheets-access.ts) and the tests may set. A file of its own so that the
// client's file holds what the client does, not the list of what may be tuned.

import type { Settings } from '../config/schema.js';
import type { KeeperRestartWindow } from './keeper-restart-window.js';

export type WorkerSheetsSettings = Pick<Settings, 'SHEET_ID' | 'CORRAL_DATA_DIR' | 'CORRAL_L1_CACHE_MB' | 'SHEET_CACHE_MAX_STALE' | 'SHEETS_TIMEOUT'> & Partial<Pick<Settings, 'SHEETS_API_URL'>>;

export interface WorkerClientOptions {
  /** Overrides the socket derived from CORRAL_DATA_DIR (tests). */
  readonly socketPath?: string;
  readonly retryDelayMs?: number;
  /** Push invalidation from the keeper (default on). */
  readonly watch?: boolean;
  /** Pause after an empty /watch answer that came back at once (default WATCH_IDLE_PAUSE_MS). */
  readonly watchPauseMs?: number;
  readonly now?: () => number;
  /** The master's word on a planned keeper restart (worker/sheets-access.ts keeps it for the worker). */
  readonly restartWindow?: KeeperRestartWindow;
  /** How long a read with no copy to serve waits for the keeper (default keeperAnswerWaitMs(SHEETS_TIMEOUT); tests shorten it). */
  readonly answerWaitMs?: number;
}
