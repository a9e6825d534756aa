// Which errors Redis answers are refusals that last until someone changes a setting (said as
// redis.misconfigured, cleared only by the refused command working) and which pass by themselves
// (an outage): the words of Redis 6.2 and 7.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { databaseRefusal, isSelectRefusal, refusalOf } from '../../src/redis/refusal.js';

/** An error as ioredis hands over one Redis answered. */
function reply(message: string, command?: string): Error {
  return Object.assign(new Error(message), { name: 'ReplyError', ...(command ? { command: { name: command, args: [] } } : {}) });
}

describe('Redis refusals', () => {
  it('names what was refused, with the fix', () => {
    const kind = (message: string) => refusalOf(reply(message))?.kind;
    assert.equal(kind("NOPERM this user has no permissions to run the 'evalsha' command"), 'scripts');
    assert.equal(kind("NOPERM User noscript has no permissions to run the 'script|load' command"), 'scripts');
    assert.match(refusalOf(reply("NOPERM this user has no permissions to run the 'eval' command"))?.fix ?? '', /\+eval \+evalsha \+script/);
    assert.equal(kind("NOPERM this user has no permissions to access one of the keys used as arguments"), 'keys');
    assert.equal(kind("ERR The user executing the script can't access at least one of the keys mentioned in the command arguments script: a9e4, on @user_script:1."), 'keys');
    assert.equal(kind('WRONGTYPE Operation against a key holding the wrong kind of value'), 'keys');
    assert.equal(kind('WRONGPASS invalid username-password pair or user is disabled.'), 'login');
    assert.equal(kind('NOSCRIPT No matching script. Please use EVAL.'), 'scripts');
    assert.equal(kind("ERR unknown command 'evalsha'"), 'command');
  });

  it('writes refused (memory full, a read-only replica, a failed snapshot, too few replicas) are a refusal of their own, with the fix: PING and GET still work, so no answer but a write ends it', () => {
    const refusal = (message: string) => refusalOf(reply(message));
    assert.equal(refusal("OOM command not allowed when used memory > 'maxmemory'. script: be25, on @user_script:1.")?.kind, 'writes');
    assert.match(refusal("OOM command not allowed when used memory > 'maxmemory'.")?.fix ?? '', /free memory .* or raise maxmemory/);
    assert.equal(refusal("READONLY You can't write against a read only replica.")?.kind, 'writes');
    assert.match(refusal("READONLY You can't write against a read only replica.")?.fix ?? '', /primary/);
    assert.equal(refusal('MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.')?.kind, 'writes');
    assert.equal(refusal('NOREPLICAS Not enough good replicas to write.')?.kind, 'writes');
    assert.match(refusal('NOREPLICAS Not enough good replicas to write.')?.fix ?? '', /min-replicas-to-write/);
  });

  it('an error that passes by itself, a timeout or a dropped connection is no refusal', () => {
    for (const m of ['LOADING Redis is loading the dataset in memory', 'BUSY Redis is busy running a script', 'MASTERDOWN Link with MASTER is down']) {
      assert.equal(refusalOf(reply(m)), undefined, m);
    }
    assert.equal(refusalOf(new Error('Command timed out')), undefined);
    assert.equal(refusalOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })), undefined);
  });

  it("a command a script calls, refused by the ACL (ERR … can't run this command), is a permission refusal with the commands to grant, not a server that is no Redis", () => {
    const refused = refusalOf(reply("ERR The user executing the script can't run this command or subcommand script: a213d45f, on @user_script:2."));
    assert.equal(refused?.kind, 'keys');
    for (const cmd of ['+time', '+zadd', '+zremrangebyscore', '+hset', '+hgetall', '+incr', '+pttl', '+info', '+select']) assert.ok(refused?.fix.includes(cmd), `${cmd} in ${refused?.fix}`);
  });

  it('a SELECT refused for want of permission (NOPERM) is said as such, not as a database the server lacks', () => {
    const noperm = databaseRefusal(reply("NOPERM this user has no permissions to run the 'select' command", 'select'), 1);
    assert.match(noperm.fix, /may not SELECT database 1 .*\+select/);
    assert.doesNotMatch(noperm.fix, /not one this server has/);
    assert.match(databaseRefusal(reply('ERR DB index is out of range', 'select'), 16).fix, /database 16 of REDIS_URL is not one this server has/);
  });

  it("tells the connection's SELECT refused from any other error", () => {
    assert.equal(isSelectRefusal(reply('ERR DB index is out of range', 'select')), true);
    assert.equal(isSelectRefusal(reply('ERR DB index is out of range', 'get')), false);
    assert.equal(isSelectRefusal(new Error('ERR DB index is out of range')), false);
  });
});
