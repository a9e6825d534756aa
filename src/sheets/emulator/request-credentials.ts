// Where a request carries its credentials: the OAuth token (header or query) and the API key
// (query or header), as Google's system parameters allow. Read here, judged in values-api.ts
// (authenticate); apart from server.ts because they are pure functions of the request.

import type { IncomingMessage } from 'node:http';
import { systemParameter } from './system-parameters.js';

/**
 * The request's OAuth credential as an Authorization header. Google's system parameters carry one
 * in the query as well (`access_token`, and `oauth_token`, its older name, in every API's
 * discovery document), which its client libraries send where a header cannot go; the header wins.
 */
export function credentialHeader(req: IncomingMessage, query: URLSearchParams): string | undefined {
  if (req.headers.authorization !== undefined) return req.headers.authorization;
  const token = query.get('access_token') || query.get('oauth_token');
  return token ? `Bearer ${token}` : undefined;
}

/** An API key: the `key` system parameter (or `$key`), or its header, `X-Goog-Api-Key` (cloud.google.com/apis/docs/system-parameters). */
export function apiKeyOf(req: IncomingMessage, query: URLSearchParams): string | null {
  const header = req.headers['x-goog-api-key'];
  return systemParameter(query, 'key') ?? (typeof header === 'string' ? header : null);
}
