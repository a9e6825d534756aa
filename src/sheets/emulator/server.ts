// The Sheets API emulator: node:http + node:crypto only. Speaks the wire format of Google's OAuth
// token endpoint and of the Sheets v4 values endpoints, with quotas, fault injection and call
// counters. Usable in-process (startEmulator) and as `corral emulator`. Control endpoints under
// /__emulator/ let another process read counters and change faults over HTTP.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceAccountKey } from '../google/credentials.js';
import { Accounts, TokenError } from './accounts.js';
import { ApiError, frontEndErrorPage, serverError } from './api-error.js';
import { Counters, DEFAULT_FAULTS, MinuteQuota, parseFaults, seededRandom, UserQuotas, type EmulatorCounters, type Faults } from './faults.js';
import { BodyTooLarge, jsonBody, readBody, sendHtml, sendJson, wantsGzip, wantsPrettyPrint } from './http-util.js';
import { applyFieldMask, fieldMaskOf } from './field-mask.js';
import { generateServiceAccountKey } from './keys.js';
import { defaultSeed, type SheetSeed } from './seed.js';
import { Store, type ShareRole } from './store.js';
import { authenticate, authorize, isWrite, matchValuesRoute, runValues, spreadsheetOf, type ValuesRoute } from './values-api.js';

export interface EmulatorOptions {
  /** 0 (default) = an ephemeral port. */
  readonly port?: number;
  /** Default 127.0.0.1: the control endpoints are unauthenticated. */
  readonly host?: string;
  readonly seed?: SheetSeed;
  readonly faults?: Partial<Faults>;
  /** Clock shared with the token checks and quotas (tests move it). */
  readonly now?: () => number;
  /** Seed of the fault-injection PRNG (default: random). */
  readonly randomSeed?: number;
  /** Lifetime of issued access tokens in seconds (Google: 3599). */
  readonly tokenLifetimeS?: number;
}

export interface RegisterOptions {
  readonly clientEmail?: string;
  /** Sharing on `spreadsheetId` (default the seed's): writer (default), reader, or none. */
  readonly share?: ShareRole | 'none';
  readonly spreadsheetId?: string;
}

export interface Emulator {
  /** Base URL to use as SHEETS_API_URL. */
  readonly url: string;
  readonly port: number;
  /** The token endpoint, as written into generated keys. */
  readonly tokenUri: string;
  /** The seed spreadsheet's id. */
  readonly spreadsheetId: string;
  /** Creates a service account, shares the sheet with it, returns its key file content. */
  registerServiceAccount(options?: RegisterOptions): ServiceAccountKey;
  /** Registers an API key (generated when omitted) and returns it. */
  registerApiKey(key?: string): string;
  share(spreadsheetId: string, clientEmail: string, role: ShareRole | 'none'): void;
  /** "Anyone with the link can view" on or off (reads with an API key or any account's token). */
  setPublic(spreadsheetId: string, isPublic: boolean): void;
  /** An Excel file stored in Drive under this id rather than a Google Sheet (every values call: 400 FAILED_PRECONDITION). */
  setXlsx(spreadsheetId: string, isXlsx: boolean): void;
  /**
   * Protects a whole tab (Data > Protect sheets and ranges), `editors` the accounts it lets write
   * (none: only the owner, no service account); `false` removes the protection. Writes into it by
   * anyone else get Google's 400 "You are trying to edit a protected cell or object. ...".
   */
  protectTab(spreadsheetId: string, title: string, editors: readonly string[] | false): void;
  setSheet(spreadsheetId: string, title: string, rows: readonly (readonly unknown[])[]): void;
  getSheet(spreadsheetId: string, title: string): string[][] | undefined;
  faults(): Faults;
  setFaults(update: Partial<Faults>): Faults;
  counters(): EmulatorCounters;
  resetCounters(): void;
  /** The read calls that arrived at or after `since` (ms since the epoch), oldest first: of the latest READ_LOG_MAX at most. */
  reads(since: number): ReadCall[];
  /**
   * Google's per-minute quotas (the project's and each user's) as at the start of a minute: a
   * benchmark's load does not inherit what the load before it spent.
   */
  resetQuotas(): void;
  /** Forgets every issued access token: the next call with one gets 401. */
  revokeTokens(): void;
  /** Requests currently hung by fault injection. */
  hungRequests(): number;
  close(): Promise<void>;
}

