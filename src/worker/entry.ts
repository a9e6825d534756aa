// Process entry for a worker: the master forks this file. The group's signals are ignored before
// the worker's code is imported (src/group-signals.ts says why), hence the dynamic import.
import { ignoreGroupSignals } from '../group-signals.js';

ignoreGroupSignals();
const { runWorker } = await import('./main.js');
void runWorker();
