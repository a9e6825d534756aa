// A journal already larger than SHEETS_JOURNAL_MAX_MB allows at start (written by a corral without
// the cap, or before the cap was lowered): it is replayed all the same, as its rows were
// acknowledged, but it may need more heap than Node's default or a rewrite at open longer than
// CORRAL_TIMEOUT. Said before the replay starts, with the path, the size and the settings that let
// it through, so that a keeper killed or aborting while it boots is understood (audit F3: a
// journal over 2 GiB failed every boot with a bare ERR_FS_FILE_TOO_LARGE).

import { stat } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import type { Logger } from '../../log/logger.js';

/**
 * Measured (README, the journal's backlog cap): a replay holds up to ~6 bytes of heap per journal
 * byte, and the rewrite at open serialises the whole journal in one stretch of the event loop, at
 * ~20 ms a MiB on a loaded 2-core box (45 s for 2.1 GiB).
 */
const HEAP_PER_BYTE = 6;
const REWRITE_MS_PER_MIB = 20;

/**
 * Logs journal.oversized (warn) when the journal at `path` is over twice `capBytes`, or when its
 * replay may need more heap than this process's V8 limit (`heapLimit`): the default cap replays in
 * ~1.5 GiB, more than V8 takes on a small host or in a container with a memory limit, and such a
 * replay aborted (SIGABRT) at every start with no line of corral's.
 */
export async function reportOversizedJournal(logger: Logger, path: string, capBytes: number, heapLimit: number = getHeapStatistics().heap_size_limit): Promise<void> {
  const bytes = await stat(path).then(
    (s) => s.size,
    () => 0,
  );
  const mib = Math.ceil(bytes / 1048576);
  const heapMib = Math.ceil((mib * HEAP_PER_BYTE) / 1024) * 1024;
  // Up to twice the cap is a journal the cap allowed: rows at the cap, plus the done and send
  // records that the next compaction drops.
  if (bytes * HEAP_PER_BYTE > heapLimit && bytes <= 2 * capBytes) {
    logger.warn(
      { event: 'journal.oversized', code: 'CORRAL_ERR_JOURNAL_OVERSIZED', path, bytes, max_bytes: capBytes, heap_mib_needed: heapMib, heap_limit_mib: Math.floor(heapLimit / 1048576) },
      `keeper: the write journal ${path} is ${mib} MiB: replaying it may take up to ${heapMib} MiB of heap, more than this keeper's ${Math.floor(heapLimit / 1048576)} MiB (V8's limit here). ` +
        `If the keeper exits with SIGABRT (out of heap) while booting, start corral with NODE_OPTIONS=--max-old-space-size=${heapMib} (and room for it) until the sheet has taken the backlog, or lower SHEETS_JOURNAL_MAX_MB; do not delete the journal: it holds rows that were acknowledged`,
    );
    return;
  }
  if (bytes <= 2 * capBytes) return;
  const timeoutS = Math.ceil((mib * REWRITE_MS_PER_MIB) / 1000) + 30;
  logger.warn(
    { event: 'journal.oversized', code: 'CORRAL_ERR_JOURNAL_OVERSIZED', path, bytes, max_bytes: capBytes, heap_mib_needed: heapMib, timeout_s_needed: timeoutS },
    `keeper: the write journal ${path} is ${mib} MiB, over SHEETS_JOURNAL_MAX_MB=${Math.round(capBytes / 1048576)}: it is replayed all the same (do not delete it: it holds rows that were acknowledged). ` +
      `Replaying it may take up to ${heapMib} MiB of heap and a stretch of up to ${timeoutS} s: if the keeper exits with SIGABRT (out of heap) or is killed while booting (keeper.timeout), ` +
      `start corral with NODE_OPTIONS=--max-old-space-size=${heapMib} and CORRAL_TIMEOUT=${timeoutS} until the sheet has taken the backlog; new appends are refused until it is under the cap`,
  );
}
