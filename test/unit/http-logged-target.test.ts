import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pathOfTarget, targetForAccessLog } from '../../src/http/logged-target.js';

describe('request targets in the log', () => {
  it('an absolute-form target (GET http://user:pass@host/path) keeps no user or password, in either', () => {
    // node:http takes such a target as it is, and the app routes it by its path: the password the
    // client wrote in the URL was logged as sent (RFC 9110 section 4.2.4: userinfo is deprecated).
    for (const target of ['http://admin:s3cret@corral.example/api/players', 'http://admin:s3cret@corral.example/api/players?page=2', 'HTTP://s3cret@corral.example']) {
      assert.ok(!targetForAccessLog(target).includes('s3cret'), `access log: ${targetForAccessLog(target)}`);
      assert.ok(!pathOfTarget(target).includes('s3cret'), `error lines: ${pathOfTarget(target)}`);
    }
    assert.equal(targetForAccessLog('http://admin:s3cret@corral.example/api/players?page=2'), 'http://[REDACTED]@corral.example/api/players?page=2');
    assert.equal(targetForAccessLog('http://corral.example/api/players'), 'http://corral.example/api/players', 'no userinfo: as sent');
    assert.equal(targetForAccessLog('/api/players?next=http://a:b@c'), '/api/players?next=http://a:b@c', 'an origin-form target is not touched');
  });

  it('error lines take the path alone', () => {
    assert.equal(pathOfTarget('/api/admin/stats?token=s3cret'), '/api/admin/stats');
    assert.equal(pathOfTarget('/api/players'), '/api/players');
    assert.equal(pathOfTarget('/a#frag?x=1'), '/a');
    assert.equal(pathOfTarget(undefined), '');
  });

  it('the access log keeps the query, with the values of parameters named like a credential replaced', () => {
    assert.equal(targetForAccessLog('/api/export?sheet=Players'), '/api/export?sheet=Players');
    assert.equal(targetForAccessLog('/api/me?token=s3cret&page=2'), '/api/me?token=[REDACTED]&page=2');
    assert.equal(
      targetForAccessLog('/x?access_token=a&API_KEY=b&password=c&client_secret=d&sig=e&code=f&session=g&Authorization=h'),
      '/x?access_token=[REDACTED]&API_KEY=[REDACTED]&password=[REDACTED]&client_secret=[REDACTED]&sig=[REDACTED]&code=[REDACTED]&session=[REDACTED]&Authorization=[REDACTED]',
    );
    // A name escaped is the same name to whoever decodes it; a bare name carries its value too.
    assert.equal(targetForAccessLog('/x?%74oken=s3cret&token'), '/x?%74oken=[REDACTED]&token=[REDACTED]');
    assert.equal(targetForAccessLog('/x?%zz=1'), '/x?%zz=1', 'a name that does not decode is matched as it is');
    assert.equal(targetForAccessLog('/api/players'), '/api/players');
  });

  it('takes `;` for a separator as well, as some clients and frameworks do, and keeps each separator as sent', () => {
    assert.equal(targetForAccessLog('/x?page=1;token=s3cret'), '/x?page=1;token=[REDACTED]');
    assert.equal(targetForAccessLog('/x?a=1;api_key=k&b=2;c'), '/x?a=1;api_key=[REDACTED]&b=2;c');
    assert.equal(targetForAccessLog('/x?q=a;b'), '/x?q=a;b', 'nothing named like a credential: as sent');
    // To a server that splits on `&` alone (URLSearchParams), `;` is part of the value: all of it is the secret.
    assert.equal(targetForAccessLog('/x?sig=part1;part2;part3&page=2'), '/x?sig=[REDACTED]&page=2');
    assert.equal(targetForAccessLog('/x?a=1;token=t1;t2'), '/x?a=1;token=[REDACTED]');
  });
});
