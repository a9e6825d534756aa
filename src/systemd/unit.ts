// Text of the systemd unit for one install of corral. `corral systemd-unit` prints it, and
// systemd/corral.service is this output for REFERENCE_UNIT_OPTIONS (a test keeps them equal).
// Every directive is explained in the generated text, since operators read the unit, not this file.

import { posix } from 'node:path';
import { timeoutStartSec, timeoutStopSec, watchdogSec } from './timeouts.js';
import { assertExecutablePath, assertUnitPath, execProgram, execWord, fileUrl, listWord, verbatim } from './unit-syntax.js';

export interface UnitOptions {
  /** Directory holding bin/corral, dist/ and node_modules/ (the npm package root). */
  readonly installDir: string;
  /** Absolute path of the node binary. */
  readonly nodePath: string;
  readonly user: string;
  readonly group: string;
  /** corral's settings file, passed as CORRAL_ENV_FILE so that a reload re-reads it. */
  readonly envFile: string;
  /** Optional file of extra process variables for systemd's EnvironmentFile= (NODE_OPTIONS...). */
  readonly processEnvFile: string;
  /** Writable state (journal, offline sheet, generated secrets); also the working directory. */
  readonly dataDir: string;
  /** Writable directory for CORRAL_LOG_FILE. */
  readonly logDir: string;
  readonly workers: number;
  readonly workerConnections: number;
  /** CORRAL_GRACEFUL_TIMEOUT, seconds. */
  readonly gracefulTimeout: number;
  /** CORRAL_TIMEOUT, seconds. */
  readonly timeout: number;
  /** CORRAL_RELOAD_SETTLE, seconds: a reload waits that long after each new worker's ready. */
  readonly reloadSettle: number;
  /** Port of CORRAL_BIND: below 1024 the unit grants CAP_NET_BIND_SERVICE and nothing else. */
  readonly bindPort: number;
  /**
   * Port of CORRAL_ADMIN_BIND (0: any free one), granted the same: refused it, the master runs
   * without its admin API (admin.failed), and `corral reload --wait`, the unit's ExecReload=,
   * cannot follow a reload, so every `systemctl reload` fails.
   */
  readonly adminPort: number;
  /**
   * Whether ExecReload= is `corral reload --wait`, which fails `systemctl reload` when the reload
   * did: it finds the master through CORRAL_PIDFILE and follows the reload through the admin API
   * the master recorded beside it (its port too, when CORRAL_ADMIN_BIND's is 0), so the settings
   * need a pidfile. Else `kill -HUP $MAINPID`, and a reload rolled back ends `systemctl reload` as
   * a success.
   */
  readonly reloadWait: boolean;
}

/** The options systemd/corral.service was generated with (a typical 4-CPU host, defaults elsewhere). */
export const REFERENCE_UNIT_OPTIONS: UnitOptions = {
  installDir: '/opt/corral',
  nodePath: '/usr/bin/node',
  user: 'corral',
  group: 'corral',
  envFile: '/etc/corral/corral.env',
  processEnvFile: '/etc/corral/node.env',
  dataDir: '/var/lib/corral',
  logDir: '/var/log/corral',
  workers: 16,
  workerConnections: 1000,
  gracefulTimeout: 30,
  timeout: 30,
  reloadSettle: 2,
  bindPort: 8080,
  adminPort: 9090,
  reloadWait: true,
};

/** The kernel's default fs.nr_open: a LimitNOFILE above it makes the unit fail to start. */
export const NR_OPEN_DEFAULT = 1_048_576;

/**
 * RLIMIT_NOFILE is per process. With shared accept (the default) one worker may hold up to the
 * host's whole cap, workers x CORRAL_WORKER_CONNECTIONS, plus a few dozen fds (IPC, log file,
 * keep-alive pools); with round-robin the master accepts every connection and holds it until a
 * worker takes it, so under a burst it may briefly hold up to all of them. Hence workers x
 * connections plus a margin, at least 65536, at most nr_open.
 */
export function limitNoFile(workers: number, workerConnections: number): number {
  const wanted = workers * workerConnections + 4096 + 256 * workers;
  return Math.min(NR_OPEN_DEFAULT, Math.max(65_536, wanted));
}

const SYSTEMD_MANAGED_PARENTS = { state: '/var/lib', logs: '/var/log' } as const;

/**
 * `/var/lib/corral` -> `corral` (StateDirectory=), or undefined for a path systemd does not manage.
 * A name with other characters than these is left to ReadWritePaths=: StateDirectory= reads `:` as
 * "source:symlink" (systemd 250+) and refuses names that are not plain relative paths.
 */
function managedName(dir: string, parent: string): string | undefined {
  const rel = posix.relative(parent, posix.normalize(dir));
  return rel !== '' && !rel.startsWith('..') && !posix.isAbsolute(rel) && /^[A-Za-z0-9._@+-]+(\/[A-Za-z0-9._@+-]+)*$/.test(rel) ? rel : undefined;
}

