// Setting constructors: each setting declares its type, default, allowed range and one-line
// description once; parsing, `corral config` and `.env.example` derive from these declarations
// (the README's table is written by hand; a unit test holds it to every setting's name).

import { isIP } from 'node:net';
import { parseDecimal, parseInteger } from './number-text.js';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; allowed: string };

export interface SettingSpec<T> {
  readonly type: string;
  readonly description: string;
  /** A literal default, or a function of the machine (CPU count). `undefined` = unset. */
  readonly default: T | (() => T);
  /** Old names accepted with a warning (e.g. GUNICORN_WORKERS). */
  readonly aliases?: readonly string[];
  /** Redacted by `corral config` and in logs (shown through `show`, when it has one). */
  readonly secret?: boolean;
  /**
   * Where only part of the value is secret (a proxy URL's or REDIS_URL's password): the value as
   * written, as it may be shown (`corral config`, refusals, logs). Wins over `secret`'s redaction;
   * `secret` still counts the setting among those a settings file must not show other users.
   */
  readonly show?: (text: string) => string;
  /**
   * With `secret` and `show`: whether a value holds a secret at all (REDIS_URL with a password or
   * user), for the warning about settings files others may read. Without it every value counts.
   */
  readonly holdsSecret?: (text: string) => boolean;
  /**
   * The lower-case name is read too, and wins over the upper-case one when both are set: the
   * proxy variables, whose lower-case form came first and which curl and undici prefer.
   */
  readonly lowercase?: boolean;
  /** Shown in `.env.example` instead of the computed default. */
  readonly defaultText?: string;
  /**
   * With defaultText: the value on `.env.example`'s commented line, so that uncommenting it gives a
   * valid setting (`CORRAL_WORKERS=CPU count x 4` was refused).
   */
  readonly example?: string;
  readonly parse: (raw: string) => ParseResult<T>;
  readonly format: (value: T) => string;
}

interface Common<T> {
  description: string;
  default: T | (() => T);
  aliases?: readonly string[];
  secret?: boolean;
  /** SettingSpec.show: a secret whose value is shown with its secret part masked. */
  show?: (text: string) => string;
  /** SettingSpec.holdsSecret. */
  holdsSecret?: (text: string) => boolean;
  defaultText?: string;
  example?: string;
}

/**
 * An integer setting; `unit` (seconds, milliseconds, MiB, bytes, percent) is named in its type and
 * in a refusal: `CORRAL_TIMEOUT=30s` or `CORRAL_L1_CACHE_MB=64M` is refused, and "an integer from 1
 * to 3600" alone does not say that the unit is implied and must not be written.
 */
/**
 * `zero`: what to say of a 0 refused (a setting whose 0 meant "off" to gunicorn, where corral has
 * no off), after the range.
 */
export function int(o: Common<number> & { min: number; max: number; unit?: string; zero?: string }): SettingSpec<number> {
  const { unit, zero, ...rest } = o;
  return {
    ...rest,
    type: `integer ${o.min}..${o.max}${unit ? ` (${unit})` : ''}`,
    parse: (raw) => {
      const parsed = parseInteger(raw.trim(), o.min, o.max);
      if (parsed.ok) return parsed;
      const allowed = unit ? `${parsed.allowed}, in ${unit} (a bare number, without a unit)` : parsed.allowed;
      return { ok: false, allowed: zero !== undefined && raw.trim() === '0' ? `${allowed}; ${zero}` : allowed };
    },
    format: String,
  };
}

