import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

// Where the kernel picks the source port of an outgoing connection and the port of a listen on
// port 0. A port from that range, free when checked, may be taken by another test's connection
// before the corral it was meant for binds it (one CI run failed on EADDRINUSE so): ports are
// chosen below it, where the kernel never picks on its own.
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 2048) return low;
  } catch {
    // Not Linux: its usual bound.
  }
  return 32768;
}

const LOW = 1024;
const HIGH = ephemeralLow();

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port that was free a moment ago (for settings that need a fixed port, like the admin API). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free port found below ${String(HIGH)} in 200 tries`);
}

/**
 * A loopback port nothing listens on, for a test of a refused connection: port 1 (tcpmux),
 * privileged and below every range the suite's servers take ports from. A port that was free a
 * moment ago was taken by another test's server in full-suite runs (its answer in place of
 * ECONNREFUSED). Checked first, so a host where something does listen there says so.
 */
export async function refusingPort(): Promise<number> {
  const port = 1;
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
  if (!refused) throw new Error(`something listens on 127.0.0.1:${port}: the test needs a port that refuses connections`);
  return port;
}
