// POST /token, Google's OAuth token endpoint: the request's method and content type, the injected
// OAuth outage (tokenErrorRate), then the JWT exchange (accounts.ts), each answered as Google
// answers it and counted. Apart from server.ts because it shares with the values calls only the
// accounts (the tokens they check), the counters and the fault-injection PRNG: no quota, no
// latency, no other fault.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenError, type Accounts } from './accounts.js';
import type { Counters } from './faults.js';
import { sendJson } from './http-util.js';

/** What the token endpoint uses of the emulator's, at the time of a call. */
export interface TokenEndpoint {
  readonly accounts: Accounts;
  readonly counters: Counters;
  /** The fault-injection PRNG, drawn from only when tokenErrorRate > 0. */
  readonly random: () => number;
  readonly tokenErrorRate: number;
  /** The token endpoint, as written into generated keys. */
  readonly tokenUri: string;
}

export function answerToken(endpoint: TokenEndpoint, req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const { accounts, counters } = endpoint;
  counters.calls.token += 1;
  if (req.method !== 'POST') {
    counters.status(405);
    sendJson(res, 405, { error: 'invalid_request', error_description: 'POST required' });
    return;
  }
  if (!/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
    counters.status(400);
    sendJson(res, 400, { error: 'invalid_request', error_description: 'Content-Type must be application/x-www-form-urlencoded' });
    return;
  }
  if (endpoint.tokenErrorRate > 0 && endpoint.random() < endpoint.tokenErrorRate) {
    counters.injectedErrors += 1;
    counters.status(503);
    sendJson(res, 503, { error: 'temporarily_unavailable', error_description: 'The service is currently unavailable.' });
    return;
  }
  // The audience must name this token endpoint: as written in the keys, or as the client reached it.
  const audiences = [endpoint.tokenUri, `http://${req.headers.host ?? ''}/token`];
  try {
    const token = accounts.exchange(new URLSearchParams(body.toString('utf8')), audiences);
    counters.ok.token += 1;
    counters.status(200);
    sendJson(res, 200, token);
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    counters.status(err.status);
    sendJson(res, err.status, err.body);
  }
}
