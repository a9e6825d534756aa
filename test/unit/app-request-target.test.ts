import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../../src/app/http.js';
import { RequestTarget } from '../../src/app/request-target.js';

describe('request target', () => {
  it('gives the path of plain targets as the URL parser would, without the query', () => {
    for (const raw of ['/', '/api/players', '/api/players/', '/api/export?sheet=Players', '/a-b_c~d/E9']) {
      const target = new RequestTarget(raw);
      assert.equal(target.pathname, new URL(raw, 'http://x').pathname, raw);
    }
  });

  it('normalizes the targets parsing would change (dot segments, escapes), keeping backslashes and // in the path', () => {
    assert.equal(new RequestTarget('/api/../api/players').pathname, '/api/players');
    assert.equal(new RequestTarget('/api/%70layers').pathname, '/api/%70layers');
    // A backslash is kept as a character (nginx does not turn it into a slash either).
    assert.equal(new RequestTarget('/api\\players').pathname, '/api%5Cplayers');
    assert.equal(new RequestTarget('/api\\admin/health').pathname, '/api%5Cadmin/health');
    assert.equal(new RequestTarget('/api/players#x').pathname, '/api/players');
    // Never a host: a leading // or /\ stays part of the path (and routes to 404).
    assert.equal(new RequestTarget('//host/api/players').pathname, '//host/api/players');
    assert.equal(new RequestTarget('/\\host/api/admin/health').pathname, '/%5Chost/api/admin/health');
    assert.equal(new RequestTarget(undefined).pathname, '/');
  });

  it('takes a known plain path as it is, and still parses it when asked for the URL', () => {
    const target = RequestTarget.plainPath('/api/players');
    assert.equal(target.pathname, '/api/players');
    assert.equal(target.url.pathname, '/api/players');
    assert.equal(target.url.search, '');
  });

  it('parses the query only when asked, and the same URL each time', () => {
    const target = new RequestTarget('/api/export?sheet=Players&sheet=Events');
    assert.deepEqual(target.url.searchParams.getAll('sheet'), ['Players', 'Events']);
    assert.equal(target.url, target.url);
  });

  it('refuses a target that cannot be a URL with a 400', () => {
    assert.throws(
      () => new RequestTarget('http://[bad'),
      (e: unknown) => e instanceof HttpError && e.status === 400 && e.error === 'bad_request',
    );
  });
});
