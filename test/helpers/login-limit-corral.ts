// A real master with the failed-login limit per name at a small value, and logins that each come
// from a client address never used before, on a new connection (the next worker in turn, with
// round-robin accept): a guesser spreading its tries over addresses and workers, as the limit's
// integration tests play it. Started by the suite's before() and stopped by its after().

import { rmSync } from 'node:fs';
import { after, before } from 'node:test';
import { prepareWorkDir } from '../fixtures/offline-sheet.js';
import { startCorral, type CorralProcess } from './corral.js';
import { http, type Reply } from './http.js';

export interface LoginLimitCorral {
  /** The running master (set once before() ran). */
  readonly corral: CorralProcess;
  /** How many logins were sent: the access lines to wait for. */
  readonly logins: number;
  /** A login from a new address; `token`: the token of an earlier login, sent with it. */
  login(name: string, code: string, token?: string): Promise<Reply>;
}

export function withLoginLimitCorral(failures: number): LoginLimitCorral {
  let corral: CorralProcess | undefined;
  let dir: string | undefined;
  let client = 0;
  let logins = 0;
  before(async () => {
    dir = prepareWorkDir();
    // Round-robin: the logins reach both workers, as the tests check (the count is the host's).
    corral = await startCorral({ cwd: dir, workers: 2, env: { CORRAL_ACCEPT: 'round-robin', CORRAL_LOGIN_FAILURES_PER_NAME: String(failures), CORRAL_TRUSTED_PROXIES: '127.0.0.1' } });
  });
  after(async () => {
    await corral?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get corral() {
      if (!corral) throw new Error('the master is started by the suite: use it inside a test');
      return corral;
    },
    get logins() {
      return logins;
    },
    login(name, code, token) {
      logins++;
      return http(`${this.corral.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close', 'x-forwarded-for': `203.0.113.${++client}` },
        body: JSON.stringify(token === undefined ? { name, code } : { name, code, token }),
      });
    },
  };
}
