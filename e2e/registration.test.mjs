// Dynamic client registration (RFC 7591/7592) by independent client
// libraries against a real oidcd: openid-client registers with an initial
// access token made by the CLI, and the MCP TypeScript SDK's OAuth client
// finds our RFC 8414 metadata, registers itself on an open /register as a
// public native client and signs a user in with PKCE. Chromium plays the
// user agent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { auth as mcpAuth } from '@modelcontextprotocol/sdk/client/auth.js';
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

// signIn sends a fresh browser profile to url, signs Alice in, consents,
// and returns the URL the relying party received.
async function signIn(t, server, url) {
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLines = recordConsole(page);
  await page.goto(url);
  await authorize(page, { server, consoleLines, done: (u) => u.origin === rp.origin });
  return new URL(page.url());
}

test('openid-client registers with an initial access token (RFC 7591), signs in, then reads and deletes itself (RFC 7592)', async (t) => {
  const server = await startOidcd();
  t.after(() => server.stop());
  await server.createUser(ALICE);
  const { token } = JSON.parse(await server.cli('registration-tokens', 'create', '--uses', '1', '--json'));
  assert.ok(token);
  const metadata = {
    client_name: 'openid-client (registered)',
    redirect_uris: [rp.redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'client_secret_post',
    scope: 'openid profile email offline_access',
  };
  // Without the initial access token the server refuses.
  await assert.rejects(
    client.dynamicClientRegistration(new URL(server.issuer), metadata, undefined, { execute: [client.allowInsecureRequests] }),
    (err) => { assert.match(String(err.cause?.status ?? err.status ?? err.message), /401|invalid_token|Unauthorized/); return true; },
  );
  const config = await client.dynamicClientRegistration(new URL(server.issuer), metadata, client.ClientSecretPost(), {
    initialAccessToken: token, execute: [client.allowInsecureRequests],
  });
  const registered = config.clientMetadata();
  assert.ok(registered.client_id);
  assert.ok(registered.client_secret, 'a confidential client gets a secret');
  assert.ok(registered.registration_access_token);
  assert.equal(registered.registration_client_uri, `${server.issuer}/register/${registered.client_id}`);
  assert.equal(registered.token_endpoint_auth_method, 'client_secret_post');

  // The single-use token is spent.
  await assert.rejects(client.dynamicClientRegistration(new URL(server.issuer), metadata, client.ClientSecretPost(), {
    initialAccessToken: token, execute: [client.allowInsecureRequests],
  }));

  // The registered client signs Alice in: code flow with PKCE, state, nonce.
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: rp.redirectUri, scope: 'openid profile email offline_access', state, nonce, prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const cb = await signIn(t, server, authUrl.href);
  const tokens = await client.authorizationCodeGrant(config, cb, {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  });
  assert.equal(tokens.claims().iss, server.issuer);
  assert.equal(tokens.claims().aud, registered.client_id);
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  assert.equal(info.name, ALICE.name);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token);

  // RFC 7592: read, then delete, with the registration access token.
  const rcu = registered.registration_client_uri;
  const bearer = { authorization: `Bearer ${registered.registration_access_token}` };
  let res = await fetch(rcu, { headers: bearer });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).client_name, metadata.client_name);
  res = await fetch(rcu, { headers: { authorization: 'Bearer wrong' } });
  assert.equal(res.status, 401);
  res = await fetch(rcu, { method: 'DELETE', headers: bearer });
  assert.equal(res.status, 204);
  // The deleted client no longer authenticates (401 invalid_client).
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (err) => {
    assert.equal(err.status, 401, String(err));
    assert.equal(err.cause?.[0]?.scheme, 'basic');
    return true;
  });
});

