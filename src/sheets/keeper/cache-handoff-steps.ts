// The keeper's two ends of the cache handoff (cache-handoff.ts, its file): at start, the copies a
// draining keeper handed over taken into the read tier, before the journal opens, and the file
// deleted once the keeper is about to serve; at drain, the tier's servable copies written for the
// next keeper, once the flush is over. Each is said in the log, and a handoff lost costs only the
// next keeper's first reads. The one failure that stops a start is a file it cannot delete: left
// behind, a later keeper would serve copies whose done entries this one's journal let go. A file
// of its own: the keeper (keeper.ts) only decides when each runs.

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Settings } from '../../config/schema.js';
import { DataDirWriteError, describeError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { SheetsBackend } from '../backend.js';
import { CACHE_HANDOFF_FILE, dropCacheHandoff, readCacheHandoff, saveCacheHandoff, type TakenHandoff } from './cache-handoff.js';
import type { Clock } from './clock.js';
import { HandedCopies } from './handed-copies.js';
import { JOURNAL_FILE } from './journal-open.js';
import type { ReadTier } from './read-tier.js';

/** What either end of the handoff works with. */
export interface HandoffParts {
  readonly dataDir: string;
  readonly backend: SheetsBackend;
  readonly tier: ReadTier;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Takes the cache a draining keeper handed over, if it is of this sheet. The file is left in place
 * until the keeper serves (releaseCacheHandoff), for the keeper after it should this start fail
 * first; what it holds is given back, to be kept by the journal's retention meanwhile
 * (handed-copies.ts). Undefined: no file is left. Fails only when a file no keeper may use cannot
 * be deleted (DataDirWriteError).
 */
export async function restoreCache(k: HandoffParts, s: Pick<Settings, 'SHEET_CACHE_TTL' | 'SHEET_CACHE_MAX_STALE'>): Promise<HandedCopies | undefined> {
  const dataDir = k.dataDir;
  const now = k.clock.now();
  let taken: TakenHandoff;
  try {
    taken = await readCacheHandoff(dataDir, k.backend.source, now, (s.SHEET_CACHE_TTL + s.SHEET_CACHE_MAX_STALE) * 1000, k.clock);
  } catch (err) {
    // Only deletions throw here (an unreadable file is ignored): a damaged file, or another
    // sheet's, that stays might be taken by a later keeper (of that sheet, a rollback's) after this
    // one's journal opened and dropped what its copies need.
    throw handoffUndeletable(dataDir, err);
  }
  if (taken.kind === 'none') return undefined;
  // The copies were handed over beside a journal that keeps the rows Google took after they were
  // fetched (done entries, merged into reads of them): without it (moved aside or deleted while
  // corral was stopped, as a rollback to an older build's journal has it), a copy was served fresh
  // for up to SHEET_CACHE_TTL without acknowledged rows the sheet has. Deleted before the journal's
  // open makes a new one, beside which a later keeper would take it.
  if (taken.kind === 'restored' && (await journalGone(dataDir))) {
    await releaseCacheHandoff(dataDir);
    const reason = `the write journal it was handed over beside (${JOURNAL_FILE}) is gone: its copies may lack rows the sheet took after they were fetched`;
    k.logger.info({ event: 'sheets.cache_handoff_ignored', dataDir, reason }, `keeper: not using the cache the previous keeper handed over: ${reason}`);
    return undefined;
  }
  if (taken.kind === 'ignored') {
    k.logger.info({ event: 'sheets.cache_handoff_ignored', dataDir, reason: taken.reason }, `keeper: not using the cache the previous keeper handed over: ${taken.reason}`);
    return undefined;
  }
  // Kept also when none of its copies is restored here: the keeper after this one, should this
  // start fail, may serve them under its own settings.
  const left = new HandedCopies(taken.copies);
  if (taken.values.length === 0) {
    const reason = droppedWords(taken.tooOld, taken.ahead);
    k.logger.info({ event: 'sheets.cache_handoff_ignored', dataDir, reason, too_old: taken.tooOld, ahead: taken.ahead }, `keeper: not using the cache the previous keeper handed over: ${reason}`);
    return left;
  }
  const ranges = k.tier.restore(taken.values);
  const oldest = taken.values.reduce((age, v) => Math.max(age, now - v.fetchedAt), 0);
  k.logger.info(
    { event: 'sheets.cache_restored', ranges, too_old: taken.tooOld, ahead: taken.ahead, oldest_age_s: Math.round(oldest / 1000), handed_over_s_ago: Math.round((now - taken.savedAt) / 1000) },
    `keeper: serving ${ranges} cached range${ranges === 1 ? '' : 's'} the previous keeper handed over (oldest fetched ${Math.round(oldest / 1000)} s ago), refreshed by their TTL`,
  );
  return left;
}

/**
 * Deletes the handed file, durably, once the keeper is about to serve: from then on its journal
 * judges what it keeps by the copies it serves alone (its reads refresh them, its flusher trims).
 * Not deleted, a later keeper could take copies whose done entries this one let go: the start
 * fails instead (DataDirWriteError), as for the journal's own files.
 */
export async function releaseCacheHandoff(dataDir: string): Promise<void> {
  try {
    await dropCacheHandoff(dataDir);
  } catch (err) {
    throw handoffUndeletable(dataDir, err);
  }
}

function handoffUndeletable(dataDir: string, err: unknown): DataDirWriteError {
  return new DataDirWriteError('the cache handoff (deleting it)', join(dataDir, CACHE_HANDOFF_FILE), err);
}

/** The data dir holds no journal (a question the journal's open, which creates one, must not be asked after). */
async function journalGone(dataDir: string): Promise<boolean> {
  return stat(join(dataDir, JOURNAL_FILE)).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
  );
}

/** Why every handed range was dropped: too old, or fetched after now (the clock set back since). */
function droppedWords(tooOld: number, ahead: number): string {
  const ranges = (n: number) => `${n} range${n === 1 ? '' : 's'}`;
  const old = tooOld > 0 ? `${ranges(tooOld)} ${tooOld === 1 ? 'is' : 'are'} older than SHEET_CACHE_TTL + SHEET_CACHE_MAX_STALE` : '';
  const later = ahead > 0 ? `${ranges(ahead)} ${ahead === 1 ? 'was' : 'were'} fetched after now by this host's clock (set back since the previous keeper wrote them?), so their age cannot be told` : '';
  return `its ${[old, later].filter((w) => w !== '').join(', and ')}`;
}

/** Hands the cache to the next keeper; a failure costs only its first reads (logged). */
export async function handOverCache(k: HandoffParts): Promise<void> {
  // The offline sheet is read from local files in milliseconds: nothing to spare, and an
  // operator who edits its CSV files and restarts reads them at once, as before.
  if (k.backend.kind === 'offline') return;
  const dataDir = k.dataDir;
  const values = k.tier.servableValues();
  if (values.length === 0) return;
  try {
    const bytes = await saveCacheHandoff(dataDir, k.backend.source, values, k.clock.now(), k.clock);
    k.logger.info({ event: 'sheets.cache_handed_over', ranges: values.length, bytes }, `keeper: ${values.length} cached range${values.length === 1 ? '' : 's'} handed over to the next keeper`);
  } catch (err) {
    k.logger.warn(
      { event: 'sheets.cache_handover_failed', dataDir, err: describeError(err) },
      `keeper: cannot write the cache for the next keeper in ${dataDir} (${(err as Error).message}); it starts empty, and its first reads wait for Google`,
    );
  }
}
