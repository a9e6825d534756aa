// The dispatcher every call to Google goes through (the Sheets API and the key's token_uri),
// through the outbound proxy that HTTPS_PROXY / HTTP_PROXY / NO_PROXY name.
//
// The routing follows undici's EnvHttpProxyAgent (lib/dispatcher/env-http-proxy-agent.js, undici
// 7), given the settings explicitly (left to itself undici reads process.env, which no module but
// src/config reads: a value from .env would be ignored). It is made here rather than by that
// agent so that `proxyRoute`, which names the proxy in the startup line and in error messages,
// is the routing itself, and so that each proxy gets its own credentials (proxyToken):
//   - an https:// URL: HTTPS_PROXY, else HTTP_PROXY; an http:// URL: HTTP_PROXY;
//   - NO_PROXY: `*` alone = never; an entry matches its host and the host's subdomains (a leading
//     `.` or `*.` is dropped), on any port unless it says `host:port`; addresses as written, no
//     CIDR. Loopback is NOT implied: like curl and undici, 127.0.0.1 goes through the proxy unless
//     NO_PROXY names it (Go's net/http alone bypasses loopback).

import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import { Agent, DispatcherClass, ProxyAgent } from './undici-agents.js';
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

/** The setting whose proxy a call to `url` goes through, or undefined: direct. */
function routeSetting(settings: Partial<ProxySettings>, url: URL): ProxyRoute['setting'] | undefined {
  // An http:// URL never takes HTTPS_PROXY (as undici).
  const pick = url.protocol === 'https:' && settings.HTTPS_PROXY ? 'HTTPS_PROXY' : settings.HTTP_PROXY ? 'HTTP_PROXY' : undefined;
  return pick && settings[pick] && !excluded(url, settings.NO_PROXY) ? pick : undefined;
}

/** The proxy a call to `url` goes through, or undefined: direct. */
export function proxyRoute(settings: Partial<ProxySettings>, url: URL): ProxyRoute | undefined {
  const pick = routeSetting(settings, url);
  const proxy = pick && settings[pick];
  if (!pick || !proxy) return undefined;
  const u = new URL(proxy);
  return { setting: pick, shown: shownProxyUrl(proxy), credentials: u.username !== '' || u.password !== '' };
}

/** How a route reads in a log line or a message: `http://proxy:3128 (HTTPS_PROXY)`. */
export function routeText(route: ProxyRoute | undefined): string {
  return route ? `${route.shown} (${route.setting})` : 'direct';
}

/**
 * The Proxy-Authorization for a proxy URL that names a user and no password (`http://token@proxy`,
 * `http://user:@proxy`): Basic `user:`, as curl, Go and Python send it. undici's ProxyAgent sends
 * a URL's credentials only when both are there, so such a proxy (one that takes a token as its user
 * name) answered 407 to every call, and the message said it had refused the credentials corral
 * never sent. Undefined otherwise: undici sends `user:password` itself.
 */
export function proxyToken(proxy: string): string | undefined {
  const u = new URL(proxy);
  if (u.username === '' || u.password !== '') return undefined;
  return `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:`).toString('base64')}`;
}

/** Each call to the dispatcher of its route (routeSetting): direct, or one proxy's agent. */
class GoogleRoutes extends DispatcherClass {
  readonly #settings: Partial<ProxySettings>;
  readonly #direct: Dispatcher;
  readonly #proxies = new Map<ProxyRoute['setting'], Dispatcher>();

  constructor(settings: Partial<ProxySettings>, options: UndiciAgent.Options) {
    super();
    this.#settings = settings;
    this.#direct = new Agent(options);
    for (const setting of ['HTTP_PROXY', 'HTTPS_PROXY'] as const) {
      const uri = settings[setting];
      if (!uri) continue;
      const token = proxyToken(uri);
      this.#proxies.set(setting, new ProxyAgent({ ...options, uri, proxyTunnel: false, ...(token === undefined ? {} : { token }) }));
    }
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const setting = routeSetting(this.#settings, new URL(String(options.origin)));
    return ((setting && this.#proxies.get(setting)) || this.#direct).dispatch(options, handler);
  }

  #all(): Dispatcher[] {
    return [this.#direct, ...this.#proxies.values()];
  }

  override close(callback: () => void): void;
  override close(): Promise<void>;
  override close(callback?: () => void): Promise<void> | void {
    const done = Promise.all(this.#all().map((d) => d.close())).then(() => undefined);
    if (!callback) return done;
    done.then(callback, callback);
  }

  override destroy(err: Error | null, callback: () => void): void;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null): Promise<void>;
  override destroy(): Promise<void>;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === 'function' ? null : (a ?? null);
    const callback = typeof a === 'function' ? a : b;
    const done = Promise.all(this.#all().map((d) => d.destroy(err))).then(() => undefined);
    if (!callback) return done;
    done.then(callback, callback);
  }
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
  return new GoogleRoutes(settings, options);
}
