// X-HTTP-Method-Override, one of Google's system parameters ("the intended HTTP method for the
// request; some network proxies don't accept all HTTP methods", cloud.google.com/apis/docs/
// system-parameters): a POST that stands for another method. Google's Python client sends a GET
// whose URL would pass 2 KB so, its query moved into a form body (googleapiclient/http.py,
// MAX_URI_LENGTH): a values:batchGet of many ranges.

import type { IncomingMessage } from 'node:http';

export interface EffectiveRequest {
  readonly method: string;
  readonly query: URLSearchParams;
  readonly body: Buffer;
}

/** The method, query and body a request stands for. */
export function effectiveRequest(req: IncomingMessage, query: URLSearchParams, body: Buffer): EffectiveRequest {
  const header = req.headers['x-http-method-override'];
  if (req.method !== 'POST' || typeof header !== 'string' || header.trim() === '') return { method: req.method ?? 'GET', query, body };
  const method = header.trim().toUpperCase();
  if (method !== 'GET' || !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.headers['content-type'] ?? '')) return { method, query, body };
  const merged = new URLSearchParams(query);
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) merged.append(name, value);
  return { method, query: merged, body: Buffer.alloc(0) };
}
