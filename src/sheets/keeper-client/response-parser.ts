// Reads one HTTP/1.1 response from bytes as they arrive: the status line, the headers, and a body
// framed by Content-Length or by chunked transfer coding (what node:http answers send). Only what a
// keeper answer can be: no 1xx answers, no trailers kept, no bodyless methods (the link sends no
// HEAD). Anything else is an error, and the connection it came on is not reused.

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** A head larger than this is not the keeper talking. */
const MAX_HEAD_BYTES = 64 * 1024;

export interface ParsedResponse {
  readonly status: number;
  readonly body: Buffer;
  /** The server said Connection: close: the connection cannot carry another request. */
  readonly close: boolean;
}

type State = { readonly kind: 'head' } | { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' };

export class ResponseParser {
  private pending: Buffer = Buffer.alloc(0);
  private state: State = { kind: 'head' };
  private status = 0;
  private close = false;
  private readonly bodyParts: Buffer[] = [];
  private bodyBytes = 0;

  /**
   * Adds bytes; returns the response once it is complete, else undefined. Throws on bytes that are
   * not an HTTP/1.1 response, or on bytes after the end of one (the link never pipelines).
   */
  push(chunk: Buffer): ParsedResponse | undefined {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const s = this.state;
      if (s.kind === 'head') {
        const end = this.pending.indexOf(HEAD_END);
        if (end === -1) {
          if (this.pending.length > MAX_HEAD_BYTES) throw new Error(`answer head over ${MAX_HEAD_BYTES} bytes`);
          return undefined;
        }
        this.readHead(this.pending.toString('latin1', 0, end));
        this.pending = this.pending.subarray(end + HEAD_END.length);
        continue;
      }
      if (s.kind === 'length') {
        if (this.pending.length < s.length) return undefined;
        if (this.pending.length > s.length) throw new Error('bytes after the end of the answer');
        return this.done(this.pending);
      }
      // Chunked: <hex size>[;ext]\r\n<data>\r\n ... 0\r\n[trailers]\r\n
      const lineEnd = this.pending.indexOf(CRLF);
      if (lineEnd === -1) return undefined;
      const sizeText = this.pending.toString('latin1', 0, lineEnd).split(';', 1)[0]?.trim() ?? '';
      if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new Error(`malformed chunk size "${sizeText.slice(0, 20)}"`);
      const size = parseInt(sizeText, 16);
      if (size === 0) {
        // The last chunk, then an empty line (node:http sends no trailers; the link takes none).
        const rest = this.pending.subarray(lineEnd + CRLF.length);
        if (rest.length < CRLF.length) return undefined;
        if (!rest.subarray(0, CRLF.length).equals(CRLF)) throw new Error('trailers in a keeper answer');
        if (rest.length > CRLF.length) throw new Error('bytes after the end of the answer');
        return this.done(Buffer.concat(this.bodyParts, this.bodyBytes));
      }
      const dataStart = lineEnd + CRLF.length;
      if (this.pending.length < dataStart + size + CRLF.length) return undefined;
      this.bodyParts.push(this.pending.subarray(dataStart, dataStart + size));
      this.bodyBytes += size;
      if (!this.pending.subarray(dataStart + size, dataStart + size + CRLF.length).equals(CRLF)) throw new Error('chunk not followed by CRLF');
      this.pending = this.pending.subarray(dataStart + size + CRLF.length);
    }
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
    if (chunked) this.state = { kind: 'chunked' };
    else if (length !== undefined) this.state = { kind: 'length', length };
    else if (this.status === 204 || this.status === 304) this.state = { kind: 'length', length: 0 };
    // An answer delimited by the end of the connection cannot be told from a cut one.
    else throw new Error('answer without Content-Length or chunked coding');
  }

  private done(body: Buffer): ParsedResponse {
    this.pending = Buffer.alloc(0);
    return { status: this.status, body, close: this.close };
  }
}
