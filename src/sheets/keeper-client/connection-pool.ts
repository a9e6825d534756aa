// Keep-alive connections to the keeper's socket, a few at a time, for one kind of call (keeper-link.ts
// keeps one pool per kind, so that one kind waiting for Google never holds another's connections).

import { NotSentError } from '../../errors.js';
import { checkSocketDir } from '../keeper/socket-path.js';
import { KeeperConnection, NotConnectedError } from './connection.js';

/** Keep-alive connections to one socket, at most `max` at a time; callers beyond wait their turn. */
export class ConnectionPool {
  private readonly idle: KeeperConnection[] = [];
  /** Every connection of the pool, idle or in use (close() ends them all). */
  private readonly all = new Set<KeeperConnection>();
  private readonly waiting: Array<{ resolve(c: KeeperConnection): void; reject(err: Error): void }> = [];
  private closed = false;
  /** False until the socket's directory was found to be this user's (checkSocketDir); then it stays so. */
  private dirChecked: boolean;

  constructor(
    private readonly socketPath: string,
    private readonly max: number,
    private readonly idleCloseMs: number,
    checkDir: boolean,
    private readonly headers: string,
  ) {
    this.dirChecked = !checkDir;
  }

  /**
   * Runs `fn` on a connection of the pool. `waitMs`: how long a caller may wait for one to come
   * free when all are in use, then it fails, not sent (CORRAL_ERR_KEEPER_UNAVAILABLE); unbounded
   * without it.
   */
  async use<T>(fn: (c: KeeperConnection) => Promise<T>, waitMs?: number): Promise<T> {
    const c = await this.take(waitMs);
    try {
      return await fn(c);
    } finally {
      this.give(c);
    }
  }

  /** Idempotent: ends every connection; callers still waiting for one fail. */
  destroy(): void {
    this.closed = true;
    for (const c of this.all) c.close();
    this.all.clear();
    this.idle.length = 0;
    for (const w of this.waiting.splice(0)) w.reject(new Error('the keeper link is closed'));
  }

  /** An idle usable connection, a new one while under `max`, or the next one given back. */
  private take(waitMs?: number): Promise<KeeperConnection> {
    if (this.closed) return Promise.reject(new Error('the keeper link is closed'));
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      // An idle connection the keeper closed (keep-alive timeout, restart) is dropped here.
      if (c.usable()) return Promise.resolve(c);
      this.all.delete(c);
    }
    if (this.all.size < this.max) {
      if (!this.dirChecked) {
        try {
          this.dirChecked = checkSocketDir(this.socketPath, { create: false });
        } catch (err) {
          return Promise.reject(err instanceof Error ? err : new Error(String(err)));
        }
        // A directory not made yet: the keeper is not listening (it makes it first), and no
        // connect is made, as it would fail; checked again at the next call. Connecting anyway
        // reached whoever made the directory between the check and the connect (another local
        // user, in a shared temp dir), unchecked, and kept that connection for later calls.
        if (!this.dirChecked) {
          return Promise.reject(new NotConnectedError(Object.assign(new Error(`connect ENOENT ${this.socketPath} (its directory is not there yet: the keeper has not started)`), { code: 'ENOENT' })));
        }
      }
      const c = new KeeperConnection(this.socketPath, this.idleCloseMs, this.headers);
      this.all.add(c);
      return Promise.resolve(c);
    }
    return new Promise((resolve, reject) => {
      if (waitMs === undefined) {
        this.waiting.push({ resolve, reject });
        return;
      }
      const waiter = {
        resolve: (c: KeeperConnection) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new NotSentError('CORRAL_ERR_KEEPER_UNAVAILABLE', `no connection to the keeper came free within ${waitMs} ms (each of the ${this.max} waits for an answer): not sent`));
      }, waitMs);
      this.waiting.push(waiter);
    });
  }

  private give(c: KeeperConnection): void {
    const next = this.waiting.shift();
    if (c.usable() && !this.closed) {
      if (next) next.resolve(c);
      else this.idle.push(c);
      return;
    }
    // Its slot is free: the next caller gets a fresh connection.
    this.all.delete(c);
    if (next) this.take().then(next.resolve, next.reject);
  }
}
