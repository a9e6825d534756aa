// One virtual user: logs in once, then loops over reads, event writes and exports in the mix,
// pausing between requests as its pacer says. Stopping is graceful (the request in flight
// finishes) unless the run itself is aborted, which cancels the request too.

import type { Reply, RequestKind, SendRequest } from './client.js';
import type { Credential } from './credentials.js';
import { asLockedLogin, asTokenlessFailure, isTokenless, loginToken } from './login-answer.js';
import { pickKind, type ActionKind, type Mix } from './mix.js';
import type { Pacer } from './pacing.js';
import { apiPath } from './target.js';

export interface VuEnv {
  readonly target: URL;
  readonly send: (req: SendRequest) => Promise<Reply>;
  /** Called once the user's loop has ended: its connection closes, as a person leaving. */
  readonly leave?: () => Promise<void>;
  readonly onReply: (reply: Reply) => void;
  readonly onAction: (name: string) => void;
  readonly mix: Mix;
  /** Bearer token for exports; exports are left out of the mix without it. */
  readonly exportToken: string | undefined;
  readonly runSignal: AbortSignal;
  readonly random: () => number;
}

/** Share of reads that fetch the caller's own row rather than the roster. */
const ME_SHARE = 0.25;

export class VirtualUser {
  readonly id: number;
  readonly #env: VuEnv;
  readonly #credential: Credential;
  readonly #pacer: Pacer;
  readonly #sleepStop = new AbortController();
  #token: string | undefined;
  #stopping = false;
  #writes = 0;
  #done: Promise<void> | undefined;

  constructor(id: number, env: VuEnv, credential: Credential, pacer: Pacer) {
    this.id = id;
    this.#env = env;
    this.#credential = credential;
    this.#pacer = pacer;
  }

  start(): Promise<void> {
    // However the loop ends, the user leaves: its connection closes.
    this.#done ??= this.#loop().finally(() => this.#env.leave?.());
    return this.#done;
  }

  /** Ends the loop after the request in flight; a pause in progress ends at once. */
  stop(): void {
    this.#stopping = true;
    this.#sleepStop.abort();
  }

  get loggedIn(): boolean {
    return this.#token !== undefined;
  }

  #active(): boolean {
    return !this.#stopping && !this.#env.runSignal.aborted;
  }

  async #loop(): Promise<void> {
    while (this.#active()) {
      if (this.#token === undefined) {
        const retryAfterMs = await this.#login();
        if (this.#token === undefined) {
          // Tried again after a pause, as a person would, and not before the server's
          // Retry-After. At once, a profile's user (no action yet, so no pause) sent logins as
          // fast as the target refused them: 3000 a second of 429s from 300 users.
          await this.#sleep(Math.max(retryAfterMs ?? 0, this.#pacer.loginRetryMs()));
          continue;
        }
      } else {
        const action = this.#pacer.beforeRequest();
        if (action !== undefined) this.#env.onAction(action);
        await this.#act(pickKind(this.#env.mix, this.#env.random()));
      }
      if (!this.#active()) break;
      await this.#sleep(this.#pacer.pauseMs());
    }
  }

  /** `judge`: turns an answer that only looks like a success into the failure it is, before it is counted. */
  async #request(kind: RequestKind, req: Omit<SendRequest, 'kind'>, judge: (reply: Reply) => Reply = (r) => r): Promise<Reply> {
    const judged = judge(await this.#env.send({ kind, ...req, path: apiPath(this.#env.target, req.path) }));
    // What this user would have sent meanwhile, had the answer come at once: a stall is counted
    // for every request it kept back, not once per user (tally.ts).
    const reply: Reply = { ...judged, sample: { ...judged.sample, paceUs: Math.round(this.#pacer.meanPauseMs() * 1000) } };
    this.#env.onReply(reply);
    // Aborted or unanswered means the run is over (deadline or Ctrl-C): leave rather than try again.
    if (reply.sample.outcome === 'aborted' || reply.sample.outcome === 'unanswered') this.#stopping = true;
    // An expired or refused session: log in again on the next turn, as a browser would.
    if (reply.sample.status === 401 && kind !== 'login' && kind !== 'export') this.#token = undefined;
    return reply;
  }

  /** Logs in; on a refusal, returns the server's Retry-After (ms) if it gave one. */
  async #login(): Promise<number | undefined> {
    const { name, code } = this.#credential;
    // A 200 without a token logged nobody in: an error, or a target that is not the app passes.
    const reply = await this.#request('login', { method: 'POST', path: '/api/login', json: { name, code }, parseJson: true }, (r) => (isTokenless(r) ? asTokenlessFailure(r) : asLockedLogin(r, name)));
    const token = loginToken(reply);
    if (reply.sample.outcome === 'ok' && token !== undefined) this.#token = token;
    return reply.retryAfterMs;
  }

  async #act(kind: ActionKind): Promise<void> {
    const auth = { authorization: `Bearer ${this.#token ?? ''}` };
    switch (kind) {
      case 'read':
        if (this.#env.random() < ME_SHARE) await this.#request('read', { method: 'GET', path: '/api/me', headers: auth });
        else await this.#request('read', { method: 'GET', path: '/api/players' });
        return;
      case 'write':
        this.#writes++;
        await this.#request('write', {
          method: 'POST',
          path: '/api/events',
          headers: auth,
          json: { kind: 'loadtest', detail: `virtual user ${this.id}, write ${this.#writes}` },
        });
        return;
      case 'export':
        await this.#request('export', {
          method: 'GET',
          path: '/api/export?sheet=Players',
          headers: { authorization: `Bearer ${this.#env.exportToken ?? ''}` },
        });
        return;
    }
  }

  #sleep(ms: number): Promise<void> {
    if (!this.#active()) return Promise.resolve();
    if (ms <= 0) return new Promise((resolve) => setImmediate(resolve));
    return new Promise((resolve) => {
      const signals = [this.#sleepStop.signal, this.#env.runSignal];
      const done = (): void => {
        clearTimeout(timer);
        for (const s of signals) s.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const s of signals) s.addEventListener('abort', done, { once: true });
    });
  }
}
