// corral /admin dashboard: the Connections card, from the capacity the stats carry (master/capacity.ts).
// Loaded before dashboard.js; shares the page's global scope ($, set, fmt are dashboard.js's, used
// only once the page runs).
/* global $, set, fmt */
'use strict';

const plural = (n, word) => `${fmt.int(n)} ${word}${n === 1 ? '' : 's'}`;

/**
 * What made the status over the last heartbeat interval besides the busy share: a connection
 * refused is FULL, and idle connections closed to admit new clients at least WARNING, at any share.
 * Without it the card read "WARNING" beside "50.0% used · 5 slots free", and its legend said
 * WARNING is 80–100 %. Red while connections are refused, as the Requests card says them.
 */
function capacityWhy(c) {
  const why = [];
  if (c.refused_last_interval > 0) why.push(`${plural(c.refused_last_interval, 'connection')} refused (503 server full)`);
  if (c.idle_closed_last_interval > 0) why.push(`${plural(c.idle_closed_last_interval, 'idle connection')} closed to admit new clients: every slot was held`);
  return why.length ? `over the last heartbeat interval: ${why.join('; ')}` : '';
}

function renderConnections(c) {
  // Busy: open and not idle, at their peak over the last heartbeat interval, as the bar, the
  // percentage and the status count them. Idle connections give their slot to a new client (a
  // corral without the figures: none idle, busy as open at the beat).
  const idle = c.idle_connections ?? 0;
  set('connections-used', fmt.int(c.peak_busy_connections ?? c.current_connections - idle));
  set('connections-open', fmt.int(c.current_connections));
  set('connections-idle', fmt.int(idle));
  set('connections-max', fmt.int(c.max_connections));
  set('percent-used', fmt.num(c.percent_used));
  set('available-slots', fmt.int(c.available_slots));
  const bar = $('capacity-bar');
  bar.style.width = `${Math.min(100, Math.max(0, c.percent_used))}%`;
  bar.dataset.status = c.status;
  const why = capacityWhy(c);
  const el = $('capacity-why');
  el.hidden = why === '';
  el.textContent = why;
  el.className = `small ${c.refused_last_interval > 0 ? 'alarm' : 'warn'}`;
}
