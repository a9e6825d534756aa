import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { loadSettings } from '../../src/config/load.js';
import { adminBindProblem, bindOverlapProblem } from '../../src/config/whole-checks.js';
import { refusal, withDir } from '../fixtures/settings-dir.js';

const at = (bind: string) => {
  const [host = '', port = ''] = bind.startsWith('[') ? [bind.slice(1, bind.indexOf(']')), bind.slice(bind.indexOf(']') + 2)] : bind.split(':');
  return { host, port: Number(port) };
};
const TOKEN = 'admin-token-0123456789abcdef';

describe('adminBindProblem', () => {
  it('refuses a non-loopback bind without a token, also on port 0 (an ephemeral port there is just as reachable)', () => {
    assert.match(adminBindProblem({ CORRAL_ADMIN_BIND: at('0.0.0.0:9090'), CORRAL_ADMIN_TOKEN: undefined }) ?? '', /reachable from other hosts but CORRAL_ADMIN_TOKEN is unset/);
    assert.ok(adminBindProblem({ CORRAL_ADMIN_BIND: at('0.0.0.0:0'), CORRAL_ADMIN_TOKEN: undefined }));
  });
  it('accepts loopback without a token and any bind with a token', () => {
    for (const bind of ['127.0.0.1:9090', '[::1]:9090', 'localhost:9090', 'LOCALHOST:9090', '127.8.9.10:9090', '[::ffff:127.0.0.1]:9090']) {
      assert.equal(adminBindProblem({ CORRAL_ADMIN_BIND: at(bind), CORRAL_ADMIN_TOKEN: undefined }), undefined, bind);
    }
    assert.equal(adminBindProblem({ CORRAL_ADMIN_BIND: at('0.0.0.0:9090'), CORRAL_ADMIN_TOKEN: TOKEN }), undefined);
  });
  it('takes a host name that starts with 127. as remote: DNS decides where it points', () => {
    for (const bind of ['127.corp.example:9090', '127.0.0.1.nip.io:9090', '[::ffff:10.0.0.1]:9090']) {
      assert.ok(adminBindProblem({ CORRAL_ADMIN_BIND: at(bind), CORRAL_ADMIN_TOKEN: undefined }), bind);
    }
  });
});

describe('bindOverlapProblem', () => {
  it('refuses the admin API on the workers\' port where the two overlap, and names CORRAL_BIND', () => {
    assert.match(bindOverlapProblem({ CORRAL_BIND: at('0.0.0.0:24111'), CORRAL_ADMIN_BIND: at('127.0.0.1:24111') }) ?? '', /overlaps CORRAL_BIND=0\.0\.0\.0:24111.*give CORRAL_ADMIN_BIND another port/);
    assert.ok(bindOverlapProblem({ CORRAL_BIND: at('127.0.0.1:8080'), CORRAL_ADMIN_BIND: at('127.0.0.1:8080') }));
    assert.ok(bindOverlapProblem({ CORRAL_BIND: at('[::]:8080'), CORRAL_ADMIN_BIND: at('127.0.0.1:8080') }, true));
  });
  it('suggests a port the workers do not hold: CORRAL_BIND on 9090, the admin API\'s default port, was told "e.g. 127.0.0.1:9090"', () => {
    // The operator moved only CORRAL_BIND, to a common port; the admin API kept its default.
    withDir((dir) => {
      writeFileSync(join(dir, '.env'), 'CORRAL_BIND=127.0.0.1:9090\n');
      const err = refusal(() => loadSettings({ cwd: dir, env: {} }));
      assert.deepEqual(
        err.problems.map((p) => [p.name, p.source, p.allowed]),
        [['CORRAL_ADMIN_BIND', 'default', 'overlaps CORRAL_BIND=127.0.0.1:9090 (the same port, and one of them on every address or both on the same one): the admin API would hold the port the workers serve on; give CORRAL_ADMIN_BIND another port (e.g. 127.0.0.1:9091), or CORRAL_BIND another']],
      );
    });
    assert.match(bindOverlapProblem({ CORRAL_BIND: at('0.0.0.0:8080'), CORRAL_ADMIN_BIND: at('127.0.0.1:8080') }) ?? '', /\(e\.g\. 127\.0\.0\.1:9090\), or CORRAL_BIND another$/);
  });
  it('accepts another port, two distinct addresses, port 0, and leaves host names but localhost to listen time', () => {
    assert.equal(bindOverlapProblem({ CORRAL_BIND: at('0.0.0.0:8080'), CORRAL_ADMIN_BIND: at('127.0.0.1:9090') }), undefined);
    assert.equal(bindOverlapProblem({ CORRAL_BIND: at('127.0.0.2:8080'), CORRAL_ADMIN_BIND: at('127.0.0.1:8080') }), undefined);
    assert.equal(bindOverlapProblem({ CORRAL_BIND: at('127.0.0.1:0'), CORRAL_ADMIN_BIND: at('127.0.0.1:0') }), undefined);
    assert.equal(bindOverlapProblem({ CORRAL_BIND: at('app.internal:8080'), CORRAL_ADMIN_BIND: at('127.0.0.1:8080') }), undefined);
    // localhost is loopback: on the admin API's port, the workers could never listen.
    assert.match(bindOverlapProblem({ CORRAL_BIND: at('localhost:8080'), CORRAL_ADMIN_BIND: at('127.0.0.1:8080') }) ?? '', /^overlaps CORRAL_BIND=localhost:8080 /);
  });
});

