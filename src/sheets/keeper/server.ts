// The keeper's local endpoint: HTTP/1.1 over a unix socket, so workers reuse keep-alive
// connections (undici Pool) and nothing is reachable from the network.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createListener, type Server as Listener } from 'node:net';
import { chmod, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeDirs } from '../../make-dirs.js';
import { PRIVATE_DIR_MODE } from '../../private-modes.js';
import { CorralError, describeError, RetryLaterError, codeOf } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { WatchAnswer } from './change-feed.js';
import { DESTINATION_HEADER } from '../destination.js';
import { KeeperLockTakenError } from './lock-fence.js';
import { OtherSheetError, otherSheetRefusal, OtherSheetRefusals } from './other-sheet.js';
import { MAX_WORKERS } from '../../config/schema-daemon.js';
import { KEEPER_LINK_MAX_CONNECTIONS } from '../../keeper-link-pools.js';
import { LOGIN_WINDOW_MS_MAX, MAX_APPEND_BYTES, WATCH_TIMEOUT_MS, type WireError, type WireLoginCount, type WireNotHeld } from './protocol.js';

export interface KeeperHandlers {
  /**
   * The answer body as JSON bytes, in pieces (cached values are serialised once and shared by
   * every answer). `heldOnly`: undefined at once unless the keeper can answer from its copy now.
   * `have`: the copy the worker holds (WireRead.copy), answered WireUnchanged when still current.
   */
  read(range: string, heldOnly: boolean, have: string | undefined): Promise<readonly Buffer[] | undefined>;
  append(range: string, rows: unknown, idempotency: unknown, header: unknown): Promise<object>;
  /** `signal` aborts when the long poll's connection closes before it is answered. */
  watch(since: number, epoch: string | undefined, timeoutMs: number, signal: AbortSignal): Promise<WatchAnswer>;
  /** A name's failed logins shared by the sheet's hosts; `failed` counts one first. */
  settleLogin(nameHash: string, failed: boolean, windowMs: number): Promise<WireLoginCount>;
  figures(): object;
}

const NOT_HELD = JSON.stringify({ held: false } satisfies WireNotHeld);

/**
 * The socket's listen backlog: every connection the most workers corral runs may open to it at
 * once, two generations of them (the kernel holds it to net.core.somaxconn). A connect() to a
 * unix socket whose backlog is full fails at once with EAGAIN, where TCP would retry the SYN:
 * with Node's default of 511, 128 workers meeting a keeper slow to accept (just restarted, on a
 * busy host) had appends answered 503 "keeper unreachable: connect EAGAIN" after their one retry,
 * and 1000 connects to a keeper whose loop was busy for a moment had 488 refused.
 */
export const KEEPER_LISTEN_BACKLOG = 2 * MAX_WORKERS * KEEPER_LINK_MAX_CONNECTIONS;

/**
 * How long a request may take to arrive on the socket (node:http's headersTimeout and
 * requestTimeout, checked every `checkEveryMs`): one not whole by then is answered 408 and its
 * connection closed. A worker writes each request at once (keeper-client/connection.ts), so only a
 * stalled or broken client comes near them; with no request bound, one that sent headers and part
 * of a body held its connection and the body's bytes for the keeper's life. Node counts both from
 * the request's first byte (a new connection's, from its accept) until its body has been
 * received, not until it is answered: a long poll (`/watch`, WATCH_TIMEOUT_MS), a first fill
 * waiting for Google, an append waiting for its fsync are not cut by them.
 */
export interface KeeperSocketTimeouts {
  readonly headersMs: number;
  readonly requestMs: number;
  readonly checkEveryMs: number;
}

export const KEEPER_SOCKET_TIMEOUTS: KeeperSocketTimeouts = { headersMs: 30_000, requestMs: 60_000, checkEveryMs: 5_000 };

