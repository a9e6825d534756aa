// An append as the keeper takes it (keeper.ts): journaled (journal.add, acknowledged once
// fsynced) or refused, and what each outcome tells the parts that follow appends: a refusal for a
// journal that cannot be written (write-failure-log.ts, and the space probe when it was for want of
// room, space-probe.ts) or for a full backlog (backlog-full-log.ts), not for a write that hangs
// (said by the journal's own journal.sync_stuck), the first append begun after
// either that is journaled again (started-after-failure.ts), and idempotency keys forgotten early.
// A file of its own: the keeper's figures and close read these parts, its append only hands over.

import { DataDirWriteError, JournalFullError, JournalWriteStuckError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { StartedAfterFailure } from '../../log/started-after-failure.js';
import { BacklogFullLog } from './backlog-full-log.js';
import type { Clock } from './clock.js';
import type { Journal, Receipt } from './journal.js';
import { isNoRoom, SpaceProbe } from './space-probe.js';
import { JournalWriteFailureLog } from './write-failure-log.js';

export class AppendOutcomes {
  readonly writeFailures: JournalWriteFailureLog;
  /** While appends are refused for want of room: finds the room back with no append (space-probe.ts). */
  readonly spaceProbe: SpaceProbe;
  readonly backlogFull: BacklogFullLog;
  private readonly appendTickets = new StartedAfterFailure<'write' | 'full'>();
  private evictionsReported = 0;
  private evictionsReportedAt = -Infinity;

  /** `keysMax`: CORRAL_IDEMPOTENCY_KEYS, named when keys are forgotten early. */
  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    dataDir: string,
    private readonly keysMax: number,
  ) {
    this.writeFailures = new JournalWriteFailureLog(logger, () => clock.now());
    this.spaceProbe = new SpaceProbe({ dir: dataDir, clock, onRoom: () => this.writeFailures.roomFound() });
    this.backlogFull = new BacklogFullLog(logger, () => clock.now());
  }

  /**
   * `idempotency`: an optional claim {key, fingerprint, answer} (keeper/idempotency-keys.ts);
   * `header`: the header row the rows were built under (header-mapping.ts).
   */
  async append(journal: Journal, range: string, rows: unknown, idempotency?: unknown, header?: unknown): Promise<Receipt> {
    const ticket = this.appendTickets.begin();
    try {
      const receipt = await journal.add(range, rows, idempotency, header);
      // Only an append begun after a refusal says it is over (started-after-failure.ts).
      if (this.appendTickets.beganAfter('write', ticket)) {
        this.writeFailures.succeeded();
        this.spaceProbe.cancel();
      }
      if (this.appendTickets.beganAfter('full', ticket)) this.backlogFull.accepted(journal.backlogBytes(), journal.backlogCapBytes);
      return receipt;
    } catch (err) {
      // A write that hangs is said by journal.sync_stuck and counted by the journal: no
      // journal.write_failed, whose errno and "free space there" would send the operator astray.
      if (err instanceof DataDirWriteError && !(err instanceof JournalWriteStuckError)) {
        this.appendTickets.failed('write');
        this.writeFailures.failed(err);
        if (isNoRoom(err.errno)) this.spaceProbe.noRoom();
        else this.spaceProbe.cancel();
      }
      if (err instanceof JournalFullError) {
        this.appendTickets.failed('full');
        this.backlogFull.refusedAt(err, () => ({ waiting: journal.backlogRows(), held: journal.heldForOtherSheets() }));
      }
      throw err;
    } finally {
      this.reportEvictions(journal);
    }
  }

  /**
   * At the cap the oldest idempotency keys are forgotten before their time: said at most once a
   * minute, with how many since the last line, so an operator can raise CORRAL_IDEMPOTENCY_KEYS.
   */
  private reportEvictions(journal: Journal): void {
    const { keys, evicted } = journal.idempotencyFigures();
    if (evicted === this.evictionsReported) return;
    const now = this.clock.now();
    if (now - this.evictionsReportedAt < 60_000) return;
    this.logger.warn(
      { event: 'idempotency.keys_evicted', evicted: evicted - this.evictionsReported, keys, max: this.keysMax },
      'keeper: idempotency keys were forgotten before CORRAL_IDEMPOTENCY_TTL because CORRAL_IDEMPOTENCY_KEYS were held; a retry with one of them would write a new row',
    );
    this.evictionsReported = evicted;
    this.evictionsReportedAt = now;
  }
}
