// Errors of the Sheets layer. Besides the stable code, each says two things the keeper acts on:
// `retryable` (the condition is transient: trying later may succeed) and `applied` (whether
// Google may have carried out the request). For reads `applied` is moot; for appends it decides
// between "resend" ('no') and "look at the sheet before resending" ('maybe'), because resending
// an append Google already applied would duplicate rows.

import { CorralError, type ErrorCode } from '../errors.js';

export type Applied = 'no' | 'maybe';

export interface SheetsErrorInit {
  /** HTTP status Google answered, if it answered. */
  readonly status?: number;
  /** Google's `status` (PERMISSION_DENIED, RESOURCE_EXHAUSTED, ...), the OAuth `error` (invalid_grant), or a local reason (TIMEOUT, NETWORK, READ_ONLY). */
  readonly reason: string;
  readonly applied: Applied;
  readonly retryable: boolean;
  /** Google's own message, kept verbatim for the log. */
  readonly googleMessage?: string;
  /** Server-requested wait (Retry-After), in ms. */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

export class SheetsError extends CorralError {
  readonly status: number | undefined;
  readonly reason: string;
  readonly applied: Applied;
  readonly retryable: boolean;
  readonly googleMessage: string | undefined;
  readonly retryAfterMs: number | undefined;
  /** How many HTTP attempts were made before giving up (set by the retry loop). */
  attempts = 1;

  constructor(code: ErrorCode, message: string, init: SheetsErrorInit) {
    super(code, message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'SheetsError';
    this.status = init.status;
    this.reason = init.reason;
    this.applied = init.applied;
    this.retryable = init.retryable;
    this.googleMessage = init.googleMessage;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** Fields for a structured log line. */
  toLog(): Record<string, unknown> {
    return {
      code: this.code,
      status: this.status ?? null,
      reason: this.reason,
      applied: this.applied,
      retryable: this.retryable,
      attempts: this.attempts,
      message: this.message,
    };
  }
}

export function isSheetsError(err: unknown): err is SheetsError {
  return err instanceof SheetsError;
}