test('openid-client registers a private_key_jwt client (jwks) and authenticates with signed assertions; a replay is refused', async (t) => {
  const server = await startOidcd({ extraEnv: { OIDCD_REGISTRATION_OPEN: 'true' } });
  t.after(() => server.stop());
  const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'e2e-key', alg: 'ES256', use: 'sig' };
  delete jwk.key_ops; delete jwk.ext;
  const config = await client.dynamicClientRegistration(new URL(server.issuer), {
    client_name: 'openid-client private_key_jwt', token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['client_credentials'], response_types: [], jwks: { keys: [jwk] }, scope: 'openid',
  }, client.PrivateKeyJwt({ key: privateKey, kid: 'e2e-key' }), { execute: [client.allowInsecureRequests] });
  const registered = config.clientMetadata();
  assert.equal(registered.token_endpoint_auth_method, 'private_key_jwt');
  assert.equal(registered.client_secret, undefined, 'a private_key_jwt client gets no secret');

  // The library signs a fresh assertion for each request.
  const first = await client.clientCredentialsGrant(config, { scope: 'openid' });
  assert.ok(first.access_token);
  const second = await client.clientCredentialsGrant(config, { scope: 'openid' });
  assert.notEqual(second.access_token, first.access_token);

  // Replaying an assertion (captured from the library's own request) fails.
  let captured;
  const capturing = await client.dynamicClientRegistration(new URL(server.issuer), {
    client_name: 'capture', token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['client_credentials'], response_types: [], jwks: { keys: [jwk] },
  }, client.PrivateKeyJwt({ key: privateKey, kid: 'e2e-key' }), { execute: [client.allowInsecureRequests] });
  capturing[client.customFetch] = async (url, options) => {
    if (String(url).endsWith('/token')) captured = new URLSearchParams(String(options.body));
    return fetch(url, options);
  };
  await client.clientCredentialsGrant(capturing);
  assert.ok(captured?.get('client_assertion'), 'the library sent a client assertion');
  assert.equal(captured.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  const replay = await fetch(`${server.issuer}/token`, { method: 'POST', body: captured });
  assert.equal(replay.status, 401);
  assert.equal((await replay.json()).error, 'invalid_client');
});

test('the MCP TypeScript SDK discovers RFC 8414 metadata, registers on open registration and signs in with PKCE', async (t) => {
  const server = await startOidcd({ extraEnv: { OIDCD_REGISTRATION_OPEN: 'true' } });
  t.after(() => server.stop());
  await server.createUser(ALICE);

  // The SDK's OAuthClientProvider: a CLI-style MCP client with a loopback
  // redirect, no secret (token_endpoint_auth_method none).
  const store = {};
  let authorizationUrl;
  const provider = {
    get redirectUrl() { return rp.redirectUri; },
    get clientMetadata() {
      return {
        client_name: 'MCP client (e2e)', redirect_uris: [rp.redirectUri], grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'openid profile offline_access',
      };
    },
    state: () => 'mcp-state',
    clientInformation: () => store.client,
    saveClientInformation: (info) => { store.client = info; },
    tokens: () => store.tokens,
    saveTokens: (tokens) => { store.tokens = tokens; },
    redirectToAuthorization: (url) => { authorizationUrl = url; },
    saveCodeVerifier: (v) => { store.verifier = v; },
    codeVerifier: () => store.verifier,
  };
  const fetchLog = [];
  const fetchFn = (url, init) => { fetchLog.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`); return fetch(url, init); };

  const first = await mcpAuth(provider, { serverUrl: server.issuer, scope: 'openid profile offline_access', fetchFn });
  assert.equal(first, 'REDIRECT');
  assert.ok(fetchLog.includes('GET /.well-known/oauth-authorization-server'), `the SDK read RFC 8414 metadata: ${fetchLog}`);
  assert.ok(fetchLog.includes('POST /register'), `the SDK registered: ${fetchLog}`);
  assert.ok(store.client?.client_id, 'registered');
  assert.equal(store.client.client_secret, undefined, 'a public client has no secret');
  assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(authorizationUrl.searchParams.get('code_challenge'));

  const cb = await signIn(t, server, authorizationUrl.href);
  assert.equal(cb.searchParams.get('state'), 'mcp-state');
  assert.equal(cb.searchParams.get('iss'), server.issuer);
  const code = cb.searchParams.get('code');
  assert.ok(code, `a code reached the client: ${cb}`);

  const second = await mcpAuth(provider, { serverUrl: server.issuer, authorizationCode: code, fetchFn });
  assert.equal(second, 'AUTHORIZED');
  assert.ok(store.tokens.access_token);
  assert.ok(store.tokens.refresh_token);
  const ui = await fetch(`${server.issuer}/userinfo`, { headers: { authorization: `Bearer ${store.tokens.access_token}` } });
  assert.equal(ui.status, 200);
  assert.equal((await ui.json()).name, ALICE.name);

  // A third call refreshes (the SDK uses the refresh token it saved).
  const oldAccess = store.tokens.access_token;
  const third = await mcpAuth(provider, { serverUrl: server.issuer, fetchFn });
  assert.equal(third, 'AUTHORIZED');
  assert.notEqual(store.tokens.access_token, oldAccess);
});
