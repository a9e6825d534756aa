// A copy of this install, for tests that change what an install holds (an upgrade's compiled code,
// an addon left unbuilt): its launcher, package.json and compiled code copied; packages and the
// sample sheet linked, and the addons too unless the test lays out build/ itself.

import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './corral.js';

export function copyInstall(options: { readonly prefix?: string; readonly linkBuild?: boolean } = {}): string {
  const root = mkdtempSync(join(tmpdir(), options.prefix ?? 'corral-install-'));
  cpSync(join(REPO_ROOT, 'bin'), join(root, 'bin'), { recursive: true });
  cpSync(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
  mkdirSync(join(root, 'dist'));
  cpSync(join(REPO_ROOT, 'dist', 'src'), join(root, 'dist', 'src'), { recursive: true });
  const linked = options.linkBuild === false ? ['node_modules', 'config'] : ['node_modules', 'build', 'config'];
  for (const name of linked) symlinkSync(join(REPO_ROOT, name), join(root, name));
  return root;
}