/** A read call as the emulator received it. */
export interface ReadCall {
  /** Arrival, ms since the epoch (the emulator's clock). */
  readonly at: number;
  /** The ranges it asked for: values.get's one, values.batchGet's `ranges`. */
  readonly ranges: readonly string[];
}

/** Read calls remembered for GET /__emulator/reads. */
export const READ_LOG_MAX = 100_000;

class EmulatorServer implements Emulator {
  url = '';
  port = 0;
  tokenUri = '';
  readonly spreadsheetId: string;
  readonly #server: Server;
  readonly #store = new Store();
  readonly #accounts: Accounts;
  readonly #counters = new Counters();
  /** The latest read calls (values.get, values.batchGet), each with its arrival time and ranges. */
  readonly #readLog: ReadCall[] = [];
  readonly #reads: MinuteQuota;
  readonly #writes: MinuteQuota;
  readonly #userReads: UserQuotas;
  readonly #userWrites: UserQuotas;
  readonly #random: () => number;
  readonly #hung = new Set<ServerResponse>();
  readonly #timers = new Set<{ timer: NodeJS.Timeout; done: () => void }>();
  readonly #now: () => number;
  #faults: Faults;
  #accountSeq = 0;
  #closing: Promise<void> | undefined;

  constructor(options: EmulatorOptions) {
    const now = options.now ?? Date.now;
    this.#now = now;
    this.#accounts = new Accounts(now, options.tokenLifetimeS ?? 3599);
    this.#reads = new MinuteQuota(now);
    this.#writes = new MinuteQuota(now);
    this.#userReads = new UserQuotas(now);
    this.#userWrites = new UserQuotas(now);
    this.#random = options.randomSeed === undefined ? Math.random : seededRandom(options.randomSeed);
    this.#faults = { ...DEFAULT_FAULTS, ...parseFaults(options.faults ?? {}) };
    const seed = options.seed ?? defaultSeed();
    this.spreadsheetId = seed.spreadsheetId;
    this.#store.ensureSpreadsheet(seed.spreadsheetId);
    for (const [title, rows] of seed.sheets) this.#store.setSheet(seed.spreadsheetId, title, rows);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        sendJson(res, 500, serverError(500).envelope());
        process.emitWarning(`sheets emulator: ${(err as Error)?.stack ?? String(err)}`);
      });
    });
    this.#server.keepAliveTimeout = 60_000;
  }

  async listen(port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const addr = this.#server.address() as AddressInfo;
    this.port = addr.port;
    const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    this.url = `http://${reachable}:${addr.port}`;
    this.tokenUri = `${this.url}/token`;
  }

  registerServiceAccount(options: RegisterOptions = {}): ServiceAccountKey {
    this.#accountSeq += 1;
    const email = options.clientEmail ?? `corral-${this.#accountSeq}@corral-emulator.iam.gserviceaccount.com`;
    const { key, publicKey } = generateServiceAccountKey({ clientEmail: email, tokenUri: this.tokenUri });
    this.#accounts.register(email, publicKey);
    this.share(options.spreadsheetId ?? this.spreadsheetId, email, options.share ?? 'writer');
    return key;
  }

  registerApiKey(key?: string): string {
    const k = key ?? `AIzaEmu${Math.floor(this.#random() * 1e12).toString(36)}${Date.now().toString(36)}`;
    this.#accounts.registerApiKey(k);
    return k;
  }

  share(spreadsheetId: string, clientEmail: string, role: ShareRole | 'none'): void {
    const s = this.#store.ensureSpreadsheet(spreadsheetId);
    if (role === 'none') s.shares.delete(clientEmail);
    else s.shares.set(clientEmail, role);
  }

  setPublic(spreadsheetId: string, isPublic: boolean): void {
    this.#store.ensureSpreadsheet(spreadsheetId).public = isPublic;
  }

  setXlsx(spreadsheetId: string, isXlsx: boolean): void {
    this.#store.ensureSpreadsheet(spreadsheetId).xlsx = isXlsx;
  }

  protectTab(spreadsheetId: string, title: string, editors: readonly string[] | false): void {
    const tab = this.#store.spreadsheets.get(spreadsheetId)?.tabs.find((t) => t.title === title);
    if (!tab) throw new Error(`no tab ${JSON.stringify(title)} in spreadsheet ${spreadsheetId}`);
    if (editors === false) delete tab.protectedFor;
    else tab.protectedFor = new Set(editors);
  }

  setSheet(spreadsheetId: string, title: string, rows: readonly (readonly unknown[])[]): void {
    this.#store.setSheet(spreadsheetId, title, rows);
  }

  getSheet(spreadsheetId: string, title: string): string[][] | undefined {
    return this.#store.getSheet(spreadsheetId, title);
  }

  faults(): Faults {
    return { ...this.#faults };
  }

  setFaults(update: Partial<Faults>): Faults {
    this.#faults = { ...this.#faults, ...parseFaults(update) };
    return this.faults();
  }

  counters(): EmulatorCounters {
    return this.#counters.snapshot();
  }

  resetCounters(): void {
    this.#counters.reset();
  }

  reads(since: number): ReadCall[] {
    return this.#readLog.filter((r) => r.at >= since);
  }

  resetQuotas(): void {
    this.#reads.reset();
    this.#writes.reset();
    this.#userReads.reset();
    this.#userWrites.reset();
  }

  revokeTokens(): void {
    this.#accounts.revokeTokens();
  }

  hungRequests(): number {
    return this.#hung.size;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const t of this.#timers) {
        clearTimeout(t.timer);
        t.done();
      }
      this.#timers.clear();
      this.#server.close(() => resolve());
      for (const res of this.#hung) res.socket?.destroy();
      this.#hung.clear();
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }

  #delay(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve();
        }, ms),
        done: resolve,
      };
      this.#timers.add(entry);
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    // Google's answers are dated by Google's clock; so are the emulator's, by the clock its token
    // checks use (a client measures its own clock's offset from this header).
    res.setHeader('date', new Date(this.#now()).toUTCString());
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLarge) sendJson(res, 400, new ApiError(400, err.message).envelope(), wantsPrettyPrint(url.searchParams));
      return;
    }
    if (url.pathname.startsWith('/__emulator/')) {
      this.#control(req, res, url, body);
      return;
    }
    if (url.pathname === '/token') {
      this.#token(req, res, body);
      return;
    }
    let route: ValuesRoute | undefined;
    try {
      route = matchValuesRoute(req.method ?? 'GET', url.pathname);
    } catch (err) {
      if (err instanceof ApiError) {
        this.#answerError(res, err, url.searchParams);
        return;
      }
      throw err;
    }
    if (!route) {
      this.#counters.status(404);
      sendHtml(res, 404, frontEndErrorPage(404, url.pathname));
      return;
    }
    await this.#values(req, res, route, url.searchParams, body);
  }

  #answerError(res: ServerResponse, err: ApiError, query: URLSearchParams): void {
    this.#counters.status(err.code);
    const gzip = wantsGzip(res.req);
    if (gzip) this.#counters.gzipped += 1;
    sendJson(res, err.code, err.envelope(), wantsPrettyPrint(query), gzip);
  }

  #token(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    this.#counters.calls.token += 1;
    if (req.method !== 'POST') {
      this.#counters.status(405);
      sendJson(res, 405, { error: 'invalid_request', error_description: 'POST required' });
      return;
    }
    if (!/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
      this.#counters.status(400);
      sendJson(res, 400, { error: 'invalid_request', error_description: 'Content-Type must be application/x-www-form-urlencoded' });
      return;
    }
    if (this.#faults.tokenErrorRate > 0 && this.#random() < this.#faults.tokenErrorRate) {
      this.#counters.injectedErrors += 1;
      this.#counters.status(503);
      sendJson(res, 503, { error: 'temporarily_unavailable', error_description: 'The service is currently unavailable.' });
      return;
    }
    // The audience must name this token endpoint: as written in the keys, or as the client reached it.
    const audiences = [this.tokenUri, `http://${req.headers.host ?? ''}/token`];
    try {
      const token = this.#accounts.exchange(new URLSearchParams(body.toString('utf8')), audiences);
      this.#counters.ok.token += 1;
      this.#counters.status(200);
      sendJson(res, 200, token);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      this.#counters.status(err.status);
      sendJson(res, err.status, err.body);
    }
  }

  async #values(req: IncomingMessage, res: ServerResponse, route: ValuesRoute, query: URLSearchParams, body: Buffer): Promise<void> {
    const f = this.#faults;
    const write = isWrite(route.method);
    this.#counters.calls[route.method] += 1;
    if (route.method === 'values.get' || route.method === 'values.batchGet') {
      // The oldest tenth dropped at once when full: not a shift of the whole log per call.
      if (this.#readLog.length >= READ_LOG_MAX) this.#readLog.splice(0, READ_LOG_MAX / 10);
      this.#readLog.push({ at: this.#now(), ranges: route.method === 'values.get' ? [route.range ?? ''] : query.getAll('ranges') });
    }
    await this.#delay(f.latencyMs + (f.latencyJitterMs > 0 ? this.#random() * f.latencyJitterMs : 0));
    if (this.#closing) return;
    if (f.hangRate > 0 && this.#random() < f.hangRate) {
      // Never answered: the client's own timeout has to fire. Released on close().
      this.#counters.hangs += 1;
      this.#hung.add(res);
      res.on('close', () => this.#hung.delete(res));
      return;
    }
    if (f.errorRate > 0 && this.#random() < f.errorRate) {
      this.#counters.injectedErrors += 1;
      if (f.errorStatus === 502) {
        this.#counters.status(502);
        sendHtml(res, 502, frontEndErrorPage(502));
      } else {
        this.#answerError(res, serverError(f.errorStatus), query);
      }
      return;
    }
    let result;
    try {
      const principal = authenticate(this.#accounts, credentialHeader(req, query), apiKeyOf(req, query), route.method);
      // Both quotas are checked before either is taken: a call one of them refuses uses neither.
      const project = write ? this.#writes : this.#reads;
      const projectLimit = write ? f.writesPerMinute : f.readsPerMinute;
      const user = principal.kind === 'token' ? (write ? this.#userWrites : this.#userReads).of(principal.token.email) : undefined;
      const userLimit = write ? f.writesPerMinutePerUser : f.readsPerMinutePerUser;
      if (!project.has(projectLimit)) {
        this.#counters.quotaRejections += 1;
        throw quotaError(write, projectLimit, 'project');
      }
      if (user && !user.has(userLimit)) {
        this.#counters.quotaRejections += 1;
        throw quotaError(write, userLimit, 'user');
      }
      project.take(projectLimit);
      user?.take(userLimit);
      const sheet = spreadsheetOf(this.#store, route.spreadsheetId);
      authorize(principal, sheet, route.method);
      // A mask Google cannot expand is refused before the call runs: nothing is written.
      const mask = fieldMaskOf(route.method, query, req.headers['x-goog-fieldmask']);
      const writer = principal.kind === 'token' ? principal.token.email : undefined;
      result = runValues(this.#store, sheet, route, query, body, req.headers['content-type'], f.workbookCellLimit, writer);
      if (mask) result = { ...result, body: applyFieldMask(result.body, mask) };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.#answerError(res, err, query);
      return;
    }
    this.#counters.rowsAppended += result.rowsAppended;
    if (f.resetRate > 0 && this.#random() < f.resetRate) {
      // Done, then the connection drops halfway through the answer.
      this.#counters.resets += 1;
      const payload = jsonBody(result.body, wantsPrettyPrint(query));
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': payload.length });
      res.write(payload.subarray(0, Math.floor(payload.length / 2)), () => res.socket?.destroy());
      return;
    }
    if (write && f.appliedErrorRate > 0 && this.#random() < f.appliedErrorRate) {
      this.#counters.appliedErrors += 1;
      this.#answerError(res, serverError(500), query);
      return;
    }
    this.#counters.ok[route.method] += 1;
    this.#counters.status(200);
    const gzip = wantsGzip(req);
    if (gzip) this.#counters.gzipped += 1;
    sendJson(res, 200, result.body, wantsPrettyPrint(query), gzip);
  }

  #control(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): void {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/__emulator/counters' && method === 'GET') return sendJson(res, 200, this.counters());
    if (path === '/__emulator/counters/reset' && method === 'POST') {
      const before = this.counters();
      this.resetCounters();
      return sendJson(res, 200, before);
    }
    if (path === '/__emulator/reads' && method === 'GET') {
      const since = Number(url.searchParams.get('since') ?? '0');
      return sendJson(res, 200, this.reads(Number.isFinite(since) ? since : 0));
    }
    if (path === '/__emulator/quotas/reset' && method === 'POST') {
      this.resetQuotas();
      return sendJson(res, 200, { reset: true });
    }
    if (path === '/__emulator/faults' && method === 'GET') return sendJson(res, 200, this.faults());
    if (path === '/__emulator/faults' && method === 'POST') {
      try {
        return sendJson(res, 200, this.setFaults(parseFaults(JSON.parse(body.toString('utf8') || '{}') as unknown)));
      } catch (err) {
        return sendJson(res, 400, { error: (err as Error).message });
      }
    }
    if (path === '/__emulator/revoke-tokens' && method === 'POST') {
      this.revokeTokens();
      return sendJson(res, 200, { revoked: true });
    }
    const sheet = /^\/__emulator\/spreadsheets\/([^/]+)\/sheets\/([^/]+)$/.exec(path);
    if (sheet && method === 'GET') {
      const rows = this.getSheet(decodeURIComponent(sheet[1] ?? ''), decodeURIComponent(sheet[2] ?? ''));
      return rows ? sendJson(res, 200, { values: rows }) : sendJson(res, 404, { error: 'no such spreadsheet or tab' });
    }
    sendJson(res, 404, { error: `unknown emulator control endpoint ${method} ${path}` });
  }
}

/**
 * Google's 429 body, naming the limit that refused (the project's or the user's): an ErrorInfo
 * with the quota's metadata, then a Help link, as recorded from the real API in gargle's tests
 * (r-lib/gargle tests/testthat/_snaps/response_process.md, "Resource exhausted (Sheets, ReadGroup)").
 */
function quotaError(write: boolean, limit: number, of: 'project' | 'user'): ApiError {
  const kind = write ? 'Write' : 'Read';
  return new ApiError(
    429,
    `Quota exceeded for quota metric '${kind} requests' and limit '${kind} requests per minute${of === 'user' ? ' per user' : ''}' of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'.`,
    'RATE_LIMIT_EXCEEDED',
    {
      quota_location: 'global',
      quota_metric: `sheets.googleapis.com/${kind.toLowerCase()}_requests`,
      quota_limit: `${kind}RequestsPerMinutePer${of === 'user' ? 'User' : 'Project'}`,
      quota_limit_value: String(limit),
      consumer: 'projects/000000000000',
    },
    { description: 'Request a higher quota limit.', url: 'https://cloud.google.com/docs/quota#requesting_higher_quota' },
  );
}

/**
 * The request's OAuth credential as an Authorization header. Google's system parameters carry one
 * in the query as well (`access_token`, and `oauth_token`, its older name, in every API's
 * discovery document), which its client libraries send where a header cannot go; the header wins.
 */
function credentialHeader(req: IncomingMessage, query: URLSearchParams): string | undefined {
  if (req.headers.authorization !== undefined) return req.headers.authorization;
  const token = query.get('access_token') || query.get('oauth_token');
  return token ? `Bearer ${token}` : undefined;
}

/** An API key: the `key` system parameter, or its header, `X-Goog-Api-Key` (cloud.google.com/apis/docs/system-parameters). */
function apiKeyOf(req: IncomingMessage, query: URLSearchParams): string | null {
  const header = req.headers['x-goog-api-key'];
  return query.get('key') ?? (typeof header === 'string' ? header : null);
}

/** Starts an emulator listening on options.port (default ephemeral) of options.host (default 127.0.0.1). */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = new EmulatorServer(options);
  await emulator.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return emulator;
}

