// Process entry for a worker: the master forks this file. The group's signals are ignored before
// the worker's code is imported (src/group-signals.ts says why), hence the dynamic import; a
// failure to load it is said to the master (src/own-code-load.ts). The OOM killer's preference is
// checked before the import too (src/oom-score.ts says why); the worker says a failure once it logs.
// Its exit when the master is gone is in place before the import as well (worker/master-gone.ts),
// and the maps of node's tick objects are kept from the start (src/tick-maps.ts says why).
import { ignoreGroupSignals } from '../group-signals.js';
import { preferForOomKill } from '../oom-score.js';
import { loadOwnCode } from '../own-code-load.js';
import { keepTickObjectMaps } from '../tick-maps.js';
import { exitWhenMasterGone } from './master-gone.js';

ignoreGroupSignals();
keepTickObjectMaps();
const oom = preferForOomKill('worker');
const masterGone = exitWhenMasterGone();
const { runWorker } = await loadOwnCode<typeof import('./main.js')>('worker', new URL('./main.js', import.meta.url));
void runWorker(oom, masterGone);
