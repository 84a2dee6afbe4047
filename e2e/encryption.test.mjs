// Encrypted ID tokens and userinfo (OIDC Core §10.2, §5.3.2) with an
// independent relying party library: openid-client registers a client with
// its encryption keys (RFC 7591, open registration), signs Alice in with
// Chromium, and decrypts the nested ID tokens (code and refresh) and the
// signed-then-encrypted userinfo response with its own private keys, the
// signatures checked against oidcd's JWKS (non-repudiation checks); an RP
// with other keys (same kids), or without decryption, cannot open them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import {
  ALICE, startOidcd, launchChromium, newContext, authorize, recordConsole, startCallbackPage,
} from './lib/oidcd.mjs';

let browser;
let rp; // a loopback page that stands for the relying party's redirect URI

before(async () => {
  rp = await startCallbackPage();
  browser = await launchChromium();
}, { timeout: 60000 });

after(async () => {
  await browser?.close();
  await rp?.close();
});

// publicJWK exports a CryptoKey's public half as a JWK for registration.
async function publicJWK(publicKey, extra) {
  const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), ...extra };
  delete jwk.key_ops; delete jwk.ext;
  return jwk;
}

// register posts registration metadata and returns the status and body.
async function register(server, metadata) {
  const res = await fetch(`${server.issuer}/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata),
  });
  return { status: res.status, body: await res.json() };
}

test('openid-client decrypts encrypted ID tokens and a signed, encrypted userinfo response', async (t) => {
  const server = await startOidcd({ extraEnv: { OIDCD_REGISTRATION_OPEN: 'true' } });
  t.after(() => server.stop());
  await server.createUser(ALICE);

  // The RP's decryption keys: ECDH P-256 for ID tokens, RSA-OAEP-256 for userinfo.
  const ec = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
  const rsa = await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['decrypt', 'encrypt']);
  const jwks = { keys: [await publicJWK(ec.publicKey, { kid: 'rp-ec', use: 'enc' }), await publicJWK(rsa.publicKey, { kid: 'rp-rsa', use: 'enc' })] };
  const metadata = {
    client_name: 'openid-client (encrypting)',
    redirect_uris: [rp.redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email offline_access',
    jwks,
    id_token_encrypted_response_alg: 'ECDH-ES',
    id_token_encrypted_response_enc: 'A256GCM',
    userinfo_signed_response_alg: 'RS256',
    userinfo_encrypted_response_alg: 'RSA-OAEP-256',
  };

  // Refused first: an algorithm we do not implement, and no key to encrypt to.
  let r = await register(server, { ...metadata, id_token_encrypted_response_alg: 'RSA1_5' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error, 'invalid_client_metadata');
  r = await register(server, { ...metadata, jwks: undefined });
  assert.equal(r.status, 400);
  assert.match(r.body.error_description, /needs jwks or jwks_uri/);

  // Discovery says what is supported.
  const doc = server.metadata;
  assert.ok(doc.id_token_encryption_alg_values_supported.includes('ECDH-ES'));
  assert.ok(doc.id_token_encryption_enc_values_supported.includes('A256GCM'));
  assert.ok(doc.userinfo_encryption_alg_values_supported.includes('RSA-OAEP-256'));
  assert.ok(doc.userinfo_signing_alg_values_supported.includes('RS256'));

  const config = await client.dynamicClientRegistration(new URL(server.issuer), metadata, client.ClientSecretBasic(), {
    execute: [client.allowInsecureRequests],
  });
  const registered = config.clientMetadata();
  assert.equal(registered.userinfo_encrypted_response_enc, 'A128CBC-HS256', 'enc defaults to A128CBC-HS256');
  const secret = registered.client_secret;
  const clientAuth = client.ClientSecretBasic(secret);

  // One sign-in (Chromium is the slow part).
  const signIn = async (cfg) => {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authUrl = client.buildAuthorizationUrl(cfg, {
      redirect_uri: rp.redirectUri, scope: 'openid profile email offline_access', state, nonce, prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const context = await newContext(browser);
    t.after(() => context.close());
    const page = await context.newPage();
    const consoleLines = recordConsole(page);
    await page.goto(authUrl.href);
    await authorize(page, { server, consoleLines, done: (u) => u.origin === rp.origin });
    return { cb: new URL(page.url()), checks: { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }, nonce };
  };

  // The RP with its keys: decryption, then the usual ID token checks, and
  // the inner signatures verified against oidcd's JWKS.
  client.enableDecryptingResponses(config, undefined, { key: ec.privateKey, kid: 'rp-ec' }, { key: rsa.privateKey, kid: 'rp-rsa' });
  client.enableNonRepudiationChecks(config);
  const { cb, checks, nonce } = await signIn(config);
  const tokens = await client.authorizationCodeGrant(config, cb, checks);
  assert.equal(tokens.id_token.split('.').length, 5, 'the ID token on the wire is a JWE');
  const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url'));
  assert.deepEqual([header.alg, header.enc, header.cty, header.kid], ['ECDH-ES', 'A256GCM', 'JWT', 'rp-ec']);
  const claims = tokens.claims();
  assert.equal(claims.iss, server.issuer);
  assert.equal(claims.aud, registered.client_id);
  assert.equal(claims.nonce, nonce);
  const inner = client.getDecryptedResponses(tokens)?.id_token?.token_endpoint;
  assert.equal(typeof inner, 'string', 'openid-client kept the decrypted ID token');
  assert.equal(inner.split('.').length, 3, 'inside is a signed JWT');

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.name, ALICE.name);
  assert.equal(info.email, ALICE.email);
  assert.equal(info.iss, server.issuer);
  assert.equal(info.aud, registered.client_id);
  const innerInfo = client.getDecryptedResponses(info);
  assert.equal(innerInfo?.split('.').length, 3, 'the userinfo JWE holds a signed JWT');

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.equal(refreshed.id_token.split('.').length, 5, 'the refreshed ID token is encrypted too');
  assert.equal(refreshed.claims().sub, claims.sub);

  // An RP holding other keys (same kids) cannot open the responses, nor can
  // one that does not decrypt at all.
  const decryptError = (what) => (err) => {
    assert.match([err.message, err.cause?.message].join(' '), what);
    return true;
  };
  const wrongEC = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
  const wrongRSA = await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, ['decrypt']);
  const wrongConfig = await client.discovery(new URL(server.issuer), registered.client_id, secret, clientAuth, { execute: [client.allowInsecureRequests] });
  client.enableDecryptingResponses(wrongConfig, undefined, { key: wrongEC.privateKey, kid: 'rp-ec' }, { key: wrongRSA.privateKey, kid: 'rp-rsa' });
  const plainConfig = await client.discovery(new URL(server.issuer), registered.client_id, secret, clientAuth, { execute: [client.allowInsecureRequests] });
  await assert.rejects(client.fetchUserInfo(wrongConfig, refreshed.access_token, claims.sub), decryptError(/decrypt/i));
  await assert.rejects(client.fetchUserInfo(plainConfig, refreshed.access_token, claims.sub), decryptError(/JWE decryption is not configured/));
  await assert.rejects(client.refreshTokenGrant(wrongConfig, refreshed.refresh_token), decryptError(/decrypt/i));
});
