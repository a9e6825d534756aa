// Service-account keys for the emulator: a fresh RSA key pair per account, written in Google's
// key-file format with token_uri pointing at the emulator, so corral loads it exactly as it would
// a key downloaded from the Cloud console. Generated at run time: no private key is committed.

import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { ServiceAccountKey } from '../google/credentials.js';

export interface GeneratedKey {
  /** The JSON a Cloud console download would contain (private key included). */
  readonly key: ServiceAccountKey & { readonly auth_uri: string };
  readonly publicKey: KeyObject;
}

export interface KeyOptions {
  readonly clientEmail: string;
  readonly tokenUri: string;
  readonly projectId?: string;
  /** RSA modulus size; 2048 like Google's keys. */
  readonly modulusLength?: number;
}

export function generateServiceAccountKey(options: KeyOptions): GeneratedKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: options.modulusLength ?? 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    key: {
      type: 'service_account',
      project_id: options.projectId ?? 'corral-emulator',
      private_key_id: randomBytes(20).toString('hex'),
      private_key: pem,
      client_email: options.clientEmail,
      client_id: String(100000000000000000000n + BigInt(`0x${randomBytes(8).toString('hex')}`)),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: options.tokenUri,
    },
    publicKey,
  };
}
