// One HTTP exchange over an undici dispatcher, with the one fact the append path needs and that
// fetch() hides: whether any byte of the request may have reached the server.
//
// undici starts a request (onConnect, surfaced as onRequestStart) from its HTTP/1.1 writer when the socket is connected
// (TLS done) and immediately before it writes the request line (lib/dispatcher/client-h1.js,
// writeH1). So an error raised before onRequestStart (DNS failure, connection refused, connect
// timeout, TLS failure, or our own deadline while queued) proves Google never saw the request:
// phase 'queued'. From onRequestStart on, the request may be on the wire: phase 'sent'. Once the
// status line arrived: phase 'response'.

import { gunzip } from 'node:zlib';
import type { Dispatcher } from 'undici';

export type Phase = 'queued' | 'sent' | 'response';

export interface HttpRequest {
  readonly origin: string;
  readonly path: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** Whole-exchange deadline (connect + send + headers + body). */
  readonly timeoutMs: number;
  /** Answers with a larger body, as sent or once decoded, are cut off (default MAX_BODY_BYTES). */
  readonly maxBodyBytes?: number;
  readonly signal?: AbortSignal;
  /**
   * Told once the request leaves (its socket connected, before its first byte is written): the
   * keeper's quota dates its token then, not when it was granted (pacing.ts).
   */
  readonly onSent?: () => void;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** As decoded: a gzip answer (content-encoding: gzip) is gunzipped. */
  readonly body: Buffer;
}

/**
 * Bodies larger than this are cut off (asking again gets the same answer): about 300,000 rows of
 * 200 bytes, within Google's 10 million cells. A range is parsed whole, in one step, by the keeper
 * and by every worker: far below this, at 100,000 rows, that step already blocks each worker's loop
 * for seconds at each refresh of a changed copy (README: How large a sheet).
 */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export class TransportError extends Error {
  constructor(
    readonly phase: Phase,
    /**
     * 'timeout' = our deadline; 'aborted' = the caller's signal; 'network' = the connection failed;
     * 'too-large' = the answer's body is over the limit (asking again gets the same answer).
     */
    readonly kind: 'timeout' | 'aborted' | 'network' | 'too-large',
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TransportError';
  }

  /** Low-level code of the underlying failure (ECONNREFUSED, UND_ERR_SOCKET, ...). */
  get causeCode(): string | undefined {
    const code = (this.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? code : undefined;
  }
}

function flatten(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export function httpCall(dispatcher: Dispatcher, req: HttpRequest): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    let phase: Phase = 'queued';
    let settled = false;
    let abortRequest: ((err: Error) => void) | undefined;
    let status = 0;
    let headers: Record<string, string> = {};
    const chunks: Buffer[] = [];
    let size = 0;
    const maxBody = req.maxBodyBytes ?? MAX_BODY_BYTES;
    const tooLarge = (controller: { abort(reason: Error): void }) => {
      const err = new TransportError('response', 'too-large', `response body larger than ${maxBody} bytes`);
      settle(() => reject(err));
      controller.abort(err);
    };

    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const stop = (kind: 'timeout' | 'aborted', message: string) => {
      const err = new TransportError(phase, kind, message);
      settle(() => reject(err));
      // A request still queued is cancelled in onRequestStart, before any byte is written.
      abortRequest?.(err);
    };
    const timer = setTimeout(() => stop('timeout', `no complete answer within ${req.timeoutMs} ms`), req.timeoutMs);
    const onAbort = () => stop('aborted', 'the caller aborted the request');
    if (req.signal?.aborted) {
      onAbort();
      return;
    }
    req.signal?.addEventListener('abort', onAbort, { once: true });

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        if (settled) {
          controller.abort(new Error('cancelled before the request was sent'));
          return;
        }
        abortRequest = (err) => controller.abort(err);
        phase = 'sent';
        req.onSent?.();
      },
      onResponseStart(controller, statusCode, responseHeaders) {
        phase = 'response';
        status = statusCode;
        headers = flatten(responseHeaders);
        // A declared length over the limit is refused before its bytes are read.
        if (Number(headers['content-length']) > maxBody) tooLarge(controller);
      },
      onResponseData(controller, chunk) {
        if (settled) return;
        size += chunk.length;
        if (size > maxBody) {
          tooLarge(controller);
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd() {
        if (settled) return;
        const body = Buffer.concat(chunks);
        if (headers['content-encoding']?.trim().toLowerCase() !== 'gzip') {
          settle(() => resolve({ status, headers, body }));
          return;
        }
        // Decoded on libuv's threadpool, within the deadline, and bounded as the bytes sent are:
        // a few MB of gzip can hold far more than the limit.
        gunzip(body, { maxOutputLength: maxBody }, (err, decoded) => {
          if (!err) {
            const { 'content-encoding': _coding, 'content-length': _length, ...plain } = headers;
            settle(() => resolve({ status, headers: plain, body: decoded }));
          } else if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
            settle(() => reject(new TransportError('response', 'too-large', `response body larger than ${maxBody} bytes once decoded (gzip)`)));
          } else {
            // Google answered, its body is not gzip after all: the answer as it came, its status
            // mapped as any other and a body no JSON reading takes said as unreadable.
            settle(() => resolve({ status, headers, body }));
          }
        });
      },
      onResponseError(_controller, err) {
        const message = err.message || (err as { code?: string }).code || 'connection failed';
        settle(() => reject(new TransportError(phase, 'network', message, err)));
      },
    };

    try {
      dispatcher.dispatch(
        { origin: req.origin, path: req.path, method: req.method, headers: req.headers, ...(req.body === undefined ? {} : { body: req.body }) },
        handler,
      );
    } catch (err) {
      settle(() => reject(new TransportError('queued', 'network', (err as Error).message, err)));
    }
  });
}
