// Settings of the supervisor itself: master, workers, logs, admin listener.

import { usableCpus } from '../cpu-quota.js';
import { addressList, bool, hostPort, int, oneOf, str } from './spec.js';

/** The most workers a master runs: the settings' bound, and TTIN's and the admin API's. */
export const MAX_WORKERS = 512;

/**
 * CPU×4, the operators' default, within the range an explicit value is held to: on a 200-CPU host
 * the default was 800 while CORRAL_WORKERS=800 was refused as outside 1..512.
 */
export function defaultWorkers(cpus: number): number {
  return Math.min(cpus * 4, MAX_WORKERS);
}

export const daemonSchema = {
  CORRAL_BIND: hostPort({
    description: 'Address the workers serve HTTP on: one TCP host:port ([v6]:port for IPv6); not a unix: socket, not a list.',
    default: { host: '0.0.0.0', port: 8080 },
    aliases: ['GUNICORN_BIND'],
  }),
  CORRAL_WORKERS: int({
    description: 'Number of worker processes (more than the CPU count costs throughput on Node; see README).',
    default: () => defaultWorkers(usableCpus()),
    defaultText: 'CPU count x 4, at most 512',
    example: '8',
    min: 1,
    max: MAX_WORKERS,
    aliases: ['GUNICORN_WORKERS'],
  }),
  CORRAL_WORKER_CONNECTIONS: int({
    description: 'Open connections per worker: the host holds workers x this (unless CORRAL_MAX_CONNECTIONS is lower), and one more gets an immediate 503. With shared accept one worker may hold more while others hold less.',
    default: 1000,
    min: 1,
    max: 100000,
    aliases: ['GUNICORN_WORKER_CONNECTIONS'],
  }),
  CORRAL_ACCEPT: oneOf({
    description:
      'Who accepts connections: shared = every worker from one shared socket, as gunicorn does (the master leaves the connection path: a burst of new connections is served at once, each costs half the CPU, a stuck worker takes none; uneven spread, the host cap still exact); round-robin = the master, dealing them to workers in turn (even spread, but a burst of new ones waits to be dealt out one by one; see README).',
    default: 'shared',
    values: ['round-robin', 'shared'] as const,
  }),
  CORRAL_BACKLOG: int({
    description: 'Connections the kernel queues before they are accepted (capped by net.core.somaxconn).',
    default: 2048,
    min: 1,
    max: 65535,
    aliases: ['GUNICORN_BACKLOG'],
  }),
  CORRAL_TIMEOUT: int({
    description: 'Seconds of heartbeat silence before a worker is killed and replaced.',
    default: 30,
    min: 1,
    max: 3600,
    unit: 'seconds',
    aliases: ['GUNICORN_TIMEOUT'],
    zero: "gunicorn's 0 turns its timeout off; corral always watches its workers' heartbeats (they beat while requests wait on I/O), so a slow request is no reason for a long one: give the longest a worker's event loop may be blocked",
  }),
  CORRAL_GRACEFUL_TIMEOUT: int({
    description: 'Seconds in-flight requests get to finish on stop, reload or recycle.',
    default: 30,
    min: 0,
    max: 3600,
    unit: 'seconds',
    aliases: ['GUNICORN_GRACEFUL_TIMEOUT'],
  }),
  CORRAL_KEEPALIVE: int({
    description: 'Seconds an idle keep-alive connection stays open, unless a new connection needs its slot at the connection cap (0 = no keep-alive: every response closes its connection).',
    default: 5,
    min: 0,
    max: 3600,
    unit: 'seconds',
    aliases: ['GUNICORN_KEEPALIVE'],
  }),
  CORRAL_MAX_REQUESTS: int({
    description: 'Recycle a worker after this many requests (0 = never).',
    default: 0,
    min: 0,
    max: 1e9,
    aliases: ['GUNICORN_MAX_REQUESTS'],
  }),
  CORRAL_MAX_REQUESTS_JITTER: int({
    description: 'Random extra requests (0..N) added to CORRAL_MAX_REQUESTS per worker, so they do not recycle together.',
    default: 0,
    min: 0,
    max: 1e9,
    // Beside GUNICORN_MAX_REQUESTS, which is taken: the pair left half-read recycled every worker
    // at the same count, the one thing the jitter had been set to prevent.
    aliases: ['GUNICORN_MAX_REQUESTS_JITTER'],
  }),
  CORRAL_MAX_WORKER_MEMORY_MB: int({
    description: 'Recycle a worker whose RSS exceeds this many MiB (0 = never); set it well above what a worker weighs once ready: a worker already over it then is not recycled (its replacement would start as big), and worker.memory_limit_below_start says so. The RSS counts pages the worker shares with the others too (node\'s code, and the host counters\' table as clients fill it: up to 16 MiB more on a host many addresses reach), so leave that much room.',
    default: 0,
    min: 0,
    max: 1048576,
    unit: 'MiB',
  }),
  CORRAL_APP: str({
    description: 'Module of the app to serve (exports createApp(ctx) or a default request listener); unset = the bundled app.',
    default: undefined,
  }),
  CORRAL_PIDFILE: str({
    description: 'File the master writes its pid to; reload/stop/status find it there. Empty = none (they cannot find the master).',
    default: 'corral.pid',
  }),
  CORRAL_LOG_FILE: str({
    description: 'JSON log file shared by all processes (unset = stdout). USR1 reopens it.',
    default: undefined,
  }),
  CORRAL_LOG_LEVEL: oneOf({
    description: 'Minimum log level.',
    default: 'info',
    values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const,
  }),
  CORRAL_ACCESS_LOG: bool({
    description: 'Log one line per request (method, path with its query, credential-like values replaced, status, ms, bytes, remote, worker).',
    default: true,
  }),
  CORRAL_ADMIN_BIND: hostPort({
    description: 'Address of the master\'s admin API and /admin dashboard (port 0 = any free port, logged); a port alone stays on 127.0.0.1.',
    default: { host: '127.0.0.1', port: 9090 },
  }),
  CORRAL_ADMIN_TOKEN: str({
    description: 'Bearer token for the admin API; required when CORRAL_ADMIN_BIND is not loopback.',
    default: undefined,
    secret: true,
    minLength: 16,
    // It travels in an Authorization header: a space or a non-ASCII character could never match.
    pattern: /^[\x21-\x7e]+$/,
    patternText: 'printable ASCII without spaces (it is sent in an HTTP header)',
  }),
  CORRAL_DATA_DIR: str({
    description: 'Directory for the write journal, offline sheet and generated secrets; created if missing (a path that is a file, or under one, or that the user corral runs as cannot write in or create: refused, exit 78). Takes effect at start, not on reload (the running keeper goes on with its journal there).',
    default: 'data',
    emptyIsDefault: true,
  }),
  CORRAL_BOOT_ATTEMPTS: int({
    description: 'Failed boots in a row (no worker ready) before the master gives up and exits 3.',
    default: 5,
    min: 1,
    max: 100,
  }),
  CORRAL_RELOAD_SETTLE: int({
    description: 'Seconds a replacement (a reload\'s new worker, a recycle\'s) must stay ready before the worker it replaces drains; a reload\'s new worker that dies sooner counts as a failed boot, so the reload rolls back while the old generation serves (0 = drain at once, as gunicorn does).',
    default: 2,
    min: 0,
    max: 600,
    unit: 'seconds',
  }),
  CORRAL_LIMIT_REQUEST_FIELDS: int({
    description: 'Maximum number of request header fields (more = 431).',
    default: 100,
    min: 1,
    max: 10000,
    // gunicorn's limit_request_fields: the same count, the same default.
    aliases: ['GUNICORN_LIMIT_REQUEST_FIELDS'],
    zero: "gunicorn reads 0 as its own maximum (32768 fields); corral has no unlimited count: give the most a request may send (at most 10000)",
  }),
  CORRAL_LIMIT_REQUEST_HEADER_BYTES: int({
    description: "Maximum size in bytes of the request line and headers together, as node:http counts them: the target and each header's name and value, not the method, the version, the `: ` or the line ends (more = 431; 414 when the request line alone is longer).",
    default: 16384,
    min: 1024,
    max: 1048576,
    unit: 'bytes',
  }),
  CORRAL_LIMIT_REQUEST_BODY_BYTES: int({
    description: 'Maximum request body size in bytes (more = 413).',
    default: 1048576,
    min: 0,
    max: 1073741824,
    unit: 'bytes',
  }),
  CORRAL_REQUEST_TIMEOUT: int({
    description: 'Seconds a client has to send a whole request, headers and body (slower = 408; stops slow-body clients holding slots).',
    default: 60,
    min: 1,
    max: 3600,
    unit: 'seconds',
  }),
  CORRAL_HEADERS_TIMEOUT: int({
    description: 'Seconds a client has to send complete request headers (slower = 408).',
    default: 10,
    min: 1,
    max: 600,
    unit: 'seconds',
  }),
  CORRAL_SEND_TIMEOUT: int({
    description: 'Seconds a connection may make no progress sending an answer before it is closed (stops clients that never read holding slots).',
    default: 60,
    min: 1,
    max: 3600,
    unit: 'seconds',
  }),
  CORRAL_STUCK_STACKS: bool({
    description: 'Before killing a stuck worker (or the keeper), log its JavaScript stack, read through a pipe only the master holds.',
    default: true,
  }),
  CORRAL_TRUSTED_PROXIES: addressList({
    description: 'Addresses whose X-Forwarded-For is believed (e.g. 127.0.0.1 for a local nginx).',
    default: [],
  }),
} as const;
