// corral installed in a minimal Debian booted with systemd-nspawn, the way README.md (Operations)
// says (dedicated user, settings file, `corral systemd-unit --output` the unit), for the system test
// files to drive with systemctl like an operator would. Each file that calls installedUnit() boots
// a container of its own: they run side by side (test/run.mjs), and the suite in one container took
// three minutes, longer than anything else in its phase.
//
// The container shares the host's network namespace (no --private-network), so the tests talk to
// corral over the host's loopback on a free high port; two containers at once each take their own.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { freePort } from '../helpers/ports.js';
import { bootContainer, ensureRoot, ROOT_CACHE, systemdTestSkipReason, type Container } from './container.js';
import type { Json } from './journal.js';
import type { UnitUnderTest } from './resource-limits.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const INSTALL = '/opt/corral';
export const ENV_FILE = '/etc/corral/corral.env';
export const UNIT = '/etc/systemd/system/corral.service';
const APP = `${INSTALL}/test/fixtures/apps/systemd-app.mjs`;
const INSTALLED = ['package.json', 'bin', 'dist', 'src/master/admin/static', 'config', 'systemd', 'README.md', 'node_modules', 'build', 'test/fixtures'];
/** The tests' own drop-in: a short watchdog so its effects show within seconds. */
export const WATCHDOG_SEC = 10;
/** Lines per 30 s and priority pool that journald keeps of the unit (times 1 to 6 for free disk space). */
const LOG_RATE_LIMIT_BURST = 1000;

/**
 * The describe() options of every file that boots a container: skipped (with the reason) when not
 * root or when debootstrap / systemd-nspawn are missing, as .ci/run installs them.
 */
export const SUITE_OPTIONS = { skip: systemdTestSkipReason() ?? false, timeout: 15 * 60_000 };

export interface InstalledUnit extends UnitUnderTest {
  /** Timings gathered in before(), for a file's first test to report (hooks have no diagnostic()). */
  readonly notes: readonly string[];
  /** Adds these entries to the settings file's (or changes them), and writes it. */
  writeSettings(extra: Record<string, string>): Promise<void>;
  /**
   * `systemctl stop` while a request of `slowMs` is in flight in a worker: the request completes,
   * the stop succeeds and corral exits 0 (not SIGKILLed at a timeout).
   */
  stopDuringSlowRequest(slowMs: number): Promise<void>;
}

/**
 * Registers, in the describe() it is called from, the before() that boots the container and
 * installs corral in it (the unit left stopped) and the after() that powers it off. The unit's
 * `c` and `base` are there once that before() has run; it ends with `booted` called with the unit,
 * for a file to keep them in variables of its own.
 */