describe('loadSettings judges the settings as a whole', () => {
  it('an admin API beyond loopback without a token is refused with its own code, and the did-you-mean that explains it comes with it', () => {
    withDir((dir) => {
      writeFileSync(join(dir, '.env'), 'CORRAL_ADMIN_BIND=0.0.0.0:24031\nCORRAL_ADMIN_TOKNE=0123456789abcdef0123\n');
      const err = refusal(() => loadSettings({ cwd: dir, env: {} }));
      assert.equal(err.code, 'CORRAL_ERR_ADMIN_UNSAFE');
      assert.match(err.message, /^CORRAL_ADMIN_BIND=0\.0\.0\.0:24031 is reachable from other hosts but CORRAL_ADMIN_TOKEN is unset/);
      assert.match(err.message, /\n {2}note: unknown setting CORRAL_ADMIN_TOKNE \(\S+\.env line 2\): did you mean CORRAL_ADMIN_TOKEN\?/);
      assert.deepEqual(err.problems.map((p) => [p.name, p.code]), [['CORRAL_ADMIN_BIND', 'CORRAL_ERR_ADMIN_UNSAFE']]);
      assert.match(err.problems[0]?.source ?? '', /\.env line 1$/);
      assert.deepEqual(err.warnings, [`unknown setting CORRAL_ADMIN_TOKNE (${join(dir, '.env')} line 2): did you mean CORRAL_ADMIN_TOKEN?`]);
    });
  });

  it('an invalid value, an unsafe admin API, a log file and a pidfile that cannot be written are all reported at once', () => {
    withDir((dir) => {
      writeFileSync(join(dir, 'afile'), '');
      const env = { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: 'x', CORRAL_ADMIN_BIND: '0.0.0.0:24032', CORRAL_LOG_FILE: 'afile/x.log', CORRAL_PIDFILE: '.' };
      const err = refusal(() => loadSettings({ cwd: dir, env, judgePidfile: true }));
      assert.equal(err.code, 'CORRAL_ERR_CONFIG_INVALID');
      assert.deepEqual(err.problems.map((p) => p.name), ['CORRAL_WORKERS', 'CORRAL_ADMIN_BIND', 'CORRAL_LOG_FILE', 'CORRAL_PIDFILE']);
      assert.match(err.message, /CORRAL_ADMIN_BIND="0\.0\.0\.0:24032" \(from environment\): is reachable from other hosts.* \[CORRAL_ERR_ADMIN_UNSAFE\]/);
      assert.match(err.message, /CORRAL_LOG_FILE=".*afile\/x\.log" \(from environment\): cannot be opened for appending: .*afile is not a directory; create its directory writable by the user corral runs as, or point CORRAL_LOG_FILE elsewhere \(unset: the log goes to stdout\) \[CORRAL_ERR_LOG_FILE\]/);
      assert.match(err.message, /CORRAL_PIDFILE=".*" \(from environment\): cannot be written: it is a directory.* \[CORRAL_ERR_PIDFILE\]/);
    });
  });

  it('a pidfile whose start stamp cannot be written is refused as start refuses it, not said OK', () => {
    withDir((dir) => {
      // A directory at the stamp's path stands for a directory the service's user may not write,
      // with the pidfile made for it beforehand, which root (running this test) cannot set up.
      writeFileSync(join(dir, 'corral.pid'), '');
      mkdirSync(join(dir, 'corral.pid.start'));
      const err = refusal(() => loadSettings({ cwd: dir, env: { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: 'corral.pid' }, judgePidfile: true }));
      assert.equal(err.code, 'CORRAL_ERR_PIDFILE');
      assert.match(err.message, /cannot be written: its start stamp beside it, .*corral\.pid\.start, cannot be written: it is a directory/);
    });
  });

  it('a pidfile is judged only when asked (start, config), a log file only where files are read, and nothing is created', () => {
    withDir((dir) => {
      writeFileSync(join(dir, 'afile'), '');
      const env = { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: 'afile/corral.pid' };
      assert.doesNotThrow(() => loadSettings({ cwd: dir, env }), 'a reload does not move the pidfile');
      assert.equal(refusal(() => loadSettings({ cwd: dir, env, judgePidfile: true })).code, 'CORRAL_ERR_PIDFILE');
      assert.doesNotThrow(() => loadSettings({ cwd: dir, env: { CORRAL_ENV_FILE: 'none', CORRAL_LOG_FILE: 'afile/x.log' }, readFiles: false }));
      assert.equal(refusal(() => loadSettings({ cwd: dir, env: { CORRAL_ENV_FILE: 'none', CORRAL_LOG_FILE: 'afile/x.log' } })).code, 'CORRAL_ERR_LOG_FILE');
    });
  });

  it('a reload judges a CORRAL_PIDFILE moved since start as start will (the restart it asks for writes it), not the running one', () => {
    withDir((dir) => {
      writeFileSync(join(dir, 'afile'), '');
      const running = join(dir, 'corral.pid');
      const moved = { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: 'afile/corral.pid' };
      // Accepted, a reload said `config.restart_needed` for it; the restart then exited 78.
      assert.equal(refusal(() => loadSettings({ cwd: dir, env: moved, pidfileAtStart: { path: running } })).code, 'CORRAL_ERR_PIDFILE');
      // Set where the master wrote none (CORRAL_PIDFILE= at start): judged too.
      assert.equal(refusal(() => loadSettings({ cwd: dir, env: moved, pidfileAtStart: { path: undefined } })).code, 'CORRAL_ERR_PIDFILE');
      // The running pidfile, relative or not, is the master's: not judged again.
      assert.doesNotThrow(() => loadSettings({ cwd: dir, env: moved, pidfileAtStart: { path: join(dir, 'afile/corral.pid') } }));
      assert.doesNotThrow(() => loadSettings({ cwd: dir, env: { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: 'corral.pid' }, pidfileAtStart: { path: running } }));
      // Emptied (no pidfile): nothing to write.
      assert.doesNotThrow(() => loadSettings({ cwd: dir, env: { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: '' }, pidfileAtStart: { path: running } }));
    });
  });

  it('a log file that is one of the process\'s descriptors (/dev/stdout, /dev/fd/N, /proc/self/fd/N, or a link to one) is refused: leave it unset for stdout', () => {
    // Each child opens CORRAL_LOG_FILE itself, and its stdout is a socketpair: ENXIO, every
    // worker failed, and start exited 3 after ~8 s while config --check had said OK.
    for (const value of ['/dev/stdout', '/dev/stderr', '/dev/fd/1', '/proc/self/fd/2', '/proc/1234/fd/1', '/dev/./stdout']) {
      for (const readFiles of [true, false]) {
        const err = refusal(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_LOG_FILE: value }, readFiles }));
        assert.equal(err.code, 'CORRAL_ERR_CONFIG_INVALID', value);
        assert.deepEqual(err.problems.map((p) => p.name), ['CORRAL_LOG_FILE'], value);
        assert.match(err.message, /a file to write the log to, not .*cannot be opened by name \(ENXIO\).*leave CORRAL_LOG_FILE unset/, value);
      }
    }
    withDir((dir) => {
      symlinkSync('/dev/stdout', join(dir, 'app.log'));
      const err = refusal(() => loadSettings({ cwd: dir, env: { CORRAL_ENV_FILE: 'none', CORRAL_LOG_FILE: 'app.log' } }));
      assert.match(err.message, /not .*app\.log \(a link to \/dev\/stdout\)/);
      // A link is followed only where the settings' files are read; /dev/null is a file to write to.
      assert.doesNotThrow(() => loadSettings({ cwd: dir, env: { CORRAL_ENV_FILE: 'none', CORRAL_LOG_FILE: 'app.log' }, readFiles: false }));
      assert.doesNotThrow(() => loadSettings({ cwd: dir, env: { CORRAL_ENV_FILE: 'none', CORRAL_LOG_FILE: '/dev/null' } }));
    });
  });

  it('CORRAL_ACCESS_LOG=true under a level that leaves info lines out (warn and above) is warned of: no access line was written, without a word', () => {
    const warned = (env: Record<string, string>) => loadSettings({ env: { CORRAL_ENV_FILE: 'none', ...env } }).warnings.filter((w) => w.startsWith('CORRAL_ACCESS_LOG'));
    for (const level of ['warn', 'error', 'fatal', 'silent']) {
      assert.deepEqual(warned({ CORRAL_ACCESS_LOG: 'true', CORRAL_LOG_LEVEL: level }), [
        `CORRAL_ACCESS_LOG=true has no effect while CORRAL_LOG_LEVEL=${level}: access lines are logged at info, which ${level} leaves out; set CORRAL_LOG_LEVEL=info for them, or CORRAL_ACCESS_LOG=false`,
      ]);
    }
    assert.deepEqual(warned({ CORRAL_ACCESS_LOG: 'true', CORRAL_LOG_LEVEL: 'info' }), []);
    assert.deepEqual(warned({ CORRAL_ACCESS_LOG: 'false', CORRAL_LOG_LEVEL: 'warn' }), []);
    // Left at its default (on), a quieter level is what the operator asked for.
    assert.deepEqual(warned({ CORRAL_LOG_LEVEL: 'warn' }), []);
  });

  it('a SHEET_ID refused for its value and a key file that is not there are reported together, not the key only once the id is fixed', () => {
    withDir((dir) => {
      const env = { CORRAL_ENV_FILE: 'none', SHEET_ID: 'https://docs.google.com/spreadsheets/d/1AbC/edit', GOOGLE_APPLICATION_CREDENTIALS: 'absent.json' };
      const err = refusal(() => loadSettings({ cwd: dir, env }));
      assert.deepEqual(err.problems.map((p) => p.name), ['SHEET_ID', 'GOOGLE_APPLICATION_CREDENTIALS']);
      assert.match(err.message, /SHEET_ID=.*write SHEET_ID=1AbC/);
      assert.match(err.message, /GOOGLE_APPLICATION_CREDENTIALS=".*absent\.json" \(from environment\): cannot read the service-account key .*ENOENT/);
      // Without credentials a refused SHEET_ID is its one problem (its credentials are not a key to read).
      assert.deepEqual(refusal(() => loadSettings({ cwd: dir, env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'a b' } })).problems.map((p) => p.name), ['SHEET_ID']);
    });
  });

  it('the admin API on the workers\' port is refused before start, naming CORRAL_BIND', () => {
    const err = refusal(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '0.0.0.0:24111', CORRAL_ADMIN_BIND: '127.0.0.1:24111' } }));
    assert.equal(err.code, 'CORRAL_ERR_CONFIG_INVALID');
    assert.match(err.message, /CORRAL_ADMIN_BIND="127\.0\.0\.1:24111" \(from environment\): overlaps CORRAL_BIND=0\.0\.0\.0:24111/);
  });

  it('a pidfile that is the log file too is refused, for start and reload alike', () => {
    withDir((dir) => {
      for (const [pid, log] of [['corral.log', 'corral.log'], ['./logs/../corral.log', join(dir, 'corral.log')]] as const) {
        const env = { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: pid, CORRAL_LOG_FILE: log };
        for (const judgePidfile of [true, false]) {
          const err = refusal(() => loadSettings({ cwd: dir, env, judgePidfile }));
          assert.equal(err.code, 'CORRAL_ERR_CONFIG_INVALID');
          assert.match(err.message, new RegExp(`CORRAL_PIDFILE=".*" \\(from environment\\): a file of its own: ${join(dir, 'corral.log')} is CORRAL_LOG_FILE too.*point one of them elsewhere`));
        }
      }
      assert.doesNotThrow(() => loadSettings({ cwd: dir, env: { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: 'corral.pid', CORRAL_LOG_FILE: 'corral.log' }, judgePidfile: true }));
    });
  });

  it('a command that judges only some settings is not refused for the others as a whole', () => {
    const env = { CORRAL_ENV_FILE: 'none', CORRAL_ADMIN_BIND: '0.0.0.0:24033' };
    assert.doesNotThrow(() => loadSettings({ env, judgeOnly: ['CORRAL_PIDFILE', 'CORRAL_GRACEFUL_TIMEOUT'] }));
  });
});

