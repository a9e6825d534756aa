// Process entry for the keeper: the master forks this file. The group's signals are ignored before
// the keeper's code (keeper-main.js, which starts it once loaded) is imported: src/group-signals.ts.
import { ignoreGroupSignals } from '../group-signals.js';

ignoreGroupSignals();
await import('./keeper-main.js');
