// Builds (or finds) the Debian root the systemd test files boot, ahead of them: test/run.mjs starts
// it with the unit phase, so debootstrap (its downloads, then about 45 s of CPU on one core) is off
// the suite's critical path. Each of those files calls ensureRoot itself (installed-unit.ts),
// so a root this could not build is built, or its failure reported, there.

import { ensureRoot, ROOT_CACHE, systemdTestSkipReason } from './container.js';

// test/run.mjs gone (ended early, or killed): this group's work is no one's any more. It started
// this in a group of its own, so the group is this process and what it runs (debootstrap).
process.on('disconnect', () => {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    process.exit(1);
  }
});
// The channel alone must not keep this process once its work is done.
process.channel?.unref();

const skip = systemdTestSkipReason();
if (skip) {
  process.stdout.write(`# systemd test root: not prepared (${skip})\n`);
} else {
  try {
    const root = await ensureRoot(ROOT_CACHE, 10 * 60_000);
    process.stdout.write(`# systemd test root: ${root.built ? 'built with debootstrap' : 'reused from .cache'} in ${root.ms} ms\n`);
  } catch (err) {
    // Not this script's to fail the suite: the systemd test tries again and says why.
    process.stdout.write(`# systemd test root: not prepared, the systemd test will try again: ${(err as Error).message.split('\n')[0] ?? ''}\n`);
  }
}
