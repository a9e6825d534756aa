// The admin API's base URL as a command on this host asks it, from the address it binds: a
// wildcard bind is asked on loopback, an IPv6 address in brackets.

export function adminUrlOf(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}
