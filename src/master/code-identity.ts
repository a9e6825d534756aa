// Which build of corral is on disk: a digest of its compiled code (every .js file under dist/src,
// by path and content). A reload forks its workers, and a keeper it restarts, from the code on
// disk, while the master and a keeper the reload keeps go on running the code they started with.
// After an upgrade (git pull, npm ci) and a reload, new workers then spoke to a keeper of the
// previous build over the local protocol, which may change between builds. The master compares
// this digest at each reload with the one its keeper and itself started from.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/src: this file is dist/src/master/code-identity.js once compiled. */
export const CODE_ROOT = fileURLToPath(new URL('../', import.meta.url));

function jsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...jsFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.js')) out.push(path);
  }
  return out;
}

/**
 * The build's digest (12 hex digits, as the log and the reload answer show it), or undefined when
 * the code cannot be read (then no reload is judged by it).
 */
export function codeIdentity(root: string = CODE_ROOT): string | undefined {
  try {
    const hash = createHash('sha256');
    for (const file of jsFiles(root).sort()) {
      hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
    }
    return hash.digest('hex').slice(0, 12);
  } catch {
    return undefined;
  }
}

/** The install directory: dist/src's grandparent, where bin/corral, package.json and node_modules are. */
const INSTALL_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The install `launcher` (the bin/corral the master was started as) leads to now, when it is not the one the master runs from. */
export interface InstallMove {
  /** The path corral was started as, as given (process.argv[1]). */
  readonly launcher: string;
  /** The install the master runs from, and forks its workers and keeper from. */
  readonly running: string;
  /** The install the launcher's path leads to now. */
  readonly now: string;
}

/**
 * Watches the path the master was started as (`/opt/corral/current/bin/corral`): when a symlink on
 * it is switched to another release, the master, whose code and children's entry points are the
 * release it resolved at start, goes on forking that release's workers at every reload. That
 * reload said "done" and served the old code without a word. Returns the move, or undefined (no
 * move, or a launch this cannot follow: not through a bin/ of the install it runs).
 */
export function installMoveWatch(launcher: string | undefined = process.argv[1]): () => InstallMove | undefined {
  if (!launcher) return () => undefined;
  const launcherRoot = resolve(dirname(launcher), '..');
  const real = (path: string): string | undefined => {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  };
  const running = real(INSTALL_ROOT);
  if (running === undefined || real(launcherRoot) !== running) return () => undefined;
  return () => {
    const now = real(launcherRoot);
    return now !== undefined && now !== running ? { launcher, running, now } : undefined;
  };
}
