// Pushed authorization requests (RFC 9126) by independent client libraries
// against a real oidcd: openid-client's buildAuthorizationUrlWithPAR with a
// private_key_jwt client, and oauth4webapi's pushedAuthorizationRequest
// (DPoP-less) with client_secret_basic, each signing a user in through
// Chromium. A request_uri is refused the second time and for another client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';
import {
  ALICE, startOidcd, launchChromium, newContext, authorize, recordConsole, startCallbackPage,
} from './lib/oidcd.mjs';

let server;
let browser;
let rp;

before(async () => {
  rp = await startCallbackPage();
  const [s, b] = await Promise.all([startOidcd({ extraEnv: { OIDCD_REGISTRATION_OPEN: 'true' } }), launchChromium()]);
  server = s;
  browser = b;
  await server.createUser(ALICE);
}, { timeout: 90000 });

after(async () => {
  await browser?.close();
  await rp?.close();
  await server?.stop();
});

async function signIn(t, url) {
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLines = recordConsole(page);
  await page.goto(url);
  await authorize(page, { server, consoleLines, done: (u) => u.origin === rp.origin });
  return { url: new URL(page.url()), page };
}

test('openid-client pushes its request (PAR) as a private_key_jwt client; the request_uri works once', async (t) => {
  const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'par-key', alg: 'ES256', use: 'sig' };
  delete jwk.key_ops; delete jwk.ext;
  const config = await client.dynamicClientRegistration(new URL(server.issuer), {
    client_name: 'openid-client PAR', redirect_uris: [rp.redirectUri], token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [jwk] }, require_pushed_authorization_requests: true,
  }, client.PrivateKeyJwt({ key: privateKey, kid: 'par-key' }), { execute: [client.allowInsecureRequests] });
  assert.equal(config.serverMetadata().pushed_authorization_request_endpoint, `${server.issuer}/par`);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: rp.redirectUri, scope: 'openid profile', state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
  const { url: cb, page } = await signIn(t, url.href);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state });
  assert.equal(tokens.claims().aud, config.clientMetadata().client_id);

  // The same request_uri again: refused on an error page, no redirect.
  const again = await page.goto(url.href);
  assert.equal(again.status(), 400);
  assert.match(await page.content(), /invalid_request_uri/);
  // Without PAR this client is refused (require_pushed_authorization_requests).
  const plain = client.buildAuthorizationUrl(config, { redirect_uri: rp.redirectUri, scope: 'openid', state: 's',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  await page.goto(plain.href);
  const refused = new URL(page.url());
  assert.equal(refused.origin, rp.origin);
  assert.equal(refused.searchParams.get('error'), 'invalid_request');
});

test('oauth4webapi pushes its request (PAR, no DPoP) with client_secret_basic; another client cannot use the request_uri', async (t) => {
  const reg = await (await fetch(`${server.issuer}/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'oauth4webapi PAR', redirect_uris: [rp.redirectUri] }),
  })).json();
  assert.ok(reg.client_secret);
  const other = await (await fetch(`${server.issuer}/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'other', redirect_uris: [rp.redirectUri] }),
  })).json();

  const issuer = new URL(server.issuer);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
  assert.equal(as.pushed_authorization_request_endpoint, `${server.issuer}/par`);
  const c = { client_id: reg.client_id };
  const auth = oauth.ClientSecretBasic(reg.client_secret);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const params = new URLSearchParams({
    redirect_uri: rp.redirectUri, response_type: 'code', scope: 'openid email', state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const par = await oauth.processPushedAuthorizationResponse(as, c,
    await oauth.pushedAuthorizationRequest(as, c, auth, params, { [oauth.allowInsecureRequests]: true }));
  assert.match(par.request_uri, /^urn:ietf:params:oauth:request_uri:/);
  assert.ok(par.expires_in > 0);

  // Another client presenting this request_uri is refused.
  const stolen = new URL(as.authorization_endpoint);
  stolen.searchParams.set('client_id', other.client_id);
  stolen.searchParams.set('request_uri', par.request_uri);
  const res = await fetch(stolen, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.match(await res.text(), /invalid_request_uri/);

  const authUrl = new URL(as.authorization_endpoint);
  authUrl.searchParams.set('client_id', c.client_id);
  authUrl.searchParams.set('request_uri', par.request_uri);
  const { url: cb } = await signIn(t, authUrl.href);
  const callbackParams = oauth.validateAuthResponse(as, c, cb, state);
  const tokens = await oauth.processAuthorizationCodeResponse(as, c,
    await oauth.authorizationCodeGrantRequest(as, c, auth, callbackParams, rp.redirectUri, verifier, { [oauth.allowInsecureRequests]: true }));
  assert.ok(tokens.access_token);
  assert.ok(tokens.id_token);
});

test('openid-client sends a signed request object (JAR, RFC 9101) by value and pushed; one signed by another key is refused', async (t) => {
  const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'jar-key', alg: 'ES256', use: 'sig' };
  delete jwk.key_ops; delete jwk.ext;
  const config = await client.dynamicClientRegistration(new URL(server.issuer), {
    client_name: 'openid-client JAR', redirect_uris: [rp.redirectUri], token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [jwk] }, request_object_signing_alg: 'ES256',
  }, client.PrivateKeyJwt({ key: privateKey, kid: 'jar-key' }), { execute: [client.allowInsecureRequests] });
  assert.equal(config.serverMetadata().request_parameter_supported, true);
  const signer = { key: privateKey, kid: 'jar-key' };

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const params = {
    redirect_uri: rp.redirectUri, scope: 'openid profile', state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  };
  const url = await client.buildAuthorizationUrlWithJAR(config, params, signer);
  assert.ok(url.searchParams.get('request'), 'a request object by value');
  const { url: cb } = await signIn(t, url.href);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state });
  assert.ok(tokens.access_token);

  // JAR pushed to /par (RFC 9126 §3).
  const state2 = client.randomState();
  const jarUrl = await client.buildAuthorizationUrlWithJAR(config, { ...params, state: state2 }, signer);
  const pushed = await client.buildAuthorizationUrlWithPAR(config, { request: jarUrl.searchParams.get('request') });
  assert.ok(pushed.searchParams.get('request_uri'));
  const { url: cb2 } = await signIn(t, pushed.href);
  assert.equal(cb2.searchParams.get('state'), state2);
  assert.ok(cb2.searchParams.get('code'));

  // A request object signed by a key the client never registered.
  const { privateKey: stranger } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const forged = await client.buildAuthorizationUrlWithJAR(config, { ...params, state: 'forged' }, { key: stranger, kid: 'jar-key' });
  forged.searchParams.set('redirect_uri', rp.redirectUri);
  forged.searchParams.set('state', 'outer');
  const res = await fetch(forged, { redirect: 'manual' });
  const loc = new URL(res.headers.get('location'));
  assert.equal(loc.origin, rp.origin);
  assert.equal(loc.searchParams.get('error'), 'invalid_request_object');
  assert.equal(loc.searchParams.get('state'), 'outer');
});
