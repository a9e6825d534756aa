// What a child's message changes in its record, and what it asks of the arbiter: beats and
// figures, its ready, its boot failure, a retire request, its drained. The record is updated here;
// what concerns the whole master (counts, the log line of a ready, a crash, the next tick) is
// returned for the arbiter to do.

import type { ChildMessage } from '../ipc/messages.js';
import type { ChildRecord } from './registry.js';

export type MessageEffect =
  /** Nothing for the tick to act on. */
  | { readonly kind: 'none' }
  /** The record changed in a way the tick acts on: run it soon. */
  | { readonly kind: 'tick' }
  /** It became ready (only once, from booting). */
  | { readonly kind: 'ready'; readonly port: number | undefined }
  /** It reported an uncaught exception (`error`: its first line, when it said): a crash, to be counted. */
  | { readonly kind: 'crashed'; readonly error?: string }
  /** Its beat showed an RSS over CORRAL_MAX_WORKER_MEMORY_MB: it now waits to be recycled. */
  | { readonly kind: 'over-memory'; readonly rssMb: number }
  /**
   * It was already over CORRAL_MAX_WORKER_MEMORY_MB when it became ready, before any request: a
   * replacement would start as big, so it is not recycled for memory (each worker was replaced as
   * soon as it was ready, for as long as corral ran). Returned at each of its beats while so.
   */
  | { readonly kind: 'over-memory-from-start'; readonly rssMb: number };

const NONE: MessageEffect = { kind: 'none' };

/** The worker's RSS in MiB when over `limitMb` (0 = no limit) and it may be asked to recycle. */
export function rssOverLimit(c: ChildRecord, limitMb: number): number | undefined {
  if (c.role !== 'worker' || limitMb <= 0 || c.state !== 'ready' || c.retire || c.pendingRetire || !c.figures) return undefined;
  const rssMb = c.figures.rssBytes / 1048576;
  return rssMb > limitMb ? rssMb : undefined;
}

export function applyChildMessage(c: ChildRecord, msg: ChildMessage, now: number, memoryLimitMb: number): MessageEffect {
  switch (msg.type) {
    case 'heartbeat': {
      c.lastBeatAt = now;
      c.beaten = true;
      const progress = msg.figures.bootProgress;
      if (c.state === 'booting' && progress !== undefined && progress > (c.figures?.bootProgress ?? 0)) c.bootProgressAt = now;
      c.figures = msg.figures;
      if (c.role === 'worker' && c.state === 'ready' && memoryLimitMb > 0 && c.readyRssMb !== undefined && c.readyRssMb > memoryLimitMb) {
        return { kind: 'over-memory-from-start', rssMb: c.readyRssMb };
      }
      const rssMb = rssOverLimit(c, memoryLimitMb);
      if (rssMb === undefined) return NONE;
      c.pendingRetire = 'memory';
      return { kind: 'over-memory', rssMb };
    }
    case 'ready':
      c.lastBeatAt = now;
      c.beaten = true;
      if (c.state !== 'booting') return NONE;
      c.state = 'ready';
      c.readyAt = now;
      if (msg.port !== undefined) c.port = msg.port;
      if (c.role === 'worker' && msg.rssBytes !== undefined) c.readyRssMb = msg.rssBytes / 1048576;
      return { kind: 'ready', port: msg.port };
    case 'boot-failed':
      // The first report is the cause; anything a failing child reports after it is fallout.
      c.bootError ??= { code: msg.code, message: msg.message, ...(msg.stack ? { stack: msg.stack } : {}), ...(msg.lasting === true ? { lasting: true } : {}) };
      return NONE;
    case 'retire':
      if (msg.reason === 'uncaught') return typeof msg.error === 'string' ? { kind: 'crashed', error: msg.error } : { kind: 'crashed' };
      c.pendingRetire ??= msg.reason;
      return { kind: 'tick' };
    case 'drained':
      c.drainedReported = true;
      // Its server's close was read before this message (one ordered pipe), so no handoff can
      // follow; the worker exits once it reads this answer.
      if (c.role === 'worker') c.handle.send({ type: 'release' });
      return NONE;
  }
  return { kind: 'tick' };
}
