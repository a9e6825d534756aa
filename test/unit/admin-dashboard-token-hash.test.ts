// The dashboard's token taken from #token=… in its address (static/token.js), run in a bare
// context: the whole rest of the fragment is the token, and it leaves the address bar.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import vm from 'node:vm';
import { staticDir } from '../../src/master/admin/static.js';

function taken(hash: string, search = ''): { kept: string | null; problem: string; address: string } {
  const store = new Map<string, string>();
  let address = `/admin${search}${hash}`;
  const context = vm.createContext({
    location: { hash, pathname: '/admin', search },
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

it('a token put in the query (?token=) is not taken: it leaves the address, and the form says it goes after #', () => {
  const wrong = taken('', '?token=s3cret');
  assert.equal(wrong.kept, null);
  assert.equal(wrong.address, '/admin');
  assert.match(wrong.problem, /after # in the address \(\/admin#token=…\), not after \?/);
  // The rest of the query stays; a #token= beside it is taken, the query's dropped all the same.
  assert.equal(taken('', '?x=1&token=s3cret&y=2').address, '/admin?x=1&y=2');
  assert.deepEqual(taken('#token=abc', '?token=s3cret'), { kept: 'abc', problem: '', address: '/admin' });
  assert.deepEqual(taken('', '?tokens=1'), { kept: null, problem: '', address: '/admin?tokens=1' });
});