const STATUS: Record<string, number> = {
  CORRAL_ERR_APPEND_INVALID: 400,
  CORRAL_ERR_COUNTER_INVALID: 400,
  CORRAL_ERR_IDEMPOTENCY_MISMATCH: 422,
  CORRAL_ERR_IDEMPOTENCY_IN_FLIGHT: 409,
  CORRAL_ERR_SHEETS_BAD_RANGE: 400,
  CORRAL_ERR_SHEETS_NOT_FOUND: 404,
  CORRAL_ERR_SHEETS_FORBIDDEN: 403,
  CORRAL_ERR_QUEUE_FULL: 503,
  CORRAL_ERR_KEEPER_UNAVAILABLE: 503,
  // Misdirected Request: this keeper is not the one the worker's settings mean.
  CORRAL_ERR_KEEPER_OTHER_SHEET: 421,
  // Insufficient Storage: the journal took nothing, as for a disk that cannot be written (the app
  // answers both 503 not_saved by their code). Missing from this table, the backlog cap was
  // answered 502, the status of an upstream failure.
  CORRAL_ERR_JOURNAL: 507,
  CORRAL_ERR_JOURNAL_UNWRITABLE: 507,
  CORRAL_ERR_JOURNAL_FULL: 507,
};

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Writes the pieces as they are: a Buffer goes to the socket without a copy. */
function sendParts(res: ServerResponse, status: number, parts: readonly Buffer[]): void {
  let length = 0;
  for (const p of parts) length += p.length;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': length });
  for (const p of parts) res.write(p);
  res.end();
}

function sendError(res: ServerResponse, err: unknown): void {
  const d = describeError(err);
  const code = d.code ?? 'CORRAL_ERR_SHEETS_UPSTREAM';
  const body: WireError = {
    code,
    message: d.message,
    ...(err instanceof RetryLaterError ? { retry_after_ms: Math.round(err.retryAfterMs) } : {}),
    ...(err instanceof OtherSheetError ? { destination: err.keeperDestination, ...(err.keeperMasterPid !== undefined ? { master_pid: err.keeperMasterPid } : {}) } : {}),
    ...(err instanceof KeeperLockTakenError && err.written ? { written: true as const } : {}),
  };
  send(res, STATUS[code] ?? 502, JSON.stringify(body));
}

const NAME_HASH = /^[0-9a-f]{32}$/;

