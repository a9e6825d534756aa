// The HTTP versions corral speaks: 1.0 and 1.1. llhttp also takes `HTTP/2.0` and `HTTP/0.9` (any
// other version it refuses itself, a 400), and node:http answered those two as HTTP/1.1: RFC 9110
// §15.6.6 says 505 (nginx answers it too). The workers and the admin API refuse them alike.

import type { IncomingMessage } from 'node:http';

/** Why `req`'s version is refused (505 http_version_not_supported), or undefined for 1.0 and 1.1. */
export function unsupportedVersion(req: IncomingMessage): string | undefined {
  if (req.httpVersionMajor === 1 && req.httpVersionMinor <= 1) return undefined;
  return `HTTP/${req.httpVersion} is not supported here; send HTTP/1.1`;
}
