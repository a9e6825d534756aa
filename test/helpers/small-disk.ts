// A real small filesystem for tests of a full data disk: a tmpfs of a few hundred KiB mounted on a
// directory, filled with one file until the kernel answers ENOSPC. Mounting needs root (CI runs
// as root); elsewhere `smallDiskUnavailable()` says why, for the test's skip message.

import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
export function smallDiskUnavailable(probeDir: string): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux (tmpfs)';
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs as the data dir';
  try {
    mkdirSync(probeDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probeDir], { stdio: 'pipe' });
    execFileSync('umount', [probeDir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
  }
}

export interface SmallDisk {
  readonly dir: string;
  /** Fills the filesystem with one file until a write fails with ENOSPC. */
  fill(): void;
  /** Removes the file fill() wrote. */
  free(): void;
  /** Unmounts. Idempotent. */
  unmount(): void;
}

export function mountSmallDisk(dir: string, sizeKiB: number): SmallDisk {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  const filler = join(dir, 'filler');
  let mounted = true;
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(4096, 0x2e);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    },
  };
}
