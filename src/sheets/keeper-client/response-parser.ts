// Reads one HTTP/1.1 response from bytes as they arrive: the status line, the headers, and a body
// framed by Content-Length or by chunked transfer coding (what node:http answers send). Only what a
// keeper answer can be: no 1xx answers, no trailers, no bodyless methods (the link sends no HEAD).
// Anything else is an error, and the connection it came on is not reused. The bytes pushed may be
// a view of a buffer the next socket read overwrites (connection.ts reads into one shared buffer),
// so nothing keeps a view of them: a Content-Length body is copied once, straight into the answer,
// and a chunked one into its pieces. A sheet of several megabytes arrives in many reads.

const HEAD_END = Buffer.from('\r\n\r\n');
/** A head larger than this is not the keeper talking. */
const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line (hex size, maybe an extension) larger than this is not either. */
const MAX_SIZE_LINE_BYTES = 1024;
const CR = 13;
const LF = 10;

export interface ParsedResponse {
  readonly status: number;
  readonly body: Buffer;
  /** The server said Connection: close: the connection cannot carry another request. */
  readonly close: boolean;
}

type State =
  | { readonly kind: 'head' }
  | { readonly kind: 'body'; remaining: number }
  | { readonly kind: 'chunk-size' }
  | { readonly kind: 'chunk-data'; remaining: number }
  /** The CRLF after a chunk's data (`last`: after the zero-size chunk, ending the answer). */
  | { readonly kind: 'chunk-end'; readonly last: boolean; seen: number };

export class ResponseParser {
  /** Bytes of the head or of a chunk-size line not complete yet (both bounded). */
  private partial: Buffer = Buffer.alloc(0);
  private state: State = { kind: 'head' };
  private status = 0;
  private close = false;
  private readonly bodyParts: Buffer[] = [];
  private bodyBytes = 0;
  /** A Content-Length body, allocated whole when the head is read. */
  private sized: Buffer | undefined;
  private finished = false;

  /**
   * Adds bytes; returns the response once it is complete, else undefined. Throws on bytes that are
   * not an HTTP/1.1 response, or on bytes after the end of one (the link never pipelines).
   */
  push(chunk: Buffer): ParsedResponse | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.finished) throw new Error('bytes after the end of the answer');
      const s = this.state;
      if (s.kind === 'head') {
        const buf = this.partial.length === 0 ? chunk.subarray(at) : Buffer.concat([this.partial, chunk.subarray(at)]);
        const end = buf.indexOf(HEAD_END);
        if (end === -1) {
          if (buf.length > MAX_HEAD_BYTES) throw new Error(`answer head over ${MAX_HEAD_BYTES} bytes`);
          this.partial = Buffer.from(buf);
          return undefined;
        }
        // Where the head ends within this chunk (part of it may have come in earlier chunks).
        at += end + HEAD_END.length - this.partial.length;
        this.partial = Buffer.alloc(0);
        this.readHead(buf.toString('latin1', 0, end));
        if (this.state.kind === 'body' && this.state.remaining === 0) this.finished = true;
      } else if (s.kind === 'body' || s.kind === 'chunk-data') {
        const take = Math.min(s.remaining, chunk.length - at);
        if (this.sized) chunk.copy(this.sized, this.bodyBytes, at, at + take);
        else this.bodyParts.push(Buffer.from(chunk.subarray(at, at + take)));
        this.bodyBytes += take;
        s.remaining -= take;
        at += take;
        if (s.remaining === 0) {
          if (s.kind === 'body') this.finished = true;
          else this.state = { kind: 'chunk-end', last: false, seen: 0 };
        }
      } else if (s.kind === 'chunk-size') {
        const lf = chunk.indexOf(LF, at);
        const piece = chunk.subarray(at, lf === -1 ? chunk.length : lf + 1);
        const line = this.partial.length === 0 ? piece : Buffer.concat([this.partial, piece]);
        if (line.length > MAX_SIZE_LINE_BYTES) throw new Error('chunk-size line too long');
        at += piece.length;
        if (lf === -1) {
          this.partial = Buffer.from(line);
          continue;
        }
        this.partial = Buffer.alloc(0);
        if (line.length < 2 || line[line.length - 2] !== CR) throw new Error('chunk-size line not ended by CRLF');
        const sizeText = line.toString('latin1', 0, line.length - 2).split(';', 1)[0]?.trim() ?? '';
        if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new Error(`malformed chunk size "${sizeText.slice(0, 20)}"`);
        const size = parseInt(sizeText, 16);
        this.state = size === 0 ? { kind: 'chunk-end', last: true, seen: 0 } : { kind: 'chunk-data', remaining: size };
      } else {
        // chunk-end: exactly CRLF (after the last chunk, a CR here would start a trailer).
        const want = s.seen === 0 ? CR : LF;
        if (chunk[at] !== want) throw new Error(s.last ? 'trailers in a keeper answer' : 'chunk not followed by CRLF');
        at++;
        s.seen++;
        if (s.seen === 2) {
          if (s.last) this.finished = true;
          else this.state = { kind: 'chunk-size' };
        }
      }
    }
    return this.finished ? this.answer() : undefined;
  }

  private readHead(head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!m) throw new Error(`not an HTTP/1.1 answer: "${(lines[0] ?? '').slice(0, 40)}"`);
    this.status = Number(m[1]);
    if (this.status < 200) throw new Error(`unexpected interim answer ${this.status}`);
    let length: number | undefined;
    let chunked = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`malformed header line "${line.slice(0, 40)}"`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) throw new Error(`bad Content-Length "${value}"`);
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        if (value.toLowerCase() !== 'chunked') throw new Error(`unsupported Transfer-Encoding "${value}"`);
        chunked = true;
      } else if (name === 'connection') {
        this.close = value.toLowerCase().split(',').some((t) => t.trim() === 'close');
      }
    }
    if (chunked) this.state = { kind: 'chunk-size' };
    else if (length !== undefined) {
      this.state = { kind: 'body', remaining: length };
      this.sized = Buffer.allocUnsafe(length);
    }
    else if (this.status === 204 || this.status === 304) this.state = { kind: 'body', remaining: 0 };
    // An answer delimited by the end of the connection cannot be told from a cut one.
    else throw new Error('answer without Content-Length or chunked coding');
  }

  private answer(): ParsedResponse {
    return { status: this.status, body: this.sized ?? Buffer.concat(this.bodyParts, this.bodyBytes), close: this.close };
  }
}
