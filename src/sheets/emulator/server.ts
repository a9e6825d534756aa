// The Sheets API emulator: node:http + node:crypto only. Speaks the wire format of Google's OAuth
// token endpoint and of the Sheets v4 values endpoints, with quotas, fault injection and call
// counters. Usable in-process (startEmulator) and as `corral emulator`. Control endpoints under
// /__emulator/ let another process read counters and change faults over HTTP.
//
// This file is the server and a values call's way through it (latency, injected faults, quotas,
// then values-api.ts); its neighbours hold the rest: the interface it implements (emulator.ts),
// the token endpoint (token-endpoint.ts), the control endpoints (control-endpoints.ts), the
// quotas (quotas.ts), the read log (read-log.ts), where a request's credentials are
// (request-credentials.ts), the latency's waits (delays.ts).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceAccountKey } from '../google/credentials.js';
import { Accounts } from './accounts.js';
import { ApiError, frontEndErrorPage, serverError } from './api-error.js';
import { answerControl, browserRefusal } from './control-endpoints.js';
import { Delays } from './delays.js';
import type { Emulator, EmulatorOptions, RegisterOptions } from './emulator.js';
import { Counters, DEFAULT_FAULTS, parseFaults, seededRandom, type EmulatorCounters, type Faults } from './faults.js';
import { BodyTooLarge, jsonBody, readBody, sendHtml, sendJson, wantsGzip, wantsPrettyPrint } from './http-util.js';
import { applyFieldMask, fieldMaskOf } from './field-mask.js';
import { generateServiceAccountKey } from './keys.js';
import { effectiveRequest } from './method-override.js';
import { defineNamedRange } from './named-ranges.js';
import { Quotas } from './quotas.js';
import { ReadLog, type ReadCall } from './read-log.js';
import { apiKeyOf, credentialHeader } from './request-credentials.js';
import { defaultSeed } from './seed.js';
import { Store, type ShareRole } from './store.js';
import { answerToken } from './token-endpoint.js';
import { authenticate, authorize, isWrite, matchValuesRoute, runValues, spreadsheetOf, type ValuesRoute } from './values-api.js';

class EmulatorServer implements Emulator {
  url = '';
  port = 0;
  tokenUri = '';
  readonly spreadsheetId: string;
  readonly #server: Server;
  readonly #store = new Store();
  readonly #accounts: Accounts;
  readonly #counters = new Counters();
  readonly #readLog = new ReadLog();
  readonly #quotas: Quotas;
  readonly #random: () => number;
  readonly #hung = new Set<ServerResponse>();
  readonly #delays = new Delays();
  readonly #now: () => number;
  #faults: Faults;
  #accountSeq = 0;
  /** The address listen() was given: its control endpoints' Host check applies on loopback only. */
  #host = '127.0.0.1';
  #closing: Promise<void> | undefined;

  constructor(options: EmulatorOptions) {
    const now = options.now ?? Date.now;
    this.#now = now;
    this.#accounts = new Accounts(now, options.tokenLifetimeS ?? 3599);
    this.#quotas = new Quotas(now);
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
    this.#host = host;
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

  defineNamedRange(spreadsheetId: string, name: string, range: string): void {
    defineNamedRange(this.#store.spreadsheet(spreadsheetId), name, range);
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
    return this.#readLog.since(since);
  }

  resetQuotas(): void {
    this.#quotas.reset();
  }

  revokeTokens(): void {
    this.#accounts.revokeTokens();
  }

  hungRequests(): number {
    return this.#hung.size;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#delays.releaseAll();
      this.#server.close(() => resolve());
      for (const res of this.#hung) res.socket?.destroy();
      this.#hung.clear();
      this.#server.closeAllConnections();
    });
    return this.#closing;
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
      const refused = browserRefusal(req, this.#host);
      if (refused) sendJson(res, refused.status, { error: refused.error });
      else answerControl(this, req, res, url, body);
      return;
    }
    if (url.pathname === '/token') {
      const endpoint = { accounts: this.#accounts, counters: this.#counters, random: this.#random, tokenErrorRate: this.#faults.tokenErrorRate, tokenUri: this.tokenUri };
      answerToken(endpoint, req, res, body);
      return;
    }
    const effective = effectiveRequest(req, url.searchParams, body);
    let route: ValuesRoute | undefined;
    try {
      route = matchValuesRoute(effective.method, url.pathname);
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
    await this.#values(req, res, route, effective.query, effective.body);
  }

  #answerError(res: ServerResponse, err: ApiError, query: URLSearchParams): void {
    this.#counters.status(err.code);
    const gzip = wantsGzip(res.req);
    if (gzip) this.#counters.gzipped += 1;
    sendJson(res, err.code, err.envelope(), wantsPrettyPrint(query), gzip);
  }

  async #values(req: IncomingMessage, res: ServerResponse, route: ValuesRoute, query: URLSearchParams, body: Buffer): Promise<void> {
    const f = this.#faults;
    const write = isWrite(route.method);
    this.#counters.calls[route.method] += 1;
    if (route.method === 'values.get' || route.method === 'values.batchGet') {
      this.#readLog.record({ at: this.#now(), ranges: route.method === 'values.get' ? [route.range ?? ''] : query.getAll('ranges') });
    }
    await this.#delays.wait(f.latencyMs + (f.latencyJitterMs > 0 ? this.#random() * f.latencyJitterMs : 0));
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
      const refused = this.#quotas.take(write, principal.kind === 'token' ? principal.token.email : undefined, f);
      if (refused) {
        this.#counters.quotaRejections += 1;
        throw refused;
      }
      const sheet = spreadsheetOf(this.#store, route.spreadsheetId);
      authorize(principal, sheet, route.method);
      // A mask Google cannot expand is refused before the call runs: nothing is written.
      const mask = fieldMaskOf(route.method, query, req.headers['x-goog-fieldmask']);
      const writer = principal.kind === 'token' ? principal.token.email : undefined;
      // `$ct` overrides the Content-Type header (a system parameter, for clients that cannot set it).
      const contentType = query.get('$ct') ?? req.headers['content-type'];
      result = runValues(this.#store, sheet, route, query, body, contentType, f.workbookCellLimit, writer);
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
}

/** Starts an emulator listening on options.port (default ephemeral) of options.host (default 127.0.0.1). */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = new EmulatorServer(options);
  await emulator.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return emulator;
}
