// What can go wrong upstream, on demand: latency (base + uniform jitter), injected 5xx, hangs
// (the request is never answered), connections reset mid-answer, writes applied but answered with
// a 5xx; plus the limits of Google's per-minute read and write quotas (per project, and per user:
// a service account is one user; quotas.ts spends them), its cap on a spreadsheet's cells, and
// counters of every call per method.

export interface Faults {
  /** Added before every values call is handled. */
  latencyMs: number;
  /** Uniform extra latency in [0, latencyJitterMs). */
  latencyJitterMs: number;
  /**
   * Share of values calls answered with `errorStatus` before doing anything (0..1): Google's JSON
   * envelope, or for 502 its front end's HTML error page, as Google sends them.
   */
  errorRate: number;
  errorStatus: 500 | 502 | 503 | 504;
  /** Share of values calls never answered (0..1); the client's timeout must fire. */
  hangRate: number;
  /** Share of values calls carried out, then cut mid-answer (headers sent, body truncated). */
  resetRate: number;
  /** Share of write calls carried out, then answered with 500 (the rows ARE in the sheet). */
  appliedErrorRate: number;
  /** Share of token-endpoint calls answered 503 (an OAuth outage). */
  tokenErrorRate: number;
  /** Per-minute quotas of the project (Google's default: 300 each); 0 = unlimited. */
  readsPerMinute: number;
  writesPerMinute: number;
  /**
   * Per-minute quotas of each user, here each service account (Google's default: 60 each); 0 =
   * unlimited. Calls with an API key assert no user and count against the project's alone.
   */
  readsPerMinutePerUser: number;
  writesPerMinutePerUser: number;
  /**
   * Cells a spreadsheet may hold, every tab's grid (rows × columns, empty cells included) together
   * (Google's: 10,000,000); 0 = unlimited. An append that would grow the grids past it is refused
   * with Google's 400, and writes nothing.
   */
  workbookCellLimit: number;
}

export const DEFAULT_FAULTS: Readonly<Faults> = Object.freeze({
  latencyMs: 0,
  latencyJitterMs: 0,
  errorRate: 0,
  errorStatus: 503,
  hangRate: 0,
  resetRate: 0,
  appliedErrorRate: 0,
  tokenErrorRate: 0,
  readsPerMinute: 300,
  writesPerMinute: 300,
  readsPerMinutePerUser: 60,
  writesPerMinutePerUser: 60,
  workbookCellLimit: 10_000_000,
});

const RATE_KEYS = ['errorRate', 'hangRate', 'resetRate', 'appliedErrorRate', 'tokenErrorRate'] as const;
const LATENCY_KEYS = ['latencyMs', 'latencyJitterMs'] as const;
const LIMIT_KEYS = ['readsPerMinute', 'writesPerMinute', 'readsPerMinutePerUser', 'writesPerMinutePerUser', 'workbookCellLimit'] as const;
/**
 * The longest latency, as `corral emulator --latency-ms` takes it: a timer longer than 2^31-1 ms
 * is cut by Node to 1 ms (TimeoutOverflowWarning), so {"latencyMs": 3e9} answered at once.
 */
const MAX_LATENCY_MS = 600_000;

/** Validates a partial fault update (from the in-process API or POST /__emulator/faults). */
export function parseFaults(input: unknown): Partial<Faults> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TypeError('faults must be a JSON object');
  const o = input as Record<string, unknown>;
  const out: Partial<Faults> = {};
  for (const [k, v] of Object.entries(o)) {
    if ((RATE_KEYS as readonly string[]).includes(k)) {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new TypeError(`${k} must be a number from 0 to 1`);
      out[k as (typeof RATE_KEYS)[number]] = v;
    } else if ((LATENCY_KEYS as readonly string[]).includes(k)) {
      if (typeof v !== 'number' || !(v >= 0 && v <= MAX_LATENCY_MS)) throw new TypeError(`${k} must be a number from 0 to ${MAX_LATENCY_MS}`);
      out[k as (typeof LATENCY_KEYS)[number]] = v;
    } else if ((LIMIT_KEYS as readonly string[]).includes(k)) {
      // Calls are whole: a limit of 1.5 let two through and said "1.5" in the 429's quota_limit_value.
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`${k} must be an integer >= 0`);
      out[k as (typeof LIMIT_KEYS)[number]] = v;
    } else if (k === 'errorStatus') {
      if (v !== 500 && v !== 502 && v !== 503 && v !== 504) throw new TypeError('errorStatus must be 500, 502, 503 or 504');
      out.errorStatus = v;
    } else {
      throw new TypeError(`unknown fault "${k}"`);
    }
  }
  return out;
}

export type EmulatorMethod = 'token' | 'values.get' | 'values.batchGet' | 'values.append' | 'values.update' | 'values.batchUpdate';

export interface EmulatorCounters {
  /** Calls received per method, whatever their outcome. */
  readonly calls: Record<EmulatorMethod, number>;
  /** Values calls answered 2xx per method. */
  readonly ok: Record<EmulatorMethod, number>;
  /** Answers by HTTP status (values and token endpoints). */
  readonly statuses: Record<string, number>;
  readonly injectedErrors: number;
  readonly hangs: number;
  readonly resets: number;
  readonly appliedErrors: number;
  readonly quotaRejections: number;
  /** Rows appended and kept (applied), whatever the answer was. */
  readonly rowsAppended: number;
  /** Values answers sent gzip-encoded (the client asked as Google requires: see http-util.ts). */
  readonly gzipped: number;
}

function methods(): Record<EmulatorMethod, number> {
  return { token: 0, 'values.get': 0, 'values.batchGet': 0, 'values.append': 0, 'values.update': 0, 'values.batchUpdate': 0 };
}

export class Counters {
  calls = methods();
  ok = methods();
  statuses: Record<string, number> = {};
  injectedErrors = 0;
  hangs = 0;
  resets = 0;
  appliedErrors = 0;
  quotaRejections = 0;
  rowsAppended = 0;
  gzipped = 0;

  status(code: number): void {
    this.statuses[String(code)] = (this.statuses[String(code)] ?? 0) + 1;
  }

  snapshot(): EmulatorCounters {
    return {
      calls: { ...this.calls },
      ok: { ...this.ok },
      statuses: { ...this.statuses },
      injectedErrors: this.injectedErrors,
      hangs: this.hangs,
      resets: this.resets,
      appliedErrors: this.appliedErrors,
      quotaRejections: this.quotaRejections,
      rowsAppended: this.rowsAppended,
      gzipped: this.gzipped,
    };
  }

  reset(): void {
    this.calls = methods();
    this.ok = methods();
    this.statuses = {};
    this.injectedErrors = 0;
    this.hangs = 0;
    this.resets = 0;
    this.appliedErrors = 0;
    this.quotaRejections = 0;
    this.rowsAppended = 0;
    this.gzipped = 0;
  }
}

/** mulberry32: a small seeded PRNG so fault injection can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
