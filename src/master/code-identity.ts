// Which build of corral is on disk: a digest of its compiled code (every .js file under dist/src,
// by path and content). A reload forks its workers, and a keeper it restarts, from the code on
// disk, while the master and a keeper the reload keeps go on running the code they started with.
// After an upgrade (git pull, npm ci) and a reload, new workers then spoke to a keeper of the
// previous build over the local protocol, which may change between builds. The master compares
// this digest at each reload with the one its keeper and itself started from.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
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
