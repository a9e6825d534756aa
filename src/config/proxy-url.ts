// HTTPS_PROXY / HTTP_PROXY / NO_PROXY, the variables curl, gcloud and Google's client libraries
// read: the outbound proxy that the keeper (and `corral check`) reach Google through.
//
// A proxy URL is judged here, at load, by the same rules undici applies when it builds its
// ProxyAgent: one it cannot use made the keeper die at every start behind a master that said ready.
// Its user and password are never shown: `shownProxyUrl` is what logs, `corral config` and
// refusals print.

import { reservedInUserinfo } from '../url-userinfo.js';
import type { ParseResult, SettingSpec } from './spec.js';

const FIX = 'write http://host:port, or http://user:password@host:port with special characters percent-encoded (@ as %40, : as %3A, / as %2F, ? as %3F, # as %23, % as %25)';

/**
 * The URL with its credentials replaced by ***: a password always, and a user given alone (some
 * proxies take a token as the user name). The user beside a password is kept: it says which
 * account the proxy saw, which is what an operator reading a 407 needs.
 */
export function shownProxyUrl(value: string): string {
  let url: URL;
  try {
    // `user:pass@proxy:3128` parses as a URL of scheme "user:": a refused value, redacted below.
    if (!/^https?:\/\//i.test(value)) throw new Error('not an http(s) URL');
    if (reservedInUserinfo(value)) throw new Error('a reserved character in the user or password');
    url = new URL(value);
  } catch {
    // A refused value: everything up to its last @ may be credentials (a password holding / or @).
    return value.replace(/^([^/]*\/\/)?.*@/, (_, scheme: string | undefined) => `${scheme ?? ''}***@`);
  }
  if (url.password) url.password = '***';
  else if (url.username) url.username = '***';
  return url.href.replace(/\/$/, '');
}

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses a proxy URL. Without a scheme (`proxy.corp:3128`) it is http://, as curl, Go and Python
 * take it. http:// and https:// (TLS to the proxy itself) only: undici's socks5 support is not
 * exercised by corral's tests, and a PAC file is a script no HTTP client here runs.
 */
export function parseProxyUrl(raw: string): ParseResult<string | undefined> {
  const t = raw.trim();
  if (t === '') return { ok: true, value: undefined };
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : `http://${t}`;
  if (reservedInUserinfo(text)) return { ok: false, allowed: `a proxy URL whose user and password are percent-encoded (a /, ? or # in them ends the host part): ${FIX}` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, allowed: `a proxy URL, and this one cannot be parsed (a port above 65535, a space, an @ or : in the password not percent-encoded?): ${FIX}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, allowed: `an http:// or https:// proxy URL (${url.protocol}// is not supported): ${FIX}` };
  }
  if (url.hostname === '') return { ok: false, allowed: `a proxy URL with a host: ${FIX}` };
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    return { ok: false, allowed: `the proxy's address alone, without a path or query (a PAC file such as http://wpad/proxy.pac is not read; ask for the proxy's host and port): ${FIX}` };
  }
  if (!decodes(url.username) || !decodes(url.password)) {
    return { ok: false, allowed: `a proxy URL whose user and password are percent-encoded (a bare % is not): ${FIX}` };
  }
  return { ok: true, value: url.href.replace(/\/$/, '') };
}

interface ProxyCommon {
  description: string;
}

export function proxyUrl(o: ProxyCommon): SettingSpec<string | undefined> {
  return {
    ...o,
    default: undefined,
    type: 'http(s) proxy URL',
    lowercase: true,
    show: shownProxyUrl,
    parse: parseProxyUrl,
    format: (v) => v ?? '',
  };
}

/**
 * NO_PROXY entries as undici matches them (lib/dispatcher/env-http-proxy-agent.js): separated by
 * commas or white space; `host` also covers its subdomains, `.host` and `*.host` are the same;
 * `host:port` only that port; `*` alone: no proxy at all. Addresses match as written: there is no
 * CIDR matching (curl has some since 7.86), which load warns about.
 */
export function noProxyEntries(value: string): string[] {
  return value.split(/[,\s]+/).filter(Boolean);
}

export function noProxyList(o: ProxyCommon): SettingSpec<string | undefined> {
  return {
    ...o,
    default: undefined,
    type: 'comma-separated host names',
    lowercase: true,
    parse: (raw) => {
      const entries = noProxyEntries(raw);
      return { ok: true, value: entries.length === 0 ? undefined : entries.join(',') };
    },
    format: (v) => v ?? '',
  };
}

/**
 * What the proxy settings will not do that an operator may expect of them: a NO_PROXY CIDR block
 * (copied from a host's /etc/environment written for curl or Go) matches nothing, so the calls
 * it meant to keep direct go through the proxy.
 */
export function proxyWarnings(settings: { readonly NO_PROXY?: string | undefined }): string[] {
  const out: string[] = [];
  const cidr = noProxyEntries(settings.NO_PROXY ?? '').filter((e) => e.includes('/'));
  if (cidr.length > 0) {
    out.push(`NO_PROXY entries ${cidr.join(', ')} are CIDR blocks, which corral does not match (undici compares host names and addresses as written): a call to an address inside them goes through the proxy; list the hosts or addresses themselves`);
  }
  return out;
}
