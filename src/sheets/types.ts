// The interface the app sees. Workers get an implementation backed by a per-worker L1 cache in
// front of the keeper (host-wide cache, quota, journal); the app never talks to Google itself.

/** One cached read of a range. */
export interface SheetRead {
  /** The range as requested (e.g. `Players` or `'My Tab'!A1:D`). */
  readonly range: string;
  /** Raw rows as the Sheets API returns them: header row first, trailing empty cells trimmed. */
  readonly values: readonly (readonly string[])[];
  /** Epoch ms of the upstream fetch this value came from. */
  readonly fetchedAt: number;
  /** True when served after SHEET_CACHE_TTL (stale-while-revalidate or stale-if-error). */
  readonly stale: boolean;
  /** Seconds past the TTL (0 when fresh). */
  readonly staleSeconds: number;
  /** Journaled rows not yet flushed to Google, already merged into `values` (read-your-writes). */
  readonly pendingRows: number;
}

/** Rows keyed by the header row. */
export interface SheetRecords {
  readonly header: readonly string[];
  readonly records: readonly Readonly<Record<string, string>>[];
  readonly read: SheetRead;
}

/** Receipt of a durable append: written to the journal and fsynced, not yet necessarily in Google. */
export interface AppendReceipt {
  readonly id: string;
  readonly rows: number;
  /**
   * Set when the append carried an idempotency key the keeper already held for the same request:
   * the `answer` stored with it, and nothing was written this time.
   */
  readonly replayed?: string;
}

/** What makes an append idempotent (the keeper remembers it for CORRAL_IDEMPOTENCY_TTL). */
export interface IdempotencyClaim {
  /** Opaque and already scoped by the caller: keys of different callers must never be equal. */
  readonly key: string;
  /** Of the request the key stands for; a retry must bring the same one (else CORRAL_ERR_IDEMPOTENCY_MISMATCH). */
  readonly fingerprint: string;
  /** What a retry is given back (the caller's encoding of its first answer, at most 1024 characters). */
  readonly answer: string;
  /**
   * Who the key counts against (opaque, e.g. a hash of the player): no owner holds more than
   * CORRAL_IDEMPOTENCY_KEYS_PER_PLAYER keys, its own oldest forgotten first.
   */
  readonly owner?: string;
}

export interface AppendOptions {
  readonly idempotency?: IdempotencyClaim;
  /**
   * The header row the rows were built under (each cell of a row under the header cell at its
   * index). The keeper writes them under the tab's header row as it is when they are sent, matched
   * by name, so a header edited while they waited does not misplace them; the first cell names the
   * rows' id column, which must stay the tab's first.
   */
  readonly header?: readonly string[];
}

/** A player name's failed logins counted by every host of the sheet (REDIS_URL), and its window. */
export interface SharedLoginCount {
  /** Failures of the name in its window, all hosts together, the one just counted included. */
  readonly failures: number;
  /** Until the name's window ends (0 when it has none). */
  readonly msLeft: number;
}

/** How read() treats this process's own copy of the range (the worker's L1). */
export interface ReadOptions {
  /**
   * false: a read for one use (the bundled app's export of a whole tab). Its answer is not kept in
   * this process's cache unless the range was held there when the read began (then it is
   * refreshed and kept as by any read); the rows are the caller's alone and are freed once it
   * drops them. It is still answered from a copy held here, still shares one request with the
   * concurrent reads of the same range in this process, and still gets the keeper's copy (one
   * upstream call for the host). Without it, a worker that once exported a large tab kept it until
   * recycled: the cache evicts by recency only, and the bundled app reads nothing else that would
   * push it out. Default true.
   */
  readonly keep?: boolean;
}

export interface SheetsClient {
  /** Which backend serves this host: Google (or the emulator), or the offline local sheet. */
  readonly backend: 'google' | 'offline';
  /** The range's rows; `options.keep: false` for a read of one use (ReadOptions). */
  read(range: string, options?: ReadOptions): Promise<SheetRead>;
  records(range: string): Promise<SheetRecords>;
  /**
   * The records of a copy this process already holds and may serve now, without waiting; undefined
   * when records() has to ask (a miss, an expired copy). Lets hot routes answer synchronously.
   */
  cachedRecords(range: string): SheetRecords | undefined;
  /**
   * Resolves only once the rows are durable in the journal, or at once with `replayed` for a
   * retry of an idempotency key already held.
   */
  append(range: string, rows: readonly (readonly string[])[], options?: AppendOptions): Promise<AppendReceipt>;
  /**
   * Counts one failed login of a name (`failed`), or only reads its count, in the count the sheet's
   * hosts share through Redis (REDIS_URL with a Google sheet); `nameHash` stands for the name
   * (32 hex digits), or for a proof of an earlier login (app/login-proof.ts), `windowMs` is the window a first failure starts. Rejects when that count
   * cannot be had within `timeoutMs` (no Redis, Redis away, the keeper down or slow). Absent from
   * clients that have no such count.
   */
  settleLogin?(nameHash: string, failed: boolean, windowMs: number, timeoutMs: number): Promise<SharedLoginCount>;
  /** Figures for the heartbeat (`extra`): cache hits/misses, staleness, etc. */
  figures(): Readonly<Record<string, number | string | boolean | null>>;
  close(): Promise<void>;
}
