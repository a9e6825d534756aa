// Paths of the unit's options that its namespace hides from the service, or makes private to it.
// ProtectHome=yes leaves /home, /root and /run/user empty and inaccessible to the service.
// PrivateTmp=yes gives the service "private /tmp/ and /var/tmp/ directories ... that are not shared
// by processes outside of the namespace", whose files "will be removed after the service is
// stopped" (systemd.exec(5)): a file put there from outside is not there for the service.
// EnvironmentFile= (--node-env-file) is read by systemd itself, "before any file system changes
// like bind mounts take place": neither hides it, but /tmp and /var/tmp are cleaned, and the unit's
// EnvironmentFile=- then skips the missing file without a word.

import { posix } from 'node:path';

export type PathFlag = '--install-dir' | '--node' | '--settings-file' | '--node-env-file' | '--data-dir' | '--log-dir';

export function underProtectedHome(path: string): boolean {
  return /^\/(home|root|run\/user)(\/|$)/.test(posix.normalize(path));
}

/** Under /tmp or /var/tmp, which the unit's PrivateTmp=yes makes private to the service. */
export function underPrivateTmp(path: string): boolean {
  return /^\/(tmp|var\/tmp)(\/|$)/.test(posix.normalize(path));
}

/** What the service loses when a path option lies in its private /tmp, and where to put it instead. */
const PRIVATE_TMP: Record<Exclude<PathFlag, '--node-env-file'>, { loss: string; fix: string }> = {
  '--install-dir': { loss: 'the service would not find bin/corral there and could not start', fix: 'install corral elsewhere, e.g. /opt/corral' },
  '--node': { loss: 'the service would not find node there and could not start', fix: 'use a node elsewhere, e.g. /usr/bin/node' },
  '--settings-file': {
    loss: 'the service would not find the file there and would exit 78 (CORRAL_ERR_ENV_FILE) at every start, not restarted',
    fix: 'move it, e.g. to /etc/corral/corral.env, and pass that',
  },
  '--data-dir': {
    loss: 'the service would not find the directory there (its WorkingDirectory=), and what it keeps there (the write journal, the offline sheet, generated secrets) would be lost at every restart',
    fix: 'use e.g. /var/lib/corral',
  },
  '--log-dir': {
    loss: 'the service would not find the directory there, its log files would be seen by no logrotate or tail -F outside it, and would be lost at every restart',
    fix: 'use e.g. /var/log/corral',
  },
};

/** Warnings (without the "warning: " prefix) for the path options the unit hides or makes private. */
export function hiddenPathWarnings(paths: ReadonlyArray<readonly [PathFlag, string]>): string[] {
  const out: string[] = [];
  for (const [flag, path] of paths) {
    if (flag !== '--node-env-file' && underProtectedHome(path)) {
      out.push(`${flag} ${path} is under /home, /root or /run/user, which the unit's ProtectHome=yes hides from the service: put it under /opt or /srv`);
    }
    if (!underPrivateTmp(path)) continue;
    if (flag === '--node-env-file') {
      out.push(
        `${flag} ${path} is under /tmp or /var/tmp: systemd reads it before the unit's PrivateTmp=yes applies, but old files there are cleaned (systemd-tmpfiles-clean, and /tmp often at boot), and the unit's EnvironmentFile=- then skips it without a word: move it, e.g. to /etc/corral/node.env, and pass that`,
      );
      continue;
    }
    const { loss, fix } = PRIVATE_TMP[flag];
    out.push(`${flag} ${path} is under /tmp or /var/tmp, of which the unit's PrivateTmp=yes gives the service a private copy, empty at start and removed when it stops: ${loss}: ${fix}`);
  }
  return out;
}
