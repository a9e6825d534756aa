// The dashboard's token taken from #token=… in its address (static/token.js), run in a bare
// context: the whole rest of the fragment is the token, and it leaves the address bar.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import vm from 'node:vm';
import { staticDir } from '../../src/master/admin/static.js';

function taken(hash: string): { kept: string | null; problem: string; address: string } {
  const store = new Map<string, string>();
  let address = `/admin${hash}`;
  const context = vm.createContext({
    location: { hash, pathname: '/admin', search: '' },
    history: { replaceState: (_s: unknown, _t: string, url: string) => void (address = url) },
    sessionStorage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v), removeItem: (k: string) => void store.delete(k) },
  });
  vm.runInContext(readFileSync(join(staticDir(), 'token.js'), 'utf8'), context, { filename: 'token.js' });
  const problem = vm.runInContext('takeTokenFromHash()', context) as string;
  return { kept: store.get('corral-admin-token') ?? null, problem, address };
}

it('a token with & or = in it is taken whole from #token=, as pasted or percent-encoded, and removed from the address', () => {
  assert.deepEqual(taken('#token=s3cr&t=x!9'), { kept: 's3cr&t=x!9', problem: '', address: '/admin' });
  assert.equal(taken('#token=s3cr%26t').kept, 's3cr&t');
  assert.equal(taken('#token=abc').kept, 'abc');
  assert.equal(taken('#other').kept, null);
  assert.match(taken('#token=a%E2%80%99b').problem, /character 2, "’" \(U\+2019\), is not allowed in an HTTP header/);
});
