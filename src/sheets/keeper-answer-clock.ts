// A keeper's read answer moved onto the worker's clock, as the worker's client (worker-client.ts)
// takes it into L1. A file of its own: the two processes keep time differently on purpose (the
// keeper's clock is monotonic from its start), and which of an answer's times move is a rule of
// the wire (keeper/protocol.ts's WireReadAnswer), not of the client's caching.

import type { WireReadAnswer } from './keeper/protocol.js';

/**
 * The keeper's answer with its times moved onto this worker's clock. The keeper's clock is the
 * wall clock as it was when the keeper started, then monotonic (a step of the system clock moves
 * neither its TTLs nor its quota window); a worker's is Date.now(). After a step back of an hour,
 * the keeper's times were an hour ahead of the worker's, and L1 held every copy an hour past its
 * TTL: stale rows served as fresh, and no read reaching the keeper to refresh them.
 */
export function onOwnClock<T extends WireReadAnswer>(wire: T, now: number): T {
  // An answer without `now` (a keeper of an older build, during a reload) is taken as it is.
  const shift = typeof wire.now === 'number' ? now - wire.now : 0;
  if (shift === 0) return wire;
  return { ...wire, fetchedAt: wire.fetchedAt + shift, expiresAt: wire.expiresAt + shift, now };
}
