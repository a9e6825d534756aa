// What a worker says when it cannot bind the workers' address (CORRAL_BIND): the message of its
// CORRAL_ERR_LISTEN boot failure. A file of its own because it is a diagnosis, not a step of the
// worker's start: it names the setting and, for an address in use, the process that holds the
// port. Used by main.ts when listen() fails; whether the failure lasts is boot-lasting.ts's.

import { describeHolder, portHolders } from '../port-holder.js';

/**
 * Why the workers' address could not be bound, naming the setting: "address in use" alone sent
 * operators looking at the app, when the port's holder may be corral's own admin API.
 */
export function listenFailure(bind: { host: string; port: number }, err: unknown): string {
  const at = bind.host.includes(':') ? `[${bind.host}]:${bind.port}` : `${bind.host}:${bind.port}`;
  const code = (err as NodeJS.ErrnoException).code;
  // Named when /proc shows it (a process of this user, or any as root).
  const holders = code === 'EADDRINUSE' ? portHolders(bind.port) : [];
  const fix =
    code === 'EADDRINUSE' && holders.length > 0
      ? `; port ${bind.port} is held by ${holders.map(describeHolder).join('; and by ')}: stop it, or point CORRAL_BIND at a free port`
      : code === 'EADDRINUSE'
      ? '; another process (or corral\'s admin API, CORRAL_ADMIN_BIND) listens there: stop it, or point CORRAL_BIND at a free port'
      : code === 'EACCES'
        ? '; a port below 1024 needs CAP_NET_BIND_SERVICE: use a higher port behind a proxy, or grant the capability'
        : code === 'EADDRNOTAVAIL'
          ? '; no interface of this host has that address: point CORRAL_BIND at one of its addresses, or 0.0.0.0'
          : '';
  return `cannot listen on ${at} (CORRAL_BIND): ${(err as Error).message}${fix}`;
}
