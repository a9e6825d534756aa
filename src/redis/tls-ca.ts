// REDIS_TLS_CA_FILE: the certificate authorities that sign a rediss:// server's certificate, for a
// Redis whose certificate a public CA did not sign (a private CA, a managed Redis's own). Read
// when settings load, so that a missing or wrong file stops a start (exit 78) or a reload, and
// again where the connection is made (the keeper, `corral check`).

import { readFileSync } from 'node:fs';
import { CorralError } from '../errors.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

export function readRedisCa(path: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CorralError('CORRAL_ERR_CONFIG_INVALID', `REDIS_TLS_CA_FILE ${path} cannot be read (${code}): give the path of a PEM file of the CA certificates that sign the Redis server's certificate, readable by corral's user`);
  }
  if (!PEM_CERTIFICATE.test(pem.toString('latin1'))) {
    throw new CorralError('CORRAL_ERR_CONFIG_INVALID', `REDIS_TLS_CA_FILE ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA's certificate, not a key or a DER file (openssl x509 -inform der -in ca.der -out ca.pem converts one)`);
  }
  return pem;
}

/** Codes Node gives a TLS connection whose server certificate it could not trust or match. */
const UNTRUSTED = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED']);

/** What to do about a failed rediss:// connection, when its error says; else undefined. */
export function tlsHint(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  if (UNTRUSTED.has(code)) return "the server's certificate is not signed by a CA this host trusts: set REDIS_TLS_CA_FILE to the PEM certificate of the CA that signed it";
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return "the server's certificate does not name the host in REDIS_URL: use the name (or address) the certificate was issued for";
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return "the server's certificate is outside its validity dates: renew it (or check this host's clock)";
  return undefined;
}

/**
 * A connection that failed as one to a port of the other kind fails: a plain redis:// client on a
 * TLS port is reset (the server reads no TLS handshake), a rediss:// client on a plain port waits
 * for a handshake the server never answers, or reads bytes that are no TLS. Said as a likely cause
 * (a firewall resets and times out too), only for a connection that never got going.
 */
export function schemeHint(err: unknown, usesTls: boolean): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  if (!usesTls && code === 'ECONNRESET') return 'a Redis port that takes TLS resets plain connections so: if this one does (a managed Redis, a tls-port), use rediss:// in REDIS_URL';
  if (usesTls && (code === 'ETIMEDOUT' || code === 'EPROTO' || code.startsWith('ERR_SSL_'))) return 'a plain Redis port does not answer a TLS handshake: if this one takes no TLS, use redis:// in REDIS_URL';
  return undefined;
}
