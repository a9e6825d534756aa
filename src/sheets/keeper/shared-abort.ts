// The abort a keeper part hands to every Google call it has in flight, aborted when it closes.

import { setMaxListeners } from 'node:events';

/**
 * An AbortController whose signal any number of calls may listen on at once. Each call in flight
 * adds its listeners (the request, a retry's sleep, a token wait) and removes them when it ends,
 * so nothing leaks; but eleven concurrent reads of distinct ranges passed node's default of ten
 * and printed MaxListenersExceededWarning, a leak warning for no leak, into the keeper's stderr.
 */
export function sharedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
