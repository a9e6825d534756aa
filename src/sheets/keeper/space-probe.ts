// Whether a full data disk has room again, with no event posted to find out. An append refused
// for want of room (ENOSPC, EDQUOT) leaves the journal "not writable" until an append is written
// again: on a quiet service, an operator who freed the space saw health stay `degraded` (journal
// not_writable) and the alert on `corral_sheets_journal_writable` go on until the next player's
// event. While the last refusal was for want of room, the keeper writes and syncs one block in the
// data dir every few seconds; once that works, the journal's file system has room for an append.
// Appends still coming are probes of their own: each refusal puts the next probe an interval
// after it, so the probe only runs once they stop.
//
// Only room is judged so. An I/O error or a journal the service's user cannot write (EIO, EROFS,
// EACCES) is about the journal's own file or device, which another file proves nothing about:
// those wait for an append, as before.
//
// The probe takes one block for the moment of its write on a disk already refusing appends, and
// removes its file whatever happened.

import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE } from '../../private-modes.js';
import type { Clock } from './clock.js';

/** The file the probe writes, in the data dir; removed after each probe. */
export const SPACE_PROBE_FILE = '.space-probe';
/** One page: a journal append (a record of one event) takes less. */
export const SPACE_PROBE_BYTES = 4096;
export const SPACE_PROBE_INTERVAL_MS = 5_000;

const NO_ROOM = new Set(['ENOSPC', 'EDQUOT']);

/** Whether a refused write's errno says the file system had no room (full, or the user's quota). */
export function isNoRoom(errno: string | undefined): boolean {
  return errno !== undefined && NO_ROOM.has(errno);
}

/** Writes and syncs SPACE_PROBE_BYTES in `dir`, then removes the file: true if all of it was written. */
export async function probeRoom(dir: string): Promise<boolean> {
  const path = join(dir, SPACE_PROBE_FILE);
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, 'w', PRIVATE_FILE_MODE);
    // A short write is the disk filling up under it: no room for an append either.
    const { bytesWritten } = await fh.write(Buffer.alloc(SPACE_PROBE_BYTES), 0, SPACE_PROBE_BYTES, 0);
    if (bytesWritten !== SPACE_PROBE_BYTES) return false;
    await fh.datasync();
    return true;
  } catch {
    return false;
  } finally {
    await fh?.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
  }
}

export interface SpaceProbeOptions {
  readonly dir: string;
  readonly clock: Clock;
  /** Called once a probe found room; the probes then stop until noRoom() is called again. */
  readonly onRoom: () => void;
  readonly intervalMs?: number;
  /** For tests: what a probe does (default probeRoom). */
  readonly probe?: (dir: string) => Promise<boolean>;
}

/**
 * Probes `intervalMs` after the last refusal (noRoom()), then every `intervalMs`, until a probe
 * finds room, cancel() or close(). A probe in flight when any of those is called is ignored when
 * it ends: an append written meanwhile already said the journal is written again, and one refused
 * meanwhile is newer news than the probe's.
 */
export class SpaceProbe {
  private timer: unknown;
  /** Bumped by cancel() (so by noRoom() and close()) and by room found: a probe that ends under another run is ignored. */
  private run = 0;
  private closed = false;

  constructor(private readonly o: SpaceProbeOptions) {}

  /** An append was refused for want of room: the next probe comes an interval from now (none once closed). */
  noRoom(): void {
    if (this.closed) return;
    this.cancel();
    this.schedule(this.run);
  }

  /** Stops probing (an append was written, or refused for another cause); noRoom() resumes. */
  cancel(): void {
    this.run++;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Idempotent: no probe after it, nor any onRoom. */
  close(): void {
    this.cancel();
    this.closed = true;
  }

  private schedule(run: number): void {
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      void this.probe(run);
    }, this.o.intervalMs ?? SPACE_PROBE_INTERVAL_MS);
  }

  private async probe(run: number): Promise<void> {
    const room = await (this.o.probe ?? probeRoom)(this.o.dir).catch(() => false);
    if (run !== this.run) return;
    if (!room) return this.schedule(run);
    this.run++;
    this.o.onRoom();
  }
}
