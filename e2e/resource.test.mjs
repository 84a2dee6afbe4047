// Resource indicators (RFC 8707) and JWT access tokens (RFC 9068) with
// client libraries no one here wrote: openid-client asks for tokens with
// `resource`; resource servers written with oauth4webapi's
// validateJwtAccessToken verify our JWT access tokens (bearer and
// DPoP-bound) from the published keys alone; the MCP TypeScript SDK finds
// an MCP server's protected resource metadata (RFC 9728), sends its URL as
// `resource` at /authorize and /token, and gets a token for exactly it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';
import { auth as mcpAuth } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  ALICE, startOidcd, freePort, launchChromium, newContext, authorize, recordConsole, startCallbackPage,
} from './lib/oidcd.mjs';

let browser;
let rp; // a loopback page that stands for the relying party's redirect URI
let rs; // a resource server: JWT checks with oauth4webapi, and RFC 9728 metadata
let server;

const insecure = { [oauth.allowInsecureRequests]: true };

// startResourceServer serves, at /api and /mcp, what oauth4webapi's
// validateJwtAccessToken makes of the request's token for the resource
// named by the path, and /.well-known/oauth-protected-resource/mcp (RFC
// 9728) naming the issuer it trusts.
async function startResourceServer() {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const state = { as: undefined, issuer: undefined };
  const srv = http.createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/oauth-protected-resource/mcp') {
      send(200, { resource: `${origin}/mcp`, authorization_servers: [state.issuer] });
      return;
    }
    const resource = `${origin}${new URL(req.url, origin).pathname}`;
    try {
      const request = new Request(`${origin}${req.url}`, { method: req.method, headers: req.headers });
      const claims = await oauth.validateJwtAccessToken(state.as, request, resource, insecure);
      send(200, claims);
    } catch (err) {
      send(401, { error: err.code || err.name, message: err.message });
    }
  });
  await new Promise((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return { origin, state, close: () => new Promise((r) => srv.close(r)) };
}

before(async () => {
  rp = await startCallbackPage();
  rs = await startResourceServer();
  server = await startOidcd({
    extraEnv: {
      OIDCD_JWT_RESOURCES: `${rs.origin}/api ${rs.origin}/mcp`,
      OIDCD_RESOURCES: 'https://opaque.example/',
      OIDCD_REGISTRATION_OPEN: 'true',
      OIDCD_DPOP_ENABLE: 'true',
    },
  });
  await server.createUser(ALICE);
  const issuer = new URL(server.issuer);
  rs.state.issuer = server.issuer;
  rs.state.as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  browser = await launchChromium();
}, { timeout: 60000 });

after(async () => {
  await browser?.close();
  await server?.stop();
  await rs?.close();
  await rp?.close();
});

async function signIn(t, url) {
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLines = recordConsole(page);
  await page.goto(url);
  await authorize(page, { server, consoleLines, done: (u) => u.origin === rp.origin });
  return new URL(page.url());
}

async function createClient(...args) {
  // Consent is off (clients create turns it on by default): these tests are about resources.
  return JSON.parse(await server.cli('clients', 'create', '--json', '--require-consent=false', '--reuse-consent=false', ...args));
}

const call = (path, token, scheme = 'Bearer', headers = {}) =>
  fetch(`${rs.origin}${path}`, { headers: { authorization: `${scheme} ${token}`, ...headers } });

test('openid-client: client credentials with resource; oauth4webapi validates the JWT access token, and refuses it for another resource', async () => {
  const c = await createClient('--name', 'Reports', '--scope', 'orders:read', '--grant-type', 'client_credentials');
  const config = await client.discovery(new URL(server.issuer), c.client_id, c.client_secret, client.ClientSecretBasic(c.client_secret),
    { execute: [client.allowInsecureRequests] });

  // Negative first: a resource no one declared, and one with a fragment.
  for (const resource of ['https://evil.example/', `${rs.origin}/api#x`]) {
    await assert.rejects(client.clientCredentialsGrant(config, { scope: 'orders:read', resource }),
      (err) => err instanceof client.ResponseBodyError && err.error === 'invalid_target', `resource ${resource}`);
  }

  const tokens = await client.clientCredentialsGrant(config, { scope: 'orders:read', resource: `${rs.origin}/api` });
  assert.equal(tokens.token_type, 'bearer');
  const res = await call('/api', tokens.access_token);
  const claims = await res.json();
  assert.equal(res.status, 200, JSON.stringify(claims));
  assert.equal(claims.iss, server.issuer);
  assert.equal(claims.aud, `${rs.origin}/api`);
  assert.equal(claims.client_id, c.client_id);
  assert.equal(claims.sub, c.client_id);
  assert.equal(claims.scope, 'orders:read');

  // The same token is not for /mcp: oauth4webapi refuses the audience.
  const other = await call('/mcp', tokens.access_token);
  assert.equal(other.status, 401, 'a token for /api accepted at /mcp');
  assert.match((await other.json()).message, /aud/);

  // A resource declared with opaque tokens gets an opaque token, which is
  // no JWT to validate.
  const opaque = await client.clientCredentialsGrant(config, { scope: 'orders:read', resource: 'https://opaque.example/' });
  assert.equal(opaque.access_token.split('.').length, 1);

  // The resource server's client introspects tokens for its resource.
  const api = await createClient('--name', 'Orders API', '--scope', `token_introspection ${rs.origin}/api`, '--grant-type', 'client_credentials');
  const introspect = async (token) => (await fetch(`${server.issuer}/introspect`, {
    method: 'POST', body: new URLSearchParams({ token }),
    headers: { authorization: `Basic ${Buffer.from(`${api.client_id}:${api.client_secret}`).toString('base64')}` },
  })).json();
  const live = await introspect(tokens.access_token);
  assert.equal(live.active, true, JSON.stringify(live));
  assert.deepEqual(live.aud, [`${rs.origin}/api`]);

  // Revoked: introspection says inactive at once; oauth4webapi, which only
  // checks the signature, still accepts it until exp (README trade-off).
  await client.tokenRevocation(config, tokens.access_token);
  assert.equal((await introspect(tokens.access_token)).active, false);
  assert.equal((await call('/api', tokens.access_token)).status, 200);
});

test('oauth4webapi: a DPoP-bound JWT access token carries cnf.jkt, is validated with its proof and refused as a bearer token', async () => {
  const c = await createClient('--name', 'DPoP svc', '--scope', 'orders:read', '--grant-type', 'client_credentials');
  const as = rs.state.as;
  const cl = { client_id: c.client_id };
  const DPoP = oauth.DPoP(cl, await oauth.generateKeyPair('ES256'));
  const params = new URLSearchParams({ scope: 'orders:read', resource: `${rs.origin}/api` });
  let tokens;
  for (let i = 0; ; i++) {
    try {
      tokens = await oauth.processClientCredentialsResponse(as, cl,
        await oauth.clientCredentialsGrantRequest(as, cl, oauth.ClientSecretBasic(c.client_secret), params, { DPoP, ...insecure }));
      break;
    } catch (err) {
      if (oauth.isDPoPNonceError(err) && i < 2) continue;
      throw err;
    }
  }
  assert.equal(tokens.token_type, 'dpop');

  // Negative first: the bound token as a bearer token.
  const bearer = await call('/api', tokens.access_token);
  assert.equal(bearer.status, 401, 'a DPoP-bound token accepted as a bearer token');

  // With a proof made by oauth4webapi's own resource request.
  const res = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${rs.origin}/api`), new Headers(), null, { DPoP, ...insecure });
  const claims = await res.json();
  assert.equal(res.status, 200, JSON.stringify(claims));
  assert.ok(claims.cnf?.jkt, 'cnf.jkt in the JWT');
  assert.equal(claims.aud, `${rs.origin}/api`);
});

test('openid-client code flow with resource at /authorize and /token: the token is for that resource, refresh narrows and never widens', async (t) => {
  const c = await createClient('--name', 'Shop', '--redirect-uri', rp.redirectUri, '--scope', 'openid profile offline_access',
    '--resource', `${rs.origin}/api`, '--resource', `${rs.origin}/mcp`);
  const config = await client.discovery(new URL(server.issuer), c.client_id, c.client_secret, client.ClientSecretBasic(c.client_secret),
    { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: rp.redirectUri, scope: 'openid profile offline_access', state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    resource: `${rs.origin}/api`,
  });
  authUrl.searchParams.append('resource', `${rs.origin}/mcp`);
  const cb = await signIn(t, authUrl.href);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state },
    { resource: `${rs.origin}/api` });
  const claims = await (await call('/api', tokens.access_token)).json();
  assert.equal(claims.aud, `${rs.origin}/api`, JSON.stringify(claims));
  assert.equal(claims.sub, tokens.claims().sub);
  assert.equal(claims.auth_time, tokens.claims().auth_time);

  // Widening is invalid_target; the grant's other resource is fine.
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token, { resource: 'https://opaque.example/' }),
    (err) => err instanceof client.ResponseBodyError && err.error === 'invalid_target');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, { resource: `${rs.origin}/mcp` });
  const mcpClaims = await (await call('/mcp', refreshed.access_token)).json();
  assert.equal(mcpClaims.aud, `${rs.origin}/mcp`, JSON.stringify(mcpClaims));
});

test('the MCP TypeScript SDK reads the MCP server\'s protected resource metadata and sends its URL as resource; the token is for it', async (t) => {
  const mcpUrl = `${rs.origin}/mcp`;
  const store = {};
  let authorizationUrl;
  const provider = {
    get redirectUrl() { return rp.redirectUri; },
    get clientMetadata() {
      return {
        client_name: 'MCP client (resource e2e)', redirect_uris: [rp.redirectUri], grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'openid offline_access',
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
  const sent = [];
  const fetchFn = async (url, init) => {
    const u = new URL(url);
    if (u.pathname === '/token') sent.push(new URLSearchParams(init.body.toString()).getAll('resource'));
    return fetch(url, init);
  };

  const first = await mcpAuth(provider, { serverUrl: mcpUrl, scope: 'openid offline_access', fetchFn });
  assert.equal(first, 'REDIRECT');
  assert.deepEqual(authorizationUrl.searchParams.getAll('resource'), [mcpUrl], `resource at /authorize: ${authorizationUrl}`);
  const cb = await signIn(t, authorizationUrl.href);
  const code = cb.searchParams.get('code');
  assert.ok(code, `a code reached the client: ${cb}`);
  assert.equal(await mcpAuth(provider, { serverUrl: mcpUrl, authorizationCode: code, fetchFn }), 'AUTHORIZED');
  assert.deepEqual(sent[0], [mcpUrl], 'resource at /token');

  // The MCP server validates the token as meant for it; /api does not.
  const res = await call('/mcp', store.tokens.access_token);
  const claims = await res.json();
  assert.equal(res.status, 200, JSON.stringify(claims));
  assert.equal(claims.aud, mcpUrl);
  assert.equal(claims.client_id, store.client.client_id);
  assert.equal((await call('/api', store.tokens.access_token)).status, 401);

  // Refresh through the SDK keeps the resource.
  const old = store.tokens.access_token;
  assert.equal(await mcpAuth(provider, { serverUrl: mcpUrl, fetchFn }), 'AUTHORIZED');
  assert.notEqual(store.tokens.access_token, old);
  assert.equal((await call('/mcp', store.tokens.access_token)).status, 200);
});