describe('CORRAL_KEEPALIVE against CORRAL_GRACEFUL_TIMEOUT', () => {
  const warned = (env: Record<string, string>) => loadSettings({ env: { CORRAL_ENV_FILE: 'none', ...env } }).warnings.filter((w) => w.startsWith('CORRAL_KEEPALIVE='));
  it('warns when idle keep-alive connections would outlast every drain (each reload then runs to its graceful timeout and cuts them)', () => {
    const [w] = warned({ CORRAL_KEEPALIVE: '75', CORRAL_GRACEFUL_TIMEOUT: '30' });
    assert.match(w ?? '', /^CORRAL_KEEPALIVE=75 is not below CORRAL_GRACEFUL_TIMEOUT=30 by more than a second: .*worker\.drain_forced.*lower CORRAL_KEEPALIVE/);
    // node:http closes an idle connection a second past its keep-alive timeout.
    assert.equal(warned({ CORRAL_KEEPALIVE: '29', CORRAL_GRACEFUL_TIMEOUT: '30' }).length, 1);
  });
  it('is quiet with the defaults, below by more than a second, without keep-alive, with no graceful time at all, or with CORRAL_KEEPALIVE left at its default', () => {
    // The last: a graceful timeout shortened under the default keep-alive, a choice of fast drains.
    for (const env of [{} as Record<string, string>, { CORRAL_KEEPALIVE: '28', CORRAL_GRACEFUL_TIMEOUT: '30' }, { CORRAL_KEEPALIVE: '0', CORRAL_GRACEFUL_TIMEOUT: '1' }, { CORRAL_KEEPALIVE: '5', CORRAL_GRACEFUL_TIMEOUT: '0' }, { CORRAL_GRACEFUL_TIMEOUT: '1' }]) {
      assert.deepEqual(warned(env), [], JSON.stringify(env));
    }
  });
});

