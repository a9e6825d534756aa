// undici's Agent and ProxyAgent (and the Dispatcher class they share), from their own files. The
// package's index loads every part of undici (fetch, WebSocket, the HTTP cache, mocks): 0.2 s of
// CPU at each keeper start on a 2-core Xeon, where these take 0.07 s. undici has no "exports"
// map, so these paths are its files as shipped (undici 7, lib/): an upgrade that moved them would
// fail every keeper start, and with it every test that starts one.

import { createRequire } from 'node:module';
import type { Agent as AgentClass, Dispatcher, ProxyAgent as ProxyAgentClass } from 'undici';

const load = createRequire(import.meta.url);

// What the index does besides gathering its parts: every dispatcher gets request(), stream(),
// connect() and the rest. The proxy agent uses them (its CONNECT); so could any later code, which
// would otherwise work wherever something else had loaded the index (a test) and fail in the keeper.
export const DispatcherClass = load('undici/lib/dispatcher/dispatcher.js') as typeof Dispatcher;
Object.assign(DispatcherClass.prototype, load('undici/lib/api/index.js'));

export const Agent = load('undici/lib/dispatcher/agent.js') as typeof AgentClass;
export const ProxyAgent = load('undici/lib/dispatcher/proxy-agent.js') as typeof ProxyAgentClass;
