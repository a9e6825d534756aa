// config/logrotate/corral rotates /var/log/corral, which the unit's LogsDirectory=corral gives to
// the service's user. logrotate runs as root: without `su`, root renames, compresses and creates
// files in a directory that user controls, which logrotate's own manual warns against ("it is
// recommended to use the su directive to rotate files in directories that are directly or
// indirectly in control of non-privileged users"; CVE-2011-1550, and GitLab's CVE-2019-15741 for
// the same missing line). A compromised service account must not become root through the log
// rotation, as it must not through `sudo corral stop` (the pidfile checks). With `su`, logrotate
// still runs postrotate as root (it switches back for scripts), so the USR1 through systemctl works.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const policy = readFileSync(fileURLToPath(new URL('../../../config/logrotate/corral', import.meta.url)), 'utf8');

test("the log rotation runs as the service's user (su corral corral), not as root in its directory", () => {
  const block = /^\/var\/log\/corral\/\*\.log \{\n([\s\S]*?)^\}/m.exec(policy)?.[1];
  assert.ok(block, 'the /var/log/corral/*.log block');
  const directives = block.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  assert.ok(directives.includes('su corral corral'), `no "su corral corral" among: ${directives.slice(0, 9).join('; ')}`);
  // The files it creates are the same user's, which `su` lets it create.
  assert.ok(directives.includes('create 0640 corral corral'));
});
