// CORRAL_LOG_FILE naming one of the process's own descriptors (/dev/stdout, /dev/stderr,
// /dev/fd/N, /proc/self/fd/N), directly or through a symbolic link (a container's
// /var/log/app.log -> /dev/stdout). Every process opens CORRAL_LOG_FILE itself, and a child's
// stdout and stderr are socketpairs to the master: opening /proc/self/fd/N of a socket fails with
// ENXIO. Such a value passed `corral config --check`, then `corral start` exited 3 after about 8 s,
// every worker failing "cannot open CORRAL_LOG_FILE /dev/stdout: ENXIO". What was meant, the log
// on stdout, is what an unset CORRAL_LOG_FILE gives: refused when the settings load, saying so.

import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, posix, resolve } from 'node:path';

/** /dev/stdin|stdout|stderr, /dev/fd/N, /proc/self|thread-self|<pid>/fd/N (and /proc/<pid>/task/<tid>/fd/N). */
const STDIO_PATH = /^(?:\/dev\/std(?:in|out|err)|\/dev\/fd\/\d+|\/proc\/(?:self|thread-self|\d+)(?:\/task\/\d+)?\/fd\/\d+)$/;

/** Links followed at most (the kernel's own bound, ELOOP). */
const MAX_LINKS = 40;

/** The descriptor path `path` names or leads to through symbolic links (when `followLinks`), or undefined. */
export function stdioPathOf(path: string, followLinks: boolean): string | undefined {
  let p = posix.normalize(path);
  for (let hops = 0; hops <= MAX_LINKS; hops++) {
    if (STDIO_PATH.test(p)) return p;
    if (!followLinks) return undefined;
    try {
      if (!lstatSync(p).isSymbolicLink()) return undefined;
      p = posix.normalize(resolve(dirname(p), readlinkSync(p)));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Why CORRAL_LOG_FILE=`path` cannot be the log file because it is a descriptor of the process, or undefined. */
export function stdioLogFileProblem(path: string, followLinks: boolean): string | undefined {
  const target = stdioPathOf(path, followLinks);
  if (target === undefined) return undefined;
  const via = target === posix.normalize(path) ? '' : ` (a link to ${target})`;
  return `a file to write the log to, not ${path}${via}: every corral process opens CORRAL_LOG_FILE itself, and a worker's stdout and stderr are sockets to the master, which cannot be opened by name (ENXIO). For the JSON log on stdout (the journal under systemd), leave CORRAL_LOG_FILE unset`;
}
