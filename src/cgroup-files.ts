// Reading the cgroup filesystem, for each limit corral looks at (the CPU quota, the memory limit,
// the task limit and their counters): where /proc/<pid>/cgroup puts a controller's cgroup, where
// its directory is under a cgroup namespace, its ancestors, and files that may be absent.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** A file's text, or undefined when it cannot be read (absent, not Linux, no cgroupfs). */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** readText without blocking: for the master, whose loop must not wait on a read. */
export async function readTextAsync(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The path of a v1 controller's line of /proc/self/cgroup ("4:cpu,cpuacct:/docker/abc"), if any. */
export function v1PathOf(lines: readonly string[], controller: string): string | undefined {
  for (const l of lines) {
    const m = /^\d+:([^:]*):(.*)$/.exec(l);
    if (m && (m[1] ?? '').split(',').includes(controller)) return m[2] ?? '';
  }
  return undefined;
}

/** The path of the `0::` (cgroup v2) line of /proc/self/cgroup, if any. */
export function unifiedPathOf(lines: readonly string[]): string | undefined {
  return lines.map((l) => /^0::(.*)$/.exec(l)?.[1]).find((p) => p !== undefined);
}

/** The cgroup directory above `dir`, up to the hierarchy's `root` (undefined past it). */
export function parentOf(dir: string, root: string): string | undefined {
  const up = dir.slice(0, dir.lastIndexOf('/'));
  return up.length >= root.length && up !== dir ? up : undefined;
}

/** `dir` and its ancestors up to the mount's `root` (inclusive), nearest first. */
export function upToRoot(dir: string, root: string): string[] {
  const dirs: string[] = [];
  for (let d: string | undefined = dir; d !== undefined && d.startsWith(root); d = parentOf(d, root)) dirs.push(d);
  return dirs;
}

/** `name N` of a flat-keyed file (memory.events, pids.events, memory.stat, cpu.stat). */
export function keyedCount(text: string | undefined, name: string): number | undefined {
  const m = text === undefined ? null : new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}
