// The request target (`req.url`) as a URL, the way a proxy in front saw it: the app and the admin
// API both route on it.

/**
 * Parses a request target against `base` (an origin such as http://app.invalid). An origin-form
 * target is a path, whatever follows its first `/`: resolved against the base, `//evil/api/admin`
 * would be read as a host and a different path, and get past a proxy's path rules (the shipped
 * nginx block on /api/admin/), so it is appended instead. A backslash stays a character of the
 * path (%5C): the URL parser would turn it into a `/` that nginx never saw. Throws a TypeError
 * when the target cannot be a URL.
 */
export function urlOfTarget(target: string, base: string): URL {
  const path = target.replace(/\\/g, '%5C');
  return path.startsWith('/') ? new URL(base + path) : new URL(path, base);
}
