// Children whose heartbeats stopped for seconds and then came back: their event loop was blocked
// (a long synchronous step: the app's code, or a large sheet range parsed and rebuilt) or starved
// of CPU, and every request they held waited as long. Until now the first line about it was the
// kill as stuck at CORRAL_TIMEOUT: an audit with a 100k-row sheet saw every worker block 3.4 s at
// each cache refresh, 30 s apart, with nothing in the log, and the heartbeat's loop lag (a mean
// over a second of samples) read 0.7 s for a 6.7 s block. Said when the beats come back, with how
// long they stopped: the first at once, then at most once a minute with the count and the longest,
// workers and the keeper apart (workers blocking together at each refresh are one line a minute).

import type { Logger } from '../log/logger.js';
import { RepeatedFailure } from '../log/repeated-failure.js';
import { secondsText } from '../seconds-text.js';
import type { ChildRecord } from './registry.js';

/** A child silent this long past its last beat is marked; said if it beats again before its kill. */
export const BLOCK_SAID_AFTER_MS = 2000;

/** The silence said for a child beating every `beatIntervalMs`: two beats missed at least. */
export function blockSaidAfterMs(beatIntervalMs: number): number {
  return Math.max(BLOCK_SAID_AFTER_MS, 2 * beatIntervalMs);
}

type Role = ChildRecord['role'];

interface Longest {
  ms: number;
  id: number;
}

export class LoopBlocks {
  /** Children silent past the threshold: the last beat before their silence. */
  private readonly silentFrom = new Map<ChildRecord, number>();
  private readonly repeats: Record<Role, RepeatedFailure>;
  private readonly longest: Record<Role, Longest> = { worker: { ms: 0, id: 0 }, keeper: { ms: 0, id: 0 } };

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly timeoutSeconds: () => number,
  ) {
    this.repeats = { worker: new RepeatedFailure(now), keeper: new RepeatedFailure(now) };
  }

  /**
   * Called by each tick once a stall of the master's own is discounted: marks children silent past
   * the threshold, and says those that beat again. A child killed as stuck meanwhile is not said
   * here (its kill is: worker.timeout).
   */
  observe(children: Iterable<ChildRecord>): void {
    const now = this.now();
    const live = new Set<ChildRecord>();
    for (const c of children) {
      live.add(c);
      if (c.state !== 'ready') {
        this.silentFrom.delete(c);
        continue;
      }
      const from = this.silentFrom.get(c);
      if (from === undefined) {
        if (now - c.lastBeatAt >= blockSaidAfterMs(c.beatIntervalMs)) this.silentFrom.set(c, c.lastBeatAt);
        continue;
      }
      if (c.lastBeatAt > from) {
        this.silentFrom.delete(c);
        this.say(c, c.lastBeatAt - from);
      }
    }
    for (const c of this.silentFrom.keys()) if (!live.has(c)) this.silentFrom.delete(c);
  }

  /** The master itself stalled (its children's silence discounted): what was marked is not theirs. */
  forget(): void {
    this.silentFrom.clear();
  }

  private say(c: ChildRecord, silentMs: number): void {
    const longest = this.longest[c.role];
    if (silentMs > longest.ms) Object.assign(longest, { ms: silentMs, id: c.id });
    const who = c.role === 'keeper' ? 'the keeper' : `worker ${c.id}`;
    const waited = c.role === 'keeper' ? "the workers' reads and writes that needed it waited as long" : 'the requests it held waited as long';
    this.repeats[c.role].failed((since, total) => {
      const fields = { event: `${c.role}.loop_blocked`, worker_id: c.id, worker_pid: c.handle.pid, silent_ms: Math.round(silentMs), blocks: since, blocks_total: total, longest_ms: Math.round(longest.ms), longest_worker_id: longest.id };
      const message =
        since === 1
          ? `${who} (pid ${c.handle.pid}) sent no heartbeat for ${secondsText(silentMs)}: its event loop was blocked (a long synchronous step: the app's code, or a large sheet range parsed and rebuilt) or starved of CPU, and ${waited}; silent for CORRAL_TIMEOUT (${this.timeoutSeconds()} s) it is killed as stuck`
          : `${since} more heartbeat silences of ${c.role === 'keeper' ? 'the keeper' : 'workers'} since the last such line, the longest ${secondsText(longest.ms)}${c.role === 'keeper' ? '' : ` (worker ${longest.id})`}: event loops blocked or starved of CPU`;
      this.log.warn(fields, message);
      Object.assign(longest, { ms: 0, id: 0 });
    });
  }
}