export function installedUnit(booted?: (u: InstalledUnit) => void): InstalledUnit {
  let container: Container | undefined;
  let address: string | undefined;
  let settings: Record<string, string> = {};
  /** As the install wrote them. */
  let installed: Record<string, string> = {};
  const notes: string[] = [];

  const running = () => {
    if (container === undefined || address === undefined) throw new Error('the container is not booted: see the before() hook\'s failure');
    return { c: container, base: address };
  };
  const show = async (prop: string) => (await running().c.sh(`systemctl show corral.service -p ${prop} --value`)).trim();
  const writeSettings = async (extra: Record<string, string>) => {
    const { c } = running();
    settings = { ...settings, ...extra };
    c.writeFile(ENV_FILE, Object.entries(settings).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    await c.sh(`chown root:corral ${ENV_FILE} && chmod 0640 ${ENV_FILE}`);
  };

  before(
    async () => {
      const root = await ensureRoot(ROOT_CACHE, 10 * 60_000);
      notes.push(`debian root ${root.built ? 'built with debootstrap' : 'reused from .cache'} in ${root.ms} ms`);
      const port = await freePort();
      address = `http://127.0.0.1:${port}`;
      const started = Date.now();
      container = await bootContainer({
        root: root.dir,
        // Named by the test file's process: each file runs in a process of its own.
        machine: `corral-test-${process.pid}`,
        bootTimeoutMs: 90_000,
        binds: [
          { host: process.execPath, container: '/usr/bin/node' },
          // What `npm ci` leaves in an install (package.json "files" + node_modules + the addon), and our fixture.
          ...INSTALLED.filter((p) => existsSync(join(REPO, p))).map((p) => ({ host: join(REPO, p), container: `${INSTALL}/${p}` })),
        ],
      });
      const c = container;
      notes.push(`container booted in ${Date.now() - started} ms`);
      // The daily logrotate.timer would fire at boot (Persistent=true) and rotate at a random moment.
      await c.sh('systemctl stop logrotate.timer');
      // Install as README.md (Operations) says: dedicated user, settings file, generated unit.
      await c.sh('useradd --system --user-group --home-dir /var/lib/corral --no-create-home --shell /usr/sbin/nologin corral && install -d -m 0755 /etc/corral');
      settings = {};
      await writeSettings({
        CORRAL_BIND: `127.0.0.1:${port}`,
        CORRAL_WORKERS: '2',
        // A free port of its own: the container shares the host's ports with other tests. The
        // generated unit's ExecReload= (`corral reload --wait`) follows each reload through it.
        CORRAL_ADMIN_BIND: `127.0.0.1:${await freePort()}`,
        CORRAL_APP: APP,
        CORRAL_GRACEFUL_TIMEOUT: '10',
        CORRAL_PIDFILE: '/run/corral/corral.pid',
        CORRAL_DATA_DIR: '/var/lib/corral',
      });
      installed = { ...settings };
      c.writeFile('/etc/logrotate.d/corral', readFileSync(join(REPO, 'config', 'logrotate', 'corral'), 'utf8'));
      await c.sh(`/usr/bin/node ${INSTALL}/bin/corral systemd-unit --settings-file ${ENV_FILE} --output ${UNIT}`);
      c.writeFile('/etc/systemd/system/corral.service.d/test-watchdog.conf', `[Service]\nWatchdogSec=${WATCHDOG_SEC}\nTimeoutAbortSec=2\n`);
      // journald's rate limit, lowered so that the client loop of the reload check trips it in every
      // run, as a busy site's access lines trip the default one: lifecycle lines, warnings and errors
      // must still reach the journal (they carry priorities of their own; src/log/journal.ts).
      c.writeFile('/etc/systemd/system/corral.service.d/test-log-rate-limit.conf', `[Service]\nLogRateLimitIntervalSec=30s\nLogRateLimitBurst=${LOG_RATE_LIMIT_BURST}\n`);
      await c.sh('systemctl daemon-reload');
      booted?.(unit);
    },
    { timeout: 12 * 60_000 },
  );

  after(async () => {
    await container?.poweroff();
  });

  const unit: InstalledUnit = {
    get c() {
      return running().c;
    },
    get base() {
      return running().base;
    },
    notes,
    show,
    writeSettings,
    settings: () => ({ ...settings }),
    installed: () => ({ ...installed }),
    setSettings: async (all) => {
      settings = {};
      await writeSettings(all);
    },
    stopDuringSlowRequest: async (slowMs) => {
      const { c, base } = running();
      const agent = new Agent({ connections: 1 });
      try {
        // undici resolves at the response headers, which the fixture sends at once: the request is
        // now in flight inside a worker.
        const res = await request(`${base}/slow?ms=${slowMs}`, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 30_000 });
        assert.equal(res.statusCode, 200);
        const stopping = c.exec(['systemctl', 'stop', 'corral'], { timeoutMs: 60_000 });
        const body = (await res.body.json()) as Json;
        assert.equal(body.slept, slowMs, 'the slow request completed during the stop');
        const stop = await stopping;
        assert.equal(stop.code, 0, stop.stderr);
        assert.equal(await show('ActiveState'), 'inactive');
        assert.equal(await show('Result'), 'success', 'not "timeout": systemd did not SIGKILL the stop');
        assert.equal(await show('ExecMainStatus'), '0');
      } finally {
        await agent.close();
      }
    },
  };
  return unit;
}