export function num(o: Common<number> & { min: number; max: number }): SettingSpec<number> {
  return {
    ...o,
    type: `number ${o.min}..${o.max}`,
    parse: (raw) => parseDecimal(raw.trim(), o.min, o.max),
    format: String,
  };
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

export function bool(o: Common<boolean>): SettingSpec<boolean> {
  return {
    ...o,
    type: 'boolean',
    parse: (raw) => {
      const t = raw.trim().toLowerCase();
      if (TRUE.has(t)) return { ok: true, value: true };
      if (FALSE.has(t)) return { ok: true, value: false };
      return { ok: false, allowed: 'true or false (also 1/0, yes/no, on/off)' };
    },
    format: String,
  };
}

export function str(o: Common<string | undefined> & { pattern?: RegExp; patternText?: string; minLength?: number; emptyIsDefault?: boolean }): SettingSpec<string | undefined> {
  return {
    ...o,
    // The constraints a value must meet, said where the type is (the example file, corral config
    // --json): a token shorter than 16 characters was found out only when start refused it.
    type: `string${o.minLength !== undefined ? `, at least ${o.minLength} characters` : ''}${o.patternText !== undefined ? `, ${o.patternText}` : ''}`,
    parse: (raw) => {
      // Empty means unset for a setting that is off by default: `CORRAL_ADMIN_TOKEN=` is not a
      // short token.
      if (raw === '' && o.default === undefined) return { ok: true, value: undefined };
      // ...and the default where that is what the processes use for it (`SHEET_PLAYERS_RANGE=` is
      // the Players tab): the effective value, so that `corral config` shows it.
      if (raw === '' && o.emptyIsDefault && typeof o.default === 'string') return { ok: true, value: o.default };
      if (o.minLength !== undefined && raw.length < o.minLength) {
        // dotenv ends an unquoted value at its first `#`: a token with one arrives cut short.
        return { ok: false, allowed: `at least ${o.minLength} characters${o.secret ? ' (in .env, quote a value that contains #)' : ''}` };
      }
      if (o.pattern && !o.pattern.test(raw)) return { ok: false, allowed: o.patternText ?? `text matching ${o.pattern}` };
      return { ok: true, value: raw === '' ? undefined : raw };
    },
    format: (v) => v ?? '',
  };
}

/**
 * An http(s) base URL, judged by the URL parser the clients use: a pattern alone let
 * `http://host:99999` and `http://[::1` through, and the keeper then died on a bare "TypeError:
 * Invalid URL" at every start, over and over, behind a master that said ready.
 */
export function httpUrl(o: Common<string>): SettingSpec<string> {
  return {
    ...o,
    type: 'http(s) URL',
    parse: (raw) => {
      const t = raw.trim();
      const fix = 'write http(s)://host[:port][/path], e.g. https://sheets.googleapis.com or http://127.0.0.1:8085';
      if (!/^https?:\/\//i.test(t)) return { ok: false, allowed: `an http(s) URL: ${fix}` };
      let url: URL;
      try {
        url = new URL(t);
      } catch {
        return { ok: false, allowed: `an http(s) URL, and this one cannot be parsed (a port above 65535, an unclosed [ around an IPv6 address, a space or a stray character in the host?): ${fix}` };
      }
      if (url.hostname === '') return { ok: false, allowed: `an http(s) URL with a host: ${fix}` };
      return { ok: true, value: t };
    },
    format: String,
  };
}

export function oneOf<const V extends string>(o: Common<V> & { values: readonly V[] }): SettingSpec<V> {
  return {
    ...o,
    type: o.values.join('|'),
    parse: (raw) => {
      const t = raw.trim().toLowerCase() as V;
      return o.values.includes(t) ? { ok: true, value: t } : { ok: false, allowed: `one of ${o.values.join(', ')}` };
    },
    format: String,
  };
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** One DNS label: letters, digits and inner hyphens, at most 63 characters (RFC 1123). */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** Why `host` cannot be bound, or undefined when it is an IP address or a well-formed host name. */
function badHost(host: string): string | undefined {
  if (isIP(host) !== 0) return undefined;
  // Digits and dots only is an IPv4 address or nothing: 999.1.1.1 or 10.0.0.1.2 would otherwise
  // pass as a host name and fail only at listen time, in every worker, after corral started.
  if (/^[\d.]+$/.test(host)) return `${host} is not a valid IPv4 address`;
  if (host.length > 253 || !host.split('.').every((label) => LABEL.test(label))) return `${host} is neither an IP address nor a valid host name`;
  return undefined;
}

/**
 * `host:port`, `[v6]:port`, or a port alone (`8080`, `:8080`), which keeps `defaultHost`: the
 * setting's own, so that CORRAL_ADMIN_BIND=9091 stays on loopback as its default does, where
 * 0.0.0.0 put the admin API on every interface; otherwise why not. An IPv6 address needs its
 * brackets: `::1:8080` is itself an IPv6 address, so which part is the port cannot be told.
 */
export function parseHostPort(raw: string, defaultHost = '0.0.0.0'): ParseResult<HostPort> {
  const t = raw.trim();
  const fail = (why: string): ParseResult<HostPort> => ({ ok: false, allowed: `${why}; write host:port, e.g. 0.0.0.0:8080, 127.0.0.1:9090 or [::1]:8080 (port 0..65535)` });
  let host = defaultHost;
  let portText = t;
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(t);
  // gunicorn's --bind forms, which GUNICORN_BIND users bring along: judged by what they are, as
  // the checks below judged them by their colons ("an IPv6 address needs brackets" for
  // `0.0.0.0:8000 127.0.0.1:9000`, whose addresses need none; "port 8000,0.0.0.0:8000").
  const parts = t.split(/[\s,;]+/).filter(Boolean);
  if (/^unix:/i.test(t) || t.startsWith('/')) {
    return fail('a Unix socket, and corral listens on TCP only: bind a loopback address (127.0.0.1:PORT) and point the proxy in front at it');
  } else if (parts.length > 1 && parts.every((p) => parseHostPort(p, defaultHost).ok)) {
    return fail(`${parts.length} addresses, and corral listens on one: 0.0.0.0:PORT for every IPv4 address, [::]:PORT for IPv6 (and IPv4 too where the system maps it)`);
  } else if (t.includes('/')) {
    return fail('a URL or a path is not an address');
  } else if (v6) {
    host = v6[1] ?? '';
    portText = v6[2] ?? '';
    if (isIP(host) !== 6) return fail(`[${host}] is not an IPv6 address`);
  } else if (t.startsWith('[')) {
    return fail('no port after the bracketed address');
  } else if (t.indexOf(':') !== t.lastIndexOf(':')) {
    return fail('an IPv6 address needs brackets around it');
  } else if (t.includes(':')) {
    const i = t.indexOf(':');
    host = t.slice(0, i) || defaultHost;
    portText = t.slice(i + 1);
    const why = badHost(host);
    if (why) return fail(why);
  } else if (!/^\d+$/.test(t)) {
    return fail(t === '' ? 'empty' : 'no port');
  }
  if (!/^\d+$/.test(portText)) return fail(portText === '' ? 'no port' : `port ${JSON.stringify(portText)} is not a number`);
  const port = Number(portText);
  if (port > 65535) return fail(`port ${portText} is above 65535`);
  return { ok: true, value: { host, port } };
}

export function hostPort(o: Common<HostPort> & { default: HostPort }): SettingSpec<HostPort> {
  return {
    ...o,
    type: 'host:port',
    parse: (raw) => parseHostPort(raw, o.default.host),
    format: (v) => (v.host.includes(':') ? `[${v.host}]:${v.port}` : `${v.host}:${v.port}`),
  };
}

export function list(o: Common<readonly string[]>): SettingSpec<readonly string[]> {
  return {
    ...o,
    type: 'comma-separated list',
    parse: (raw) => ({ ok: true, value: raw.split(',').map((s) => s.trim()).filter(Boolean) }),
    format: (v) => v.join(','),
  };
}

/** IP addresses or CIDR blocks (e.g. 127.0.0.1, 10.0.0.0/8, ::1), comma-separated. */
export function addressList(o: Common<readonly string[]>): SettingSpec<readonly string[]> {
  return {
    ...o,
    type: 'comma-separated IP addresses or CIDR blocks',
    parse: (raw) => {
      const entries = raw.split(',').map((e) => e.trim()).filter(Boolean);
      for (const entry of entries) {
        const [addr = '', bits, extra] = entry.split('/');
        const family = isIP(addr.toLowerCase().startsWith('::ffff:') ? addr.slice(7) : addr);
        const max = family === 4 ? 32 : 128;
        const prefixOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= max);
        if (family === 0 || !prefixOk || extra !== undefined) {
          return { ok: false, allowed: `IP addresses or CIDR blocks separated by commas (${JSON.stringify(entry)} is neither)` };
        }
      }
      return { ok: true, value: entries };
    },
    format: (v) => v.join(','),
  };
}
