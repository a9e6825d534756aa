// What the keeper (keeper.ts) is started with: its settings (KeeperSettings, the part of the one
// schema it reads) and its options (KeeperOptions: how the backend is opened, where to listen,
// what tests replace). A file of its own, as journal-types.ts is the journal's: the keeper's
// neighbours that take part of them (journal-start.ts) and the tests' fixtures import the shapes
// without the keeper.

import type { Settings } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import type { SheetsBackend } from '../backend.js';
import type { Clock } from './clock.js';
import type { JournalOptions } from './journal-types.js';
import type { KeeperLockTakenError } from './lock-fence.js';
import type { AfterAttempt, BeforeAttempt } from './pacing.js';

export type KeeperSettings = Pick<
  Settings,
  | 'CORRAL_DATA_DIR'
  | 'SHEET_CACHE_TTL'
  | 'SHEET_CACHE_MAX_STALE'
  | 'SHEETS_READS_PER_MINUTE'
  | 'SHEETS_WRITES_PER_MINUTE'
  | 'SHEETS_FLUSH_INTERVAL_MS'
  | 'SHEETS_JOURNAL_MAX_MB'
  | 'CORRAL_L1_CACHE_MB'
  | 'CORRAL_IDEMPOTENCY_TTL'
  | 'CORRAL_IDEMPOTENCY_KEYS'
  | 'CORRAL_IDEMPOTENCY_KEYS_PER_PLAYER'
  | 'REDIS_URL'
  | 'REDIS_TLS_CA_FILE'
  | 'SHEETS_TIMEOUT'
> &
  // The sheet a waiting keeper names to the lock's holder (lock-holder.ts); tests' settings may leave them out.
  Partial<Pick<Settings, 'SHEET_ID' | 'SHEETS_API_URL'>>;

export interface KeeperOptions {
  readonly settings: KeeperSettings;
  readonly logger: Logger;
  /**
   * Opens the backend with the quota hook to run before every upstream attempt (Google's client
   * takes it as `beforeAttempt`; other backends are wrapped with `paced()`). The keeper owns and
   * closes the backend. `afterAttempt` is told how each such call ended: Google's 429s hold the
   * bucket the call drew from (quota-refusals.ts).
   */
  readonly openBackend: (beforeAttempt: BeforeAttempt, afterAttempt: AfterAttempt) => Promise<SheetsBackend>;
  /** Where to listen; undefined = no server (in-process use by tests). */
  readonly socketPath: string | undefined;
  readonly clock?: Clock;
  /** Waiters allowed in the read quota queue (default: one minute of quota). */
  readonly readQueueMax?: number;
  /** How long to wait for a previous keeper to release the data dir. */
  readonly lockWaitMs?: number;
  readonly unsureDelayMs?: number;
  /** Told as the journal is read at start, chunk by chunk (JournalOptions.onOpenProgress). */
  readonly onJournalProgress?: (readBytes: number, totalBytes: number) => void;
  /** What tests replace of the journal file's I/O (JournalOptions.file): a disk that hangs, and the clock that watches its writes. */
  readonly journalFile?: JournalOptions['file'];
  /**
   * Told once when another keeper is found holding the data dir's lock (lock-fence.ts): from then
   * on this keeper sends no row and acknowledges no append; the process leaves (Keeper.leave).
   */
  readonly onLockTaken?: (taken: KeeperLockTakenError) => void;
}
