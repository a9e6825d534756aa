// The request target (`req.url`) as the router and the handlers see it. Most targets are plain
// paths (`/api/players`) that URL parsing would return unchanged; parsing them anyway costs more
// than the rest of a cached read. Only targets that parsing could change (percent-escapes, dot
// segments, backslashes, `//`, anything not starting with `/`) take the full WHATWG parse, and the
// query string is parsed only when a handler asks for `url`.

import { urlOfTarget } from '../http/target.js';
import { HttpError } from './http.js';

const BASE = 'http://app.invalid';
/** Paths the WHATWG parser leaves as they are: `/`, then segments of unreserved characters. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~-]+)*\/?$/;
const PLAIN = Symbol('plain path');
/**
 * The asterisk-form target (RFC 9112 §3.2.4, `OPTIONS * HTTP/1.1`): the server as a whole, no
 * path. Kept as it is rather than parsed: the URL parser would make it the path `/*`, which the
 * client never sent (a 404 "no route for /*").
 */
export const ASTERISK = '*';

/** True when URL parsing would give `path` back unchanged (and it has no query). */
export function isPlainPath(path: string): boolean {
  return path !== '' && PLAIN_PATH.test(path);
}

export class RequestTarget {
  /** The normalized path, without the query; ASTERISK for the asterisk-form target. */
  readonly pathname: string;
  private readonly raw: string;
  private parsed: URL | undefined;

  /** Throws a 400 HttpError when the target cannot be a URL. */
  constructor(raw: string | undefined, plain?: typeof PLAIN) {
    this.raw = raw ?? '/';
    if (plain === PLAIN || this.raw === ASTERISK) {
      this.pathname = this.raw;
      return;
    }
    const q = this.raw.indexOf('?');
    const path = q === -1 ? this.raw : this.raw.slice(0, q);
    if (!this.raw.includes('#') && isPlainPath(path)) {
      this.pathname = path;
    } else {
      this.parsed = parse(this.raw);
      this.pathname = this.parsed.pathname;
    }
  }

  /** A target known to be a plain path already (a registered route, matched exactly): not checked again. */
  static plainPath(path: string): RequestTarget {
    return new RequestTarget(path, PLAIN);
  }

  /** The whole target (query included), parsed on first use. */
  get url(): URL {
    return (this.parsed ??= parse(this.raw));
  }
}

function parse(target: string): URL {
  try {
    return urlOfTarget(target, BASE);
  } catch {
    throw new HttpError('bad_request', 'the request target is not a valid URL');
  }
}
