// Process entry for a worker: the master forks this file.
import { runWorker } from './main.js';

void runWorker();
