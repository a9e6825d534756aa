// How many times a request carries a header field. node:http keeps the first of several
// Authorization, Host or Content-Type fields in req.headers and drops the others without a word, so
// a request judged on req.headers alone was judged on whichever came first; the fields that are
// not lists (RFC 9110 §5.3) are counted in rawHeaders and refused when sent twice.

/** How many fields named `lowerName` (lower case) `rawHeaders` holds. */
export function fieldCount(rawHeaders: readonly string[], lowerName: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) n++;
  }
  return n;
}
