// Whether a process runs, as kill(pid, 0) tells: it sends nothing and only checks. EPERM is a live
// process of another user; ESRCH, none. (A zombie counts as alive here: master/pidfile.ts's
// isAlive tells those apart where it matters.)

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
