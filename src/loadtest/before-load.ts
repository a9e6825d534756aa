// The target's state before the load, read by the checks before it: a server already full, without
// its Sheets backend, or over the CPU and RAM criteria. Unsaid, the verdict blamed the user count for
// 503s and figures that were there before the first virtual user.

import type { Reply } from './client.js';
import { LoadtestError, LOADTEST_EXIT } from './exit.js';
import type { ServerSample } from './sampler.js';
import { CRITERIA, formatPercent } from './criteria.js';

/** The app's `error` code in a JSON answer (README, HTTP errors), if it carries one. */
function errorCode(reply: Reply): string | undefined {
  const error = (reply.json as { error?: unknown } | undefined)?.error;
  return typeof error === 'string' ? error : undefined;
}

/**
 * Text the target sent, as the terminal may show it: control characters written as \uXXXX. A JSON
 * `"\u001b]0;...\u0007"` in a 503's message was otherwise an escape sequence on the operator's
 * terminal (retitling it, or worse), through the notes and errors written to stderr.
 */
export function shownText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A 503 before the load, by its `error`: server_full and sheets_unavailable stop the run (exit 69,
 * as a target not answering: a load now measures the state it is in, not the users sent); any
 * other 503 is a note, as a 429 is, and so is another 5xx (an app's 500, a proxy's 502 or 504),
 * which went unsaid: the run's verdict then blamed the users for them. `route`: "GET /api/players".
 */
export function checkUnavailable(target: URL, route: string, reply: Reply, notes: string[]): void {
  const status = reply.sample.status;
  if (status >= 500 && status < 600 && status !== 503) {
    notes.push(`the target answered ${route} with HTTP ${status} before the load: it was failing already, so the run's ${status}s are not the load's alone`);
    return;
  }
  if (status !== 503) return;
  const error = errorCode(reply);
  const code = error === undefined ? undefined : shownText(error);
  const message = (reply.json as { message?: unknown } | undefined)?.message;
  const said = typeof message === 'string' ? `: ${shownText(message)}` : '';
  if (code === 'server_full') {
    throw new LoadtestError('CORRAL_ERR_LOADTEST_TARGET', `target ${target.origin} answered ${route} with 503 server_full${said} before the load: every connection slot is already held by other clients, so the run would measure them and blame the users it sends; run it when the server has room (its admin API's capacity), or give it more workers or CORRAL_WORKER_CONNECTIONS (and a CORRAL_MAX_CONNECTIONS set lower than their product raised or unset)`, LOADTEST_EXIT.TARGET_UNREACHABLE);
  }
  if (code === 'sheets_unavailable') {
    throw new LoadtestError('CORRAL_ERR_LOADTEST_TARGET', `target ${target.origin} answered ${route} with 503 sheets_unavailable before the load: its Google Sheets backend cannot be read (Google failing, or the keeper away) and it has no copy young enough, so its reads would fail whatever the users sent; check its log and admin stats (sheets.ranges_failing), then run again`, LOADTEST_EXIT.TARGET_UNREACHABLE);
  }
  notes.push(`the target answered ${route} with 503${code === undefined ? '' : ` ${code}`} before the load: it was unavailable already, so the run's 503s are not the load's alone`);
}

/** "capacity FULL (40/40), CPU 99 % ≥ 80 %": how an admin sample is over the criteria, or undefined. */
export function overLimit(s: ServerSample): string | undefined {
  const parts: string[] = [];
  if (s.status === 'FULL' || s.status === 'UNAVAILABLE') {
    parts.push(`capacity ${s.status}${s.connections !== null && s.maxConnections !== null ? ` (${s.connections}/${s.maxConnections} connections)` : ''}`);
  }
  if (s.cpu !== null && s.cpu >= CRITERIA.cpuPercent) parts.push(`host CPU ${formatPercent(s.cpu)} ≥ ${CRITERIA.cpuPercent} %`);
  if (s.ram !== null && s.ram >= CRITERIA.ramPercent) parts.push(`RAM ${formatPercent(s.ram)} ≥ ${CRITERIA.ramPercent} %`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}
