// Where the load may go. A load test is a small denial of service: by default it may only hit
// this machine (loopback), and --allow-remote is the operator saying "I own that server".

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { targetRefused } from './exit.js';

export function isLoopbackAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(a) === 4) return a.startsWith('127.');
  if (isIP(a) === 6) {
    if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    return mapped?.[1] !== undefined && mapped[1].startsWith('127.');
  }
  return false;
}

/**
 * Refuses a target that is not loopback unless allowRemote. Host names are resolved and every
 * address must be loopback ("localhost" normally is; a name that also resolves elsewhere is not).
 */
export async function checkTargetAllowed(target: URL, allowRemote: boolean): Promise<void> {
  if (allowRemote) return;
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const hint = 'pass --allow-remote if you own that server and mean to load it';
  if (isIP(host)) {
    if (!isLoopbackAddress(host)) throw targetRefused(`target ${target.host} is not a loopback address; ${hint}`);
    return;
  }
  let addresses: string[];
  try {
    addresses = (await lookup(host, { all: true })).map((a) => a.address);
  } catch (err) {
    throw targetRefused(`target host ${host} could not be resolved (${(err as Error).message}), so it is not known to be loopback; ${hint}`);
  }
  const remote = addresses.filter((a) => !isLoopbackAddress(a));
  if (addresses.length === 0 || remote.length > 0) {
    throw targetRefused(`target host ${host} resolves to ${remote.join(', ') || 'nothing'}, not loopback; ${hint}`);
  }
}

/** Joins the target's base path (a proxy prefix such as /corral) and an API path. */
export function apiPath(target: URL, path: string): string {
  const base = target.pathname.replace(/\/+$/, '');
  return `${base}${path}`;
}