/** POST /login's body, checked: a key in Redis is made of it. */
function loginRequest(text: string): { nameHash: string; failed: boolean; windowMs: number } {
  let body: { name_hash?: unknown; failed?: unknown; window_ms?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch (err) {
    throw new CorralError('CORRAL_ERR_COUNTER_INVALID', 'login count body is not JSON', { cause: err });
  }
  const { name_hash: nameHash, failed, window_ms: windowMs } = body ?? {};
  if (typeof nameHash !== 'string' || !NAME_HASH.test(nameHash)) throw new CorralError('CORRAL_ERR_COUNTER_INVALID', 'login count needs name_hash: 32 lowercase hex digits');
  if (typeof failed !== 'boolean') throw new CorralError('CORRAL_ERR_COUNTER_INVALID', 'login count needs failed: true or false');
  if (typeof windowMs !== 'number' || !Number.isInteger(windowMs) || windowMs < 1 || windowMs > LOGIN_WINDOW_MS_MAX) {
    throw new CorralError('CORRAL_ERR_COUNTER_INVALID', `login count needs window_ms: a whole number from 1 to ${LOGIN_WINDOW_MS_MAX}`);
  }
  return { nameHash, failed, windowMs };
}

/**
 * Runs `bind` (a listen() on a path, which binds at once in a process that is no cluster worker)
 * under a umask that leaves the socket file 0600 from its creation. Made under the service's own
 * umask (0775 under 002, 0777 under 000) until the chmod after 'listening', another local user who
 * can reach the directory (a data dir open to others, datadir.open_to_others) could connect in
 * between, and a connection accepted then outlives the chmod: every read (the roster's login
 * codes) and append for as long as it is kept alive.
 */
function privately(bind: () => void): void {
  const umask = process.umask(0o177);
  try {
    bind();
  } finally {
    process.umask(umask);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_APPEND_BYTES) {
        reject(new CorralError('CORRAL_ERR_APPEND_INVALID', `append body larger than ${MAX_APPEND_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class KeeperServer {
  private readonly server: Server;
  private closing = false;
  private requests = 0;
  private errors = 0;
  /** Durations (ms) of reads and appends since the last heartbeat; long polls and login counts excluded. */
  private durations: number[] = [];
  private readonly otherSheets: OtherSheetRefusals;
  /** The inode of the socket file this keeper bound last: a file at the path with another is not its. */
  private boundInode: number | undefined;
  /**
   * The listener bound again after the socket file was last removed (relistenIfRemoved); its
   * connections go to `server`. One at most: each removal bound another and kept the one before,
   * whose path was gone and which no worker could reach, an fd each for the keeper's life.
   */
  private relistener: Listener | undefined;

  /**
   * `destination`: the digest of the sheet this keeper appends to (destination.ts); requests naming
   * another are refused. `timeouts`: KEEPER_SOCKET_TIMEOUTS but in tests.
   */
  constructor(
    private readonly socketPath: string,
    private readonly h: KeeperHandlers,
    private readonly logger: Logger,
    private readonly destination: string,
    timeouts: KeeperSocketTimeouts = KEEPER_SOCKET_TIMEOUTS,
  ) {
    this.otherSheets = new OtherSheetRefusals(logger, socketPath);
    // Given at creation, where node:http checks them (headers no later than the request) and the
    // check's interval can be set.
    const bounds = { headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: timeouts.checkEveryMs };
    this.server = createServer(bounds, (req, res) => {
      this.handle(req, res).catch((err) => {
        this.logger.error({ event: 'keeper.request_error', code: codeOf(err, 'CORRAL_ERR_REQUEST'), err: describeError(err) }, 'keeper: request handler failed');
        if (!res.headersSent) sendError(res, err);
      });
    });
    // Workers hold keep-alive connections for their whole life; keep them longer than undici's 4 s.
    this.server.keepAliveTimeout = 65_000;
  }

  /** Binds the socket; a stale socket file from a dead keeper is removed first (the lock says it is dead). */
  async listen(): Promise<void> {
    await unlink(this.socketPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      privately(() =>
        this.server.listen({ path: this.socketPath, backlog: KEEPER_LISTEN_BACKLOG }, () => {
          this.server.off('error', reject);
          resolve();
        }),
      );
    });
    // Only this user's processes may talk to the keeper (made so at the bind: privately()).
    await chmod(this.socketPath, 0o600);
    this.boundInode = (await stat(this.socketPath)).ino;
  }

  /**
   * Binds the socket again when its file was removed while the keeper ran (an `rm` in the data
   * dir, the data dir itself removed): a bound socket whose file is gone takes no new connection,
   * so every worker that reconnected found nobody, and every read not held by a worker and every
   * write failed 503 while the keeper beat on and health said ok. The new listener hands its
   * connections to the same HTTP server. Returns 'rebound', or 'foreign' when a file that is not
   * this keeper's socket holds the path (left alone: it may be another process's), or undefined
   * when the socket is in place.
   */
  async relistenIfRemoved(): Promise<'rebound' | 'foreign' | undefined> {
    if (this.closing) return undefined;
    const found = await stat(this.socketPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (found) return found.ino === this.boundInode ? undefined : 'foreign';
    if (this.closing) return undefined;
    // The one bound last time listens on the path just found removed: nothing reaches it any more.
    // Closed now, while no file stands there: libuv removes a listening socket's path as it closes
    // it, which once the new listener is bound would be the new socket's. Closing stops only its
    // accepting; the connections it took are the HTTP server's and go on.
    this.relistener?.close();
    this.relistener = undefined;
    await makeDirs(dirname(this.socketPath), PRIVATE_DIR_MODE);
    const listener = createListener((socket) => this.server.emit('connection', socket));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      privately(() =>
        listener.listen({ path: this.socketPath, backlog: KEEPER_LISTEN_BACKLOG }, () => {
          listener.off('error', reject);
          resolve();
        }),
      );
    });
    // close() ran while it was being bound (a file check in flight as the keeper closed): close()
    // did not see this listener, which would hold the path and keep the process alive.
    if (this.closing) {
      listener.close();
      return undefined;
    }
    this.relistener = listener;
    await chmod(this.socketPath, 0o600);
    this.boundInode = (await stat(this.socketPath)).ino;
    return 'rebound';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://keeper');
    } catch {
      // A target such as `//`: the request's fault, not a failed handler (logged at error) or Google's (502).
      this.errors++;
      send(res, 400, JSON.stringify({ code: 'CORRAL_ERR_USAGE', message: `unparsable request target ${JSON.stringify((req.url ?? '').slice(0, 100))}` }));
      return;
    }
    // Long polls wait by design, and a login count waits on Redis, not on the keeper's work.
    if (url.pathname !== '/watch' && url.pathname !== '/login') {
      const started = performance.now();
      res.once('finish', () => {
        if (this.durations.length < 100_000) this.durations.push(performance.now() - started);
      });
    }
    try {
      // Before anything is read, journaled or counted: the worker's rows are not for this sheet.
      const asked = req.headers[DESTINATION_HEADER];
      const refusal = otherSheetRefusal(asked, this.destination, process.ppid);
      if (refusal) {
        this.otherSheets.refused(refusal, asked);
        throw refusal;
      }
      if (req.method === 'GET' && url.pathname === '/read') {
        const range = url.searchParams.get('range');
        if (!range) throw new CorralError('CORRAL_ERR_SHEETS_BAD_RANGE', 'missing ?range=');
        const answer = await this.h.read(range, url.searchParams.get('held') === 'only', url.searchParams.get('have') || undefined);
        if (answer) sendParts(res, 200, answer);
        else send(res, 200, NOT_HELD);
        return;
      }
      if (req.method === 'POST' && url.pathname === '/append') {
        if (this.closing) throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', 'the keeper is draining');
        let body: { range?: unknown; rows?: unknown; idempotency?: unknown; header?: unknown } | null;
        try {
          body = JSON.parse(await readBody(req)) as typeof body;
        } catch (err) {
          if (err instanceof CorralError) throw err;
          throw new CorralError('CORRAL_ERR_APPEND_INVALID', 'append body is not JSON', { cause: err });
        }
        // `null` read `.range` below as a TypeError, answered 502 CORRAL_ERR_SHEETS_UPSTREAM.
        if (typeof body !== 'object' || body === null) throw new CorralError('CORRAL_ERR_APPEND_INVALID', 'append body must be a JSON object {range, rows, ...}');
        if (typeof body.range !== 'string' || body.range === '') throw new CorralError('CORRAL_ERR_APPEND_INVALID', 'append needs a range');
        send(res, 200, JSON.stringify(await this.h.append(body.range, body.rows, body.idempotency, body.header)));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/watch') {
        const since = Number(url.searchParams.get('since') ?? '0');
        const epoch = url.searchParams.get('epoch') || undefined;
        // The worker's side closes the connection when it gives up on the poll (its worker stops,
        // is recycled or killed): 'close' comes then, as after the answer is sent.
        const gone = new AbortController();
        res.once('close', () => gone.abort());
        const answer = await this.h.watch(Number.isFinite(since) ? since : 0, epoch, this.closing ? 0 : WATCH_TIMEOUT_MS, gone.signal);
        if (!gone.signal.aborted) send(res, 200, JSON.stringify(answer));
        return;
      }
      if (req.method === 'POST' && url.pathname === '/login') {
        const { nameHash, failed, windowMs } = loginRequest(await readBody(req));
        send(res, 200, JSON.stringify(await this.h.settleLogin(nameHash, failed, windowMs)));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/figures') {
        send(res, 200, JSON.stringify(this.h.figures()));
        return;
      }
      send(res, 404, JSON.stringify({ code: 'CORRAL_ERR_USAGE', message: `no route ${req.method} ${url.pathname}` }));
    } catch (err) {
      this.errors++;
      sendError(res, err);
    }
  }

  stats(): { requests: number; errors: number } {
    return { requests: this.requests, errors: this.errors };
  }

  takeLatencyP99(): number {
    const d = this.durations.sort((a, b) => a - b);
    this.durations = [];
    return d.length === 0 ? 0 : Math.round((d[Math.min(d.length - 1, Math.floor(d.length * 0.99))] ?? 0) * 10) / 10;
  }

  connections(): Promise<number> {
    return new Promise((resolve) => this.server.getConnections((_e, n) => resolve(n ?? 0)));
  }

  /** Stops accepting connections; existing ones keep working until close(). */
  stopAccepting(): void {
    if (this.closing) return;
    this.closing = true;
    this.server.close();
    this.relistener?.close();
  }

  /** Closes everything and removes the socket file. Idempotent. */
  async close(): Promise<void> {
    this.stopAccepting();
    this.server.closeAllConnections();
    await unlink(this.socketPath).catch(() => undefined);
  }
}