/**
 * The directories the unit makes writable with ReadWritePaths= rather than have systemd create
 * them (StateDirectory=, LogsDirectory=): --data-dir outside /var/lib, --log-dir outside /var/log.
 */
export function unmanagedDirs(o: Pick<UnitOptions, 'dataDir' | 'logDir'>): Array<{ flag: '--data-dir' | '--log-dir'; dir: string }> {
  const out: Array<{ flag: '--data-dir' | '--log-dir'; dir: string }> = [];
  if (managedName(o.dataDir, SYSTEMD_MANAGED_PARENTS.state) === undefined) out.push({ flag: '--data-dir', dir: o.dataDir });
  if (managedName(o.logDir, SYSTEMD_MANAGED_PARENTS.logs) === undefined) out.push({ flag: '--log-dir', dir: o.logDir });
  return out;
}

export function validateUnitOptions(o: UnitOptions): void {
  for (const key of ['installDir', 'nodePath', 'envFile', 'processEnvFile', 'dataDir', 'logDir'] as const) assertUnitPath(key, o[key]);
  assertExecutablePath('nodePath', o.nodePath);
  for (const key of ['user', 'group'] as const) {
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(o[key])) throw new TypeError(`${key} must be a valid user/group name (lower-case letters, digits, _ and -, starting with a letter or _, at most 32 characters), got ${JSON.stringify(o[key])}`);
  }
  for (const key of ['workers', 'workerConnections', 'gracefulTimeout', 'timeout', 'reloadSettle', 'bindPort', 'adminPort'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 0) throw new TypeError(`${key} must be a non-negative integer, got ${o[key]}`);
  }
}

