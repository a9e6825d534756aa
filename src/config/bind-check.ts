// Whether this host can listen on the addresses of CORRAL_BIND and CORRAL_ADMIN_BIND: a host name
// that does not resolve, or an address no interface has, passed `corral config --check`, and then
// every worker failed its listen (five boot attempts, exit 3) or the admin API did not start. Judged
// by listening for a moment on a free port of that address (port 0): the configured port may be
// the running corral's own, and is no question of the address. When no corral runs for these
// settings, the configured ports are tried too: one another process holds passed, and start then
// failed every worker's listen, or ran without its admin API (admin.failed) with nothing else said.

import { createServer } from 'node:net';
import { describeHolder, portHolders } from '../port-holder.js';
import type { HostPort } from './spec.js';
import { schema, type Settings } from './schema.js';

/** A DNS answer slower than this is said as unknown, not as a refusal. */
export const BIND_CHECK_TIMEOUT_MS = 5000;

export type BindCheck =
  /** The address can be listened on (on some port). */
  | { readonly kind: 'ok' }
  /** It cannot: the host name does not resolve, or no interface of this host has the address. */
  | { readonly kind: 'refused'; readonly why: string }
  /** Not known now (DNS failing for the moment, or slower than the bound). */
  | { readonly kind: 'unknown'; readonly why: string };

const UNRESOLVED = new Set(['ENOTFOUND', 'EAI_NONAME', 'EAI_NODATA']);

/** Listens on `host` port 0 for a moment. */
export function checkBindHost(host: string, timeoutMs = BIND_CHECK_TIMEOUT_MS): Promise<BindCheck> {
  return new Promise((resolve) => {
    const server = createServer();
    const timer = setTimeout(() => {
      server.close();
      resolve({ kind: 'unknown', why: `${host} was not resolved within ${timeoutMs / 1000} s` });
    }, timeoutMs);
    server.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = err.code ?? '';
      if (UNRESOLVED.has(code)) resolve({ kind: 'refused', why: `the host name ${host} does not resolve (${code})` });
      else if (code === 'EADDRNOTAVAIL') resolve({ kind: 'refused', why: `no interface of this host has the address ${host} (EADDRNOTAVAIL)` });
      else if (code === 'EAI_AGAIN') resolve({ kind: 'unknown', why: `${host} could not be resolved now (EAI_AGAIN: DNS failing for the moment)` });
      // Anything else (EACCES from a sandbox, EMFILE) says nothing of the address.
      else resolve({ kind: 'ok' });
    });
    server.listen({ host, port: 0, exclusive: true }, () => {
      clearTimeout(timer);
      server.close(() => resolve({ kind: 'ok' }));
    });
  });
}

export interface BindProblem {
  readonly name: 'CORRAL_BIND' | 'CORRAL_ADMIN_BIND';
  readonly value: string;
  readonly check: Exclude<BindCheck, { kind: 'ok' }>;
}

/** The addresses of the two binds that this host cannot, or cannot now be known to, listen on. */
export async function bindHostProblems(settings: Partial<Pick<Settings, 'CORRAL_BIND' | 'CORRAL_ADMIN_BIND'>>): Promise<BindProblem[]> {
  const binds = (['CORRAL_BIND', 'CORRAL_ADMIN_BIND'] as const).flatMap((name) => {
    const bind = settings[name];
    return bind === undefined ? [] : [{ name, bind }];
  });
  const checks = await Promise.all(binds.map(({ bind }) => checkBindHost(bind.host)));
  const problems: BindProblem[] = [];
  binds.forEach(({ name, bind }, i) => {
    const check = checks[i] as BindCheck;
    if (check.kind !== 'ok') problems.push({ name, value: schema[name].format(bind), check });
  });
  return problems;
}

/** Whether `bind`'s port is free on its host: listened on for a moment. Only EADDRINUSE says it is not. */
export function checkBindPort(bind: HostPort): Promise<{ readonly taken: false } | { readonly taken: true; readonly why: string }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') {
        // Anything else is said by the address check, or is no question of the port.
        resolve({ taken: false });
        return;
      }
      // Named when /proc shows it (a process of this user, or any as root).
      const holders = portHolders(bind.port);
      const by = holders.length > 0 ? `held by ${holders.map(describeHolder).join('; and by ')}` : `in use by another process (\`ss -ltnp 'sport = :${bind.port}'\` names it)`;
      resolve({ taken: true, why: `port ${bind.port} is ${by}` });
    });
    server.listen({ host: bind.host, port: bind.port, exclusive: true }, () => server.close(() => resolve({ taken: false })));
  });
}

export interface PortProblem {
  readonly name: 'CORRAL_BIND' | 'CORRAL_ADMIN_BIND';
  readonly value: string;
  readonly why: string;
}

/** The ports of the two binds another process holds (port 0, any free port, is never one). */
export async function bindPortProblems(settings: Partial<Pick<Settings, 'CORRAL_BIND' | 'CORRAL_ADMIN_BIND'>>): Promise<PortProblem[]> {
  const binds = (['CORRAL_BIND', 'CORRAL_ADMIN_BIND'] as const).flatMap((name) => {
    const bind = settings[name];
    return bind === undefined || bind.port === 0 ? [] : [{ name, bind }];
  });
  // One after the other: two binds on one port (an overlap, refused on its own) would each find
  // the other's listener and read as taken by "another process".
  const problems: PortProblem[] = [];
  for (const { name, bind } of binds) {
    const check = await checkBindPort(bind);
    if (check.taken) problems.push({ name, value: schema[name].format(bind), why: check.why });
  }
  return problems;
}
