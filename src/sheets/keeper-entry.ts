// Process entry for the keeper: the master forks this file. The group's signals are ignored before
// the keeper's code (keeper-main.js, started once loaded) is imported: src/group-signals.ts.
// A failure to load it is said to the master (src/own-code-load.ts). Started as a load check
// (master/keeper-load-check.ts), it only imports that code: a failure is left uncaught, for node
// to print with the file and line that failed (a SyntaxError caught names neither), and exit 1.
import { ignoreGroupSignals } from '../group-signals.js';
import { isLoadCheck, loadOwnCode } from '../own-code-load.js';
import { keepTickObjectMaps } from '../tick-maps.js';

ignoreGroupSignals();
if (isLoadCheck()) {
  await import('./keeper-main.js');
  process.exit(0);
}
keepTickObjectMaps();
const { runKeeper } = await loadOwnCode<typeof import('./keeper-main.js')>('keeper', new URL('./keeper-main.js', import.meta.url));
runKeeper();