export function renderUnit(o: UnitOptions): string {
  validateUnitOptions(o);
  const stateName = managedName(o.dataDir, SYSTEMD_MANAGED_PARENTS.state);
  const logsName = managedName(o.logDir, SYSTEMD_MANAGED_PARENTS.logs);
  const nofile = limitNoFile(o.workers, o.workerConnections);
  const privileged = (port: number) => port > 0 && port < 1024;
  const privilegedBinds = [privileged(o.bindPort) ? 'CORRAL_BIND' : undefined, privileged(o.adminPort) ? 'CORRAL_ADMIN_BIND' : undefined].filter((n) => n !== undefined);
  const corral = posix.join(o.installDir, 'bin', 'corral');

  const lines = [
    `# corral.service: generated by \`corral systemd-unit\`; regenerate rather than edit, or override`,
    `# single directives with \`systemctl edit corral\`. Install steps: README.md (Operations).`,
    `# Generated for: ${o.workers} workers x ${o.workerConnections} connections, graceful timeout ${o.gracefulTimeout}s, timeout ${o.timeout}s, port ${o.bindPort}.`,
    '',
    '[Unit]',
    'Description=corral: Node.js HTTP process supervisor (master + workers)',
    `Documentation=${fileUrl(posix.join(o.installDir, 'README.md'))}`,
    // time-sync.target: the keeper dates its journal's records and idempotency keys on the wall
    // clock; started before NTP set a clock that ran ahead, it forgot keys as past their TTL.
    // Passive: it only orders corral after a clock sync where one is waited for.
    'After=network-online.target time-sync.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    '# The master sends READY=1 once every initial worker listens, RELOADING=1/READY=1 around a',
    '# HUP reload, STOPPING=1, STATUS= lines and WATCHDOG=1, all from its own pid.',
    'Type=notify',
    `ExecStart=${execProgram(o.nodePath)} ${execWord(corral)} start`,
    '# Zero-downtime reload: re-reads the settings file, boots a new generation, retires the old one.',
    '# NotifyAccess=exec: the main process and the Exec*= commands may notify, the workers may not.',
    'NotifyAccess=exec',
    ...(o.reloadWait
      ? [
          '# First the settings are judged as the master will judge them: an edit it would refuse fails',
          '# `systemctl reload` (the message in `systemctl status` and the journal), and nothing is',
          '# signalled. Then the HUP, and the reload followed to its end: one refused, rolled back (its',
          '# new workers cannot boot; the old ones serve on) or left incomplete fails `systemctl reload`,',
          '# and says so in the journal. It finds the master through CORRAL_PIDFILE and asks its admin',
          '# API (no token needed; the address the master recorded beside its pidfile) where the reload',
          '# stands. It returns once the reload has ended, so the job lasts the reload without a',
          '# RELOADING=1 from here: one announced before a failure that signals nothing (no admin API',
          '# answering) left the job waiting for a READY=1 that no reload would send. One command: a',
          '# stop during the reload sends it SIGTERM, on which it exits 0 (killed by the signal, a',
          '# command leaves the unit failed); a `config --check` before it could not do so.',
          `ExecReload=${execProgram(o.nodePath)} ${execWord(corral)} reload --wait`,
        ]
      : [
          '# First the settings are judged as the master will judge them: an edit it would refuse fails',
          '# `systemctl reload` here (the message in `systemctl status` and the journal), and nothing is',
          '# signalled. Without it the reload "succeeded" and only the log said it was refused.',
          `ExecReload=${execProgram(o.nodePath)} ${execWord(corral)} config --check`,
          '# With Type=notify, systemd (before 253) ends the reload job as soon as ExecReload= exits,',
          '# unless RELOADING=1 arrived first; so it is announced before the HUP, and `systemctl reload`',
          '# then returns only at the READY=1 the master sends once the new generation serves (or the',
          '# reload was refused). systemd-notify runs here as the control process itself, which systemd',
          '# tracks, so the message is attributed reliably. (Type=notify-reload does this from 253 on.)',
          'ExecReload=/bin/systemd-notify RELOADING=1',
          '# Then the HUP. (The settings this unit was generated for have no pidfile, which `corral',
          '# reload --wait` needs to find the master: a reload rolled back ends `systemctl reload` as a',
          '# success here; the log and `systemctl status` say it failed.)',
          'ExecReload=/bin/kill -HUP $MAINPID',
        ]),
    '# SIGTERM goes to the master only, which drains its workers; whatever is left after',
    '# TimeoutStopSec gets SIGKILL, master and workers alike.',
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${timeoutStopSec(o.gracefulTimeout)}`,
    '# Waiting for READY=1 at the start: the keeper\'s boot and the workers\' (twice the 60 s, or',
    '# CORRAL_TIMEOUT, a worker has to become ready, and CORRAL_RELOAD_SETTLE it then stays ready',
    '# before an old one drains: or one retry) plus CORRAL_GRACEFUL_TIMEOUT. The master does not',
    '# extend it at the start: a start whose workers hang fails after two boots. A reload starts from',
    '# it too (a reload ends once the old workers drained), and the master renews it',
    '# (EXTEND_TIMEOUT_USEC) at each boot attempt and at the drain, up to the rollback.',
    `TimeoutStartSec=${timeoutStartSec(o.gracefulTimeout, o.timeout, o.reloadSettle)}`,
    '# A crash, a kill or a watchdog abort is restarted; settings that need an operator (exit 78:',
    '# an invalid value, an unreadable settings or log file, an admin API open without a token)',
    '# are not, or systemd would retry them every 2 s until its start limit.',
    'Restart=on-failure',
    'RestartPreventExitStatus=78',
    'RestartSec=2',
    "# A process of the unit killed by the kernel's OOM killer (a worker, ranked before the keeper",
    "# and the master by the oom_score_adj the master gives it at the fork) is the master's to",
    "# replace; systemd's default, stop, ended the whole service for it (cgroup v2), and Restart=",
    '# brought it back only after every client was cut.',
    'OOMPolicy=continue',
    `WatchdogSec=${watchdogSec(o.timeout)}`,
    '',
    `User=${o.user}`,
    `Group=${o.group}`,
    `WorkingDirectory=${verbatim(o.dataDir)}`,
    '# corral reads its settings file itself, at start and again on every reload; with',
    '# EnvironmentFile= the values systemd read at start would win over the edited file.',
    `Environment=${listWord(`CORRAL_ENV_FILE=${o.envFile}`)}`,
    '# Optional extra variables for the node processes (NODE_OPTIONS, proxies); read at start only.',
    `EnvironmentFile=-${verbatim(o.processEnvFile)}`,
    `# Per-process fd limit: ${o.workers} x ${o.workerConnections} connections plus margin (see limitNoFile).`,
    `LimitNOFILE=${nofile}`,
    'UMask=0027',
    'SyslogIdentifier=corral',
    '',
    '# Writable paths: everything else is read-only (ProtectSystem=strict).',
    'RuntimeDirectory=corral',
    ...(stateName
      ? [
          '# The data dir holds the login codes (offline sheet), the journal and the session secret:',
          "# the service's user only (systemd's default mode for it is 0755).",
          `StateDirectory=${stateName}`,
          'StateDirectoryMode=0700',
        ]
      : [`ReadWritePaths=${listWord(o.dataDir)}`]),
    ...(logsName ? [`LogsDirectory=${logsName}`] : [`ReadWritePaths=${listWord(o.logDir)}`]),
    '',
    '# Hardening. Not set, on purpose: MemoryDenyWriteExecute= (V8 JIT-compiles into writable and',
    '# executable pages, node would abort), ProcSubset=pid (hides /proc/stat and /proc/meminfo,',
    '# which the master reads for CPU and RAM), PrivateNetwork= (corral serves HTTP).',
    'NoNewPrivileges=yes',
    ...(privilegedBinds.length > 0
      ? [`# ${privilegedBinds.join(' and ')} ${privilegedBinds.length > 1 ? 'use ports' : 'uses a port'} below 1024: the only capability granted.`, 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE']
      : ['CapabilityBoundingSet=']),
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'RestrictSUIDSGID=yes',
    'RestrictRealtime=yes',
    'RestrictNamespaces=yes',
    'LockPersonality=yes',
    'RemoveIPC=yes',
    '# AF_NETLINK: os.networkInterfaces() (getifaddrs) needs it.',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallErrorNumber=EPERM',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}
