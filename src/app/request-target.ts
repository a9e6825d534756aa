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

export class RequestTarget {
  /** The normalized path, without the query. */
  readonly pathname: string;
  private readonly raw: string;
  private parsed: URL | undefined;

  /** Throws a 400 HttpError when the target cannot be a URL. */
  constructor(raw: string | undefined) {
    this.raw = raw ?? '/';
    const q = this.raw.indexOf('?');
    const path = q === -1 ? this.raw : this.raw.slice(0, q);
    if (path !== '' && !this.raw.includes('#') && PLAIN_PATH.test(path)) {
      this.pathname = path;
    } else {
      this.parsed = parse(this.raw);
      this.pathname = this.parsed.pathname;
    }
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
    throw new HttpError(400, 'bad_request', 'the request target is not a valid URL');
  }
}
