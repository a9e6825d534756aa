// A URL whose user or password holds a `/`, `?` or `#` not percent-encoded. The host part of a URL
// ends at the first of them, so such a password is not read as one: `http://svc:2024/secret@proxy`
// parses as host `svc`, port 2024, and a path, and `redis://user:12#34@host` as host `user`, port
// 12. Nothing then hides the password where the URL is shown (only what parses as a password is
// replaced by ***), and the connection goes to a host named after the user. An `@` after that
// first `/`, `?` or `#` (in the first path segment, a query's name or the fragment) gives it away:
// none of those holds one in a URL written as meant, while a query's value may (?password=a@b).

export function reservedInUserinfo(raw: string): boolean {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)([/?#])(.*)$/is.exec(raw);
  if (!m) return false;
  const [, , end, after = ''] = m;
  const piece = end === '#' ? after : end === '?' ? (/^[^=&]*/.exec(after)?.[0] ?? '') : (/^[^/?#]*/.exec(after)?.[0] ?? '');
  return piece.includes('@');
}
