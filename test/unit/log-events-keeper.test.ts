// Every line the keeper process logs names its `event`, and every event is in the README's table:
// an operator greps the log by event, and a line without one (the journal's replay, a read-back's
// result, a failed drain) could only be found by its wording, which changes.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/corral.js';

const SHEETS = join(REPO_ROOT, 'src', 'sheets');
const FILES = [join(SHEETS, 'keeper-main.ts'), ...readdirSync(join(SHEETS, 'keeper')).filter((f) => f.endsWith('.ts')).map((f) => join(SHEETS, 'keeper', f))];
const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

interface LogCall {
  readonly where: string;
  readonly text: string;
  /** The `event` property's literal value; null when the call has none; undefined when its fields are a variable (judged where they are built). */
  readonly event: string | null | undefined;
}

/** Calls of `<something>logger.<level>(...)` and `logger[level](...)` in `file`. */
function logCalls(file: string): LogCall[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const calls: LogCall[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n)) {
      const callee = n.expression;
      const isLevel = ts.isPropertyAccessExpression(callee) ? LEVELS.has(callee.name.text) : ts.isElementAccessExpression(callee);
      const target = ts.isPropertyAccessExpression(callee) || ts.isElementAccessExpression(callee) ? callee.expression.getText(sf) : '';
      if (isLevel && /logger$/i.test(target)) {
        const first = n.arguments[0];
        let event: string | null | undefined = null;
        if (first && ts.isObjectLiteralExpression(first)) {
          const prop = first.properties.find((p): p is ts.PropertyAssignment => ts.isPropertyAssignment(p) && p.name.getText(sf) === 'event');
          event = prop && ts.isStringLiteral(prop.initializer) ? prop.initializer.text : prop ? undefined : null;
        } else if (first && (ts.isIdentifier(first) || ts.isPropertyAccessExpression(first))) {
          event = undefined;
        }
        const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
        calls.push({ where: `${relative(REPO_ROOT, file)}:${line}`, text: n.getText(sf).replace(/\s+/g, ' ').slice(0, 120), event });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return calls;
}

test('every log line of the keeper process names its event', () => {
  const calls = FILES.flatMap(logCalls);
  assert.ok(calls.length > 40, `found the keeper's log calls (${calls.length})`);
  assert.deepEqual(
    calls.filter((c) => c.event === null).map((c) => `${c.where} ${c.text}`),
    [],
  );
});

test("every event the keeper process logs is in the README's log-events table", () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const events = new Set<string>();
  for (const file of FILES) for (const m of readFileSync(file, 'utf8').matchAll(/event: '([a-z_.]+)'/g)) events.add(m[1] as string);
  // The table's `keeper.*` row covers the process's own lifecycle lines (boot, ready, exit).
  const missing = [...events].filter((e) => !readme.includes(`| \`${e}\``) && !readme.includes(`, \`${e}\``) && !(e.startsWith('keeper.') && readme.includes('| `keeper.*` |')));
  assert.deepEqual(missing, []);
});
