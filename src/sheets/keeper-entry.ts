// Process entry for the keeper: the master forks this file. The group's signals are ignored before
// the keeper's code (keeper-main.js, which starts it once loaded) is imported: src/group-signals.ts.
// A failure to load it is said to the master (src/own-code-load.ts).
import { ignoreGroupSignals } from '../group-signals.js';
import { loadOwnCode } from '../own-code-load.js';

ignoreGroupSignals();
await loadOwnCode('keeper', () => import('./keeper-main.js'));