describe('a sheet range naming no tab', () => {
  const warned = (env: Record<string, string>) => loadSettings({ env: { CORRAL_ENV_FILE: 'none', ...env } }).warnings.filter((w) => /^SHEET_(PLAYERS|EVENTS)_RANGE=/.test(w));
  it("warns that Google reads it on the first tab: a tab's name that reads as a cell (P01, Wk1), or bare columns", () => {
    const [players, events] = warned({ SHEET_PLAYERS_RANGE: 'P01', SHEET_EVENTS_RANGE: 'A:E' });
    assert.match(players ?? '', /^SHEET_PLAYERS_RANGE=P01 names no tab: Google reads it as cells of the sheet's first tab .*; to name a tab called P01, quote it: SHEET_PLAYERS_RANGE='P01', or name the tab before the cells/);
    assert.match(events ?? '', /^SHEET_EVENTS_RANGE=A:E names no tab: .*first tab/);
    assert.doesNotMatch(events ?? '', /quote it/, 'no tab is called A:E');
  });
  it('warns of a tab named like an R1C1 reference (RC, R, C), which Google reads as the first tab\'s A1, and says to quote it', () => {
    const [players, events] = warned({ SHEET_PLAYERS_RANGE: 'RC', SHEET_EVENTS_RANGE: 'C' });
    assert.match(players ?? '', /^SHEET_PLAYERS_RANGE=RC names no tab: .*; to name a tab called RC, quote it: SHEET_PLAYERS_RANGE='RC'/);
    assert.match(events ?? '', /^SHEET_EVENTS_RANGE=C names no tab: .*; to name a tab called C, quote it: SHEET_EVENTS_RANGE='C'/);
  });
  it('says nothing of a tab, quoted or not, with or without cells, nor of the defaults', () => {
    assert.deepEqual(warned({ SHEET_PLAYERS_RANGE: "'P01'", SHEET_EVENTS_RANGE: 'Events!A:E' }), []);
    assert.deepEqual(warned({ SHEET_PLAYERS_RANGE: 'Joueurs', SHEET_EVENTS_RANGE: "'Jon''s Data'" }), []);
    assert.deepEqual(warned({}), []);
  });
});

describe('CORRAL_IDEMPOTENCY_KEYS against the keeper heap', () => {
  const warned = (env: Record<string, string>) => loadSettings({ env: { CORRAL_ENV_FILE: 'none', ...env } }).warnings.filter((w) => w.startsWith('CORRAL_IDEMPOTENCY_KEYS='));
  it('warns past a GiB of heap (about 420 bytes a key), saying how much and what to raise', () => {
    assert.match(warned({ CORRAL_IDEMPOTENCY_KEYS: '10000000' })[0] ?? '', /^CORRAL_IDEMPOTENCY_KEYS=10000000 holds up to about 4 GiB of the keeper's heap and 3 GiB of journal .*NODE_OPTIONS=--max-old-space-size/);
    assert.deepEqual(warned({ CORRAL_IDEMPOTENCY_KEYS: '1000000' }), []);
    assert.deepEqual(warned({}), []);
  });
});

describe('SHEETS_JOURNAL_MAX_MB against the keeper heap', () => {
  const warned = (env: Record<string, string>) => loadSettings({ env: { CORRAL_ENV_FILE: 'none', ...env } }).warnings.filter((w) => w.startsWith('SHEETS_JOURNAL_MAX_MB='));
  // The cap is there so that a long outage of Google does not run the keeper out of heap (V8 aborts
  // it) with every row it holds; set past the heap it kept nothing from that, without a word.
  it("warns when the backlog it lets the keeper hold (about 6 bytes of heap a journal byte) is past the keeper's heap, saying both and what to change", () => {
    assert.match(
      warned({ SHEETS_JOURNAL_MAX_MB: '1024', NODE_OPTIONS: '--max-old-space-size=2048' })[0] ?? '',
      /^SHEETS_JOURNAL_MAX_MB=1024 lets the keeper hold a backlog that takes about 6 GiB of its heap \(about 6 bytes a journal byte\), past its heap of 2 GiB \(--max-old-space-size=2048 in NODE_OPTIONS\): a long outage of Google would run it out of memory before the cap refuses appends; lower SHEETS_JOURNAL_MAX_MB to 341 or less, or raise the heap \(NODE_OPTIONS=--max-old-space-size=<MiB> in the environment corral starts with\)$/,
    );
    // Node's own limit when NODE_OPTIONS sets none: the one this process runs with.
    const own = Math.floor(getHeapStatistics().heap_size_limit / 1048576);
    assert.match(warned({ SHEETS_JOURNAL_MAX_MB: String(Math.ceil(own / 6) + 1) })[0] ?? '', /past its heap of .* \(node's default here\)/);
    assert.deepEqual(warned({ SHEETS_JOURNAL_MAX_MB: '256', NODE_OPTIONS: '--max-old-space-size=2048' }), []);
    // The default is no request of the operator's: said in the README for small hosts, not here.
    assert.deepEqual(warned({ NODE_OPTIONS: '--max-old-space-size=512' }), []);
  });
});

describe('CORRAL_TRUSTED_PROXIES that trusts every address', () => {
  const warned = (env: Record<string, string>) => loadSettings({ env: { CORRAL_ENV_FILE: 'none', ...env } }).warnings.filter((w) => w.startsWith('CORRAL_TRUSTED_PROXIES'));
  // X-Forwarded-For is read from the right up to the first address not trusted: with every address
  // trusted that is the leftmost, which the client writes itself, and every client chose the
  // address the per-IP rate limit counted (a new one per request), without a word.
  it('warns of a /0 (IPv4 or IPv6), naming it and what it lets a client do', () => {
    for (const list of ['0.0.0.0/0', '10.0.0.1,::/0', '::ffff:0.0.0.0/0']) {
      assert.match(
        warned({ CORRAL_TRUSTED_PROXIES: list })[0] ?? '',
        /^CORRAL_TRUSTED_PROXIES holds \S+\/0, which trusts every address: any client can write X-Forwarded-For and choose the address the per-IP rate limit counts \(a new one for each request\); list your proxies' addresses alone \(e\.g\. 127\.0\.0\.1 for a local nginx, or their subnet\)$/,
        list,
      );
    }
    assert.deepEqual(warned({ CORRAL_TRUSTED_PROXIES: '127.0.0.1,10.0.0.0/8,fd00::/8' }), []);
    assert.deepEqual(warned({}), []);
  });
});
