import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every `event: 'a.b'` literal in src (event names have a dot; `on(event: 'error', ...)` does not). */
function emittedEvents(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sources(join(root, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bevent: '([a-z_]+(?:\.[a-z_0-9]+)+)'/g)) found.set(m[1] as string, file.slice(root.length));
  }
  return found;
}

/** The event names in the first column of the README's Logs tables. */
function documentedEvents(): Set<string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n### Logs\n');
  const end = readme.indexOf('\n### ', start + 1);
  assert.ok(start >= 0 && end > start, 'the README has a Logs section');
  const names = new Set<string>();
  for (const line of readme.slice(start, end).split('\n')) {
    if (!line.startsWith('| `')) continue;
    for (const m of (line.split('|')[1] ?? '').matchAll(/`([a-z_][a-z_.0-9]*)`/g)) names.add(m[1] as string);
  }
  return names;
}

/**
 * The events named from a child's role (`${c.role}.kill`): one for each role, worker and keeper.
 * A pattern the literal search above does not see, so a new one could go undocumented.
 */
function roleEvents(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sources(join(root, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bevent: `\$\{(?:c\.)?role\}(\.[a-z_]+)`/g)) {
      for (const role of ['worker', 'keeper']) found.set(`${role}${m[1] as string}`, file.slice(root.length));
    }
  }
  return found;
}

test("every event corral logs is in the README's log table", () => {
  const documented = documentedEvents();
  const missing = [...emittedEvents(), ...roleEvents()].filter(([name]) => !documented.has(name)).map(([name, file]) => `${name} (${file})`);
  assert.deepEqual(missing, [], 'add these to the table in README "Logs"');
});
