// The dispatcher every call to Google goes through (the Sheets API and the key's token_uri),
// through the outbound proxy that HTTPS_PROXY / HTTP_PROXY / NO_PROXY name.
//
// undici's EnvHttpProxyAgent does the routing, given the settings explicitly: left to itself it
// reads process.env, which no module but src/config reads (a value from .env would be ignored).
// `proxyRoute` says which proxy a URL goes through, for the startup log line and for error
// messages; it follows the same rules (lib/dispatcher/env-http-proxy-agent.js, undici 7):
//   - an https:// URL: HTTPS_PROXY, else HTTP_PROXY; an http:// URL: HTTP_PROXY;
//   - NO_PROXY: `*` alone = never; an entry matches its host and the host's subdomains (a leading
//     `.` or `*.` is dropped), on any port unless it says `host:port`; addresses as written, no
//     CIDR. Loopback is NOT implied: like curl and undici, 127.0.0.1 goes through the proxy unless
//     NO_PROXY names it (Go's net/http alone bypasses loopback).

import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import { Agent, EnvHttpProxyAgent } from './undici-agents.js';
import type { Settings } from '../../config/schema.js';
import { noProxyEntries, shownProxyUrl } from '../../config/proxy-url.js';

export type ProxySettings = Pick<Settings, 'HTTPS_PROXY' | 'HTTP_PROXY' | 'NO_PROXY'>;

export interface ProxyRoute {
  /** The setting that named it. */
  readonly setting: 'HTTPS_PROXY' | 'HTTP_PROXY';
  /** The proxy's URL without its password (shownProxyUrl). */
  readonly shown: string;
  /** The URL carries a user (and password) sent as Proxy-Authorization: Basic. */
  readonly credentials: boolean;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };

function excluded(url: URL, noProxy: string | undefined): boolean {
  const value = noProxy ?? '';
  const entries = noProxyEntries(value);
  if (entries.length === 0) return false;
  if (value === '*') return true;
  // url.host keeps the brackets of an IPv6 address, as undici compares it.
  const host = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[url.protocol] || 0;
  return entries.some((entry) => {
    const m = /^(.+):(\d+)$/.exec(entry);
    const name = (m ? (m[1] ?? '') : entry).replace(/^\*?\./, '').toLowerCase();
    const entryPort = m ? Number.parseInt(m[2] ?? '0', 10) : 0;
    if (entryPort && entryPort !== port) return false;
    return host === name || host.endsWith(`.${name}`);
  });
}

/** The proxy a call to `url` goes through, or undefined: direct. */
export function proxyRoute(settings: Partial<ProxySettings>, url: URL): ProxyRoute | undefined {
  const pick = url.protocol === 'https:' && settings.HTTPS_PROXY ? 'HTTPS_PROXY' : settings.HTTP_PROXY ? 'HTTP_PROXY' : undefined;
  const proxy = pick && settings[pick];
  if (!pick || !proxy || excluded(url, settings.NO_PROXY)) return undefined;
  const u = new URL(proxy);
  return { setting: pick, shown: shownProxyUrl(proxy), credentials: u.username !== '' || u.password !== '' };
}

/** How a route reads in a log line or a message: `http://proxy:3128 (HTTPS_PROXY)`. */
export function routeText(route: ProxyRoute | undefined): string {
  return route ? `${route.shown} (${route.setting})` : 'direct';
}

/**
 * A plain Agent when no proxy is set (exactly the dispatcher corral had before); otherwise the
 * same agent options on every path, direct or proxied. `proxyTunnel: false`: an http:// target
 * (an emulator) is sent to an http:// proxy as an absolute-form request, as curl does, and not
 * through CONNECT, which proxies commonly allow to port 443 only (Squid's default). An https://
 * target always tunnels through CONNECT.
 */
export function googleDispatcher(settings: Partial<ProxySettings>, options: UndiciAgent.Options): Dispatcher {
  if (!settings.HTTPS_PROXY && !settings.HTTP_PROXY) return new Agent(options);
  return new EnvHttpProxyAgent({
    ...options,
    // '' and not undefined: undefined makes undici read process.env.
    httpProxy: settings.HTTP_PROXY ?? '',
    httpsProxy: settings.HTTPS_PROXY ?? '',
    noProxy: settings.NO_PROXY ?? '',
    proxyTunnel: false,
  });
}
