import { createVerify, generateKeyPairSync } from 'node:crypto';

/** A throwaway App key pair: the private half signs the App JWT, the public half checks it. */
export const appKeys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

export interface AppJwt {
  readonly header: { alg: string; typ?: string };
  readonly payload: { iat: number; exp: number; iss: string | number };
}

/** Verifies an `Authorization: bearer <jwt>` header with the App's public key; throws if it is not valid. */
export function verifyAppJwt(
  authorization: string | undefined,
  publicKey = appKeys.publicKey,
): AppJwt {
  const token = (authorization ?? '').replace(/^bearer /i, '');
  const [header = '', payload = '', signature = ''] = token.split('.');
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${header}.${payload}`);
  if (!verifier.verify(publicKey, Buffer.from(signature, 'base64url')))
    throw new Error('App JWT signature is not valid');
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  return { header: decode(header), payload: decode(payload) };
}

/** A JIT config as GitHub encodes it: base64 JSON of runner files, each base64. */
export function encodeJitConfig(runnerId: number, name: string): string {
  const files = {
    '.runner': JSON.stringify({
      agentId: runnerId,
      agentName: name,
      poolId: 1,
      workFolder: '_work',
      ephemeral: true,
    }),
    '.credentials': JSON.stringify({ scheme: 'OAuth', data: { clientId: `client-${runnerId}` } }),
    '.credentials_rsaparams': JSON.stringify({ d: `secret-${runnerId}` }),
  };
  const encoded = Object.fromEntries(
    Object.entries(files).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
  );
  return Buffer.from(JSON.stringify(encoded)).toString('base64');
}
